"""Reactive's runs at its longer windows with a copy dear, three ways (session 22).

:func:`~statecast.sim.sweeps.copies_at_window` runs the k, graces and windows of
:func:`~statecast.sim.sweeps.windowed` and :func:`~statecast.sim.sweeps.windowed_rest` with
``Setting.copy_weight`` at :data:`~statecast.sim.sweeps.WINDOW_COPY_WEIGHT`, valued by latency,
by local hits, and trimmed in the rule's order: new labels beside every earlier run's, whose
labels and planner knobs are unchanged. Each test failed before (the runs did not exist).
"""

from __future__ import annotations

import pytest

from statecast.sim.planned import LOCAL_FIRST, ForecastCache
from statecast.sim.scenarios import scenario
from statecast.sim.sweeps import (
    COPY_WEIGHTS,
    DEFAULT,
    PREDICTIVE,
    SHAPED_GRACE_STEPS,
    SHAPED_K,
    SHAPED_WINDOW_STEPS,
    WINDOW_COPY_WEIGHT,
    copies_at_count,
    copies_at_window,
    predictive_variant,
    reactive_ordered,
    shaped,
    windowed,
    windowed_rest,
)
from tests.unit._plan_spy import first_plans


def test_the_runs_take_reactives_windows_k_and_grace_three_ways_with_new_labels() -> None:
    trace = scenario("drift")
    runs = copies_at_window(trace)
    per_way = len(SHAPED_WINDOW_STEPS) * len(SHAPED_K) * len(SHAPED_GRACE_STEPS)
    assert len({s.label for s in runs}) == len(runs) == 3 * per_way == 168
    at_windows = [*windowed(trace), *windowed_rest(trace)]
    plain, local, ordered = runs[:per_way], runs[per_way : 2 * per_way], runs[2 * per_way :]
    assert sorted(s.label for s in plain) == sorted(
        f"{s.label} copies x{WINDOW_COPY_WEIGHT:g}" for s in at_windows
    )
    for setting in runs:
        assert setting.copy_weight == WINDOW_COPY_WEIGHT == COPY_WEIGHTS[-1]
        assert setting.planner.copy_weight == WINDOW_COPY_WEIGHT
        assert setting.window is not None and setting.window / trace.step_s in SHAPED_WINDOW_STEPS
        assert setting.demand_priced and not setting.from_read and setting.copy == 1.0
        assert setting.local is (setting in local)
        assert setting.reactive_order is (setting in ordered)
        assert setting.planner.trim_in_reactive_order is (setting in ordered)
    assert [s.label for s in local] == [
        s.label.replace(" copy x1 ", " copy x1 local-first ", 1) for s in plain
    ]
    assert [s.label for s in ordered] == [
        s.label.replace(" copies x", " trim-in-reactive-order copies x") for s in plain
    ]
    earlier = (*copies_at_count(trace), *reactive_ordered(trace), *at_windows)
    assert not {s.label for s in earlier} & {s.label for s in runs}
    # where the runs sit among the others: test_sim_families


def test_every_earlier_run_keeps_its_label_and_its_planner() -> None:
    trace = scenario("drift")
    earlier = (DEFAULT, *shaped(trace), *windowed(trace), *windowed_rest(trace), *PREDICTIVE)
    for setting in (*earlier, *reactive_ordered(trace)):
        assert setting.copy_weight == 1.0 and setting.planner.copy_weight == 1.0
        assert " copies x" not in setting.label


@pytest.mark.parametrize("way", [0, 1, 2])
def test_the_weight_the_valuation_and_the_order_reach_the_run(
    monkeypatch: pytest.MonkeyPatch, way: int
) -> None:
    trace = scenario("drift")
    runs = copies_at_window(trace)
    setting = runs[(way + 1) * len(runs) // 3 - 1]
    policy = predictive_variant(trace, ForecastCache(), setting).make()
    assert (policy.valuation is LOCAL_FIRST) is (way == 1)  # type: ignore[attr-defined]
    assert policy.heat_window_s == setting.window  # type: ignore[attr-defined]
    given = first_plans(monkeypatch, policy, trace)
    assert given
    assert {i.spec.copy_weight for i in given} == {WINDOW_COPY_WEIGHT}
    assert {i.spec.trim_in_reactive_order for i in given} == {way == 2}
    assert {i.spec.cost_weight for i in given} == {1.0}
