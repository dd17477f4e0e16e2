"""At ``min`` the copies follow the reads already seen, as follow-the-workload's do (issue 11).

``PlacementSpec.floor_observed_only`` (session 24): with ``floor_window_s`` the floor's
demand is each node's reads over the window of observed demand alone, the forecast's
horizon left out (:func:`~statecast.core.placement.board.window_demand`). Blended with the
horizon, a daily season still forecasting yesterday's demand on the node the demand has
just left held the copy there a few steps longer than follow-the-workload's statistics
did (generated-15). False, the default: the window and the horizon. Each case with the
knob failed before (the field did not exist).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from statecast.core.placement import PlacementSpec
from statecast.core.placement.board import window_demand
from tests.unit._placement_helpers import (
    FLOOR_STEP_S,
    floor_forecast,
    floor_plan,
    window_input,
)

#: The demand has hopped from x to y three steps ago; the forecast (a season repeating
#: yesterday) still says x reads 300 a step and y none over its horizon. Over a 3-step
#: window and the horizon x reads (0 + 1,500) / 8 * 5 = 937.5, y (900 + 0) / 8 * 5 = 562.5;
#: over the window alone x 0, y 1,500. Three nodes in three zones, a copy at 1,000 ms
#: (``_placement_helpers.FLOOR_PRICES``).
HISTORY = {"x": [300.0] * 9 + [0.0] * 3, "y": [0.0] * 9 + [300.0] * 3, "z": [10.0] * 12}
AHEAD = {"x": 300.0, "y": 0.0, "z": 10.0}
WINDOW_S = 3 * FLOOR_STEP_S


def _plan(
    observed_only: bool,
    *,
    floor_window_s: float = WINDOW_S,
    replicas: tuple[str, ...] = ("x",),
    min_replicas: int = 1,
    history: bool = True,
) -> tuple[str, ...]:
    return floor_plan(
        floor_forecast(HISTORY, AHEAD, recent=history),
        replicas,
        min_replicas,
        floor_window_s=floor_window_s,
        floor_observed_only=observed_only,
    )


@pytest.mark.parametrize(
    ("observed_only", "floor_window_s", "replicas", "min_replicas", "history", "expected"),
    [
        # the only copy, at min: the blend keeps it on x (the horizon's yesterday), the
        # window alone moves it to y, where the reads are
        (False, WINDOW_S, ("x",), 1, True, ("x",)),
        (True, WINDOW_S, ("x",), 1, True, ("y",)),
        # the minimum's copy, placed from nothing: the same choice
        (False, WINDOW_S, (), 1, True, ("x",)),
        (True, WINDOW_S, (), 1, True, ("y",)),
        # a window as long as all the history: x's nine steps outweigh y's three
        (True, 86_400.0, ("x",), 1, True, ("x",)),
        # without a floor window the knob does nothing: the forecast's belief (x)
        (True, 0.0, ("x",), 1, True, ("x",)),
        # one copy above min (min 0): the forecast's belief decides, knob or not
        (True, WINDOW_S, ("x",), 0, True, ("x",)),
        # no history given: nothing observed, the forecast's belief
        (True, WINDOW_S, ("x",), 1, False, ("x",)),
    ],
)
def test_the_copies_at_min_follow_the_reads_seen(
    observed_only: bool,
    floor_window_s: float,
    replicas: tuple[str, ...],
    min_replicas: int,
    history: bool,
    expected: tuple[str, ...],
) -> None:
    got = _plan(
        observed_only,
        floor_window_s=floor_window_s,
        replicas=replicas,
        min_replicas=min_replicas,
        history=history,
    )
    assert got == expected


def test_the_window_demand_is_the_observed_rate_over_the_horizon() -> None:
    """Per node the observed window's sum / its steps, over the horizon; no forecast."""
    recent = np.array([[9.0, 1.0, 2.0, 3.0, 4.0], [0.0, 0.0, 0.0, 0.0, 8.0]])
    mean = np.array([[2.0, 2.0], [50.0, 50.0]])
    spec = PlacementSpec(min_replicas=1, floor_window_s=4 * FLOOR_STEP_S, floor_observed_only=True)
    inputs = window_input(recent, mean, spec)
    out = window_demand(inputs, ("a", "b"))
    assert out is not None
    # a: (1 + 2 + 3 + 4) / 4 * 2; b: 8 / 4 * 2 (b's forecast of 50 a step left out)
    assert out.tolist() == pytest.approx([5.0, 4.0])
    blended = replace(inputs, spec=PlacementSpec(min_replicas=1, floor_window_s=4 * FLOOR_STEP_S))
    assert window_demand(blended, ("a", "b")).tolist() == pytest.approx([14.0 / 3.0, 36.0])  # type: ignore[union-attr]
    off = replace(inputs, spec=PlacementSpec(min_replicas=1, floor_observed_only=True))
    assert window_demand(off, ("a", "b")) is None
