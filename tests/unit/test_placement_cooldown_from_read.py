"""A copy's cooldown counted from its last read that paid for it (issue 11, bytes).

Reactive replication keeps a copy for its grace after its pair was last hot; the planner's
cooldown counted from the copy's creation only, so a copy whose node paused for a few
steps went at the first lull past its age and was copied back when the reads returned
(session 16: the frontier's bytes were lost mostly to reactive's runs with graces of 12
and 24 steps). With ``PlacementSpec.cooldown_from_read`` the cooldown also counts from
the newest step whose reads paid for holding the copy (``board.past_cooldown``): the copy
is neither removed for cost nor moved before. Each case with the knob failed before (the
field did not exist).
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from statecast.core.placement import (
    ActionKind,
    DemandForecast,
    NodeInfo,
    PlanInput,
    plan,
)
from tests.unit._placement_helpers import (
    HORIZON,
    PRICES,
    forecast_of,
    held_input,
    history_forecast,
)

NODES = (NodeInfo("x", "z1"), NodeInfo("y", "z1"), NodeInfo("z", "z1"))
#: 15-minute cooldown at 1-minute steps: 15 steps. Holding 64 MiB costs 104 ms a step
#: and a copy 625 ms, so the break-even rule lets an idle copy go after 6 quiet steps.
COOLDOWN_S = 900.0
PAID = 1000.0  # y's reads save 0.4 ms each against x's copy: 400 ms, a step's holding


def _removal(history: list[float] | None, knob: bool) -> PlanInput:
    """Copies on x (read 300 a step) and y (quiet in the forecast); min 1, one zone."""
    forecast: DemandForecast
    if history is None:
        forecast = forecast_of(NODES, {"x": 300.0})
    else:
        forecast = history_forecast(
            NODES, {"x": [300.0] * len(history), "y": history}, {"x": 300.0}, horizon=HORIZON
        )
    return held_input(
        NODES,
        forecast,
        ("x", "y"),
        costs=PRICES,
        min_replicas=1,
        max_replicas=None,
        cooldown_s=COOLDOWN_S,
        cooldown_from_read=knob,
    )


@pytest.mark.parametrize(
    ("history", "knob", "nodes"),
    [
        # y's reads paid for its copy 8 steps ago: within the cooldown from that read
        ([PAID] + [0.0] * 8, True, ("x", "y")),
        # ... counted from creation (a day ago) it goes, the break-even spent
        ([PAID] + [0.0] * 8, False, ("x",)),
        # the last paying read 16 steps ago: a cooldown past it, it goes
        ([PAID] + [0.0] * 16, True, ("x",)),
        # a trickle that never pays for the copy does not restart the cooldown
        ([PAID] + [1.0] * 16, True, ("x",)),
        # no step of the history paid: idle longer than the history, the age decides
        ([0.0] * 8, True, ("x",)),
        # no history at all: the age alone decides
        (None, True, ("x",)),
    ],
)
def test_a_copy_stays_a_cooldown_after_its_last_paying_read(
    history: list[float] | None, knob: bool, nodes: tuple[str, ...]
) -> None:
    assert plan(_removal(history, knob)).nodes == nodes


def test_the_copy_kept_says_it_is_within_its_cooldown() -> None:
    kept = plan(_removal([PAID] + [0.0] * 8, True)).actions
    assert [a.detail for a in kept if a.node == "y"] == ["within its cooldown"]


@pytest.mark.parametrize(("knob", "nodes"), [(True, ("y",)), (False, ("x",))])
def test_a_copy_read_within_its_cooldown_does_not_move(knob: bool, nodes: tuple[str, ...]) -> None:
    # at min = max = 1 the demand went from y to x two steps ago; y's copy last paid
    # three steps ago, so with the knob it waits out its cooldown before it moves
    forecast = history_forecast(
        NODES, {"x": [0.0, PAID, PAID], "y": [PAID, 0.0, 0.0]}, {"x": PAID}, horizon=HORIZON
    )
    inputs = held_input(
        NODES, forecast, ("y",), costs=PRICES, cooldown_s=COOLDOWN_S, cooldown_from_read=knob
    )
    assert plan(inputs).nodes == nodes


ZONES = ("z1", "z1", "z2", "z2", "z3")


@settings(max_examples=80, deadline=None)
@given(
    reads=st.lists(st.floats(0.0, 3000.0), min_size=5, max_size=5),
    newest=st.lists(st.floats(0.0, 3000.0), min_size=5, max_size=5),
    quiet=st.integers(0, 20),
    holders=st.sets(st.integers(0, 4), min_size=1, max_size=5),
    min_replicas=st.integers(0, 3),
)
def test_a_copy_that_just_paid_is_never_removed_or_moved(
    reads: list[float], newest: list[float], quiet: int, holders: set[int], min_replicas: int
) -> None:
    """Whatever the forecast, copies and min: with the knob, a copy whose own node read
    enough in the newest step to pay a step's holding at the smallest gap any copy saves
    (local against same-zone: 0.4 ms a read) is kept; and where no step within the
    cooldown read anything (the busy steps a cooldown or more ago), the plan is the plan
    without the knob. The first part fails without the knob."""
    nodes = tuple(NodeInfo(f"n{i}", z) for i, z in enumerate(ZONES))
    names = tuple(n.name for n in nodes)
    history = {n: [reads[i]] * 4 + [0.0] * quiet + [newest[i]] for i, n in enumerate(names)}
    off = held_input(
        nodes,
        history_forecast(nodes, history, dict(zip(names, reads, strict=True))),
        tuple(names[i] for i in sorted(holders)),
        costs=PRICES,
        min_replicas=min_replicas,
        max_replicas=None,
        cooldown_s=COOLDOWN_S,
    )
    on = replace(off, spec=replace(off.spec, cooldown_from_read=True))
    with_knob = plan(on)
    step_hold = 1562.5 / HORIZON  # 64 MiB over the 15-minute window, per 1-minute step
    for i in holders:
        if newest[i] * 0.4 >= step_hold:
            kept = [a for a in with_knob.actions if a.node == names[i]]
            assert kept and kept[0].kind == ActionKind.KEEP
    if all(v == 0.0 for v in newest) and quiet + 1 >= COOLDOWN_S / 60.0:
        assert with_knob.actions == plan(off).actions
