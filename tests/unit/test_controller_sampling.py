"""The operator's demand sampler against real agent processes over HTTP."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import httpx
import pytest

from statecast.agent.launcher import LocalAgents, free_port
from statecast.controller.sampling import DemandSampler
from statecast.core.reconcile.views import AgentLease

pytestmark = pytest.mark.slow


def test_the_sampler_turns_agent_counters_into_a_local_hit_ratio(tmp_path: Path) -> None:
    flags = {"namespace": "apps", "name": "flags", "replicas": ["node-0"]}
    agents = LocalAgents(tmp_path, 2, [flags], {"syncInterval": 0.2, "rttInterval": 0.5})
    agents.start_all()
    holder, reader = agents.agents
    now = dt.datetime.now(dt.UTC)
    leases = [AgentLease(a.node, now, 600, a.url) for a in agents.agents]
    leases.append(AgentLease("gone", now, 600, f"http://127.0.0.1:{free_port('127.0.0.1')}"))
    leases.append(AgentLease("silent", now - dt.timedelta(minutes=30), 6, holder.url))
    sampler = DemandSampler(lambda: leases, timeout=1.0)
    try:
        assert sampler.sample_once() == 2, "the dead agent and the expired Lease are skipped"
        with httpx.Client(timeout=5) as client:
            client.put(f"{holder.url}/v1/apps/flags/k", json=1).raise_for_status()
            for _ in range(3):
                client.get(f"{holder.url}/v1/apps/flags/k").raise_for_status()
            reply = client.get(f"{reader.url}/v1/apps/flags/k")
            assert (reply.status_code, reply.headers["Statecast-Served"]) == (200, "remote")
        assert sampler.sample_once() == 2
        ratio = sampler.local_hit_ratio(("apps", "flags"), 300, time.time())
        assert ratio == pytest.approx(4 / 5)  # a put and three reads local, one forwarded
    finally:
        agents.stop_all()
