"""The floor held where the static baseline holds its fixed copies (session 24).

:data:`~statecast.sim.sweeps.ZONE_ORDER_FLOOR` runs the planner with
``PlacementSpec.floor_in_zone_order`` (``Setting.zone_order``): its first run, copies and
holding priced out (x10^6), is static's run; the others keep that floor and place copies
beyond it by the forecast. New labels after every earlier run's, whose labels and knobs are
unchanged; outside ``test_sim_generator``'s property (it would hold that test against
static by construction). Each test failed before (the runs did not exist).
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from statecast.sim import SimConfig, replay
from statecast.sim.generator import scenario_of
from statecast.sim.planned import ForecastCache
from statecast.sim.policies import Static
from statecast.sim.scenarios import scenario
from statecast.sim.sweeps import (
    DEFAULT,
    FLOOR,
    PREDICTIVE,
    ZONE_ORDER_FLOOR,
    Setting,
    family_settings,
    predictive_variant,
)


def test_the_runs_hold_the_knob_with_new_labels() -> None:
    labels = [s.label for s in ZONE_ORDER_FLOOR]
    assert len(set(labels)) == len(ZONE_ORDER_FLOOR) == 10
    assert ZONE_ORDER_FLOOR[0] == Setting(FLOOR, FLOOR, zone_order=True)
    assert replace(DEFAULT, zone_order=True) in ZONE_ORDER_FLOOR
    for setting in ZONE_ORDER_FLOOR:
        assert setting.zone_order and setting.planner.floor_in_zone_order
        assert setting.label.endswith(" floor-in-zone-order")
        twin = replace(setting, zone_order=False)
        if twin != DEFAULT:  # the default's label is "predictive" alone
            assert twin.label == setting.label.removesuffix(" floor-in-zone-order")
        assert not twin.planner.floor_in_zone_order
    assert not set(labels) & {s.label for s in PREDICTIVE}
    assert family_settings(scenario("drift"), ["zone-order-floor"]) == ZONE_ORDER_FLOOR
    # where the runs sit among the others: test_sim_families


@pytest.mark.parametrize("seed", [109, 10])
def test_at_the_floor_alone_the_run_is_static_s(seed: int) -> None:
    """Seen generated-109 (4 nodes, a node lost at the window's first step) and -10 (5
    nodes in 4 zones, two nodes lost): copies and holding priced out, the floor in the
    zone order is static's run - its replica-hours, service and bytes; the same setting
    without the knob places the floor by the forecast and moves more bytes."""
    trace = scenario_of(seed)
    config = SimConfig(warmup_steps=trace.period, warm_retention_s=0.0)
    cache = ForecastCache()
    static = replay(trace, Static(), config)
    ours = replay(trace, predictive_variant(trace, cache, ZONE_ORDER_FLOOR[0]).make(), config)
    assert ours.replica_hours == static.replica_hours
    assert ours.local_hit_ratio == static.local_hit_ratio
    assert ours.mean_latency_ms == static.mean_latency_ms
    assert ours.bytes_moved == static.bytes_moved
    forecast = replace(ZONE_ORDER_FLOOR[0], zone_order=False)
    placed = replay(trace, predictive_variant(trace, cache, forecast).make(), config)
    assert placed.bytes_moved > static.bytes_moved
