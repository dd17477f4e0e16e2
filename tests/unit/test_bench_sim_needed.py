"""``bench.sim_needed``: the family a bytes verdict stands on is the one it loses without."""

from __future__ import annotations

from bench.sim_needed import needed_for

from statecast.sim.frontier import Point


def point(family: str, label: str, hours: float, hits: float, ms: float, moved: float) -> Point:
    return Point(family, label, hours, hits, ms, moved)


RIVAL = point("reactive", "reactive", 100.0, 0.80, 0.30, 1_000.0)


def test_the_cheap_family_is_needed_and_the_dear_one_is_not() -> None:
    ours = [
        point("predictive", "cheap", 100.0, 0.80, 0.30, 500.0),  # wins alone
        point("predictive", "dear", 100.0, 0.80, 0.30, 5_000.0),  # serves, at 5x the bytes
    ]
    won, needed = needed_for(RIVAL, ours, ["copies", "grid"])
    assert won
    assert needed == {"copies": {"cheap": 1.0}}


def test_two_families_that_each_win_alone_are_not_needed() -> None:
    ours = [
        point("predictive", "a", 100.0, 0.80, 0.30, 500.0),
        point("predictive", "b", 100.0, 0.80, 0.30, 500.0),
    ]
    won, needed = needed_for(RIVAL, ours, ["one", "other"])
    assert won
    assert needed == {}


def test_a_lost_verdict_needs_nothing() -> None:
    ours = [point("predictive", "slow", 100.0, 0.70, 0.50, 10.0)]
    assert needed_for(RIVAL, ours, ["grid"]) == (False, {})
