"""The default prices' demand-relative holding floor (``CostModel.demand_share``).

Issue 11: at the byte prices alone (40,000 ms per GiB-hour) the default run held 0.31 to
5.33 times reactive's replica-hours on the simulator's traces: a price per GiB-hour is
cheap against a busy resource's reads (a copy on nearly every node) and dear against a
quiet one's. The floor prices holding a copy at what it saves a node reading the mean
demand per ready node (each read local instead of same-zone), so the number of copies
beyond ``min`` follows the shape of the demand, not its volume.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from statecast.core.placement import CostModel, LatencyModel, plan
from statecast.core.placement.costs import demand_holding_cost
from tests.unit._placement_helpers import PRICES, make_input, old

DEFAULT_PRICES = replace(PRICES, demand_share=CostModel().demand_share)


@pytest.mark.parametrize(
    ("demand", "ready", "share", "expected"),
    [
        # mean of the ready nodes (400) x 0.4 ms saved a read
        ([800.0, 400.0, 0.0], [True, True, True], 1.0, 160.0),
        ([800.0, 400.0, 0.0], [True, True, True], 2.0, 320.0),
        # a node that is not ready does not count
        ([800.0, 400.0, 9000.0], [True, True, False], 1.0, 240.0),
        ([800.0, 400.0, 0.0], [False, False, False], 1.0, 0.0),
        ([800.0, 400.0, 0.0], [True, True, True], None, 0.0),
    ],
)
def test_the_floor_is_what_a_copy_saves_the_average_node(
    demand: list[float], ready: list[bool], share: float | None, expected: float
) -> None:
    costs = CostModel(demand_share=share)
    got = demand_holding_cost(np.array(demand), np.array(ready), costs, LatencyModel(), weight=1.0)
    assert got == pytest.approx(expected)


def _extra_copies(mean: dict[str, float], prices: CostModel, nodes: str) -> int:
    inputs = make_input(nodes, mean=mean, replicas=(old("a"),), min_replicas=1)
    return len(plan(replace(inputs, costs=prices)).nodes) - 1


EIGHT = "a:z1,b:z1,c:z1,d:z1,e:z2,f:z2,g:z2,h:z2"


@pytest.mark.parametrize(
    ("mean", "nodes", "bytes_only", "default"),
    [
        # A busy resource read alike on eight nodes: at the byte prices a copy on each;
        # the default adds one in the other zone (its reads then save 1.9 ms, not 0.4)
        # and no more: no node reads more than the average one.
        ({n: 5_000.0 for n in "abcdefgh"}, EIGHT, 7, 1),
        # Two nodes of eight issue most reads: they get a copy, the others do not.
        ({"c": 5_000.0, "f": 5_000.0, **{n: 1_000.0 for n in "abdegh"}}, EIGHT, 7, 2),
        # Two equally busy nodes of four (the operator's integration test shape): both.
        ({"c": 5_000.0, "d": 5_000.0}, "a:z1,b:z1,c:z2,d:z2", 2, 2),
        # A quiet resource: the floor is below the byte price, which decides alone.
        ({"c": 30.0, "d": 30.0}, "a:z1,b:z1,c:z2,d:z2", 0, 0),
    ],
)
def test_the_default_prices_hold_copies_where_demand_is_above_the_average(
    mean: dict[str, float], nodes: str, bytes_only: int, default: int
) -> None:
    assert _extra_copies(mean, PRICES, nodes) == bytes_only
    assert _extra_copies(mean, DEFAULT_PRICES, nodes) == default
