"""Reactive's runs filled and trimmed in the rule's order, moving at a copy's price (session 25).

:func:`~statecast.sim.sweeps.moves_in_rule_order` runs the default at every window of
reactive's sweep, each k of :data:`~statecast.sim.sweeps.RULE_MOVES_K` and the graces of 12
and 24 steps, filled and trimmed in the rule's order like ``copies_in_rule_order``, but with
the copy at its own price (x1) and the grace-slot hold off (``Setting.grace_slots`` False,
``PlacementSpec.hold_grace_slots``). Within an unchanged count the rule copies to a pair that
turned hot in the step another's grace ended; the plan neither fills nor trims there, so only a
move follows it, and a move is held back by a copy priced x1024 or by an open grace slot (found
on seen generated-43). New labels after every earlier run's, whose labels and planner knobs are
unchanged; not in ``test_sim_generator``'s property (it was not added there). Each test failed
before (the family did not exist).
"""

from __future__ import annotations

import pytest

from statecast.core.placement import (
    PlanInput,
    plan,
)
from statecast.sim.planned import ForecastCache
from statecast.sim.scenarios import scenario
from statecast.sim.sweeps import (
    REACTIVE_WINDOW_STEPS,
    RULE_MOVES_K,
    RULE_ORDER_COPY_WEIGHT,
    RULE_ORDER_GRACE_STEPS,
    copies_in_rule_order,
    moves_in_rule_order,
    predictive_variant,
)
from tests.unit._placement_helpers import (
    ONE_ZONE_NODES,
    rule_order_input,
)
from tests.unit._plan_spy import first_plans

NODES = ONE_ZONE_NODES


def test_the_runs_take_every_window_the_ks_and_graces_with_new_labels() -> None:
    trace = scenario("drift")
    runs = moves_in_rule_order(trace)
    size = len(REACTIVE_WINDOW_STEPS) * len(RULE_MOVES_K) * len(RULE_ORDER_GRACE_STEPS)
    assert len({s.label for s in runs}) == len(runs) == size == 24
    assert RULE_MOVES_K == (0.0, 0.5, 1.0, 2.0)
    for setting in runs:
        assert setting.grace_slots is False and setting.copy_weight == 1.0
        assert setting.reactive_fill and setting.reactive_order and not setting.local
        spec = setting.planner
        assert not spec.hold_grace_slots and spec.copy_weight == 1.0
        assert spec.fill_in_reactive_order and spec.trim_in_reactive_order
        assert setting.window is not None and setting.cooldown is not None
        assert setting.window / trace.step_s in REACTIVE_WINDOW_STEPS
        assert setting.cooldown / trace.step_s in RULE_ORDER_GRACE_STEPS
        assert setting.sigma in RULE_MOVES_K
        assert setting.demand_priced and setting.copy == 1.0 and setting.hold == 1.0
        assert " grace-slots off k=" in setting.label
        assert setting.label.endswith(" trim-in-reactive-order fill-in-reactive-order")
    # the twins of copies_in_rule_order's runs at these k, nothing else changed
    twins = [s for s in copies_in_rule_order(trace) if s.sigma in RULE_MOVES_K]
    assert [(s.window, s.sigma, s.cooldown) for s in twins] == [
        (s.window, s.sigma, s.cooldown) for s in runs
    ]
    assert not {s.label for s in twins} & {s.label for s in runs}


def test_the_knobs_reach_the_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    trace = scenario("drift")
    setting = moves_in_rule_order(trace)[0]
    policy = predictive_variant(trace, ForecastCache(), setting).make()
    assert policy.heat_window_s == setting.window  # type: ignore[attr-defined]
    given = first_plans(monkeypatch, policy, trace)
    assert given
    assert {i.spec.hold_grace_slots for i in given} == {False}
    assert {i.spec.copy_weight for i in given} == {1.0}
    assert {i.spec.fill_in_reactive_order for i in given} == {True}
    assert {i.spec.trim_in_reactive_order for i in given} == {True}
    assert all(i.reactive_copies is not None for i in given)


def _swap(*, grace_slots: bool, copy_weight: float) -> PlanInput:
    """The rule's count of three, of which two for demand now (x, z; w through its grace).

    The plan holds w, x and y; y's node no longer reads and the rule no longer holds it
    (its grace ended in the step z turned hot: the rule swapped y for z within its count).
    """
    reads = {"w": 20.0, "x": 300.0, "y": 0.0, "z": 200.0}
    rule = frozenset({"w", "x", "z"})
    return rule_order_input(
        ("w", "x", "y"),
        rule,
        reads,
        copy_weight=copy_weight,
        hold_grace_slots=grace_slots,
        reactive_held=2,
    )


@pytest.mark.parametrize(
    ("grace_slots", "copy_weight", "nodes"),
    [
        # the family's run: y's copy moves to z, where the rule holds it
        (False, 1.0, ("w", "x", "z")),
        # copies_in_rule_order's run: the copy priced x1024 and the grace slot hold it
        (True, RULE_ORDER_COPY_WEIGHT, ("w", "x", "y")),
        # the grace slot alone holds it (w's copy is held only through its grace)
        (True, 1.0, ("w", "x", "y")),
        # the copy's price alone holds it
        (False, RULE_ORDER_COPY_WEIGHT, ("w", "x", "y")),
    ],
)
def test_within_the_count_only_the_familys_run_follows_the_rules_swap(
    grace_slots: bool, copy_weight: float, nodes: tuple[str, ...]
) -> None:
    assert plan(_swap(grace_slots=grace_slots, copy_weight=copy_weight)).nodes == nodes
