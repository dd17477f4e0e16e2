"""A resource through the near cache, against real agent processes on loopback."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from statecast.agent.launcher import LocalAgents
from statecast.client import Client, NotFoundError

FLAGS = {"namespace": "default", "name": "flags"}
#: Staleness for the tests that count where reads come from: heartbeats every 25 ms can be
#: 100 ms late on a loaded machine, and these tests are not about staleness.
PATIENT = 10.0

pytestmark = pytest.mark.slow


def eventually(check: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except NotFoundError:  # not there yet
            pass
        time.sleep(0.01)
    raise AssertionError(f"never happened: {what}")


@pytest.fixture
def agents(tmp_path: Path) -> Iterator[LocalAgents]:
    cluster = LocalAgents(tmp_path, 2, [FLAGS], {"syncInterval": 0.2, "rttInterval": 0.5})
    cluster.start_all()
    yield cluster
    cluster.stop_all()


def test_a_second_read_comes_from_memory_and_a_write_elsewhere_reaches_it(agents):
    near, far = agents.agents
    with Client([near.url, far.url]) as client, Client([far.url]) as other:
        other.put("default", "flags", "beta", {"on": True})
        eventually(lambda: client.get("default", "flags", "beta") == {"on": True}, "replicated")
        with client.cached("default", "flags", max_staleness=PATIENT) as flags:
            eventually(lambda: flags.cache.fresh, "the stream is up")
            assert flags.get("beta") == {"on": True}
            assert flags.get("beta") == {"on": True}
            assert (flags.stats.misses, flags.stats.hits) == (1, 1)
            other.put("default", "flags", "beta", {"on": False})
            eventually(lambda: flags.get("beta") == {"on": False}, "the write reached the cache")
            assert flags.stats.updates >= 1
            assert flags.stats.misses == 1  # every read after the first came from memory


def test_the_process_reads_its_own_writes_and_deletes_at_once(agents):
    near, _ = agents.agents
    with (
        Client([near.url]) as client,
        client.cached("default", "flags", max_staleness=PATIENT) as flags,
    ):
        eventually(lambda: flags.cache.fresh, "the stream is up")
        flags.put("k", "mine")
        assert flags.get("k") == "mine"
        assert flags.increment("hits", 2) == 2
        assert flags.get("hits") == 2
        flags.delete("k")
        with pytest.raises(NotFoundError):
            flags.get("k")
        assert flags.stats.misses == 0


def test_an_unknown_resource_is_an_error_not_an_absent_key(agents):
    near, _ = agents.agents
    with Client([near.url]) as client, client.cached("default", "nope") as nope:
        with pytest.raises(NotFoundError, match="unknown_resource"):
            nope.get("k")
        assert len(nope.cache) == 0


def test_while_the_agent_is_down_reads_go_elsewhere_and_the_stream_resumes_after(agents):
    near, far = agents.agents
    with Client([near.url, far.url]) as client, Client([far.url]) as other:
        flags = client.cached("default", "flags", max_staleness=0.1)
        try:
            eventually(lambda: flags.cache.fresh, "the stream is up")
            flags.put("k", 1)
            eventually(lambda: other.get("default", "flags", "k") == 1, "replicated")
            agents.kill(near)
            eventually(lambda: not flags.cache.fresh, "the cache knows it is behind")
            other.put("default", "flags", "k", 2)
            assert flags.get("k") == 2  # not the 1 in memory: read from the other agent
            agents.start(near)
            agents.wait_ready(near)
            eventually(lambda: flags.cache.fresh, "the stream is back")
            other.put("default", "flags", "k", 3)
            eventually(lambda: flags.get("k") == 3, "a write after the return reached it")
            assert flags.reconnects >= 1
        finally:
            flags.close()
