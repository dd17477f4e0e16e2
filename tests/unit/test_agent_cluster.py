"""Several agent processes on loopback addresses: convergence, delta vs full sync,
forwarding to the nearest replica, and kill -9 in the middle of writes."""

from __future__ import annotations

import json
import random
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from statecast.agent.launcher import LocalAgent, LocalAgents
from tests.unit._agents import FAST, eventually

FLAGS = {"namespace": "default", "name": "flags"}

pytestmark = pytest.mark.slow


def get_map(agent: LocalAgent, resource: str = "flags") -> dict[str, object]:
    return httpx.get(f"{agent.url}/v1/default/{resource}", timeout=5).json()


def stats(agent: LocalAgent) -> dict:
    return httpx.get(f"{agent.url}/v1/stats", timeout=5).json()


def agreed(agents: list[LocalAgent]) -> bool:
    try:
        maps = [get_map(a) for a in agents]
    except httpx.HTTPError:
        return False
    return all(m == maps[0] for m in maps)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Callable[..., LocalAgents]]:
    made: list[LocalAgents] = []

    def make(count: int = 3, resources: list | None = None, **extra: object) -> LocalAgents:
        agents = LocalAgents(tmp_path, count, resources or [FLAGS], {**FAST, **extra})
        made.append(agents)
        agents.start_all()
        return agents

    yield make
    for agents in made:
        agents.stop_all()


def test_writes_spread_over_three_agents_converge(cluster):
    agents = cluster(3)
    rng = random.Random(7)
    with httpx.Client(timeout=5) as client:
        for i in range(60):
            target = rng.choice(agents.agents)
            client.put(f"{target.url}/v1/default/flags/k{i}", json=i).raise_for_status()
            client.post(f"{target.url}/v1/default/flags/hits/increment", json={"by": 1})
        for agent in agents.agents:  # concurrent writes to one key: all agree on one winner
            client.put(f"{agent.url}/v1/default/flags/contended", json=agent.node)
    eventually(lambda: agreed(agents.agents), "three agents agree")
    final = get_map(agents.agents[0])
    assert final["hits"] == 60
    assert all(final[f"k{i}"] == i for i in range(60))
    assert final["contended"] in {a.node for a in agents.agents}
    vectors = [stats(a)["replicas"][0]["versionVector"] for a in agents.agents]
    assert vectors[0] == vectors[1] == vectors[2]


def sync_bytes(agent: LocalAgent, mode: str) -> int:
    return sum(
        r["bytes"] for r in stats(agent)["sync"] if r["mode"] == mode and r["direction"] == "in"
    )


def test_a_returning_agent_catches_up_by_delta_and_a_new_one_by_full_snapshot(cluster, tmp_path):
    agents = cluster(2)
    first, third = agents.agents
    with httpx.Client(timeout=5) as client:
        for i in range(200):
            client.put(f"{first.url}/v1/default/flags/k{i}", json="x" * 400).raise_for_status()
        eventually(lambda: agreed(agents.agents), "initial agreement")
        agents.stop(third)
        for i in range(4):
            client.put(f"{first.url}/v1/default/flags/k{i}", json="changed").raise_for_status()
        agents.start(third)
        agents.wait_ready(third)
        eventually(lambda: agreed(agents.agents), "the returning agent caught up")
        delta = sync_bytes(third, "delta")
        assert sync_bytes(third, "full") == 0
        assert delta > 0
        agents.kill(third)
        shutil.rmtree(tmp_path / third.node)  # a brand-new replica on the same node
        agents.start(third)
        agents.wait_ready(third)
        eventually(lambda: agreed(agents.agents), "the new agent caught up")
        full = sync_bytes(third, "full")
        # the delta carried the 4 changed keys (plus the periodic rounds' vectors until
        # the stats were read: more rounds on a slow machine, hence 400-byte values that
        # keep the full snapshot far larger), not the 200 keys again
        assert full > 3 * delta, (full, delta)
        assert get_map(third)["k0"] == "changed"


def test_a_read_without_a_local_replica_is_forwarded_to_a_replica_and_counted_as_remote(cluster):
    resources = [{**FLAGS, "replicas": ["node-0", "node-1"]}]
    agents = cluster(3, resources)
    first, second, third = agents.agents
    httpx.put(f"{first.url}/v1/default/flags/k", json="v").raise_for_status()
    eventually(lambda: agreed([first, second]), "replicas agree")
    reply = httpx.get(f"{third.url}/v1/default/flags/k")
    assert (reply.status_code, reply.json(), reply.headers["Statecast-Served"]) == (
        200,
        "v",
        "remote",
    )
    agents.kill(first)  # the other replica still answers
    for _ in range(3):
        reply = httpx.get(f"{third.url}/v1/default/flags/k", timeout=10)
        assert reply.status_code == 200
    rows = stats(third)["accesses"]
    remote = [r for r in rows if r["operation"] == "get" and r["served"] == "remote"]
    assert remote[0]["count"] == 4
    assert remote[0]["node"] == "node-2"
    served_local = [r for r in stats(second)["accesses"] if r["operation"] == "get"]
    assert served_local == []  # demand belongs to the node that asked


def test_kill_9_mid_writes_loses_no_acknowledged_write(cluster):
    agents = cluster(2)
    victim, other = agents.agents
    acked: list[int] = []
    stop = threading.Event()

    def writer() -> None:
        with httpx.Client(timeout=2) as client:
            i = 0
            while not stop.is_set():
                try:
                    reply = client.put(f"{victim.url}/v1/default/flags/w{i}", json=i)
                except httpx.HTTPError:
                    return
                if reply.status_code == 200:
                    acked.append(i)
                i += 1

    thread = threading.Thread(target=writer)
    thread.start()
    eventually(lambda: len(acked) >= 150, "150 acknowledged writes")
    agents.kill(victim)
    stop.set()
    thread.join()
    agents.start(victim)
    agents.wait_ready(victim)
    recovered = get_map(victim)
    assert [i for i in acked if recovered.get(f"w{i}") != i] == []
    eventually(lambda: agreed(agents.agents), "all agents agree after the crash")
    assert all(get_map(other).get(f"w{i}") == i for i in acked)
    assert json.loads(json.dumps(recovered))  # the recovered map is plain JSON
