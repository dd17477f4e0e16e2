"""The floor at follow-the-workload's counts placed by its statistics alone (session 24, bytes).

:func:`~statecast.sim.sweeps.follow_observed` runs the floor (``min`` + 0 .. 3, and up to +6
where consumer pods run; local hits valued) with its copies placed by the reads over a
window of observed demand alone (``Setting.observed``, ``PlacementSpec.floor_observed_only``),
at follow-the-workload's windows and ratios, copies at x1 and x1/16: new labels, every
earlier family's labels and knobs unchanged (its place in the table:
``test_sim_families``). Each test failed before (the runs and the knob did not exist).
"""

from __future__ import annotations

import pytest

from statecast.sim import SimConfig, replay
from statecast.sim.generator import scenario_of
from statecast.sim.planned import LOCAL_FIRST, ForecastCache
from statecast.sim.scenarios import scenario
from statecast.sim.sweeps import (
    FLOOR,
    FOLLOW_DEAR_RATIOS,
    FOLLOW_EXTRA,
    OBSERVED_COPY_WEIGHTS,
    OBSERVED_POD_EXTRA,
    OBSERVED_WINDOW_STEPS,
    Setting,
    family_settings,
    follow_floor_dear,
    follow_observed,
    predictive_variant,
)
from tests.unit._plan_spy import first_plans


@pytest.mark.parametrize(
    ("row", "extra"),
    [("drift", FOLLOW_EXTRA), ("batch-jobs", (*FOLLOW_EXTRA, *OBSERVED_POD_EXTRA))],
)
def test_the_runs_are_the_floor_on_the_window_alone(row: str, extra: tuple[int, ...]) -> None:
    trace = scenario(row)
    runs = follow_observed(trace)
    size = (
        len(extra)
        * len(OBSERVED_WINDOW_STEPS)
        * len(FOLLOW_DEAR_RATIOS)
        * len(OBSERVED_COPY_WEIGHTS)
    )
    assert len({s.label for s in runs}) == len(runs) == size
    assert {s.extra for s in runs} == set(extra)
    for setting in runs:
        assert setting.hold == FLOOR and setting.copy == 1.0 and setting.local
        assert setting.observed and setting.planner.floor_observed_only
        assert setting.ratio in FOLLOW_DEAR_RATIOS
        assert round(setting.floor_window / trace.step_s) in OBSERVED_WINDOW_STEPS
        assert setting.copy_weight in OBSERVED_COPY_WEIGHTS
        assert setting.label.endswith(" observed-only")
    # without the knob (and at x1) these are follow_floor_dear's settings, which never set it
    plain = {s.label.removesuffix(" observed-only") for s in runs if s.copy_weight == 1.0}
    assert not any(s.observed for s in follow_floor_dear(trace))
    assert not any(s.observed for s in family_settings(trace) if s not in runs)
    assert plain.isdisjoint({s.label for s in runs})


def test_no_earlier_setting_sets_the_knob() -> None:
    assert Setting().planner.floor_observed_only is False
    assert "observed-only" not in Setting(FLOOR, local=True, floor_window=3600.0).label


def test_the_knob_window_ratio_and_count_reach_the_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    trace = scenario("drift")
    setting = follow_observed(trace)[-1]  # min + 3, the 12-step window, x3, copies x1/16
    policy = predictive_variant(trace, ForecastCache(), setting).make()
    assert policy.valuation is LOCAL_FIRST  # type: ignore[attr-defined]
    given = first_plans(monkeypatch, policy, trace)
    assert given
    assert {i.spec.floor_observed_only for i in given} == {True}
    assert {i.spec.copy_weight for i in given} == {OBSERVED_COPY_WEIGHTS[-1]}
    assert {i.spec.floor_window_s for i in given} == {12 * trace.step_s}
    assert {i.spec.move_ratio for i in given} == {FOLLOW_DEAR_RATIOS[-1]}
    assert {i.spec.min_replicas for i in given} == {2 + 3}


def test_on_generated_15_the_window_alone_follows_the_hops_as_the_rule_does() -> None:
    # seen generated-15 (one 45 MB resource whose demand's trio of nodes changes every two
    # days, hourly steps): the floor at min + 2, a 3-step window, x1.5, copies at their
    # price; with the forecast's horizon it follows the hops later (9 copies after the
    # warm-up, 83.9 % local), on the window alone as follow-the-workload's 1-step run
    # (9 copies, 86.9 %): 87.0 %, the same bytes
    trace = scenario_of(15)
    config = SimConfig(warm_retention_s=0.0, warmup_steps=trace.period)
    runs = {}
    for observed in (False, True):
        setting = Setting(
            FLOOR, local=True, floor_window=3 * trace.step_s, ratio=0.5, extra=2, observed=observed
        )
        policy = predictive_variant(trace, ForecastCache(), setting).make()
        runs[observed] = replay(trace, policy, config)
    assert runs[True].bytes_moved == runs[False].bytes_moved
    assert round(runs[False].local_hit_ratio, 3) == 0.839
    assert round(runs[True].local_hit_ratio, 3) == 0.870
