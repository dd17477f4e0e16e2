"""The change stream (GET ...?watch=1) over real HTTP: changes, heartbeats, resume, gaps."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import aiohttp
import pytest

from statecast.agent import watch
from statecast.agent.config import AgentConfig, ResourceSpec
from statecast.agent.runtime import Agent
from statecast.agent.server import build_server
from statecast.core.crdt import lww

FLAGS = ("default", "flags")


@pytest.fixture
async def agent(tmp_path: Path) -> AsyncIterator[tuple[Agent, str, aiohttp.ClientSession]]:
    config = AgentConfig(
        node="n1",
        data_dir=tmp_path,
        index_limit=4,
        resources=(ResourceSpec(namespace="default", name="flags"),),
    )
    node = Agent(config)
    node.load_standalone()
    server = build_server(node)
    await server.start("127.0.0.1", 0)
    await node.start()
    async with aiohttp.ClientSession() as session:
        yield node, f"http://127.0.0.1:{server.port}", session
    await server.close()
    await node.stop()


class Lines:
    """Reads a watch stream line by line."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response

    async def next(self) -> dict[str, object]:
        line = await asyncio.wait_for(self.response.content.readline(), 5)
        assert line, "the stream ended"
        parsed: dict[str, object] = json.loads(line)
        return parsed

    async def until(self, wanted: str, vector: dict[str, int] | None = None) -> list[dict]:
        """Lines up to the first one holding ``wanted`` (a heartbeat: with ``vector``)."""
        seen = []
        while True:
            line = await self.next()
            seen.append(line)
            if wanted in line and (vector is None or line.get("vv") == vector):
                return seen


async def put(session: aiohttp.ClientSession, base: str, key: str, value: object) -> str:
    url = f"{base}/v1/default/flags/{quote(key, safe='')}"
    async with session.put(url, data=json.dumps(value)) as response:
        assert response.status == 200
        version: str = (await response.json())["version"]
        return version


async def test_a_watcher_gets_each_change_with_its_stamp_then_a_heartbeat(agent):
    node, base, session = agent
    me = node.stores[FLAGS].replica  # this copy's replica id, n1#<token>
    async with session.get(f"{base}/v1/default/flags?watch=1") as response:
        assert response.status == 200
        lines = Lines(response)
        first = await lines.next()
        assert first["vv"] == {}
        version = await put(session, base, "beta", {"on": True})
        # (a heartbeat may come before the change on a slow machine: read up to the
        # heartbeat that holds it)
        changes = await lines.until("vv", {me: 1})
        assert [line for line in changes if "vv" not in line] == [
            {"k": "beta", "v": {"on": True}, "s": version}
        ]
        await put(session, base, "a/b c", 1)
        async with session.delete(f"{base}/v1/default/flags/beta") as deleted:
            assert deleted.status == 200
        changes = await lines.until("vv", {me: 3})
        keys = {c["k"]: c["v"] for c in changes if "k" in c}
        assert keys == {"a/b c": 1, "beta": None}
        assert changes[-1]["vv"] == {me: 3}


async def test_heartbeats_come_while_nothing_changes(agent):
    _, base, session = agent
    async with session.get(f"{base}/v1/default/flags?watch=1") as response:
        lines = Lines(response)
        beats = [await lines.next() for _ in range(4)]
        assert all("vv" in b and "t" in b for b in beats)


async def test_resuming_from_a_vector_sends_what_changed_since_or_a_reset(agent):
    node, base, session = agent
    for i in range(3):
        await put(session, base, f"k{i}", i)
    since = quote(json.dumps({node.stores[FLAGS].replica: 2}))
    async with session.get(f"{base}/v1/default/flags?watch=1&since={since}") as response:
        lines = await Lines(response).until("vv")
        assert [line.get("k") for line in lines[:-1]] == ["k2"]
    for i in range(3, 10):  # the index keeps 4 events: event 2 is out of its reach
        await put(session, base, f"k{i}", i)
    async with session.get(f"{base}/v1/default/flags?watch=1&since={since}") as response:
        lines = await Lines(response).until("vv")
        assert lines[0] == {"reset": True}


