"""Retired copies: a removed replica's files are merged into a live replica, then deleted.

Issue 19, item 1: data on disk of a replica the operator removed is kept until it has
been merged into a surviving replica, or until a retention says otherwise.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import generate_latest

from statecast.agent import handoff
from statecast.agent.config import AgentConfig, ResourceSpec
from statecast.agent.kube import ReplicaReconciler
from statecast.agent.persistence import ReplicaFiles
from statecast.agent.retired import (
    IDENTITY,
    RETIRED_DIR,
    RetiredCopy,
    adopt,
    fate,
    find_retired,
    replica_directories,
)
from statecast.agent.runtime import Agent
from statecast.agent.store import JOIN_STEP, ReplicaStore, SyncJoin
from statecast.agent.wire import SYNC_LINES, encode_hand_off, encode_hand_off_lines
from statecast.core.crdt import DeltaMap, SyncPayload
from tests.unit._agents import REF, URLS, eventually
from tests.unit.test_agent_kube import FakeGateway, record

DAY = 86400.0


def gateway_with(*nodes: str) -> FakeGateway:
    gateway = FakeGateway()
    gateway.specs[REF] = {}
    gateway.replicas = [record(n, owner_uid="uid-1") for n in nodes]
    return gateway


async def left_on_disk(data_dir: Path, write: Callable[[ReplicaStore], Awaitable[object]]) -> Path:
    """A copy of apps/flags of node a left in ``data_dir`` by an earlier run, after one write."""
    earlier = data_dir / "apps" / "flags"
    store = ReplicaStore(ResourceSpec(namespace="apps", name="flags"), "a", ReplicaFiles(earlier))
    store.open()
    await write(store)
    store.close()
    return earlier


async def test_a_removed_replica_hands_its_writes_to_a_live_one_then_deletes_its_files(agents):
    leaving, staying = await agents("a", "b")
    gateway = gateway_with("a", "b")
    reconciler = ReplicaReconciler(gateway, leaving)
    staying.open_replica(staying.specs[REF])
    staying.locations[REF] = ("a", "b")
    await reconciler.reconcile()
    directory = leaving.config.data_dir / "apps" / "flags"
    assert json.loads((directory / IDENTITY).read_text()) == {"uid": "uid-1"}
    # a write acknowledged here that b has not received (its push was lost)
    leaving.directory.remove("b")
    await leaving.stores[REF].put("late", b'"write"')
    leaving.directory.set("b", URLS["b"])
    gateway.replicas = [record("b", owner_uid="uid-1")]  # the operator removed a's Replica
    staying.locations[REF] = ("b",)  # and b no longer takes a's pushes
    await reconciler.reconcile()
    assert REF not in leaving.stores
    await reconciler.retirement.close()  # the hand-off runs beside the reconciler
    assert staying.stores[REF].get("late") == b'"write"'
    assert not directory.exists()


async def test_a_copy_left_on_disk_by_an_earlier_run_is_merged_when_a_replica_lives(agents):
    returning, live = await agents("a", "b")
    earlier = await left_on_disk(
        returning.config.data_dir, lambda store: store.put("acked", b"1")
    )  # killed: the Replica was removed while this agent was down
    live.open_replica(live.specs[REF])
    live.locations[REF] = ("b",)
    gateway = gateway_with("b")
    reconciler = ReplicaReconciler(gateway, returning)
    await reconciler.reconcile()
    await reconciler.retirement.sweep(time.time())
    assert live.stores[REF].get("acked") == b"1"
    assert live.stores[REF].version_vector.entries == {"a": 1}
    assert not earlier.exists()


async def test_a_copy_with_no_live_replica_to_take_it_is_kept(agents):
    (alone,) = await agents("a")
    earlier = await left_on_disk(alone.config.data_dir, lambda store: store.put("acked", b"1"))
    gateway = gateway_with("c")  # the only replica is on a node whose agent is down
    reconciler = ReplicaReconciler(gateway, alone)
    await reconciler.reconcile()
    await reconciler.retirement.sweep(time.time())
    assert find_retired(REF, earlier) is not None
    reopened = ReplicaStore(alone.specs.get(REF) or ResourceSpec(namespace="apps", name="flags"),
                            "a", ReplicaFiles(earlier))  # fmt: skip
    reopened.open()
    assert reopened.get("acked") == b"1"  # nothing of it was dropped
    reopened.close()


async def test_a_copy_of_a_deleted_resource_goes_after_the_retention(tmp_path: Path):
    agent = Agent(AgentConfig(node="a", data_dir=tmp_path))
    earlier = await left_on_disk(tmp_path, lambda store: store.put("k", b"1"))
    gateway = FakeGateway()  # no SharedResource, no Replicas: the resource was deleted
    reconciler = ReplicaReconciler(gateway, agent, retired_retention=DAY)
    await reconciler.reconcile()
    await reconciler.retirement.sweep(time.time())
    assert find_retired(REF, earlier) is not None  # kept for the retention
    await reconciler.retirement.sweep(time.time() + 2 * DAY)
    assert not earlier.exists()
    await agent.stop()


def retired_shown(agent: Agent) -> tuple[list[dict[str, object]], str]:
    """What /v1/stats says of the agent's retired copies, and its metric's lines."""
    stats = httpx.get(URLS[agent.node] + "/v1/stats").json()
    metric = [
        line
        for line in generate_latest(agent.registry).decode().splitlines()
        if line.startswith("statecast_agent_retired_copies{")
    ]
    return stats["retired"], "\n".join(metric)


async def test_a_retired_copy_is_shown_until_it_is_handed_off(agents):
    """ch13: a chaos run read the final state while a removed replica's copy still held an
    acknowledged increment (counter one short); agents now say what they still hold."""
    holder, live = await agents("a", "b")
    await left_on_disk(holder.config.data_dir, lambda store: store.increment("hits", 1))
    gateway = gateway_with("c")  # the only live replica is on a node whose agent is down
    reconciler = ReplicaReconciler(gateway, holder)
    await reconciler.reconcile()
    await reconciler.retirement.sweep(1000.0)
    rows, metric = await asyncio.to_thread(retired_shown, holder)
    assert rows == [{"namespace": "apps", "resource": "flags", "since": 1000.0}]
    assert metric == 'statecast_agent_retired_copies{namespace="apps",resource="flags"} 1.0'
    live.open_replica(live.specs[REF])  # a live replica to take it
    live.locations[REF] = ("b",)
    gateway.replicas = [record("b", owner_uid="uid-1")]
    await reconciler.reconcile()
    await reconciler.retirement.sweep(time.time())
    assert live.stores[REF].state.get("hits") == 1
    rows, metric = await asyncio.to_thread(retired_shown, holder)
    assert (rows, metric) == ([], "")


async def test_a_replica_removed_here_is_shown_retired_until_its_hand_off_ends(agents):
    leaving, staying = await agents("a", "b")
    gateway = gateway_with("a", "b")
    reconciler = ReplicaReconciler(gateway, leaving)
    staying.open_replica(staying.specs[REF])
    staying.locations[REF] = ("a", "b")
    await reconciler.reconcile()
    leaving.directory.remove("b")  # b cannot take it yet
    gateway.replicas = [record("b", owner_uid="uid-1")]
    await reconciler.reconcile()
    await reconciler.retirement.close()
    assert leaving.retired.counts() == {REF: 1}
    leaving.directory.set("b", URLS["b"])
    await reconciler.retirement.sweep(time.time())
    assert leaving.retired.counts() == {}


async def test_a_full_disk_does_not_stop_the_sweep(agents, monkeypatch):
    """The marker of a retired copy cannot be written on a full disk: the copy is handed
    off unmarked, and the other copies are swept all the same."""
    returning, live = await agents("a", "b")
    earlier = await left_on_disk(returning.config.data_dir, lambda store: store.put("acked", b"1"))
    live.open_replica(live.specs[REF])
    live.locations[REF] = ("b",)
    reconciler = ReplicaReconciler(gateway_with("b"), returning)
    await reconciler.reconcile()

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(handoff, "mark_retired", full)
    await reconciler.retirement.sweep(time.time())
    assert live.stores[REF].get("acked") == b"1"
    assert not earlier.exists()
    assert returning.retired.counts() == {}


def test_files_of_an_earlier_resource_of_the_same_name_are_set_aside(tmp_path: Path):
    directory = tmp_path / "apps" / "flags"
    directory.mkdir(parents=True)
    (directory / "log-1.bin").write_bytes(b"")
    adopt(directory, "uid-old", tmp_path)
    assert json.loads((directory / IDENTITY).read_text()) == {"uid": "uid-old"}
    adopt(directory, "uid-new", tmp_path)  # deleted and made anew under the same name
    aside = tmp_path / RETIRED_DIR / "apps" / "flags.uid-old"
    assert (aside / "log-1.bin").exists()
    assert find_retired(("apps", "flags"), aside) is not None
    assert json.loads((directory / IDENTITY).read_text()) == {"uid": "uid-new"}
    assert (("apps", "flags"), aside) in list(replica_directories(tmp_path))


@pytest.mark.parametrize(
    ("uid", "copy_uid", "target", "age", "expected"),
    [
        ("u1", "u1", True, 0, "merge"),  # its resource lives and a replica can take it
        ("u1", "", True, 0, "merge"),  # an older agent's copy: same name, taken as same
        ("u1", "u1", False, 10 * DAY, "keep"),  # no live replica: kept however long
        (None, "u1", False, 0, "keep"),  # the resource is gone: kept for the retention
        (None, "u1", False, 2 * DAY, "delete"),  # ... then deleted
        ("u2", "u1", True, 0, "keep"),  # made anew: never merged into another resource
        ("u2", "u1", True, 2 * DAY, "delete"),
    ],
)
def test_the_fate_of_a_retired_copy(uid, copy_uid, target, age, expected):
    copy = RetiredCopy(("apps", "flags"), Path("/x"), since=100.0, uid=copy_uid)
    decided = fate(copy, resource_uid=uid, has_target=target, now=100.0 + age, retention=DAY)
    assert decided == expected


def _handoff_url(node: str) -> str:
    return f"{URLS[node]}/v1/peer/handoff/apps/flags"


def _copy(keys: int) -> SyncPayload:
    copy = DeltaMap("a")
    for i in range(keys):
        copy.put(f"k{i}", b'"v"')
    return copy.delta_since({})


async def test_a_hand_off_comes_in_lines_and_is_joined_a_step_at_a_time(agents):
    """#18: a retired copy's hand-off was decoded and joined in one go (one json.loads,
    one join) on the receiving agent's event loop: seconds at a million keys."""
    taker, _ = await agents("b", "a")
    store = taker.open_replica(taker.specs[REF])
    async with httpx.AsyncClient() as client:
        first = await client.post(_handoff_url("b"), json={"from": "a"})
        assert first.json() == {"vv": {}, "lines": True}
        payload = _copy(3 * JOIN_STEP + 5)
        body = encode_hand_off_lines("a", payload)
        assert len(body.splitlines()) == 3  # sender, head, one line of entries
        steps: list[int] = []

        class Counted(SyncJoin):  # the join of this hand-off, step by step
            __slots__ = ()

            def add(self, entries: Any) -> None:
                steps.append(len(entries))
                super().add(entries)

        store.joining = lambda: Counted(store)  # type: ignore[method-assign]
        answer = await client.post(
            _handoff_url("b"), content=body, headers={"Content-Type": SYNC_LINES}
        )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"vv": {"a": 3 * JOIN_STEP + 5}}
    assert steps == [JOIN_STEP, JOIN_STEP, JOIN_STEP, 5]
    assert store.get("k196") == b'"v"'


