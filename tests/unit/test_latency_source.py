"""The operator's measured latency between zones: from /v1/stats to the planner's input."""

from __future__ import annotations

from dataclasses import replace

import pytest

from statecast.controller.latency_source import LatencySource
from statecast.controller.sampling import DemandSampler
from statecast.core.demand import AgentSample
from statecast.core.latency import RoundTrip
from statecast.core.placement import LatencyModel, plan
from statecast.core.reconcile.views import agent_sample, node_view
from tests.unit._placement_helpers import make_input, old

NODES = "a:z1,b:z1,c:z2,d:z2,e:z3"


def stats(node: str, time: float, peers: list[dict[str, object]]) -> dict[str, object]:
    return {"node": node, "startedAt": 1.0, "time": time, "accesses": [], "peers": peers}


def test_the_peers_round_trips_are_read_from_stats() -> None:
    sample = agent_sample(stats("n1", 10.0, [{"node": "n2", "rttSeconds": 0.004}]), "n1")
    assert sample.rtts == {"n2": 0.004}
    assert agent_sample(stats("n1", 10.0, []), "n1").rtts == {}
    with pytest.raises(ValueError, match="malformed /v1/stats"):
        agent_sample(stats("n1", 10.0, [{"node": "n2"}]), "n1")


def test_the_sampler_gives_the_round_trips_of_agents_read_lately() -> None:
    sampler = DemandSampler(lambda: [], period=10.0)
    sampler.record(AgentSample("n1", 1.0, 100.0, {}, rtts={"n2": 0.002, "n3": 0.03}))
    sampler.record(AgentSample("n2", 1.0, 60.0, {}, rtts={"n1": 0.002}))
    trips = sorted(sampler.round_trips(now=105.0), key=lambda t: (t.source, t.target))
    # n2 was last read 45 s ago, more than three 10 s periods: left out
    assert trips == [RoundTrip("n1", "n2", 0.002), RoundTrip("n1", "n3", 0.03)]


def nodes(spec: str) -> list[object]:
    ready = {"conditions": [{"type": "Ready", "status": "True"}]}
    out = []
    for item in spec.split(","):
        name, zone = item.split(":")
        labels = {"topology.kubernetes.io/zone": zone}
        out.append(node_view({"metadata": {"name": name, "labels": labels}, "status": ready}))
    return out


def test_fixed_is_the_default_model_whatever_was_measured() -> None:
    sampler = DemandSampler(lambda: [], period=10.0)
    sampler.record(AgentSample("a", 1.0, 100.0, {}, rtts={"c": 0.05}))
    source = LatencySource(sampler)
    assert source.model(nodes(NODES), "topology.kubernetes.io/zone", 100.0) == LatencyModel()  # type: ignore[arg-type]


def test_measured_uses_the_agents_round_trips_by_the_resources_spread_label() -> None:
    sampler = DemandSampler(lambda: [], period=10.0)
    sampler.record(AgentSample("a", 1.0, 100.0, {}, rtts={"c": 0.040, "d": 0.040}))
    sampler.record(AgentSample("b", 1.0, 100.0, {}, rtts={"c": 0.042}))
    source = LatencySource(sampler, "measured")
    model = source.model(nodes(NODES), "topology.kubernetes.io/zone", 100.0)  # type: ignore[arg-type]
    assert model.between("z1", "z2") == pytest.approx(0.1 + 40.0)
    assert model.same_zone_ms == LatencyModel().same_zone_ms  # no same-zone pair measured
    with pytest.raises(ValueError, match="not one of fixed, measured"):
        LatencySource(sampler, "guessed")


def test_a_slow_network_makes_a_move_pay_that_the_default_figures_do_not() -> None:
    # The planner's table: at min, reads of 100 per step from b (a's zone) do not pay
    # for moving a's copy to b at the default 0.5 ms within a zone...
    inputs = make_input(NODES, mean={"b": 100.0}, replicas=(old("a"), old("c")))
    assert "b" not in plan(inputs).nodes
    # ...but do where the agents measured 5 ms between the zone's nodes.
    slow = replace(inputs, latency=replace(LatencyModel(), same_zone_ms=5.1))
    assert "b" in plan(slow).nodes
