"""Every copy the planner adds is priced the same way (issue 11, bytes; session 11).

Session 10 priced a move over the demand's expected stay (as long again as it has
stayed as it is now, :func:`~statecast.core.placement.moves.best_move`) but an add over
the value window alone, and the default run's fill (the copies up to the reactive rule's
count) not at all. Now every stage that adds a copy weighs its bytes against what it
saves over its node's expected stay (:func:`~statecast.core.placement.moves.add_stay`;
``move_residence_s = 0``: the window alone, session 9's gate and the sweep grid's), the
fill's copies where asked (``PlacementSpec.fill_priced``; the default, off, is session
10's fill), and a copy on a node that still holds a removed replica's files costs what
it moves (``PlanInput.copy_bytes``: a warm copy catches up on the writes it missed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from statecast.core.placement import (
    ActionKind,
    CostModel,
    NodeInfo,
    PlacementSpec,
    PlanInput,
    Reason,
    plan,
)
from statecast.core.placement.moves import add_stay, stay_ladder
from tests.unit._placement_helpers import MIB, held_input, history_forecast

STEP_S = 60.0
#: A 64 MiB copy costs 100 ms (1/16 GiB at 1,600 ms a GiB); holding nearly free.
PRICES = CostModel(ms_per_gib_hour=1.0, ms_per_gib_moved=1_600.0, hot_sigma=None)
#: ... and holding dear: 64 MiB for the 15-minute window costs 625 ms.
DEAR_HOLDING = replace(PRICES, ms_per_gib_hour=40_000.0)
NODES = (NodeInfo("a", "z1"), NodeInfo("b", "z1"), NodeInfo("c", "z2"), NodeInfo("d", "z2"))


def _input(
    history: Mapping[str, Sequence[float]],
    forecast: Mapping[str, float],
    replicas: tuple[str, ...] = ("a", "c"),
    *,
    nodes: tuple[NodeInfo, ...] = NODES,
    costs: CostModel = PRICES,
    max_replicas: int | None = None,
    **spec: object,
) -> PlanInput:
    return held_input(
        nodes,
        history_forecast(nodes, history, forecast),
        replicas,
        costs=costs,
        step_s=STEP_S,
        max_replicas=max_replicas,
        cooldown_s=300.0,
        **spec,
    )


# b reads 10 a step: a copy on b saves 0.4 ms a read, 60 ms over the 15-step window,
# against a 100 ms copy (120 with the margin): over the window alone it never pays.
HOUR_ON_B = {"b": [10.0] * 60}


@pytest.mark.parametrize(
    ("history", "forecast", "residence", "added"),
    [
        # An hour on b (4 windows): 240 ms against 100 ms and 4 windows' holding.
        (HOUR_ON_B, {"b": 10.0}, None, True),
        # The window alone (session 9's gate, the sweep grid's runs): it never would.
        (HOUR_ON_B, {"b": 10.0}, 0.0, False),
        # The stay read from the last 10 minutes only: under a window.
        (HOUR_ON_B, {"b": 10.0}, 600.0, False),
        # The demand arrived 10 steps ago: it has not stayed long enough yet.
        ({"b": [0.0] * 50 + [10.0] * 10}, {"b": 10.0}, None, False),
        # Demand alternating between b and d every step: it has stayed one step.
        ({"b": [10.0, 0.0] * 30, "d": [0.0, 10.0] * 30}, {"b": 10.0}, None, False),
        # The forecast says b fades to a fifth: not the demand staying as it is.
        (HOUR_ON_B, {"b": 2.0}, None, False),
    ],
)
def test_an_add_is_priced_over_the_demands_stay(
    history: dict[str, list[float]],
    forecast: dict[str, float],
    residence: float | None,
    added: bool,
) -> None:
    result = plan(_input(history, forecast, move_residence_s=residence))
    assert ("b" in result.nodes) is added
    assert "a" in result.nodes  # an add, not a move: holding is near-free here
    if added:
        (add,) = result.of_kind(ActionKind.ADD)
        assert add.reason == Reason.PREDICTED
        assert "over 4 windows (the demand's stay)" in add.detail


def test_holding_is_priced_over_the_same_stay() -> None:
    """Dear holding: over 4 windows b's copy saves 240 ms against 2,500 ms to hold: no add.

    The copy on a moves there instead (a move changes no holding).
    """
    result = plan(_input(HOUR_ON_B, {"b": 10.0}, costs=DEAR_HOLDING))
    assert set(result.nodes) == {"b", "c"}
    assert [a.node for a in result.of_kind(ActionKind.REMOVE)] == ["a"]


def _fill(forecast: float, **spec: object) -> PlanInput:
    inputs = _input({}, {"b": forecast}, costs=DEAR_HOLDING, **spec)
    return replace(inputs, reactive_copies=3)


@pytest.mark.parametrize(
    ("reads", "priced", "filled"),
    [
        # 1 read a step: 6 ms a window against a 100 ms copy: a priced fill does not add it.
        (1.0, True, False),
        # The default (session 10's fill) adds it whatever the copy costs.
        (1.0, False, True),
        # 30 reads a step: 180 ms against 100 (120 with the margin): the copy pays.
        (30.0, True, True),
    ],
)
def test_the_fill_up_to_reactives_count_prices_the_copy(
    reads: float, priced: bool, filled: bool
) -> None:
    assert not PlacementSpec().fill_priced  # the default: it cost an unseen trace 5 points
    result = plan(_fill(reads, fill_priced=priced))
    assert ("b" in result.nodes) is filled
    if filled and priced:
        (add,) = result.of_kind(ActionKind.ADD)
        assert "against a 100 ms copy" in add.detail


def test_a_warm_copy_is_priced_at_the_bytes_it_moves() -> None:
    """b kept a removed replica's files: 4 MiB to catch up, 6.25 ms: it pays in a window."""
    cold = _input({}, {"b": 10.0}, move_residence_s=0.0)
    assert "b" not in plan(cold).nodes
    warm = plan(replace(cold, copy_bytes={"b": 4 * MIB}))
    assert "b" in warm.nodes
    (add,) = warm.of_kind(ActionKind.ADD)
    assert add.cost_ms == pytest.approx(6.25, abs=0.1)


