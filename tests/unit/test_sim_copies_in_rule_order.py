"""Reactive's runs filled and trimmed in the rule's order, copies x1024 (session 23).

:func:`~statecast.sim.sweeps.copies_in_rule_order` runs the default at every window of
reactive's sweep, each k and the graces of 12 and 24 steps, with ``Setting.reactive_fill`` and
``Setting.reactive_order`` on and ``Setting.copy_weight`` at
:data:`~statecast.sim.sweeps.RULE_ORDER_COPY_WEIGHT`: new labels after every earlier
run's, whose labels and planner knobs are unchanged. Like ``copies_at_count`` and
``copies_at_window`` (copy_weight != 1) it is not in ``test_sim_generator``'s property.
Each test failed before (the runs did not exist).
"""

from __future__ import annotations

import pytest

from statecast.sim.planned import ForecastCache
from statecast.sim.scenarios import scenario
from statecast.sim.sweeps import (
    DEFAULT,
    PREDICTIVE,
    REACTIVE_WINDOW_STEPS,
    RULE_ORDER_COPY_WEIGHT,
    RULE_ORDER_GRACE_STEPS,
    SHAPED_K,
    copies_at_count,
    copies_at_window,
    copies_in_rule_order,
    predictive_variant,
    reactive_ordered,
    shaped,
    windowed,
    windowed_rest,
)
from tests.unit._plan_spy import first_plans


def test_the_runs_take_every_window_k_and_grace_of_reactive_with_new_labels() -> None:
    trace = scenario("drift")
    runs = copies_in_rule_order(trace)
    size = len(REACTIVE_WINDOW_STEPS) * len(SHAPED_K) * len(RULE_ORDER_GRACE_STEPS)
    assert len({s.label for s in runs}) == len(runs) == size == 42
    assert RULE_ORDER_COPY_WEIGHT == 1024.0
    for setting in runs:
        assert setting.copy_weight == RULE_ORDER_COPY_WEIGHT
        assert setting.reactive_fill and setting.reactive_order and not setting.local
        spec = setting.planner
        assert spec.fill_in_reactive_order and spec.trim_in_reactive_order
        assert spec.copy_weight == RULE_ORDER_COPY_WEIGHT
        assert setting.window is not None
        assert setting.window / trace.step_s in REACTIVE_WINDOW_STEPS
        assert setting.sigma in SHAPED_K
        assert setting.cooldown is not None
        assert setting.cooldown / trace.step_s in RULE_ORDER_GRACE_STEPS
        assert setting.demand_priced and not setting.from_read and setting.copy == 1.0
        assert setting.label.endswith(" trim-in-reactive-order copies x1024 fill-in-reactive-order")
    earlier = (*copies_at_count(trace), *copies_at_window(trace), *reactive_ordered(trace))
    assert not {s.label for s in earlier} & {s.label for s in runs}
    # where the runs sit among the others: test_sim_families


def test_every_earlier_run_keeps_its_label_and_its_planner() -> None:
    trace = scenario("drift")
    earlier = (
        DEFAULT,
        *shaped(trace),
        *windowed(trace),
        *windowed_rest(trace),
        *reactive_ordered(trace),
        *copies_at_count(trace),
        *copies_at_window(trace),
        *PREDICTIVE,
    )
    for setting in earlier:
        assert not setting.reactive_fill
        assert not setting.planner.fill_in_reactive_order
        assert "fill-in-reactive-order" not in setting.label


def test_the_weight_and_both_orders_reach_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    trace = scenario("drift")
    setting = copies_in_rule_order(trace)[-1]
    policy = predictive_variant(trace, ForecastCache(), setting).make()
    assert policy.heat_window_s == setting.window  # type: ignore[attr-defined]
    given = first_plans(monkeypatch, policy, trace)
    assert given
    assert {i.spec.copy_weight for i in given} == {RULE_ORDER_COPY_WEIGHT}
    assert {i.spec.fill_in_reactive_order for i in given} == {True}
    assert {i.spec.trim_in_reactive_order for i in given} == {True}
    assert {i.spec.cost_weight for i in given} == {1.0}
