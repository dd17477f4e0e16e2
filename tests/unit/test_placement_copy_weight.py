"""A copy priced apart from holding (issue 11, session 21): ``PlacementSpec.copy_weight``.

At the reactive rule's count the default prices hold the count whatever a copy costs, and
a move within it pays with almost any latency it saves (a copy at 2,000 ms a GiB):
generated-04 at reactive's k = 1.5 and a 24-step grace relocated the extra copies of a
12 MiB resource four times in the measured day, 52 MB where the rule's hot set never moved.
``copy_weight`` multiplies the price of a copy alone - adds, moves and the break-even's copy
back - and leaves the holding, its write stream and the demand-relative floor as they are
(``cost_weight`` multiplies them all). Each case with the knob failed before (the field did
not exist).
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from statecast.core.placement import ActionKind, NodeInfo, PlacementSpec, plan
from statecast.core.placement.board import build_context
from tests.unit._placement_helpers import PRICES, forecast_of, held_input

NODES = (NodeInfo("a", "z1"), NodeInfo("b", "z2"), NodeInfo("c", "z2"))


def _sole_copy_on_a(reads_b: float, weight: float, **spec: object) -> list[str]:
    """Nodes of the plan of a sole copy held on ``a`` while ``b`` reads ``reads_b`` a step."""
    forecast = forecast_of(NODES, {"a": 0.0, "b": reads_b, "c": 0.0})
    inputs = held_input(NODES, forecast, ("a",), costs=PRICES, copy_weight=weight, **spec)
    return sorted(plan(inputs).nodes)


# With PRICES a 64 MiB copy costs 625 ms; a read of b served from a's zone instead of
# locally saves 1.9 ms, over the 15-step window: 100 reads a step save 2,850 ms.
@pytest.mark.parametrize(
    ("reads_b", "weight", "nodes"),
    [
        (100.0, 1.0, ["b"]),  # saves 2,850 ms against a 625 ms copy: the copy moves
        (100.0, 3.0, ["b"]),  # ... against 1,875 ms (x1.2 margin: 2,250): still moves
        (100.0, 4.0, ["a"]),  # ... against 2,500 ms (3,000 with the margin): stays
        (100.0, 8.0, ["a"]),
        (400.0, 8.0, ["b"]),  # four times the reads pay a copy priced eight times
    ],
)
def test_a_move_pays_for_the_copy_at_its_weighted_price(
    reads_b: float, weight: float, nodes: list[str]
) -> None:
    assert _sole_copy_on_a(reads_b, weight, move_residence_s=0.0) == nodes


def test_the_weight_prices_the_copy_alone_not_the_holding() -> None:
    forecast = forecast_of(NODES, {"b": 50.0})
    base = held_input(NODES, forecast, ("a",), costs=PRICES)
    weighted = replace(base, spec=replace(base.spec, copy_weight=16.0))
    plain, dear = build_context(base), build_context(weighted)
    assert dear.copy == pytest.approx(16.0 * plain.copy)
    assert dear.copy_at == pytest.approx(16.0 * plain.copy_at)
    assert dear.hold_bytes == plain.hold_bytes
    # cost_weight, by contrast, multiplies the holding too
    both = build_context(replace(base, spec=replace(base.spec, cost_weight=16.0)))
    assert both.hold_bytes == pytest.approx(16.0 * plain.hold_bytes)
    assert PlacementSpec().copy_weight == 1.0


@settings(max_examples=60, deadline=None)
@given(
    reads=st.lists(st.floats(0.0, 500.0), min_size=3, max_size=3),
    weight=st.floats(1.0, 64.0),
)
def test_a_dearer_copy_never_moves_where_the_plain_one_would_not(
    reads: list[float], weight: float
) -> None:
    """A sole copy at ``min == max`` moves only by a copy: dearer, it moves to the same
    node the plain price would, or stays; never somewhere the plain price would not go."""
    forecast = forecast_of(NODES, dict(zip(("a", "b", "c"), reads, strict=True)))
    plain = held_input(NODES, forecast, ("a",), costs=PRICES, move_residence_s=0.0)
    dear = replace(plain, spec=replace(plain.spec, copy_weight=weight))
    moved_plain = {a.node for a in plan(plain).actions if a.kind == ActionKind.ADD}
    moved_dear = {a.node for a in plan(dear).actions if a.kind == ActionKind.ADD}
    assert moved_dear <= moved_plain
    assert len(plan(dear).nodes) == 1
