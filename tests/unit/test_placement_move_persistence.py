"""A move to where the forecast says demand goes, once that demand has persisted (issue 11, bytes).

``PlacementSpec.move_persistence_s``: a move is made only where, made as many steps ago as
its copy takes to repay at the forecast's rate (at least one step, at most
``move_persistence_s``), it would have repaid it at the demand seen since
(:class:`~statecast.core.placement.moves.Evidence`), as follow-the-workload moves a lease
once its window of statistics says so. 0, the default: the forecast alone. Each case with
persistence failed before (the field did not exist).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from statecast.core.placement import (
    CostModel,
    NodeInfo,
    plan,
)
from statecast.core.placement.moves import Evidence
from tests.unit._placement_helpers import held_input, history_forecast

STEP_S = 60.0
HOT = 500.0
#: A 64 MiB copy costs 1,000 ms (1,200 with the margin); holding nearly free; ``max ==
#: min``: only moves act. The forecast says y reads 500 a step from now on: a move x -> y
#: saves 200 ms a step (0.4 ms each), 2,000 ms over the 10-step window: its copy repays
#: in six steps.
PRICES = CostModel(ms_per_gib_hour=1.0, ms_per_gib_moved=16_000.0, hot_sigma=None)
NODES = (NodeInfo("x", "z1"), NodeInfo("y", "z1"))


def _moved(
    history: Mapping[str, Sequence[float]],
    persistence_s: float,
    copy_bytes: Mapping[str, float] | None = None,
) -> bool:
    """Whether the only copy, on x, moves to y, which the forecast says reads ``HOT``."""
    inputs = held_input(
        NODES,
        history_forecast(NODES, history, {"y": HOT}, horizon=5),
        ("x",),
        costs=PRICES,
        step_s=STEP_S,
        copy_bytes=copy_bytes,
        cooldown_s=600.0,
        move_residence_s=0.0,  # the window alone: the grid's moves
        move_persistence_s=persistence_s,
    )
    return plan(inputs).nodes == ("y",)


#: y read in the newest step only, after x read ten.
JUST_ARRIVED = {"x": [HOT] * 10 + [0.0], "y": [0.0] * 10 + [HOT]}
#: y has read for five steps, x before.
STAYED = {"x": [HOT] * 6 + [0.0] * 5, "y": [0.0] * 6 + [HOT] * 5}
#: y has read for three steps.
THREE = {"x": [HOT] * 8 + [0.0] * 3, "y": [0.0] * 8 + [HOT] * 3}
#: x read in the newest step again, y before.
BACK = {"x": [0.0] * 5 + [HOT], "y": [HOT] * 5 + [0.0]}
WARM_Y = {"y": 1024.0}


@pytest.mark.parametrize(
    ("history", "persistence_s", "copy_bytes", "moves"),
    [
        # The forecast alone (the default): y reads from now on, so the copy goes there.
        (JUST_ARRIVED, 0.0, None, True),
        # Six steps to repay the copy: over the newest six, x read five, y one: not yet.
        (JUST_ARRIVED, 3600.0, None, False),
        # ... at most one step of evidence asked: y's newest step repays it.
        (JUST_ARRIVED, 60.0, None, True),
        # y read five of the six: 800 ms, 133 a step, 1,333 over the window: moved.
        (STAYED, 3600.0, None, True),
        # y read three of the six, x three: nothing saved lately; over three steps, y's.
        (THREE, 3600.0, None, False),
        (THREE, 180.0, None, True),
        # A warm y (its copy moves 1 KiB) repays at once: the newest step decides.
        (JUST_ARRIVED, 3600.0, WARM_Y, True),
        (BACK, 3600.0, WARM_Y, False),
        # No history at all: the forecast alone, whatever the persistence.
        ({}, 3600.0, None, True),
    ],
)
def test_a_move_waits_until_the_demand_has_persisted(
    history: Mapping[str, Sequence[float]],
    persistence_s: float,
    copy_bytes: Mapping[str, float] | None,
    moves: bool,
) -> None:
    assert _moved(history, persistence_s, copy_bytes) is moves


def test_the_evidence_spans_each_moves_payback() -> None:
    # one source, two targets; the newest step first: target 0 saved 10 then 0 then 0,
    # target 1 saved 10 a step throughout
    lately = np.array([[[10.0, 10.0]], [[0.0, 10.0]], [[0.0, 10.0]]])
    window = np.array([[20.0, 20.0]])  # 10 a step over a two-step window
    evidence = Evidence(np.zeros((2, 3)), np.array([5.0, 50.0]), window_steps=2.0)
    # target 0 repays 5 in half a step: the newest step (10 a step, 20 over the stay)
    # target 1 repays 50 in five steps, asks the three there are: 10 a step, 20 < 50
    assert evidence.paid(lately, window, np.ones((1, 2))).tolist() == [[True, False]]
    # credited over three windows (six steps), target 1's 10 a step repays 50 (60)
    assert evidence.paid(lately, window, np.full((1, 2), 3.0)).tolist() == [[True, True]]


@settings(max_examples=60, deadline=None)
@given(
    x=st.lists(st.floats(0.0, 1e3), min_size=1, max_size=12),
    y=st.lists(st.floats(0.0, 1e3), min_size=1, max_size=12),
    persistence=st.sampled_from([60.0, 180.0, 600.0, 3600.0]),
)
def test_persistence_only_ever_holds_a_move_back(
    x: list[float], y: list[float], persistence: float
) -> None:
    """With persistence a plan moves only where it moves without (it never adds a move)."""
    history = {"x": x, "y": y}
    if _moved(history, persistence):
        assert _moved(history, 0.0)
