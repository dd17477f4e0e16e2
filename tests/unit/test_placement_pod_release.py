"""A copy kept for a consumer pod that left is judged for cost at once (issue 11).

The reactive rule's count (``PlanInput.reactive_copies``, the default's budget) holds a
copy on a node whose consumer pod just left for the heat that pod made: a window of it,
then the grace. At hourly steps that is an hour after the pod left, and the plan kept the
copy there, below the count's fill, where nothing removed it (generated-23, session 17:
half of the copies where follow-the-workload's differed from ours). With
``PlacementSpec.release_pod_copies`` a copy on a node of ``PlanInput.consumers_left`` goes
when its forecast no longer pays for it, within the count and its break-even (the reads
both weigh were the pod's), and the fill puts the slot where the forecast says the demand
is. Each case with the knob failed before (the fields did not exist).
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from statecast.core.placement import NodeInfo, PlacementSpec, PlanInput, StateProfile, plan
from tests.unit._placement_helpers import MIB, PRICES, held_a_day, history_forecast

NODES = (NodeInfo("x", "z1"), NodeInfo("p", "z1"), NodeInfo("y", "z1"))
HOUR = 3600.0
POD_READS = 3000.0  # the pod's reads in the newest steps


def _left(
    *,
    knob: bool = True,
    left: frozenset[str] = frozenset({"p"}),
    consumers: frozenset[str] = frozenset(),
    count: int | None = 2,
    p_forecast: float = 0.0,
    age_s: float = 86_400.0,
) -> PlanInput:
    """Copies on x (busy) and p (its pod just left); y busy without a copy; min 1."""
    history = {"x": [300.0] * 3, "p": [POD_READS] * 3, "y": [200.0] * 3}
    forecast = history_forecast(NODES, history, {"x": 300.0, "p": p_forecast, "y": 200.0})
    replicas = tuple(
        replace(r, age_s=age_s) if r.node == "p" else r for r in held_a_day(("x", "p"))
    )
    return PlanInput(
        spec=PlacementSpec(min_replicas=1, cooldown_s=900.0, release_pod_copies=knob),
        state=StateProfile(64 * MIB),
        nodes=NODES,
        forecast=forecast,
        replicas=replicas,
        step_s=HOUR,
        costs=PRICES,
        consumer_nodes=consumers,
        reactive_copies=count,
        consumers_left=left,
    )


@pytest.mark.parametrize(
    ("inputs", "nodes"),
    [
        # the pod left p: its copy goes, and the count's slot goes where the demand is
        (_left(), ("x", "y")),
        # without the knob the count holds it (the fill)
        (_left(knob=False), ("p", "x")),
        # p's pod did not leave lately: nothing released
        (_left(left=frozenset()), ("p", "x")),
        # a pod runs on p again: a consumer's copy stays
        (_left(consumers=frozenset({"p"})), ("p", "x")),
        # what p still reads on its own pays for the copy (0.4 ms saved a read, 6,250 ms
        # an hour to hold): kept
        (_left(p_forecast=30_000.0), ("p", "x")),
        # a copy younger than its cooldown stays
        (_left(age_s=600.0), ("p", "x")),
    ],
)
def test_a_departed_pods_copy_is_released_within_the_count(
    inputs: PlanInput, nodes: tuple[str, ...]
) -> None:
    assert plan(inputs).nodes == nodes


@pytest.mark.parametrize("left", [frozenset(), frozenset({"p"})])
def test_without_a_reactive_budget_the_knob_changes_nothing(left: frozenset[str]) -> None:
    assert plan(_left(count=None, left=left)) == plan(_left(count=None, left=left, knob=False))


def test_the_release_says_the_pod_left() -> None:
    removed = [a for a in plan(_left()).actions if a.node == "p"]
    assert removed and removed[0].detail.startswith("its consumer pod left")


ZONES = ("z1", "z1", "z2", "z2", "z3")


@settings(max_examples=80, deadline=None)
@given(
    reads=st.lists(st.floats(1.0, 3000.0), min_size=5, max_size=5),
    holders=st.sets(st.integers(0, 4), min_size=1, max_size=5),
    departed=st.integers(0, 4),
    min_replicas=st.integers(0, 3),
    with_left=st.booleans(),
)
def test_a_departed_copy_goes_and_its_slot_stays(
    reads: list[float], holders: set[int], departed: int, min_replicas: int, with_left: bool
) -> None:
    """Copies held a day, the reactive count at their number. With no node left by a
    pod the knob changes nothing. With one (no demand forecast there, its pod's reads
    in the newest steps) holding a copy, its zone holding another, and more copies than
    ``min``: the knob drops that copy, and the plan holds as many copies as without it
    (fewer by one only when every other node already holds one). Fails without the
    knob (the copy is kept within the count)."""
    nodes = tuple(NodeInfo(f"n{i}", z) for i, z in enumerate(ZONES))
    names = tuple(n.name for n in nodes)
    gone = names[departed]
    mean = {n: (0.0 if n == gone else reads[i]) for i, n in enumerate(names)}
    history = {n: [POD_READS if n == gone else mean[n]] * 3 for n in names}
    held = tuple(names[i] for i in sorted(holders))
    off = PlanInput(
        spec=PlacementSpec(min_replicas=min_replicas, cooldown_s=900.0),
        state=StateProfile(64 * MIB),
        nodes=nodes,
        forecast=history_forecast(nodes, history, mean),
        replicas=held_a_day(held),
        step_s=HOUR,
        costs=PRICES,
        reactive_copies=len(held),
        consumers_left=frozenset({gone}) if with_left else frozenset(),
    )
    on = replace(off, spec=replace(off.spec, release_pod_copies=True))
    with_knob, without = plan(on), plan(off)
    if not with_left:
        assert with_knob.actions == without.actions
        return
    zone = ZONES[departed]
    shares_zone = any(ZONES[i] == zone and i != departed for i in holders)
    if departed in holders and shares_zone and len(held) > max(min_replicas, 1):
        assert gone not in with_knob.nodes
        free = len(holders) < len(names)
        assert len(with_knob.nodes) == len(without.nodes) - (0 if free else 1)
