"""Generated scenarios: well-formed, deterministic, and a property family for the planner."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from statecast.sim import SimConfig, replay
from statecast.sim.frontier import Point, frontier, losses
from statecast.sim.generator import random_shape, scenario_of
from statecast.sim.planned import LOCAL_FIRST, ForecastCache, Predictive
from statecast.sim.policies import Reactive, Static

#: Stated margins: local hits in points, mean latency relative (as bench/sim.py).
MARGIN_HITS, MARGIN_LATENCY = 0.01, 0.02


@given(seed=st.integers(0, 10_000), small=st.booleans())
@settings(max_examples=30, deadline=None)
def test_generated_scenarios_are_well_formed_and_deterministic(seed: int, small: bool) -> None:
    shape = random_shape(np.random.default_rng([seed, 1]), small)
    assert 3 <= shape.nodes <= (8 if small else 100)
    assert 1 <= shape.zones <= min(shape.nodes, 5)
    trace = scenario_of(seed, small)
    again = scenario_of(seed, small)
    assert np.array_equal(trace.demand, again.demand)
    assert trace.demand.shape == (shape.resources, shape.nodes, trace.steps)
    assert (trace.demand[:, ~trace.available] == 0).all()
    assert (trace.min_replicas >= 1).all() and (trace.min_replicas <= trace.n_nodes).all()
    if shape.pods:
        assert trace.pods is not None and trace.pods.shape == trace.demand.shape


@given(seed=st.integers(0, 10_000))
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_predictive_never_loses_to_static_or_reactive_at_equal_replica_hours(seed: int) -> None:
    """On any small generated scenario, predictive's frontier (a few cost weights, valuing
    latency or local hits) is within the stated margins of static's and reactive's runs,
    in local hits and in mean latency, at their replica-hours."""
    trace = scenario_of(seed, small=True)
    config = SimConfig(warmup_steps=trace.period)
    cache = ForecastCache()
    ours = []
    for weight, valuation in (
        (1.0, None),
        (4.0, None),
        (32.0, None),
        (1.0, LOCAL_FIRST),
        (4.0, LOCAL_FIRST),
    ):
        policy = Predictive(trace.period, cost_weight=weight, shared=cache, valuation=valuation)
        ours.append(Point.of("predictive", replay(trace, policy, config)))
    for rival in (Static(), Reactive()):
        theirs = [Point.of(rival.name, replay(trace, rival, config))]
        for metric, margin in (
            ("local_hit_ratio", MARGIN_HITS),
            ("mean_latency_ms", MARGIN_LATENCY),
        ):
            found = losses(frontier(ours, metric), frontier(theirs, metric), margin)
            assert not found, f"{trace.name} against {rival.name}: {found}"
