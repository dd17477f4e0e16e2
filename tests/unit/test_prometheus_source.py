"""Reading the agents' counters from Prometheus answers (the pure half, no server)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from statecast.controller.prometheus_source import queries, samples_from_vectors
from statecast.controller.sampling import DemandSampler
from statecast.core.demand import AgentSample
from statecast.core.reconcile.views import agent_sample


def row(value: float, **labels: str) -> dict[str, Any]:
    return {"metric": labels, "value": [1000.0, str(value)]}


def access(node: str, op: str, served: str, n: int) -> dict[str, Any]:
    return row(n, namespace="apps", resource="flags", node=node, operation=op, served=served)


def test_the_queries_pick_the_selected_series_and_fold_duplicate_scrapes() -> None:
    scraped, started, accesses = queries('job="statecast-agent"')
    assert (
        scraped
        == 'max by (node) (timestamp(statecast_agent_start_time_seconds{job="statecast-agent"}))'
    )
    assert started == 'max by (node) (statecast_agent_start_time_seconds{job="statecast-agent"})'
    assert accesses.startswith("max by (namespace, resource, node, operation, served) (")
    assert (
        queries("{}")[1] == queries("")[1] == "max by (node) (statecast_agent_start_time_seconds)"
    )


def test_a_scrape_gives_the_sample_that_v1_stats_gives() -> None:
    rows = [access("n1", "get", "local", 7), access("n1", "get", "remote", 2),
            access("n1", "put", "local", 3), access("n2", "get", "remote", 1)]  # fmt: skip
    got = samples_from_vectors(
        [row(1005.5, node="n1"), row(1004.0, node="n2")],
        [row(900.0, node="n1"), row(950.0, node="n2")],
        rows,
        ["n1", "n2", "n3"],
    )
    stats = {
        "node": "n1",
        "startedAt": 900.0,
        "time": 1005.5,
        "accesses": [
            {"namespace": "apps", "resource": "flags", "node": "n1", "operation": op,
             "served": served, "count": n}
            for op, served, n in (("get", "local", 7), ("get", "remote", 2), ("put", "local", 3))
        ],
    }  # fmt: skip
    assert got["n1"] == agent_sample(stats, "n1")
    assert got["n2"] == AgentSample("n2", 950.0, 1004.0, {("apps", "flags", "remote"): 1}, {})
    assert got["n3"] is None, "an agent Prometheus holds nothing of is not read"


def test_an_agent_that_served_nothing_yet_is_read_with_no_counts() -> None:
    got = samples_from_vectors([row(10.0, node="n1")], [row(5.0, node="n1")], [], ["n1"])
    assert got == {"n1": AgentSample("n1", 5.0, 10.0, {}, {})}


def test_a_malformed_answer_is_an_error() -> None:
    with pytest.raises(ValueError, match="malformed"):
        samples_from_vectors([{"metric": {"node": "n1"}}], [], [], ["n1"])


def test_readings_as_far_apart_as_the_scrapes_still_count_as_recent() -> None:
    sampler = DemandSampler(list, period=1.0)
    first = AgentSample("n1", 0.0, 100.0, {("apps", "flags", "local"): 4})
    later = AgentSample("n1", 0.0, 130.0, {("apps", "flags", "local"): 10})
    sampler.record(first)
    sampler.record(first)  # Prometheus has not scraped again
    sampler.record(later)
    assert np.nansum(sampler.matrix(("apps", "flags"), ["n1"], 60.0, 180.0, 3)) == 10
    assert sampler.covered_until(200.0) == 130.0, "30 s between scrapes: 90 s count as lately"
    assert sampler.covered_until(221.0) is None


def test_one_long_outage_does_not_make_an_agent_count_as_recently_read_for_long() -> None:
    sampler = DemandSampler(list, period=1.0)
    for t in (100.0, 101.0, 161.0):  # no answer for a minute, then one reading
        sampler.record(AgentSample("n1", 0.0, t, {("apps", "flags", "local"): int(t)}))
    assert sampler.covered_until(163.0) == 161.0
    assert sampler.covered_until(170.0) is None, "1 s apart usually: gone after 3 s"
