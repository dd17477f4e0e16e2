"""The floor at follow-the-workload's counts with a copy priced dear (session 23, bytes).

:func:`~statecast.sim.sweeps.follow_floor_dear` runs :func:`~statecast.sim.sweeps.follow_floor`'s
floor (``min`` + 0 .. 3, copies placed by a window of reads, moves weighed by a ratio, local
hits valued) with follow-the-workload's 1-step window too and ``Setting.copy_weight`` swept by
8x: new labels after every earlier family's, whose labels and planner knobs are unchanged. No
planner code is new. Each test failed before (the runs did not exist).
"""

from __future__ import annotations

import numpy as np
import pytest

from statecast.sim import SimConfig, Trace, replay
from statecast.sim.planned import LOCAL_FIRST, ForecastCache
from statecast.sim.scenarios import scenario
from statecast.sim.sweeps import (
    FLOOR,
    FOLLOW_DEAR_COPY_WEIGHTS,
    FOLLOW_DEAR_RATIOS,
    FOLLOW_DEAR_WINDOW_STEPS,
    FOLLOW_EXTRA,
    PREDICTIVE,
    Setting,
    follow_floor,
    follow_floor_dear,
    predictive_variant,
)
from tests.unit._plan_spy import first_plans


def _shift(steps: int = 288) -> Trace:
    """One 64 MiB resource at ``min`` 1 on three nodes (three zones), five-minute steps.

    Node a reads 600 a step throughout; from step 150 node b reads 1,000 a step too.
    """
    demand = np.zeros((1, 3, steps))
    demand[0, 0, :] = 600.0
    demand[0, 1, 150:] = 1000.0
    return Trace(
        name="shift",
        demand=demand,
        resources=("r",),
        nodes=("a", "b", "c"),
        zones=("z0", "z1", "z2"),
        step_s=300.0,
        available=np.ones((3, steps), dtype=np.bool_),
        state_bytes=np.array([2.0**26]),
        writes_per_min=np.zeros(1),
        min_replicas=np.ones(1, dtype=np.int64),
        max_replicas=np.zeros(1, dtype=np.int64),
    )


def test_the_runs_are_the_floor_at_follow_the_workloads_counts_with_dear_copies() -> None:
    trace = scenario("drift")
    runs = follow_floor_dear(trace)
    assert len({s.label for s in runs}) == len(runs) == 4 * 3 * 2 * 4 == 96
    for setting in runs:
        assert setting.hold == FLOOR and setting.copy == 1.0 and setting.local
        assert setting.extra in FOLLOW_EXTRA and setting.ratio in FOLLOW_DEAR_RATIOS
        assert round(setting.floor_window / trace.step_s) in FOLLOW_DEAR_WINDOW_STEPS
        assert setting.copy_weight in FOLLOW_DEAR_COPY_WEIGHTS
        assert setting.planner.copy_weight == setting.copy_weight
        assert setting.label.endswith(f" copies x{setting.copy_weight:g}")
    # at x1 and at follow_floor's windows and ratios these would be follow_floor's runs
    plain = {s.label for s in follow_floor(trace)}
    at_x1 = {s.label.rsplit(" copies x", 1)[0] for s in runs}
    assert {s.label for s in follow_floor(trace) if s.ratio != 1.0} <= at_x1
    assert not {s.label for s in runs} & plain
    assert not {s.label for s in runs} & {s.label for s in PREDICTIVE}


def test_follow_floors_own_runs_keep_a_copy_at_its_price() -> None:
    # where the dear runs sit among the others: test_sim_families
    trace = scenario("drift")
    for setting in follow_floor(trace):
        assert setting.copy_weight == 1.0 and " copies x" not in setting.label


def test_the_weight_window_ratio_and_count_reach_the_plan(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    trace = scenario("drift")
    setting = follow_floor_dear(trace)[-1]  # min + 3, the 12-step window, x3, x4,096
    policy = predictive_variant(trace, ForecastCache(), setting).make()
    assert policy.valuation is LOCAL_FIRST  # type: ignore[attr-defined]
    given = first_plans(monkeypatch, policy, trace)
    assert given
    assert {i.spec.copy_weight for i in given} == {FOLLOW_DEAR_COPY_WEIGHTS[-1]}
    assert {i.spec.floor_window_s for i in given} == {12 * trace.step_s}
    assert {i.spec.move_ratio for i in given} == {FOLLOW_DEAR_RATIOS[-1]}
    assert {i.spec.min_replicas for i in given} == {2 + 3}
    assert {i.spec.zone_floor for i in given} == {2}


def test_a_dear_copy_keeps_the_floor_where_it_is_when_demand_moves() -> None:
    # at x1 and x8 the floor's copy follows the busier node b (one 64 MiB copy after the
    # warm-up); from x64 on the move no longer pays its copy and the copy stays on a
    trace = _shift()
    config = SimConfig(warm_retention_s=0.0, warmup_steps=48)
    moved = {}
    for weight in (1.0, *FOLLOW_DEAR_COPY_WEIGHTS):
        setting = Setting(FLOOR, local=True, floor_window=300.0, ratio=0.5, copy_weight=weight)
        result = replay(trace, predictive_variant(trace, ForecastCache(), setting).make(), config)
        moved[weight] = result.bytes_moved / 2.0**26
    assert moved == {1.0: 1.0, 8.0: 1.0, 64.0: 0.0, 512.0: 0.0, 4096.0: 0.0}
