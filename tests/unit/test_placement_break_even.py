"""The break-even rule: a copy is not dropped for cost before its lull has cost a copy.

With the helpers' prices, holding the 64 MiB state costs 104.2 ms a minute-long step
and copying it back 625 ms: six steps of holding a copy nobody reads cost one copy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from statecast.core.placement import ActionKind, CurrentReplica, DemandForecast, Reason, plan
from statecast.core.placement.costs import latency_matrix, unpaid_holding
from statecast.core.placement.types import LatencyModel, PlanInput
from tests.unit._placement_helpers import HORIZON, make_input, old

NODES = "a:z1,c:z2"
HOT = 400.0


def _with_history(inputs: PlanInput, history: Mapping[str, Sequence[float]]) -> PlanInput:
    fc = inputs.forecast
    recent = np.array([list(history[n]) for n in fc.nodes], dtype=float)
    forecast = DemandForecast(
        fc.nodes, fc.mean, fc.lower, fc.upper, fc.deviation, fc.observed, recent
    )
    return PlanInput(
        inputs.spec,
        inputs.state,
        inputs.nodes,
        forecast,
        inputs.replicas,
        inputs.step_s,
        inputs.latency,
        inputs.costs,
        inputs.consumer_nodes,
        inputs.recently_removed,
    )


def _plan_c(c_history: Sequence[float], c_replica: CurrentReplica, **spec: object) -> str:
    """What the plan does with c's copy: a reads all along, the forecast sees no read on c."""
    inputs = make_input(
        NODES, mean={"a": HOT}, replicas=(old("a"), c_replica), min_replicas=1, **spec
    )
    history = {"a": [HOT] * len(c_history), "c": c_history}
    action = {a.node: a for a in plan(_with_history(inputs, history)).actions}["c"]
    return action.kind.value


@pytest.mark.parametrize(
    ("c_history", "c_replica", "expected"),
    [
        # Read until two steps ago: the lull has cost 208 ms of holding, less than a copy.
        ([500.0] * 10 + [0.0] * 2, old("c"), "keep"),
        # Five idle steps (521 ms) still under the copy's 625 ms; six reach it.
        ([500.0] * 10 + [0.0] * 5, old("c"), "keep"),
        ([500.0] * 10 + [0.0] * 6, old("c"), "remove"),
        # A trickle that never pays (1 read a step saves 1.9 ms of 104 ms) is dropped.
        ([1.0] * 30, old("c"), "remove"),
        # A copy made three steps ago counts only its own three steps (313 ms).
        ([0.0] * 30, CurrentReplica("c", age_s=180.0), "keep"),
        # No history of the lull at all: nothing holds it.
        ([], old("c"), "remove"),
    ],
)
def test_a_copy_stays_until_its_lull_costs_a_copy(
    c_history: list[float], c_replica: CurrentReplica, expected: str
) -> None:
    assert _plan_c(c_history, c_replica, cooldown_s=60.0) == expected


def test_without_history_the_lull_the_forecast_sees_drops_the_copy() -> None:
    inputs = make_input(NODES, mean={"a": HOT}, replicas=(old("a"), old("c")), min_replicas=1)
    action = {a.node: a for a in plan(inputs).actions}["c"]
    assert (action.kind, action.reason) == (ActionKind.REMOVE, Reason.COST)


def test_the_rule_never_keeps_a_copy_below_the_ceiling_or_above_max() -> None:
    inputs = make_input(
        NODES, mean={"a": HOT}, replicas=(old("a"), old("c")), min_replicas=1, max_replicas=1
    )
    kept = plan(_with_history(inputs, {"a": [HOT] * 3, "c": [500.0, 0.0, 0.0]}))
    assert len(kept.nodes) == 1


MATRIX = latency_matrix(("z1", "z1", "z2", "z3"), LatencyModel())
reads = st.lists(st.floats(0, 1000, allow_nan=False), min_size=4 * 8, max_size=4 * 8)


@settings(derandomize=True, max_examples=100, deadline=None)
@given(reads, st.lists(st.booleans(), min_size=4, max_size=4), st.floats(0.1, 500))
def test_unpaid_holding_is_bounded_and_falls_as_reads_rise(
    flat: list[float], held: list[bool], hold: float
) -> None:
    history = np.array(flat).reshape(4, 8)
    holders = np.array(held)
    unpaid = unpaid_holding(MATRIX, holders, history, hold, 50.0)
    assert (unpaid[~holders] == 0).all()
    assert (unpaid >= 0).all() and (unpaid <= 8 * hold + 1e-9).all()
    # More reads never make a copy look less useful.
    more = unpaid_holding(MATRIX, holders, history * 2 + 1, hold, 50.0)
    assert (more <= unpaid + 1e-9).all()
    # Nobody reading for the last k steps: every copy is owed at least k steps of holding.
    quiet = history.copy()
    quiet[:, -3:] = 0.0
    owed = unpaid_holding(MATRIX, holders, quiet, hold, 50.0)
    assert (owed[holders] >= 3 * hold - 1e-9).all()


def test_no_history_owes_nothing() -> None:
    holders = np.array([True, False, True, False])
    assert not unpaid_holding(MATRIX, holders, np.zeros((4, 0)), 10.0, 50.0).any()


def _offline(gaps: Sequence[int], hold: float, copy: float) -> float:
    """The best choice in hindsight: per lull, hold through it or drop it and copy back."""
    return sum(min(g * hold, copy) for g in gaps)


@settings(derandomize=True, max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 12), min_size=1, max_size=5))
def test_holding_through_lulls_costs_at_most_twice_the_hindsight_choice(gaps: list[int]) -> None:
    """Replay c's reads step by step through the planner: busy steps, then lulls of the
    drawn lengths (each followed by a busy step). What c's copy costs in holding during
    the lulls plus the copies back stays within twice the best choice in hindsight (plus
    one step's holding: the planner decides once a step)."""
    hold, copy = 1562.5 / HORIZON, 625.0
    history: list[float] = [500.0] * 3
    holding = copying = 0.0
    held, age = True, 3600.0
    for gap in gaps:
        for _ in range(gap):
            history.append(0.0)
            age += 60.0
            if held:
                holding += hold
                state = _plan_c(history, CurrentReplica("c", age_s=age), cooldown_s=60.0)
                held = state != "remove"
        history.append(500.0)  # reads return: a copy that was dropped is copied back
        age += 60.0
        if not held:
            copying += copy
            held, age = True, 60.0
    assert holding + copying <= 2 * _offline(gaps, hold, copy) + hold + 1e-6
