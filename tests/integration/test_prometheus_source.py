"""The demand read from a real Prometheus is the demand read from the agents' /v1/stats.

Two real agents serve reads and writes (local and forwarded); a real Prometheus
(Debian's package, installed by the fixture if missing) scrapes their ``/metrics``
every second. One sampler reads the agents' ``/v1/stats``, the other the same counters
from Prometheus (``--metrics-source prometheus``); the operator's views of the demand
(accesses per node and interval, the local hit ratio, writes per minute) must agree,
across an agent's restart too.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from statecast.agent.launcher import LocalAgents
from statecast.controller.prometheus_source import PrometheusReader
from statecast.controller.sampling import DemandSampler
from statecast.core.reconcile.views import AgentLease
from statecast.devcluster.prometheus import LocalPrometheus, ScrapeJob

pytestmark = pytest.mark.integration

REF = ("apps", "flags")
JOB = "statecast-agent"


@pytest.fixture
def agents(tmp_path: Path) -> Iterator[LocalAgents]:
    flags = {"namespace": "apps", "name": "flags", "replicas": ["node-0"]}
    running = LocalAgents(tmp_path / "agents", 2, [flags], {"syncInterval": 0.2})
    running.start_all()
    yield running
    running.stop_all()


@pytest.fixture
def prometheus(tmp_path: Path, agents: LocalAgents) -> Iterator[LocalPrometheus]:
    targets = [f"{a.host}:{a.port}" for a in agents.agents]
    server = LocalPrometheus(tmp_path / "prometheus", [ScrapeJob(JOB, targets)], 1.0)
    server.start()
    yield server
    server.stop()


def load(agents: LocalAgents, puts: int, local_reads: int, remote_reads: int) -> None:
    holder, reader = agents.agents
    with httpx.Client(timeout=10) as client:
        for i in range(puts):
            client.put(f"{holder.url}/v1/apps/flags/k{i % 3}", json=i).raise_for_status()
        for i in range(local_reads):
            client.get(f"{holder.url}/v1/apps/flags/k{i % 3}").raise_for_status()
        for i in range(remote_reads):
            client.get(f"{reader.url}/v1/apps/flags/k{i % 3}").raise_for_status()


def stats_total(agents: LocalAgents) -> int:
    total = 0
    for agent in agents.agents:
        body = httpx.get(f"{agent.url}/v1/stats", timeout=10).json()
        total += sum(int(row["count"]) for row in body["accesses"])
    return total


def wait_scraped(prometheus: LocalPrometheus, agents: LocalAgents, timeout: float = 60) -> None:
    """Until Prometheus's last scrape of every agent holds what the agents count now."""
    want, deadline = stats_total(agents), time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = prometheus.query(f'sum(statecast_agent_accesses_total{{job="{JOB}"}}) or vector(0)')
        up = prometheus.query(f'statecast_agent_start_time_seconds{{job="{JOB}"}}')
        if rows and round(float(rows[0]["value"][1])) == want and len(up) == 2:
            return
        time.sleep(0.5)
    raise AssertionError(f"Prometheus never scraped {want} accesses: {prometheus.url}")


def demand_views(sampler: DemandSampler, end: float) -> tuple[list[float], float | None, float]:
    """What the operator reads: accesses per node over the run, hit ratio, writes/min."""
    matrix = sampler.matrix(REF, ["node-0", "node-1"], 60.0, end, 30)
    per_node = np.nansum(matrix, axis=1).tolist()
    return (
        per_node,
        sampler.local_hit_ratio(REF, 1800, end),
        sampler.writes_per_minute(REF, 1800, end),
    )


def test_prometheus_and_the_agents_give_the_operator_the_same_demand(
    agents: LocalAgents, prometheus: LocalPrometheus
) -> None:
    now = dt.datetime.now(dt.UTC)
    leases = [AgentLease(a.node, now, 3600, a.url) for a in agents.agents]
    from_stats = DemandSampler(lambda: leases, period=1.0)
    reader = PrometheusReader(prometheus.url, f'job="{JOB}"')
    from_prometheus = DemandSampler(lambda: leases, period=1.0, reader=reader)

    def sample_both() -> None:
        wait_scraped(prometheus, agents)
        assert from_prometheus.sample_once() == 2
        assert from_stats.sample_once() == 2

    sample_both()  # before any access: both know the agents, with nothing counted
    load(agents, puts=6, local_reads=20, remote_reads=9)
    sample_both()
    agents.kill(agents.agents[1])  # a restart: its counters begin again from zero
    agents.start(agents.agents[1])
    agents.wait_ready(agents.agents[1])
    load(agents, puts=3, local_reads=5, remote_reads=4)
    sample_both()

    end = math.ceil(time.time() / 60.0) * 60.0 + 60.0
    nodes_p, ratio_p, writes_p = demand_views(from_prometheus, end)
    nodes_s, ratio_s, writes_s = demand_views(from_stats, end)
    assert nodes_p == pytest.approx(nodes_s) == [6 + 20 + 3 + 5, 9 + 4]
    assert ratio_p == pytest.approx(ratio_s) == pytest.approx(34 / 47)
    assert writes_p == pytest.approx(writes_s)
    assert writes_p > 0
    # The agents' round trips to each other come with /v1/stats (--latency-source
    # measured), not through Prometheus: there the fixed figures stay.
    both, deadline = {("node-0", "node-1"), ("node-1", "node-0")}, time.monotonic() + 30
    while {(t.source, t.target) for t in from_stats.round_trips(time.time())} != both:
        assert time.monotonic() < deadline, from_stats.round_trips(time.time())
        time.sleep(1.0)
        from_stats.sample_once()
    assert all(0 < t.seconds < 1 for t in from_stats.round_trips(time.time()))
    assert from_prometheus.round_trips(time.time()) == []
