"""The default prices' demand-relative holding floor (``CostModel.hot_sigma``).

Issue 11: at the byte prices alone (40,000 ms per GiB-hour) the default run held 0.31 to
5.33 times reactive's replica-hours on the simulator's traces: a price per GiB-hour is
cheap against a busy resource's reads (a copy on nearly every node) and dear against a
quiet one's. Session 7's floor priced a copy at what it saves a node reading the *mean*
demand (same-zone gap of the default latency model): where demand is spread over many
nodes every node a little above the average got a copy (generated-37: 3.19 times
reactive's replica-hours), and a cluster with per-zone latency overrides was priced
with the default's gap. The floor now prices holding a copy on a node at what a local
copy saves that node's reads, over where they are served now (the planner's own latency
matrix), were it reading at the hot threshold (mean + k sigma of the ready nodes'
demand, reactive's statistic): a copy pays where the demand it serves beats a hot
node's.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from statecast.core.placement import CostModel, LatencyModel, plan
from statecast.core.placement.costs import (
    demand_holding_floor,
    hot_threshold,
    latency_matrix,
    own_gap,
)
from tests.unit._placement_helpers import PRICES, make_input, old

DEFAULT_PRICES = replace(PRICES, hot_sigma=CostModel().hot_sigma)


@pytest.mark.parametrize(
    ("demand", "ready", "k", "expected"),
    [
        # mean 400, population deviation 326.6
        ([800.0, 400.0, 0.0], [True, True, True], 1.0, 726.6),
        ([800.0, 400.0, 0.0], [True, True, True], 0.0, 400.0),
        # a node that is not ready does not count
        ([800.0, 400.0, 9000.0], [True, True, False], 1.0, 800.0),
        ([800.0, 400.0, 0.0], [False, False, False], 1.0, 0.0),
    ],
)
def test_the_hot_threshold_is_the_mean_plus_k_deviations_of_the_ready_nodes(
    demand: list[float], ready: list[bool], k: float, expected: float
) -> None:
    got = hot_threshold(np.array(demand), np.array(ready), k)
    assert got == pytest.approx(expected, abs=0.1)


ZONES = ("z1", "z1", "z2", "z2")


@pytest.mark.parametrize(
    ("serving", "latency", "expected"),
    [
        # a copy on node 0: its zone-mate saves 0.4 ms a read, the other zone 1.9,
        # node 0 itself 1.9 (without its copy its reads leave the zone)
        ([True, False, False, False], LatencyModel(), [1.9, 0.4, 1.9, 1.9]),
        # per zone-pair overrides are the planner's: z1-z2 at 10 ms, inside z1 1.1 ms
        (
            [True, False, False, False],
            LatencyModel(zone_ms=(("z1", "z2", 10.0), ("z1", "z1", 1.1))),
            [9.9, 1.0, 9.9, 9.9],
        ),
        # no copy anywhere: the farthest ready node (a copy could be anywhere)
        ([False, False, False, False], LatencyModel(), [1.9, 1.9, 1.9, 1.9]),
    ],
)
def test_a_copy_saves_its_node_the_gap_to_where_it_is_served_now(
    serving: list[bool], latency: LatencyModel, expected: list[float]
) -> None:
    matrix = latency_matrix(ZONES, latency)
    got = own_gap(matrix, np.array(serving), np.ones(4, dtype=np.bool_))
    assert got == pytest.approx(expected)


def test_the_floor_is_what_a_local_copy_saves_a_hot_node() -> None:
    gap = np.array([1.9, 0.4, 0.0])
    got = demand_holding_floor(gap, hot_reads=726.6, weight=2.0)
    assert got == pytest.approx([2.0 * 1.9 * 726.6, 2.0 * 0.4 * 726.6, 0.0])


def _extra_copies(mean: dict[str, float], prices: CostModel, nodes: str) -> int:
    inputs = make_input(nodes, mean=mean, replicas=(old("a"),), min_replicas=1)
    return len(plan(replace(inputs, costs=prices)).nodes) - 1


EIGHT = "a:z1,b:z1,c:z1,d:z1,e:z2,f:z2,g:z2,h:z2"
SPREAD = ",".join(["a:z1", *(f"n{i:02d}:z1" for i in range(1, 24))])


@pytest.mark.parametrize(
    ("mean", "nodes", "bytes_only", "default"),
    [
        # A busy resource read alike on eight nodes: at the byte prices a copy on each;
        # the default adds one in the other zone (its reads then save 1.9 ms, not 0.4)
        # and no more: no node is hotter than the others.
        ({n: 5_000.0 for n in "abcdefgh"}, EIGHT, 7, 1),
        # Two nodes of eight issue most reads: they get a copy, the others do not.
        ({"c": 5_000.0, "f": 5_000.0, **{n: 1_000.0 for n in "abdegh"}}, EIGHT, 7, 2),
        # Two equally busy nodes of four, in the other zone: their zone gets a copy,
        # which serves the second from the same zone (neither is hotter than the
        # threshold on its own: mean + sigma is their demand).
        ({"c": 5_000.0, "d": 5_000.0}, "a:z1,b:z1,c:z2,d:z2", 2, 1),
        # One busy node of four: a copy.
        ({"c": 5_000.0}, "a:z1,b:z1,c:z2,d:z2", 1, 1),
        # A quiet resource: the floor is below the byte price, which decides alone.
        ({"c": 30.0, "d": 30.0}, "a:z1,b:z1,c:z2,d:z2", 0, 0),
        # Demand spread over 24 nodes of one zone, twelve a quarter above the average
        # (session 7's floor at the mean gave each of them a copy: 14 extra): only the
        # two nodes hotter than mean + sigma.
        (
            {
                **{f"n{i:02d}": 20_000.0 for i in range(3, 15)},
                **{f"n{i:02d}": 6_000.0 for i in range(15, 24)},
                "a": 6_000.0,
                "n01": 40_000.0,
                "n02": 40_000.0,
            },
            SPREAD,
            23,
            2,
        ),
    ],
)
def test_the_default_prices_hold_copies_where_demand_is_hot(
    mean: dict[str, float], nodes: str, bytes_only: int, default: int
) -> None:
    assert _extra_copies(mean, PRICES, nodes) == bytes_only
    assert _extra_copies(mean, DEFAULT_PRICES, nodes) == default


@pytest.mark.parametrize(
    ("heat", "extra"),
    [
        # the resource's own three nodes: two busy of three are at mean + sigma, no copy
        (None, 0),
        # the cluster's pairs (every resource) read 10/s, sigma 10: both are hot (83/s)
        ((10.0, 10.0), 2),
        # a cluster whose hot threshold is above them: none
        ((100.0, 0.0), 0),
    ],
)
def test_the_clusters_heat_gives_the_hot_threshold_when_known(
    heat: tuple[float, float] | None, extra: int
) -> None:
    busy = {"b": 5_000.0, "c": 5_000.0}
    inputs = make_input("a:z1,b:z1,c:z1", mean=busy, replicas=(old("a"),), min_replicas=1)
    result = plan(replace(inputs, costs=DEFAULT_PRICES, cluster_heat=heat))
    added = [a for a in result.actions if a.kind.value == "add"]
    # (the sole copy on the cold node may move to a busy one: that is no extra copy)
    assert len([a for a in added if not a.detail.startswith("moved from")]) == extra


@settings(max_examples=60, deadline=None)
@given(
    demand=st.lists(
        st.floats(min_value=0.0, max_value=20_000.0, allow_nan=False), min_size=2, max_size=30
    ),
    zones=st.integers(min_value=1, max_value=4),
    k=st.sampled_from([0.5, 1.0, 2.0]),
    heat=st.none() | st.tuples(st.floats(0.0, 400.0), st.floats(0.0, 400.0)),
)
def test_the_default_holds_no_more_extra_copies_than_hot_nodes_and_uncovered_zones(
    demand: list[float], zones: int, k: float, heat: tuple[float, float] | None
) -> None:
    """Every copy the default adds beyond ``min`` is on a node hotter than the threshold
    (by the margin) or is the first of a zone whose reads together are: so it holds no
    more extra copies than hot nodes plus uncovered zones, whatever the volume (copies
    near-free, so that the bytes decide nothing), with the hot threshold the resource's
    own nodes' or the cluster's (a rate: reads per 60-s step over 60)."""
    names = [f"n{i:02d}" for i in range(len(demand))]
    nodes = ",".join(f"{n}:z{i % zones}" for i, n in enumerate(names))
    mean = dict(zip(names, demand, strict=True))
    inputs = make_input(nodes, mean=mean, replicas=(old(names[0]),), min_replicas=1)
    prices = replace(DEFAULT_PRICES, ms_per_gib_hour=1e-6, ms_per_gib_moved=1e-6)
    result = plan(replace(inputs, costs=replace(prices, hot_sigma=k), cluster_heat=heat))
    values = np.array(demand)
    threshold = values.mean() + k * values.std()
    if heat is not None:
        threshold = (heat[0] + k * heat[1]) * 60.0
    hot = {n for n, d in mean.items() if d > threshold}
    assert len(result.nodes) - 1 <= len(hot) + zones - 1
