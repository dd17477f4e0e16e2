"""Generated scenarios: well-formed, deterministic, and a property family for the planner."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from statecast.sim import SimConfig
from statecast.sim.frontier import frontier, losses
from statecast.sim.generator import random_shape, scenario_of
from statecast.sim.planned import ForecastCache
from statecast.sim.refine import refine
from statecast.sim.sweeps import FLOOR, Setting, run_sweep, variants

#: Stated margins: local hits in points, mean latency relative (as bench/sim.py).
MARGIN_HITS, MARGIN_LATENCY = 0.02, 0.03
#: A smaller predictive sweep than the benchmark's, for speed (refined as it is).
SMALL_SWEEP = (
    Setting(1 / 16),
    Setting(16.0),
    Setting(512.0),
    Setting(FLOOR),
    Setting(FLOOR, 1 / 16),
    Setting(FLOOR, 64.0),
    Setting(FLOOR, FLOOR),
    Setting(1 / 4, local=True),
    Setting(16.0, local=True),
    Setting(512.0, local=True),
    Setting(FLOOR, local=True),
    Setting(FLOOR, 1 / 16, local=True),
)


@given(seed=st.integers(0, 10_000), small=st.booleans())
@settings(derandomize=True, max_examples=30, deadline=None)
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


# Five examples of a whole sweep each: 150-250 s on a shared CI machine, near the suite's
# 300 s hang guard (pyproject.toml), which is for hangs, not for a test known to be long.
@pytest.mark.timeout(900)
@given(seed=st.integers(0, 10_000))
@settings(
    derandomize=True,
    max_examples=5,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
def test_predictive_never_loses_to_static_or_reactive_at_equal_replica_hours(seed: int) -> None:
    """On any small generated scenario, predictive's frontier (its sweep, refined where a
    rival comes close) is within the stated margins of static's and reactive's runs, in
    local hits and in mean latency, at their replica-hours."""
    trace = scenario_of(seed, small=True)
    config = SimConfig(warmup_steps=trace.period)
    cache = ForecastCache()
    chosen = variants(trace, ("static", "reactive", "predictive"), SMALL_SWEEP, cache)
    chosen = [v for v in chosen if v.family != "reactive" or v.label == "reactive"]
    # without the runs shaped like reactive's with copies priced dear (sessions 21-23:
    # copies_at_count, copies_at_window, copies_in_rule_order): they would add 294 replays
    # an example, and fewer runs of ours only make the test harder
    chosen = [v for v in chosen if v.setting is None or v.setting.copy_weight == 1.0]
    # nor the floor held where static holds its copies (session 24, ZONE_ORDER_FLOOR): its
    # first run is static's run, which would hold this test against static by construction
    chosen = [v for v in chosen if v.setting is None or not v.setting.zone_order]
    # nor the rule-order runs that move at a copy's price (session 25, moves_in_rule_order):
    # 24 more replays an example, each dearer than its x1024 twin's
    chosen = [
        v
        for v in chosen
        if v.setting is None or not (v.setting.reactive_fill and v.setting.grace_slots is False)
    ]
    # nor the largest rarely written resources on every node (session 25, everywhere_largest):
    # more runs of ours only make the test easier, and they would add replays an example
    chosen = [v for v in chosen if v.setting is None or not v.setting.everywhere_bytes]
    # nor reactive's placement held by the planner (session 26, swaps_in_rule_order): its
    # twins of reactive's runs would hold this test against reactive by construction
    chosen = [v for v in chosen if v.setting is None or not v.setting.rule_swaps]
    points = run_sweep(trace, config, chosen)
    settings = {v.label: v.setting for v in chosen if v.setting is not None}
    points = refine(trace, config, points, settings, cache, runs=8)
    ours = [p for p in points if p.family == "predictive"]
    for rival in ("static", "reactive"):
        theirs = [p for p in points if p.family == rival]
        for metric, margin in (
            ("local_hit_ratio", MARGIN_HITS),
            ("mean_latency_ms", MARGIN_LATENCY),
        ):
            found = losses(frontier(ours, metric), frontier(theirs, metric), margin)
            assert not found, f"{trace.name} against {rival}: {found}"