async def test_join_in_steps_lets_the_loop_run_between_steps(tmp_path: Path):
    store = ReplicaStore(ResourceSpec(namespace="apps", name="flags"), "b", None)
    entries = dict(_copy(10).entries.items())
    task = asyncio.ensure_future(store.joining().add_in_steps(entries, step=4))
    seen = []
    while not task.done():
        await asyncio.sleep(0)
        seen.append(len(store.state))
    assert seen[:3] == [4, 8, 10]


async def test_a_hand_off_in_lines_cut_short_is_refused_and_claims_nothing(agents):
    taker, _ = await agents("b", "a")
    store = taker.open_replica(taker.specs[REF])
    body = encode_hand_off_lines("a", _copy(300))
    cut = body[: body.rindex(b"\n", 0, len(body) - 1) + 1]  # the last line of entries lost
    async with httpx.AsyncClient() as client:
        answer = await client.post(
            _handoff_url("b"), content=cut, headers={"Content-Type": SYNC_LINES}
        )
        assert answer.status_code == 400, answer.text
        assert store.version_vector.entries == {}  # joined entries kept, no event claimed
        unknown = await client.post(
            _handoff_url("b"),
            content=encode_hand_off_lines("z", _copy(1)),
            headers={"Content-Type": SYNC_LINES},
        )
        assert unknown.status_code == 403


