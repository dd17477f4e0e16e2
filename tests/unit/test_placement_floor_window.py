"""At ``min`` the copies sit where a window's reads are, not where one step spiked (issue 11, F).

``PlacementSpec.floor_window_s``: while the plan holds ``min`` copies, the moves and the
minimum's and the zone floor's copies are judged on each node's mean rate over the newest
``floor_window_s`` of observed demand and the forecast's horizon
(:func:`~statecast.core.placement.board.window_demand`). At a few reads a step the forecast
cannot tell the nodes apart and the belief followed one step that missed it by far
(generated-08: the only copy moved to a node that read 4 in one step, away from the one
that read three times as much over the hour). 0, the default: the forecast's belief. Each
case with the knob failed before (the field did not exist).
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

#: The forecast says 100 reads a step everywhere (it cannot tell the nodes apart). Over the
#: last 12 steps y read 300 a step, x 100, z 100 but 1,000 in the newest step, where the
#: forecast missed by far: the forecast's belief raises z to that step (10,000 reads over
#: the window against y's 3,000); over the window and the horizon y reads 2,410, z 1,529.
#: Three nodes in three zones, a copy at 1,000 ms (``_placement_helpers.FLOOR_PRICES``).
HISTORY = {"x": [100.0] * 12, "y": [300.0] * 12, "z": [100.0] * 11 + [1000.0]}
AHEAD = {"x": 100.0, "y": 100.0, "z": 100.0}
DEVIATION = (0.0, 2.0, 9.0)  # y and z: the newest step missed by far
#: The hour-long window of the grid's runs (12 one-minute steps here: 720 s).
WINDOW_S = 12 * FLOOR_STEP_S


def _plan(
    floor_window_s: float,
    *,
    replicas: tuple[str, ...] = ("x",),
    min_replicas: int = 1,
    history: bool = True,
) -> tuple[str, ...]:
    forecast = floor_forecast(HISTORY, AHEAD, DEVIATION, recent=history)
    return floor_plan(forecast, replicas, min_replicas, floor_window_s=floor_window_s)


@pytest.mark.parametrize(
    ("floor_window_s", "replicas", "min_replicas", "history", "expected"),
    [
        # the only copy, at min: the belief chases z's one step; the window's, y's hour
        (0.0, ("x",), 1, True, ("z",)),
        (WINDOW_S, ("x",), 1, True, ("y",)),
        # a window as long as all the history given reads all of it
        (86_400.0, ("x",), 1, True, ("y",)),
        # the minimum's copy, placed from nothing: the same choice
        (0.0, (), 1, True, ("z",)),
        (WINDOW_S, (), 1, True, ("y",)),
        # one copy above min (min 0): the forecast's belief decides, knob or not
        (WINDOW_S, ("x",), 0, True, ("z",)),
        # no history given: nothing to smooth over, the forecast's belief
        (WINDOW_S, ("x",), 1, False, ("z",)),
    ],
)
def test_the_copies_at_min_sit_where_the_window_reads(
    floor_window_s: float,
    replicas: tuple[str, ...],
    min_replicas: int,
    history: bool,
    expected: tuple[str, ...],
) -> None:
    assert (
        _plan(floor_window_s, replicas=replicas, min_replicas=min_replicas, history=history)
        == expected
    )


def test_the_window_belief_is_the_mean_rate_over_the_window_and_the_horizon() -> None:
    """Per node (observed window sum + forecast horizon sum) / steps, over the horizon."""
    recent = np.array([[9.0, 1.0, 2.0, 3.0, 4.0], [0.0, 0.0, 0.0, 0.0, 8.0]])
    mean = np.array([[2.0, 2.0], [0.0, 0.0]])
    inputs = window_input(
        recent, mean, PlacementSpec(min_replicas=1, floor_window_s=4 * FLOOR_STEP_S)
    )
    out = window_demand(inputs, ("a", "b"))
    assert out is not None
    # a: (1 + 2 + 3 + 4 + 2 + 2) / 6 * 2; b: 8 / 6 * 2 (the oldest column is outside)
    assert out.tolist() == pytest.approx([14.0 / 3.0, 8.0 / 3.0])
    off = replace(inputs, spec=PlacementSpec(min_replicas=1))
    assert window_demand(off, ("a", "b")) is None
