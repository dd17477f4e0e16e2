"""Reactive replication (Anna's hot pairs): table tests and properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from statecast.core.placement.types import CurrentReplica
from statecast.core.reactive import (
    HeatBatch,
    HeatPlacement,
    HeatStats,
    ObservedHeat,
    choose_by_heat,
    heat_replicas,
    place_by_heat,
)
from statecast.core.spread import Candidate

NOW = 10_000.0
GRACE = 900.0
#: mean 1, sigma 1: a pair is hot above 2 accesses per second.
STATS = HeatStats(1.0, 1.0, 10)


def nodes(*specs: str) -> list[Candidate]:
    """``"n1:a"`` -> n1 in zone a."""
    return [Candidate(s.split(":")[0], s.split(":")[1], {}) for s in specs]


FOUR = nodes("n1:a", "n2:b", "n3:a", "n4:b")
LONG_AGO = NOW - 2 * GRACE


def test_heat_stats_are_over_active_pairs_only() -> None:
    stats = HeatStats.of([0.0, 1.0, 3.0, 0.0])
    assert (stats.mean, stats.sigma, stats.pairs) == (2.0, 1.0, 2)
    assert stats.threshold(1.0) == 3.0
    assert HeatStats.of([0.0]) == HeatStats(0.0, 0.0, 0)


@pytest.mark.parametrize(
    ("sentence", "rates", "current", "last_hot", "bounds", "consumers", "expected"),
    [
        (
            "a pair above mean + k sigma gets a replica beside the minimum",
            {"n3": 5.0},
            ["n1", "n2"],
            {},
            (2, None),
            [],
            {"n1": "grace", "n2": "grace", "n3": "hot"},
        ),
        (
            "a pair at the threshold is not hot",
            {"n3": 2.0},
            ["n1", "n2"],
            {},
            (2, None),
            [],
            {"n1": "grace", "n2": "grace"},
        ),
        (
            "a replica hot within the grace period stays though it is cold now",
            {},
            ["n1", "n2", "n3"],
            {"n1": NOW, "n2": NOW, "n3": NOW - GRACE / 2},
            (2, None),
            [],
            {"n1": "grace", "n2": "grace", "n3": "grace"},
        ),
        (
            "replicas not hot for the grace period go; the minimum is refilled new zones "
            "first, then hottest first",
            {"n4": 1.5, "n3": 1.0},
            ["n1", "n2", "n3"],
            {"n1": LONG_AGO, "n2": LONG_AGO, "n3": LONG_AGO},
            (2, None),
            [],
            {"n3": "minimum", "n4": "minimum"},
        ),
        (
            "among equally cold nodes the refill keeps an existing replica",
            {},
            ["n3"],
            {"n3": LONG_AGO},
            (1, None),
            [],
            {"n3": "minimum"},
        ),
        (
            "a replica seen for the first time gets a whole grace period",
            {},
            ["n3"],
            {},
            (1, None),
            [],
            {"n3": "grace"},
        ),
        (
            "max keeps consumers' nodes first, then the hottest",
            {"n1": 3.0, "n2": 4.0, "n3": 5.0},
            [],
            {},
            (1, 2),
            ["n1"],
            {"n1": "consumer", "n3": "hot"},
        ),
        (
            "a consumer's node gets a replica though it is cold",
            {},
            ["n1", "n2"],
            {},
            (2, None),
            ["n4"],
            {"n1": "grace", "n2": "grace", "n4": "consumer"},
        ),
        (
            "hot pairs crowding one zone: the hottest node of another zone joins (zone floor)",
            {"n1": 5.0, "n3": 5.0, "n4": 0.5},
            [],
            {},
            (2, None),
            [],
            {"n1": "hot", "n3": "hot", "n4": "spread"},
        ),
        (
            "at the max the zone floor replaces the colder copy of the crowded zone",
            {"n1": 5.0, "n3": 4.0, "n4": 0.5},
            [],
            {},
            (2, 2),
            [],
            {"n1": "hot", "n4": "spread"},
        ),
        (
            "a hot node that is not eligible gets nothing",
            {"n9": 50.0},
            [],
            {},
            (1, None),
            [],
            {"n1": "minimum"},
        ),
    ],
)
def test_place_by_heat(
    sentence: str,
    rates: dict[str, float],
    current: list[str],
    last_hot: dict[str, float],
    bounds: tuple[int, int | None],
    consumers: list[str],
    expected: dict[str, str],
) -> None:
    placed = place_by_heat(
        FOUR,
        ObservedHeat(rates, STATS, 900.0),
        current,
        last_hot=last_hot,
        now=NOW,
        grace_s=GRACE,
        min_replicas=bounds[0],
        max_replicas=bounds[1],
        consumers=consumers,
    )
    assert dict(placed.why) == expected, sentence
    assert placed.nodes == tuple(sorted(expected)), sentence


def test_last_hot_is_now_for_hot_pairs_and_kept_for_replicas_only() -> None:
    placed = place_by_heat(
        FOUR,
        ObservedHeat({"n3": 5.0}, STATS, 900.0),
        ["n1", "n2"],
        last_hot={"n1": NOW - 10, "n4": NOW - 20},
        now=NOW,
        grace_s=GRACE,
        min_replicas=2,
    )
    assert dict(placed.last_hot) == {"n1": NOW - 10, "n2": NOW, "n3": NOW}


def current(*specs: str) -> list[CurrentReplica]:
    """``"n1:Ready"`` -> a Ready replica on n1."""
    return [CurrentReplica(s.split(":")[0], up_to_date=s.split(":")[1] == "Ready") for s in specs]


@pytest.mark.parametrize(
    ("sentence", "why", "replicas", "unreachable", "expected"),
    [
        (
            "a hot node's replica is added for rebalance, a cold one removed once it is Ready",
            {"n1": "grace", "n3": "hot"},
            current("n1:Ready", "n2:Ready"),
            set(),
            [("add", "n3", "rebalance")],
        ),
        (
            "the cold replica goes once the hot one is Ready",
            {"n1": "grace", "n3": "hot"},
            current("n1:Ready", "n2:Ready", "n3:Ready"),
            set(),
            [("remove", "n2", "rebalance")],
        ),
        (
            "a refill to the minimum is reason minimum, a consumer's copy consumer",
            {"n1": "minimum", "n4": "consumer"},
            [],
            set(),
            [("add", "n1", "minimum"), ("add", "n4", "consumer")],
        ),
        (
            "a refill that replaces a copy on a lost node is failover",
            {"n1": "grace", "n2": "minimum"},
            current("n1:Ready", "n9:Ready"),
            {"n9"},
            [("add", "n2", "failover")],
        ),
        (
            "the lost copy goes for failover once its replacement is Ready",
            {"n1": "grace", "n2": "minimum"},
            current("n1:Ready", "n2:Ready", "n9:Ready"),
            {"n9"},
            [("remove", "n9", "failover")],
        ),
        (
            "nothing is removed while a kept replica is still syncing",
            {"n1": "grace"},
            current("n1:Syncing", "n2:Ready"),
            set(),
            [],
        ),
    ],
)
def test_heat_replicas(
    sentence: str,
    why: dict[str, str],
    replicas: list[CurrentReplica],
    unreachable: set[str],
    expected: list[tuple[str, str, str]],
) -> None:
    placement = HeatPlacement(tuple(sorted(why)), why)
    plan = heat_replicas(FOUR, replicas, placement, unreachable=unreachable)
    assert [(c.action, c.node, c.reason) for c in plan.changes] == expected, sentence


NAMES = [f"n{i}" for i in range(8)]


@settings(derandomize=True)
@given(
    zones=st.lists(st.sampled_from("abc"), min_size=1, max_size=8),
    rates=st.dictionaries(st.sampled_from(NAMES), st.floats(0, 100), max_size=8),
    held=st.dictionaries(
        st.sampled_from([*NAMES, "gone"]), st.sampled_from(["Ready", "Syncing"]), max_size=6
    ),
    ages=st.dictionaries(st.sampled_from(NAMES), st.floats(0, 3 * GRACE), max_size=8),
    low=st.integers(1, 5),
    extra=st.none() | st.integers(0, 4),
    consumers=st.sets(st.sampled_from(NAMES), max_size=3),
    mean=st.floats(0, 50),
    sigma=st.floats(0, 50),
)
def test_heat_placement_keeps_min_max_and_a_ready_copy(
    zones: list[str],
    rates: dict[str, float],
    held: dict[str, str],
    ages: dict[str, float],
    low: int,
    extra: int | None,
    consumers: set[str],
    mean: float,
    sigma: float,
) -> None:
    candidates = [Candidate(f"n{i}", zone, {}) for i, zone in enumerate(zones)]
    high = None if extra is None else low + extra
    placed = place_by_heat(
        candidates,
        ObservedHeat(rates, HeatStats(mean, sigma, 5), 900.0),
        held,
        last_hot={n: NOW - age for n, age in ages.items()},
        now=NOW,
        grace_s=GRACE,
        min_replicas=low,
        max_replicas=high,
        consumers=consumers,
    )
    assert len(placed.nodes) >= min(low, len(candidates)), "never below min with enough nodes"
    if not consumers & {c.name for c in candidates}:
        zone = {c.name: c.domain for c in candidates}
        floor = min(low, len(set(zones)))
        assert len({zone[n] for n in placed.nodes}) >= floor, "never fewer zones than the floor"
    assert high is None or len(placed.nodes) <= high, "never above max"
    assert set(placed.nodes) <= {c.name for c in candidates}
    replicas = [CurrentReplica(n, up_to_date=phase == "Ready") for n, phase in held.items()]
    plan = heat_replicas(candidates, replicas, placed, unreachable={"gone"})
    removed = {c.node for c in plan.removes}
    ready_before = {r.node for r in replicas if r.up_to_date}
    if ready_before:
        assert ready_before - removed, "the last Ready copy is never removed"
    if removed:
        assert not plan.adds, "nothing is removed before every wanted copy is Ready"
        assert set(placed.nodes) <= ready_before


@settings(derandomize=True)
@given(
    rows=st.lists(
        st.tuples(
            st.lists(st.floats(0, 10), min_size=6, max_size=6),
            st.lists(st.booleans(), min_size=6, max_size=6),
            st.integers(1, 4),
        ),
        min_size=1,
        max_size=4,
    ),
    threshold=st.floats(0, 8),
)
def test_the_batch_rule_decides_each_resource_as_the_operator_does(
    rows: list[tuple[list[float], list[bool], int]], threshold: float
) -> None:
    """One implementation: deciding resources together equals deciding each alone."""
    zones = ("a", "b", "a", "c", "b", "a")
    names = [f"n{i}" for i in range(6)]
    batch = HeatBatch(
        rates=np.array([r for r, _, _ in rows]),
        threshold=threshold,
        eligible=np.ones(6, dtype=bool),
        holding=np.array([h for _, h, _ in rows]),
        last_hot=np.full((len(rows), 6), NOW - GRACE / 2),
        consumers=np.zeros((len(rows), 6), dtype=bool),
        zone_id=np.array([ord(z) - ord("a") for z in zones], dtype=np.intp),
        min_replicas=np.array([m for _, _, m in rows]),
        max_replicas=np.zeros(len(rows), dtype=np.int64),
    )
    together = choose_by_heat(batch, now=NOW, grace_s=GRACE)
    candidates = [Candidate(n, z, {}) for n, z in zip(names, zones, strict=True)]
    for r, (rates, holding, low) in enumerate(rows):
        alone = place_by_heat(
            candidates,
            ObservedHeat(dict(zip(names, rates, strict=True)), HeatStats(threshold, 0.0, 1), 900.0),
            [n for n, h in zip(names, holding, strict=True) if h],
            last_hot={n: NOW - GRACE / 2 for n in names},
            now=NOW,
            grace_s=GRACE,
            min_replicas=low,
        )
        assert alone.nodes == tuple(n for n, w in zip(names, together.wanted[r], strict=True) if w)
