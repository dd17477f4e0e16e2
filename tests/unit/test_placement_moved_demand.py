"""Demand that moved away: the planner believes it lower, not only higher.

Issue 11, generated-15 of the session-6 sweep: at hourly steps the forecaster offers a
daily season, and after the demand moved to another node the season fitted on yesterday
kept forecasting the old node for a day. The planner raised its belief where demand
appeared (one miss beyond the deviation threshold is enough for that) but never lowered
it where demand had gone, so the copy stayed with the forecast. Now a node whose demand
fell short of what its forecast said by more than the threshold in each of the newest
``change_steps`` steps in a row has changed, and the planner believes the level of those
steps (:func:`statecast.core.placement.board.demand_moved`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from statecast.core.placement import CurrentReplica, DemandForecast, plan
from statecast.core.placement.board import demand_moved
from statecast.core.placement.types import PlanInput
from tests.unit._placement_helpers import make_input, old

NAN = float("nan")


@pytest.mark.parametrize(
    ("said", "seen", "steps", "moved", "level"),
    [
        # Three steps in a row far below what was said: moved, believed at their mean.
        ([900.0, 900.0, 900.0], [5.0, 0.0, 10.0], 3, True, 5.0),
        # One step back near the forecast breaks the run.
        ([900.0, 900.0, 900.0], [0.0, 800.0, 0.0], 3, False, 266.7),
        # Two misses are not three.
        ([900.0, 900.0, 900.0], [700.0, 0.0, 0.0], 3, False, 233.3),
        # ...but they are two.
        ([900.0, 900.0, 900.0], [700.0, 0.0, 0.0], 2, True, 0.0),
        # Short by less than the threshold (half of what was said) is an ordinary miss.
        ([900.0, 900.0, 900.0], [500.0, 500.0, 500.0], 3, False, 500.0),
        # Demand above the forecast is the other rule's business (believed higher).
        ([100.0, 100.0, 100.0], [900.0, 900.0, 900.0], 3, False, 900.0),
        # A step whose forecast is unknown cannot count.
        ([NAN, 900.0, 900.0], [0.0, 0.0, 0.0], 3, False, 0.0),
        # Fewer steps known than the test needs.
        ([900.0, 900.0], [0.0, 0.0], 3, False, 0.0),
        # Off.
        ([900.0, 900.0, 900.0], [0.0, 0.0, 0.0], 0, False, 0.0),
        # Only the newest steps count: an old miss before a recent match does not.
        ([900.0, 900.0, 900.0, 900.0], [0.0, 0.0, 0.0, 850.0], 3, False, 283.3),
    ],
)
def test_a_node_whose_demand_fell_short_steps_in_a_row_has_moved(
    said: list[float], seen: list[float], steps: int, moved: bool, level: float
) -> None:
    got, believed = demand_moved(np.array([said]), np.array([seen]), steps, 0.5)
    assert bool(got[0]) is moved
    if steps and len(seen) >= steps:
        assert believed[0] == pytest.approx(level, abs=0.1)


def _with_past(
    inputs: PlanInput, recent: Mapping[str, Sequence[float]], said: Mapping[str, Sequence[float]]
) -> PlanInput:
    fc = inputs.forecast
    forecast = DemandForecast(
        fc.nodes,
        fc.mean,
        fc.lower,
        fc.upper,
        fc.deviation,
        fc.observed,
        np.array([list(recent[n]) for n in fc.nodes], dtype=float),
        None if not said else np.array([list(said[n]) for n in fc.nodes], dtype=float),
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


HOT = 900.0


def _where_the_sole_copy_goes(a_recent: list[float], said_a: list[float] | None) -> list[str]:
    """One copy (min 1) on a; the forecast (a stale season) still says a is hot, b cold.

    b's demand appeared a few steps ago (b's last forecast missed, the demand seen there
    is believed); a's has gone, or not, as ``a_recent`` says.
    """
    inputs = make_input(
        "a:z1,b:z2",
        mean={"a": HOT, "b": 0.0},
        deviation={"a": 1.0, "b": HOT},
        observed={"a": a_recent[-1], "b": HOT},
        replicas=(old("a"),),
        min_replicas=1,
        max_replicas=1,
    )
    n = len(a_recent)
    said = {} if said_a is None else {"a": said_a, "b": [0.0] * n}
    return sorted(plan(_with_past(inputs, {"a": a_recent, "b": [HOT] * n}, said)).nodes)


@pytest.mark.parametrize(
    ("a_recent", "said_a", "nodes"),
    [
        # a's demand gone for three steps while its forecast said 900 each time: the copy
        # follows the demand to b (before this rule it stayed on a: the case below).
        ([HOT, 0.0, 0.0, 0.0], [HOT] * 4, ["b"]),
        # Without what the forecasts said, the planner cannot tell a move from a miss.
        ([HOT, 0.0, 0.0, 0.0], None, ["a"]),
        # Two quiet steps are not yet a move.
        ([HOT, HOT, 0.0, 0.0], [HOT] * 4, ["a"]),
        # a still reads as forecast: it keeps its copy (b is as hot, a move pays nothing).
        ([HOT, HOT, HOT, HOT], [HOT] * 4, ["a"]),
    ],
)
def test_a_sole_copy_follows_demand_that_left_its_forecast(
    a_recent: list[float], said_a: list[float] | None, nodes: list[str]
) -> None:
    assert _where_the_sole_copy_goes(a_recent, said_a) == nodes


def test_a_moved_node_is_no_hedge_either() -> None:
    """The upper bound of a forecast whose demand has gone does not keep a copy there."""
    inputs = make_input(
        "a:z1,b:z2",
        mean={"a": HOT, "b": HOT},
        upper={"a": 5 * HOT, "b": HOT},
        deviation={"a": 1.0},
        observed={"a": 0.0, "b": HOT},
        replicas=(old("a"), old("b")),
        min_replicas=1,
        confidence_threshold=0.99,
    )
    past = {"a": [0.0] * 10, "b": [HOT] * 10}  # idle long enough to have cost a copy
    kept = plan(_with_past(inputs, past, {"a": [HOT] * 3, "b": [HOT] * 3})).nodes
    assert sorted(kept) == ["b"]
    before = plan(_with_past(inputs, past, {})).nodes  # the upper bound kept it
    assert sorted(before) == ["a", "b"]


@settings(max_examples=60, deadline=None)
@given(
    n_nodes=st.integers(2, 6),
    n_zones=st.integers(1, 3),
    min_replicas=st.integers(1, 2),
    level=st.floats(1_000.0, 100_000.0),
    src=st.integers(0, 5),
    dst=st.integers(0, 5),
    change_steps=st.integers(1, 4),
    quiet=st.floats(0.0, 0.4),
)
def test_demand_that_moves_for_good_is_followed_within_change_steps(
    n_nodes: int,
    n_zones: int,
    min_replicas: int,
    level: float,
    src: int,
    dst: int,
    change_steps: int,
    quiet: float,
) -> None:
    """All demand moves from one node to another for good; the forecast never learns it.

    The worst forecaster: it keeps saying the old node is hot and the new one cold, for
    ever; at ``max == min`` only a move can follow. The planner still holds a copy on the
    new node at most ``change_steps + 1`` steps after the move (the demand there is worth
    far more than a copy), whatever the cluster, ``min`` and zone layout; and from then
    on it keeps it.
    """
    src, dst = src % n_nodes, dst % n_nodes
    if src == dst:
        dst = (dst + 1) % n_nodes
    names = [f"n{i}" for i in range(n_nodes)]
    layout = ",".join(f"{n}:z{i % n_zones}" for i, n in enumerate(names))
    residual = quiet * level / 2  # what stays behind: under the threshold's half
    history: dict[str, list[float]] = {n: [0.0] * 4 for n in names}
    history[names[src]] = [level] * 4
    said: dict[str, list[float]] = {n: [0.0] * 4 for n in names}
    said[names[src]] = [level] * 4
    zone = {n: i % n_zones for i, n in enumerate(names)}
    replicas = {names[src]: 3600.0}
    for _ in range(1, min_replicas):  # the floor's other copies: not on dst, zones spread
        free = [n for n in names if n not in replicas and n != names[dst]]
        covered = {zone[n] for n in replicas}
        free.sort(key=lambda n: zone[n] in covered)
        if free:
            replicas[free[0]] = 3600.0
    held_since: int | None = None
    for step in range(change_steps + 6):
        inputs = make_input(
            layout,
            mean={names[src]: level},  # the stale season, for ever
            deviation={names[src]: 1.0 if step else 0.0, names[dst]: level if step else 0.0},
            observed={n: history[n][-1] for n in names},
            replicas=tuple(CurrentReplica(n, age_s=a) for n, a in replicas.items()),
            min_replicas=min_replicas,
            max_replicas=min_replicas,  # only a move can follow the demand
            change_steps=change_steps,
        )
        nodes = plan(_with_past(inputs, history, said)).nodes
        if names[dst] in nodes and held_since is None:
            held_since = step
        if held_since is not None:
            assert names[dst] in nodes, f"dropped the new node's copy at step {step}"
        replicas = {n: replicas.get(n, 0.0) + 60.0 for n in nodes}
        # the step is served: demand has moved
        for n in names:
            history[n].append(level if n == names[dst] else 0.0)
            said[n].append(level if n == names[src] else 0.0)
        history[names[src]][-1] = residual
    assert held_since is not None and held_since <= change_steps + 1
