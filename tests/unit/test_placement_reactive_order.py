"""The trim to reactive replication's count in that rule's order (issue 11, session 20).

At the reactive rule's count (``PlanInput.reactive_copies``, the default's budget) the
count falls when one of the rule's copies has been cold for its grace. Trimmed by the
forecast's loss alone, the plan dropped another copy, one the rule still held because
its node read within the grace, and copied it back when the count rose for that node
again (generated-26, session 20: 822 copies against the rule's 725 at the same count).
With ``PlacementSpec.trim_in_reactive_order`` the copies the rule does not hold
(``PlanInput.reactive_nodes``) go first, then the least loss as before. Each case with
the knob failed before (the fields did not exist).
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from statecast.core.placement import (
    ActionKind,
    NodeInfo,
    PlacementSpec,
    PlanInput,
    StateProfile,
    plan,
)
from tests.unit._placement_helpers import MIB, PRICES, held_a_day, history_forecast

NODES = (NodeInfo("x", "z1"), NodeInfo("p", "z1"), NodeInfo("q", "z1"))
HOUR = 3600.0


def _over_count(
    *,
    knob: bool = True,
    rule: frozenset[str] = frozenset({"x", "p"}),
    count: int | None = 2,
    p_reads: float = 50.0,
    q_reads: float = 400.0,
) -> PlanInput:
    """Copies on x (busy), p and q; the rule's count of two; min 1.

    The forecast says p reads less than q now; the rule holds x and p (p was hot within
    its grace, q's grace ended): the count fell by q's copy.
    """
    reads = {"x": 3000.0, "p": p_reads, "q": q_reads}
    forecast = history_forecast(NODES, {n: [r] * 3 for n, r in reads.items()}, reads)
    return PlanInput(
        spec=PlacementSpec(min_replicas=1, cooldown_s=900.0, trim_in_reactive_order=knob),
        state=StateProfile(64 * MIB),
        nodes=NODES,
        forecast=forecast,
        replicas=held_a_day(("p", "q", "x")),
        step_s=300.0,
        costs=PRICES,
        reactive_copies=count,
        reactive_nodes=rule,
    )


@pytest.mark.parametrize(
    ("inputs", "nodes"),
    [
        # the rule dropped q's copy: the trim drops q, not p (whose loss is least)
        (_over_count(), ("p", "x")),
        # without the knob the least loss goes: p
        (_over_count(knob=False), ("q", "x")),
        # the rule's nodes not given: the least loss alone
        (_over_count(rule=frozenset()), ("q", "x")),
        # the rule holds x and q: it agrees with the least loss (p goes)
        (_over_count(rule=frozenset({"q", "x"})), ("q", "x")),
        # the rule holds x alone (a count of one): p and q both go, as without the knob
        (_over_count(rule=frozenset({"x"}), count=1), ("x",)),
        (_over_count(rule=frozenset({"x"}), count=1, knob=False), ("x",)),
        # the rule holds p and q, the busy x held beyond its count: x goes first
        (_over_count(rule=frozenset({"p", "q"})), ("p", "q")),
        # within the count nothing is trimmed
        (_over_count(count=3), ("p", "q", "x")),
    ],
)
def test_the_trim_drops_first_the_copies_the_rule_does_not_hold(
    inputs: PlanInput, nodes: tuple[str, ...]
) -> None:
    assert plan(inputs).nodes == nodes


def test_without_a_reactive_budget_the_knob_changes_nothing() -> None:
    assert plan(_over_count(count=None)) == plan(_over_count(count=None, knob=False))


ZONES = ("z1", "z1", "z2", "z2", "z3")


@settings(max_examples=80, deadline=None)
@given(
    reads=st.lists(st.floats(1.0, 3000.0), min_size=5, max_size=5),
    holders=st.sets(st.integers(0, 4), min_size=1, max_size=5),
    rule=st.sets(st.integers(0, 4), max_size=5),
    count=st.integers(0, 5),
    min_replicas=st.integers(0, 3),
)
def test_the_trim_keeps_the_rules_copies_while_others_can_go(
    reads: list[float], holders: set[int], rule: set[int], count: int, min_replicas: int
) -> None:
    """Copies held a day, any count. The knob keeps the plan's number of copies; it
    changes the plan only where the rule holds some of the copies and not others; and
    the trim never drops a copy the rule holds while it leaves one the rule does not
    hold in the same zone (the zone floor treats the two alike). Fails without the knob
    (the field did not exist; off, the least loss goes first)."""
    nodes = tuple(NodeInfo(f"n{i}", z) for i, z in enumerate(ZONES))
    names = tuple(n.name for n in nodes)
    mean = {n: reads[i] for i, n in enumerate(names)}
    off = PlanInput(
        spec=PlacementSpec(min_replicas=min_replicas, cooldown_s=900.0),
        state=StateProfile(64 * MIB),
        nodes=nodes,
        forecast=history_forecast(nodes, {n: [mean[n]] * 3 for n in names}, mean),
        replicas=held_a_day(tuple(names[i] for i in sorted(holders))),
        step_s=300.0,
        costs=PRICES,
        reactive_copies=count,
        reactive_nodes=frozenset(names[i] for i in rule),
    )
    on = replace(off, spec=replace(off.spec, trim_in_reactive_order=True))
    with_knob, without = plan(on), plan(off)
    assert len(with_knob.nodes) == len(without.nodes)
    held_by_rule = holders & rule
    if not held_by_rule or held_by_rule == holders:
        assert with_knob.actions == without.actions
        return
    trimmed = {
        names.index(a.node)
        for a in with_knob.actions
        if a.kind == ActionKind.REMOVE and "copies reactive replication holds" in a.detail
    }
    for i in trimmed & rule:
        left = [names[j] for j in holders - rule - trimmed if ZONES[j] == ZONES[i]]
        assert not left, (names[i], left)
