"""Runs at follow-the-workload's counts and hysteresis (session 20, bytes).

``Setting.extra`` (-> ``PlannerPolicy.extra_replicas``): the planner's ``min`` raised by
that many replicas, within ``max`` and the nodes, the zone floor kept at the trace's
``min`` (``PlacementSpec.zone_floor``), as follow-the-workload's ``+1`` .. ``+3`` hold
them; 0 is every earlier run. Each test failed before (the knob did not exist).
"""

from __future__ import annotations

import numpy as np
import pytest

from statecast.sim import SimConfig, Trace, replay
from statecast.sim.planned import ForecastCache
from statecast.sim.sweeps import (
    FLOOR,
    FOLLOW_EXTRA,
    FOLLOW_RATIOS,
    FOLLOW_WINDOW_STEPS,
    PREDICTIVE,
    Setting,
    follow_floor,
    predictive_variant,
)


def _three_nodes(max_replicas: int = 0, zones: tuple[str, ...] = ("z0", "z1", "z2")) -> Trace:
    """Two resources at ``min`` 1 on three nodes (in ``zones``), five-minute steps, a day.

    Node b reads 3 a step, node a 1, node c nothing; the second resource's ``max`` is
    ``max_replicas`` (0: none).
    """
    steps = 288
    demand = np.zeros((2, 3, steps))
    demand[:, 0, :] = 1.0
    demand[:, 1, :] = 3.0
    return Trace(
        name="three-nodes",
        demand=demand,
        resources=("r", "s"),
        nodes=("a", "b", "c"),
        zones=zones,
        step_s=300.0,
        available=np.ones((3, steps), dtype=np.bool_),
        state_bytes=np.array([2.0**20, 2.0**20]),
        writes_per_min=np.zeros(2),
        min_replicas=np.ones(2, dtype=np.int64),
        max_replicas=np.array([0, max_replicas], dtype=np.int64),
    )


def _minimums(trace: Trace, setting: Setting) -> list[tuple[int, int | None]]:
    policy = predictive_variant(trace, ForecastCache(), setting).make()
    policy.start(trace, SimConfig())
    specs = policy._specs  # type: ignore[attr-defined]
    return [(s.min_replicas, s.zone_floor) for s in specs]


def test_the_extra_replicas_raise_the_planner_s_minimum_within_max_and_the_nodes() -> None:
    assert _minimums(_three_nodes(), Setting(FLOOR)) == [(1, None), (1, None)]
    assert _minimums(_three_nodes(), Setting(FLOOR, extra=1)) == [(2, 1), (2, 1)]
    assert _minimums(_three_nodes(max_replicas=2), Setting(FLOOR, extra=3)) == [(3, 1), (2, 1)]


def test_the_extra_replicas_go_where_the_demand_is_in_any_zone() -> None:
    # a (1 a step) and b (3) share zone z0, c reads nothing in z1: min 1 + 1 extra holds a
    # and b, every read local; with the zone floor raised to 2 one copy would sit on c
    trace = _three_nodes(zones=("z0", "z0", "z1"))
    config = SimConfig(warm_retention_s=0.0, warmup_steps=48)
    policy = predictive_variant(trace, ForecastCache(), Setting(FLOOR, extra=1)).make()
    result = replay(trace, policy, config)
    assert result.replica_hours == pytest.approx(80.0)
    assert result.local_hit_ratio == pytest.approx(1.0)


def test_at_the_floor_the_run_holds_min_plus_the_extra_replicas() -> None:
    trace = _three_nodes()
    config = SimConfig(warm_retention_s=0.0, warmup_steps=48)
    runs = {}
    for extra in (0, 1):
        policy = predictive_variant(trace, ForecastCache(), Setting(FLOOR, extra=extra)).make()
        runs[extra] = replay(trace, policy, config)
    # 20 hours after the 4-hour warm-up, two resources: 1 and then 2 copies each
    assert runs[0].replica_hours == pytest.approx(40.0)
    assert runs[1].replica_hours == pytest.approx(80.0)
    # the second copy sits on a, the other reading node: every read local
    assert runs[1].local_hit_ratio == pytest.approx(1.0)


def test_labels_without_extra_replicas_are_unchanged() -> None:
    assert Setting(FLOOR).label == "predictive hold x1e+06 copy x1"
    assert Setting(FLOOR, extra=2).label == "predictive hold x1e+06 copy x1 min+2"


def test_the_follow_floor_runs_take_follow_the_workload_s_counts_windows_and_ratios() -> None:
    trace = _three_nodes()
    runs = follow_floor(trace)
    assert len({s.label for s in runs}) == len(runs) == 24
    for setting in runs:
        assert setting.hold == FLOOR and setting.copy == 1.0 and setting.local
        assert setting.extra in FOLLOW_EXTRA and setting.ratio in FOLLOW_RATIOS
        assert round(setting.floor_window / trace.step_s) in FOLLOW_WINDOW_STEPS
    assert not {s.label for s in runs} & {s.label for s in PREDICTIVE}
