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

import numpy as np
import pytest

from statecast.core.placement import (
    CostModel,
    DemandForecast,
    NodeInfo,
    PlacementSpec,
    PlanInput,
    StateProfile,
    plan,
)
from statecast.core.placement.board import window_demand
from tests.unit._placement_helpers import MIB, held_input

STEP_S = 60.0
HORIZON = 5
#: A 64 MiB copy costs 1,000 ms (1,200 with the margin), holding next to nothing; the
#: value window is the 10-step cooldown. Three nodes in three zones.
PRICES = CostModel(ms_per_gib_hour=1.0, ms_per_gib_moved=16_000.0, hot_sigma=None)
NODES = (NodeInfo("x", "z1"), NodeInfo("y", "z2"), NodeInfo("z", "z3"))
#: The demand has hopped from x to y three steps ago; the forecast (a season repeating
#: yesterday) still says x reads 300 a step and y none over its horizon. Over a 3-step
#: window and the horizon x reads (0 + 1,500) / 8 * 5 = 937.5, y (900 + 0) / 8 * 5 = 562.5;
#: over the window alone x 0, y 1,500.
HISTORY = {"x": [300.0] * 9 + [0.0] * 3, "y": [0.0] * 9 + [300.0] * 3, "z": [10.0] * 12}
AHEAD = {"x": 300.0, "y": 0.0, "z": 10.0}
WINDOW_S = 3 * STEP_S


def _forecast(history: bool = True) -> DemandForecast:
    names = tuple(n.name for n in NODES)
    mean = np.array([[AHEAD[n]] * HORIZON for n in names])
    recent = np.array([HISTORY[n] for n in names]) if history else None
    observed = np.array([HISTORY[n][-1] for n in names])
    return DemandForecast(names, mean, mean, mean, np.zeros(len(names)), observed, recent=recent)


def _plan(
    observed_only: bool,
    *,
    floor_window_s: float = WINDOW_S,
    replicas: tuple[str, ...] = ("x",),
    min_replicas: int = 1,
    history: bool = True,
) -> tuple[str, ...]:
    inputs = held_input(
        NODES,
        _forecast(history),
        replicas,
        costs=PRICES,
        step_s=STEP_S,
        min_replicas=min_replicas,
        max_replicas=1,
        cooldown_s=600.0,
        move_residence_s=0.0,  # the window alone: no stay credit
        floor_window_s=floor_window_s,
        floor_observed_only=observed_only,
    )
    return plan(inputs).nodes


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
    names = ("a", "b")
    recent = np.array([[9.0, 1.0, 2.0, 3.0, 4.0], [0.0, 0.0, 0.0, 0.0, 8.0]])
    mean = np.array([[2.0, 2.0], [50.0, 50.0]])
    forecast = DemandForecast(names, mean, mean, mean, np.zeros(2), recent=recent)
    spec = PlacementSpec(min_replicas=1, floor_window_s=4 * STEP_S, floor_observed_only=True)
    inputs = PlanInput(
        spec=spec,
        state=StateProfile(MIB),
        nodes=(NodeInfo("b", "z1"), NodeInfo("a", "z1")),
        forecast=forecast,
        replicas=(),
        step_s=STEP_S,
        costs=PRICES,
    )
    out = window_demand(inputs, ("a", "b"))
    assert out is not None
    # a: (1 + 2 + 3 + 4) / 4 * 2; b: 8 / 4 * 2 (b's forecast of 50 a step left out)
    assert out.tolist() == pytest.approx([5.0, 4.0])
    blended = PlanInput(
        **{**inputs.__dict__, "spec": PlacementSpec(min_replicas=1, floor_window_s=4 * STEP_S)}
    )
    assert window_demand(blended, ("a", "b")).tolist() == pytest.approx([14.0 / 3.0, 36.0])  # type: ignore[union-attr]
    off = PlanInput(
        **{**inputs.__dict__, "spec": PlacementSpec(min_replicas=1, floor_observed_only=True)}
    )
    assert window_demand(off, ("a", "b")) is None
