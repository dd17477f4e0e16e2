"""Strong resources on three agent processes (standalone: a fixed leader, epoch 1).

Writes at the leader are acknowledged once a majority stored them; followers forward
writes and linearizable reads to the leader and answer bounded-stale reads locally;
a minority lost does not stop writes, a majority lost turns them into 503s with the
reason; acknowledged writes survive kill -9 of every agent (the log is fsynced).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from statecast.agent.launcher import LocalAgents
from statecast.client import Client
from tests.unit._agents import FAST

LEDGER = {"namespace": "default", "name": "ledger", "consistency": "strong", "leader": "node-0"}

pytestmark = pytest.mark.slow


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Callable[..., LocalAgents]]:
    made: list[LocalAgents] = []

    def make(count: int = 3) -> LocalAgents:
        agents = LocalAgents(tmp_path, count, [LEDGER], FAST)
        made.append(agents)
        agents.start_all()
        return agents

    yield make
    for agents in made:
        agents.stop_all()


def url(agent: object, key: str = "") -> str:
    base = f"{agent.url}/v1/default/ledger"  # type: ignore[attr-defined]
    return f"{base}/{key}" if key else base


def wait_heard_from_leader(follower: object, timeout: float = 60.0) -> None:
    """Block until ``follower`` has heard from its leader (it answers a stale read itself).

    Until then a write through it may answer 503 (the leader is still opening its epoch,
    or the follower has not heard from it yet): honest, and what a client retries.
    """
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=10) as client:
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                read = client.get(url(follower), headers={"Statecast-Max-Staleness": "5"})
                if read.headers.get("Statecast-Served") == "local":
                    return
            time.sleep(0.1)
    raise TimeoutError(f"{follower} heard nothing from its leader in {timeout:g} s")


def test_writes_at_the_leader_and_through_followers(cluster: Callable[..., LocalAgents]) -> None:
    agents = cluster(3)
    leader, follower, _ = agents.agents
    wait_heard_from_leader(follower)
    with httpx.Client(timeout=10) as client:
        assert client.put(url(leader, "a"), json="one").status_code == 200
        forwarded = client.put(url(follower, "b"), json="two")
        assert forwarded.status_code == 200
        assert forwarded.headers["Statecast-Leader"] == leader.url
        for i in range(5):
            reply = client.post(url(follower, "n") + "/increment", json={"by": 2})
            assert reply.json()["value"] == 2 * (i + 1)
        # a linearizable read from a follower goes to the leader
        read = client.get(url(follower, "b"))
        assert (read.json(), read.headers["Statecast-Served"]) == ("two", "remote")
        # a bounded-stale read is answered by the follower itself
        # (the commit index reaches a follower with the leader's next message: an older
        # committed value is allowed until then, the latest one within the bound)
        seen = []
        deadline = time.monotonic() + 10
        while not seen or (seen[-1] != 10 and time.monotonic() < deadline):
            stale = client.get(url(follower, "n"), headers={"Statecast-Max-Staleness": "5"})
            assert stale.headers["Statecast-Served"] == "local"
            seen.append(stale.json())
            time.sleep(0.1)
        assert seen[-1] == 10 and set(seen) <= {2, 4, 6, 8, 10}, seen
        assert client.post(url(leader, "a") + "/increment", json={}).status_code == 409
        assert client.delete(url(leader, "missing")).status_code == 404
        assert client.get(url(leader)).json() == {"a": "one", "b": "two", "n": 10}


def test_a_minority_down_keeps_writes_a_majority_down_refuses_them(
    cluster: Callable[..., LocalAgents],
) -> None:
    agents = cluster(3)
    leader, first, second = agents.agents
    wait_heard_from_leader(first)  # (the first write may race the epoch's opening: 503)
    wait_heard_from_leader(second)
    with httpx.Client(timeout=15) as client:
        first_write = client.put(url(leader, "k"), json=1)
        assert first_write.status_code == 200, first_write.text
        agents.kill(first)
        assert client.put(url(leader, "k"), json=2).status_code == 200
        agents.kill(second)
        refused = client.put(url(leader, "k"), json=3)
        assert refused.status_code == 503
        assert refused.json()["error"]["code"] in ("no_quorum", "outcome_unknown")
        read = client.get(url(leader, "k"))  # nor can the leader prove a read is current
        assert read.status_code == 503


def test_acknowledged_writes_survive_kill_9_of_every_agent(
    cluster: Callable[..., LocalAgents],
) -> None:
    agents = cluster(3)
    leader = agents.agents[0]
    for follower in agents.agents[1:]:
        wait_heard_from_leader(follower)  # (a write before the epoch is open answers 503)
    with httpx.Client(timeout=10) as client:
        for i in range(30):
            assert client.post(url(leader, "n") + "/increment", json={"by": 1}).status_code == 200
            assert client.put(url(leader, f"k{i}"), json=i).status_code == 200
    for agent in agents.agents:
        agents.kill(agent)
    for agent in agents.agents:
        agents.start(agent)
    for agent in agents.agents:
        agents.wait_ready(agent)
    for follower in agents.agents[1:]:
        wait_heard_from_leader(follower)  # (the restarted leader opens a new epoch first)
    with httpx.Client(timeout=10) as client:
        answer = client.get(url(agents.agents[1]))
    assert answer.status_code == 200, answer.text  # (a 503's body is no state: say which)
    state = answer.json()
    assert state["n"] == 30
    assert all(state[f"k{i}"] == i for i in range(30))


def test_the_client_learns_the_leader_and_goes_there(cluster: Callable[..., LocalAgents]) -> None:
    agents = cluster(3)
    leader, follower, _ = agents.agents
    wait_heard_from_leader(follower)
    with Client([follower.url], discover_peers=False) as client:
        first = client.put("default", "ledger", "k", 1)
        assert first["epoch"] == 1
        assert client.core.endpoints.leaders == {"/v1/default/ledger": leader.url}
        client.put("default", "ledger", "k", 2)
        assert client.last_served == "local"  # answered by the leader itself
        assert client.get("default", "ledger", "k") == 2
        assert client.get("default", "ledger", "k", max_staleness=5.0) == 2


def test_a_named_write_sent_twice_is_applied_once(cluster: Callable[..., LocalAgents]) -> None:
    agents = cluster(3)
    follower = agents.agents[1]
    wait_heard_from_leader(follower)  # (a write before the epoch is open answers 503)
    named = {"Statecast-Request-Id": "once"}
    with httpx.Client(timeout=10) as client:
        first = client.post(url(follower, "n") + "/increment", json={"by": 5}, headers=named)
        again = client.post(url(follower, "n") + "/increment", json={"by": 5}, headers=named)
        assert first.json()["value"] == again.json()["value"] == 5
        assert client.get(url(follower, "n")).json() == 5