def test_a_move_goes_to_the_warm_node_when_the_savings_are_equal() -> None:
    nodes = (NodeInfo("a", "z1"), NodeInfo("b", "z1"), NodeInfo("c", "z1"), NodeInfo("d", "z2"))
    history = {"b": [10.0] * 60, "c": [10.0] * 60}
    inputs = _input(history, {"b": 10.0, "c": 10.0}, ("a", "d"), nodes=nodes, max_replicas=2)
    assert set(plan(inputs).nodes) == {"b", "d"}  # a tie: the first name
    warm = plan(replace(inputs, copy_bytes={"c": 4 * MIB}))
    assert set(warm.nodes) == {"c", "d"}


@settings(max_examples=60, deadline=None)
@given(
    reads=st.lists(st.floats(0.0, 50.0), min_size=4, max_size=4),
    history=st.lists(st.floats(0.0, 50.0), min_size=0, max_size=90),
    extra=st.lists(st.floats(0.0, 2.0), min_size=4, max_size=4),
    residence=st.sampled_from([None, 0.0, 1800.0]),
)
def test_a_copy_price_at_or_above_a_full_copy_changes_nothing(
    reads: list[float], history: list[float], extra: list[float], residence: float | None
) -> None:
    """``copy_bytes`` only lowers a copy's price: a full copy or more is a full copy."""
    names = [n.name for n in NODES]
    inputs = _input(
        {n: [h * (k + 1) for h in history] for k, n in enumerate(names)},
        dict(zip(names, reads, strict=True)),
        move_residence_s=residence,
    )
    full = 64 * MIB
    dear = {n: full * (1 + e) for n, e in zip(names, extra, strict=True)}
    priced = replace(inputs, copy_bytes=dear)
    assert plan(priced) == plan(inputs)


@settings(max_examples=80, deadline=None)
@given(
    history=st.lists(st.floats(0.0, 100.0), min_size=0, max_size=120),
    rate=st.floats(0.0, 100.0),
    bound=st.sampled_from([None, 0.0, 600.0, 3600.0]),
)
def test_an_adds_stay_is_at_least_the_window_and_at_most_the_history(
    history: list[float], rate: float, bound: float | None
) -> None:
    """One node reading alone (the other holds): the stay, in windows, within [1, history]."""
    matrix = np.array([[0.1, 0.5], [0.5, 0.1]])
    recent = np.array([history, [0.0] * len(history)]).reshape(2, -1)
    ladder = stay_ladder(recent, STEP_S, 900.0, bound)
    current = np.array([0.5, 0.1])  # node 0 is served from node 1
    window = np.array([rate * 15 * 0.4, 0.0])
    stay = add_stay(matrix, current, window, ladder, 0.5)
    assert stay.shape == (2,)
    assert stay[1] == 1.0  # nothing to save: the window
    longest = max(1.0, float(ladder[1].max(initial=1.0)))
    assert 1.0 <= stay[0] <= longest
    if rate > 0 and history and all(h == rate for h in history) and bound is None:
        assert stay[0] == pytest.approx(max(1.0, len(history) / 15))