async def test_changes_from_a_peer_reach_the_watcher(agent):
    node, base, session = agent
    store = node.stores[FLAGS]
    async with session.get(f"{base}/v1/default/flags?watch=1") as response:
        lines = Lines(response)
        await lines.next()
        register = lww.pack(1_900_000_000_000, 0, "n2", 1, b'"from n2"')
        await store.apply_push("n2", 1, 1, {"remote": register})
        changes = await lines.until("k")  # (heartbeats may come first on a slow machine)
        assert changes[-1] == {"k": "remote", "v": "from n2", "s": "1900000000000.0.n2"}


async def test_a_watcher_that_does_not_read_is_cut_off_with_a_gap(agent, monkeypatch):
    node, base, session = agent
    monkeypatch.setattr(watch, "MAX_PENDING", 2_000)
    hub = node.watch
    subscriber = hub.subscribe(node.stores[FLAGS], {})
    for i in range(100):
        await put(session, base, f"k{i}", "x" * 40)
    chunks = [chunk async for chunk in subscriber.chunks()]
    assert chunks[-1].endswith(b'{"gap":true}\n')
    hub.unsubscribe(FLAGS, subscriber)
    assert not hub.watched(FLAGS)


@pytest.mark.parametrize(
    ("query", "status"),
    [("since=nope", 400), ("since=%7B%22n1%22%3A-1%7D", 400), ("since=%5B1%5D", 400)],
)
async def test_a_bad_vector_is_refused(agent, query, status):
    _, base, session = agent
    async with session.get(f"{base}/v1/default/flags?watch=1&{query}") as response:
        assert response.status == status
        assert (await response.json())["error"]["code"] == "bad_request"


async def test_the_stream_ends_when_the_client_goes_and_the_hub_forgets_it(agent):
    node, base, session = agent
    async with session.get(f"{base}/v1/default/flags?watch=1") as response:
        await Lines(response).next()
        assert node.watch.watched(FLAGS)
    for _ in range(100):
        if not node.watch.watched(FLAGS):
            break
        await asyncio.sleep(0.02)
    assert not node.watch.watched(FLAGS)


async def test_a_get_asking_for_the_version_gets_the_stamp_also_of_a_delete(agent):
    _, base, session = agent
    version = await put(session, base, "k", "v")
    want = {"Statecast-Want-Version": "1"}
    async with session.get(f"{base}/v1/default/flags/k", headers=want) as response:
        assert (response.status, response.headers["Statecast-Version"]) == (200, version)
    async with session.delete(f"{base}/v1/default/flags/k") as response:
        deleted = (await response.json())["version"]
    async with session.get(f"{base}/v1/default/flags/k", headers=want) as response:
        assert (response.status, response.headers["Statecast-Version"]) == (404, deleted)
    async with session.get(f"{base}/v1/default/flags/never", headers=want) as response:
        assert response.status == 404
        assert "Statecast-Version" not in response.headers
    async with session.get(f"{base}/v1/default/flags/k") as response:  # not asked: not sent
        assert "Statecast-Version" not in response.headers


async def test_a_heartbeat_due_before_the_changes_flush_never_runs_ahead_of_them(agent):
    # A heartbeat timer that fires in the loop turn after a write but before the turn's
    # flush of changed keys must not send the write's vector ahead of the write's line: a
    # client resuming from that heartbeat would never hear of the change.
    node, base, session = agent
    me = node.stores[FLAGS].replica
    async with session.get(f"{base}/v1/default/flags?watch=1") as response:
        lines = Lines(response)
        await lines.until("vv", {})
        store = node.stores[FLAGS]
        store.put_now("gamma", b"1")  # noted for this turn's flush, not flushed yet
        node.watch._heartbeats()  # the timer, due first in this turn
        changes = await lines.until("vv", {me: 1})
        assert [c["k"] for c in changes if "k" in c] == ["gamma"]
