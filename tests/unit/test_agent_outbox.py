"""The push outbox (cursor per peer) and push isolation between peers over real HTTP."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from statecast.agent.accounting import SyncLog
from statecast.agent.config import ResourceSpec
from statecast.agent.directory import PeerDirectory
from statecast.agent.httpserver import HttpServer, Request, Response
from statecast.agent.outbox import Outbox
from statecast.agent.replication import Replication
from statecast.agent.store import ReplicaStore


def test_peers_in_step_share_one_batch_with_the_latest_state_of_each_key():
    box = Outbox()
    box.add(1, {"a": b"1"}, ["p", "q"])
    box.add(2, {"b": b"2"}, ["p", "q"])
    box.add(3, {"a": b"3"}, ["p", "q"])
    batch = box.take("p")
    assert batch is not None
    assert (batch.first, batch.last, batch.entries) == (1, 3, {"a": b"3", "b": b"2"})
    assert box.take("q") is batch


def test_a_slow_peer_keeps_its_writes_while_a_fast_one_moves_on():
    box = Outbox()
    box.add(1, {"a": b"1"}, ["fast", "slow"])
    first = box.take("fast")
    assert first is not None
    box.sent("fast", first)
    box.add(2, {"b": b"2"}, ["fast", "slow"])
    fast, slow = box.take("fast"), box.take("slow")
    assert fast is not None and slow is not None
    assert (fast.first, fast.last) == (2, 2)
    assert (slow.first, slow.last, sorted(slow.entries)) == (1, 2, ["a", "b"])
    box.sent("fast", fast)
    box.sent("slow", slow)
    assert len(box) == 0  # trimmed once everyone has it
    assert not box.pending("fast") and not box.pending("slow")


def test_a_peer_joining_later_starts_with_the_next_write():
    box = Outbox()
    box.add(1, {"a": b"1"}, ["p"])
    box.add(2, {"b": b"2"}, ["p", "late"])
    late = box.take("late")
    assert late is not None and (late.first, late.last) == (2, 2)


def test_forgotten_peer_releases_the_log_and_the_cap_bounds_a_stuck_one():
    box = Outbox(limit=3)
    for seq in range(1, 6):
        box.add(seq, {f"k{seq}": b"v"}, ["stuck"])
    assert len(box) == 3
    batch = box.take("stuck")
    assert batch is not None and (batch.first, batch.last) == (3, 5)
    box.forget("stuck")
    assert len(box) == 0 and box.take("stuck") is None


async def test_a_peer_that_never_answers_does_not_hold_back_pushes_to_another():
    received: list[Any] = []

    def keys() -> set[str]:
        return {k for message in received for k in message["entries"]}

    def peer(request: Request) -> Response:
        received.append(json.loads(request.body))
        return Response(b'{"ok": true}')

    live = HttpServer(peer, max_body=1 << 20)
    await live.start("127.0.0.1", 0)
    hung: list[asyncio.StreamWriter] = []

    async def accept_and_stay_silent(_: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        hung.append(w)

    silent = await asyncio.start_server(accept_and_stay_silent, "127.0.0.1", 0)
    silent_port = silent.sockets[0].getsockname()[1]
    directory = PeerDirectory("n1")
    directory.set("live", f"http://127.0.0.1:{live.port}")
    directory.set("silent", f"http://127.0.0.1:{silent_port}")
    replication = Replication("n1", directory, SyncLog(), lambda ref: ["n1", "live", "silent"])
    store = ReplicaStore(ResourceSpec(namespace="default", name="flags"), "n1", None)
    replication.attach(store)
    try:
        await store.put("a", b"1")
        await asyncio.sleep(0.2)  # the first push is now in flight to both peers
        await store.put("b", b"2")
        for _ in range(400):  # the silent peer holds its push for PUSH_TIMEOUT (5 s)
            if keys() == {"a", "b"}:
                break
            await asyncio.sleep(0.01)
        assert keys() == {"a", "b"}
    finally:
        await replication.close()
        await live.close(grace=0.1)
        silent.close()
        for w in hung:
            w.close()
