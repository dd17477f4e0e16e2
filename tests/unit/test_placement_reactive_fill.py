"""The fill up to reactive replication's count in that rule's order (issue 11, session 23).

At the reactive rule's count (``PlanInput.reactive_copies``, the default's budget) the
plan adds copies up to that count whatever they cost, where the forecast's gain is
highest and, on a node that just lost a replica, only past a wider margin. The rule
copies back to the node that read hot over its window: on generated-04 (k = 0, a
12-step window, a 24-step grace) it dropped node 82's copy of a 13 MB resource and
copied it back a step later, while the plan put the count's rise on node 79 and moved
it to 82 two hours later (two copies against one). With
``PlacementSpec.fill_in_reactive_order`` the fill adds first on a node the rule holds
(``PlanInput.reactive_nodes``), a node that just lost its copy too. Each case with the
knob failed before (the field did not exist).
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
#: A copy this dear pays for itself nowhere: every add is the fill's.
DEAR = 1024.0


def _under_count(
    *,
    knob: bool = True,
    rule: frozenset[str] = frozenset({"x", "p"}),
    count: int | None = 2,
    removed: dict[str, float] | None = None,
) -> PlanInput:
    """A copy on x (busy); the rule's count of two; min 1.

    The forecast says q reads more than p; the rule holds x and p (p read hot over its
    window). ``removed``: nodes whose copy went that many seconds ago.
    """
    reads = {"x": 3000.0, "p": 50.0, "q": 400.0}
    forecast = history_forecast(NODES, {n: [r] * 3 for n, r in reads.items()}, reads)
    return PlanInput(
        spec=PlacementSpec(
            min_replicas=1, cooldown_s=900.0, copy_weight=DEAR, fill_in_reactive_order=knob
        ),
        state=StateProfile(64 * MIB),
        nodes=NODES,
        forecast=forecast,
        replicas=held_a_day(("x",)),
        step_s=300.0,
        costs=PRICES,
        reactive_copies=count,
        reactive_nodes=rule,
        recently_removed=removed or {},
    )


@pytest.mark.parametrize(
    ("inputs", "nodes"),
    [
        # the rule holds p: the fill adds on p, not on q (whose gain is highest)
        (_under_count(), ("p", "x")),
        # without the knob the highest gain: q
        (_under_count(knob=False), ("q", "x")),
        # p lost its copy a minute ago: the rule copies it back, and so does the fill
        (_under_count(removed={"p": 60.0}), ("p", "x")),
        # ... without the knob the wider margin keeps p out: q
        (_under_count(knob=False, removed={"p": 60.0}), ("q", "x")),
        # the rule's nodes not given: the highest gain alone
        (_under_count(rule=frozenset()), ("q", "x")),
        # the rule holds x alone, which the plan holds: the highest gain, as without it
        (_under_count(rule=frozenset({"x"})), ("q", "x")),
        # a count of three: p first, then q
        (_under_count(count=3), ("p", "q", "x")),
        # at the count nothing is added
        (_under_count(count=1), ("x",)),
    ],
)
def test_the_fill_adds_first_on_the_rules_nodes(inputs: PlanInput, nodes: tuple[str, ...]) -> None:
    assert plan(inputs).nodes == nodes


def test_without_a_reactive_budget_the_knob_changes_nothing() -> None:
    assert plan(_under_count(count=None)) == plan(_under_count(count=None, knob=False))


ZONES = ("z1", "z1", "z2", "z2", "z3")


@settings(max_examples=80, deadline=None)
@given(
    reads=st.lists(st.floats(1.0, 3000.0), min_size=5, max_size=5),
    holders=st.sets(st.integers(0, 4), max_size=5),
    rule=st.sets(st.integers(0, 4), max_size=5),
    count=st.integers(0, 5),
    min_replicas=st.integers(0, 3),
    weight=st.sampled_from([1.0, DEAR]),
)
def test_the_fill_keeps_the_count_and_prefers_the_rules_open_nodes(
    reads: list[float],
    holders: set[int],
    rule: set[int],
    count: int,
    min_replicas: int,
    weight: float,
) -> None:
    """Copies held a day, any count. The knob keeps the plan's number of copies; with
    the rule's nodes all held or none given it changes nothing; and a copy the fill adds
    goes to a node the rule does not hold only when no node the rule holds is left open
    (not held, where a copy gains). Fails without the knob (the field did not exist;
    off, the highest gain goes first)."""
    nodes = tuple(NodeInfo(f"n{i}", z) for i, z in enumerate(ZONES))
    names = tuple(n.name for n in nodes)
    mean = {n: reads[i] for i, n in enumerate(names)}
    off = PlanInput(
        spec=PlacementSpec(min_replicas=min_replicas, cooldown_s=900.0, copy_weight=weight),
        state=StateProfile(64 * MIB),
        nodes=nodes,
        forecast=history_forecast(nodes, {n: [mean[n]] * 3 for n in names}, mean),
        replicas=held_a_day(tuple(names[i] for i in sorted(holders))),
        step_s=300.0,
        costs=PRICES,
        reactive_copies=count,
        reactive_nodes=frozenset(names[i] for i in rule),
    )
    on = replace(off, spec=replace(off.spec, fill_in_reactive_order=True))
    with_knob, without = plan(on), plan(off)
    assert len(with_knob.nodes) == len(without.nodes)
    if not rule - holders:
        assert with_knob.actions == without.actions
        return
    filled = [
        names.index(a.node)
        for a in with_knob.actions
        if a.kind == ActionKind.ADD and "copies reactive replication holds" in a.detail
    ]
    final = {names.index(n) for n in with_knob.nodes}
    for i in filled:
        if i not in rule:
            assert rule <= final, (names[i], sorted(rule), sorted(final))
