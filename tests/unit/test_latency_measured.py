"""The zones' latency from the agents' round-trip times (statecast.core.latency)."""

from __future__ import annotations

import math

import pytest

from statecast.core.latency import RoundTrip, measured_latency
from statecast.core.placement import LatencyModel

ZONES = {"a1": "a", "a2": "a", "a3": "a", "b1": "b", "b2": "b", "c1": "c"}
BASE = LatencyModel()


def trip(source: str, target: str, ms: float) -> RoundTrip:
    return RoundTrip(source, target, ms / 1000.0)


def test_nothing_measured_keeps_the_base() -> None:
    assert measured_latency([], ZONES, BASE) == BASE


def test_same_zone_is_the_median_pair_plus_a_local_read() -> None:
    model = measured_latency(
        [trip("a1", "a2", 0.3), trip("a2", "a3", 0.5), trip("a1", "a3", 9.0)], ZONES, BASE
    )
    assert model.same_zone_ms == pytest.approx(BASE.local_ms + 0.5)
    assert model.cross_zone_ms == BASE.cross_zone_ms  # no zone pair measured
    assert model.local_ms == BASE.local_ms and model.no_replica_ms == BASE.no_replica_ms


def test_both_directions_of_one_pair_count_once_as_their_mean() -> None:
    # one pair of nodes, measured both ways: below the two pairs a figure needs
    model = measured_latency([trip("a1", "b1", 20.0), trip("b1", "a1", 22.0)], ZONES, BASE)
    assert model == BASE
    model = measured_latency(
        [trip("a1", "b1", 20.0), trip("b1", "a1", 22.0), trip("a2", "b2", 21.0)], ZONES, BASE
    )
    assert model.between("a", "b") == pytest.approx(BASE.local_ms + 21.0)
    assert model.between("b", "a") == pytest.approx(BASE.local_ms + 21.0)


def test_an_unmeasured_zone_pair_gets_the_largest_measured_cross_zone_figure() -> None:
    trips = [
        trip("a1", "b1", 30.0),
        trip("a2", "b2", 30.0),
        trip("a1", "c1", 1.0),
        trip("a2", "c1", 1.0),
    ]
    model = measured_latency(trips, ZONES, BASE)
    assert model.between("a", "c") == pytest.approx(1.1)
    assert model.between("a", "b") == pytest.approx(30.1)
    assert model.between("b", "c") == pytest.approx(30.1)  # not measured: not assumed close


def test_base_entries_stay_where_nothing_replaced_them() -> None:
    base = LatencyModel(zone_ms=(("c", "b", 7.0),))
    model = measured_latency([trip("a1", "b1", 3.0), trip("a2", "b2", 3.0)], ZONES, base)
    assert model.between("b", "c") == 7.0
    assert model.between("a", "b") == pytest.approx(3.1)


@pytest.mark.parametrize(
    "bad",
    [
        trip("a1", "a1", 1.0),  # itself
        trip("a1", "zz", 1.0),  # unknown node
        RoundTrip("a1", "a2", -1.0),
        RoundTrip("a1", "a2", math.inf),
        RoundTrip("a1", "a2", math.nan),
    ],
)
def test_nonsense_is_ignored(bad: RoundTrip) -> None:
    good = [trip("a2", "a3", 0.4), trip("a1", "a3", 0.4)]
    assert measured_latency([bad, *good], ZONES, BASE).same_zone_ms == pytest.approx(0.5)