async def test_a_hand_off_as_one_object_from_an_agent_of_before_is_still_taken(agents):
    taker, _ = await agents("b", "a")
    store = taker.open_replica(taker.specs[REF])
    async with httpx.AsyncClient() as client:
        answer = await client.post(_handoff_url("b"), content=encode_hand_off("a", _copy(5)))
    assert answer.json() == {"vv": {"a": 5}}
    assert store.get("k4") == b'"v"'


async def test_the_first_sweep_comes_once_the_replicas_are_known_not_a_period_later(agents):
    """CI session 6: a copy left by the agent's earlier run (its Replica removed just
    before a restart) held an acknowledged increment; the agent swept its data directory
    first a whole period (10 s) after its start, and showed no retired copy until then."""
    returning, live = await agents("a", "b")
    earlier = await left_on_disk(
        returning.config.data_dir, lambda store: store.increment("hits", 1)
    )
    live.open_replica(live.specs[REF])
    live.locations[REF] = ("b",)
    reconciler = ReplicaReconciler(gateway_with("b"), returning)
    retirement = reconciler.retirement
    retirement.sweep_every = 3600.0
    assert not returning.retired.complete  # nothing looked at yet: the list says nothing
    sweeping = asyncio.create_task(retirement.run())
    try:
        for _ in range(20):
            await asyncio.sleep(0)
        assert earlier.exists()  # no sweep before the Replicas are known
        await reconciler.reconcile()
        # (the loop runs the sweep meanwhile; the deadline is for a hang, not a timing)
        await asyncio.to_thread(eventually, lambda: not earlier.exists(), "the first sweep")
        assert returning.retired.complete and returning.retired.counts() == {}
        assert live.stores[REF].state.get("hits") == 1
    finally:
        sweeping.cancel()
