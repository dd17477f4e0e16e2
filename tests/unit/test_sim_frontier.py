"""Frontiers as hulls of a family's runs, and where one family falls short of another."""

from __future__ import annotations

import pytest

from statecast.sim.frontier import Point, bytes_losses, frontier, least_bytes, losses


def run(family: str, hours: float, hits: float, ms: float = 1.0, moved: float = 0.0) -> Point:
    return Point(family, f"{family}@{hours}", hours, hits, ms, moved)


def test_the_frontier_is_the_upper_hull_made_non_decreasing() -> None:
    runs = [
        run("p", 1, 0.1),
        run("p", 2, 0.5),
        run("p", 3, 0.55),
        run("p", 4, 0.9),
        run("p", 5, 0.8),
    ]
    line = frontier(runs, "local_hit_ratio")
    assert line.hours.tolist() == [1, 2, 4]  # 3 is under the chord; 5 is worse than 4
    assert line.at(3 / 1.01) == pytest.approx(0.7)  # half the time at 2, half at 4
    assert line.at(9) == pytest.approx(0.9)  # more budget never hurts
    assert line.at(0.5) is None  # below the cheapest run
    assert line.at(1 / 1.01) == pytest.approx(0.1)  # within 1 %: equal replica-hours


def test_latency_frontier_is_the_lower_hull() -> None:
    runs = [run("p", 1, 0, ms=1.0), run("p", 2, 0, ms=0.9), run("p", 3, 0, ms=0.2)]
    line = frontier(runs, "mean_latency_ms")
    assert line.hours.tolist() == [1, 3]
    assert line.at(2 / 1.01) == pytest.approx(0.6)


def test_runs_within_the_tolerance_above_a_budget_count_at_it() -> None:
    # A run a hair dearer than the rival (a copy kept a step longer while its successor
    # synced) is at the rival's budget, even when a cheaper run of ours is poor.
    ours = frontier([run("p", 72.0, 0.19), run("p", 72.00004, 0.78)], "local_hit_ratio")
    theirs = frontier([run("r", 72.0, 0.40)], "local_hit_ratio")
    assert ours.at(72.0) == pytest.approx(0.78)
    assert losses(ours, theirs) == []


def test_a_shortfall_is_found_at_a_breakpoint_and_forgiven_within_the_margin() -> None:
    ours = frontier([run("p", 1, 0.60), run("p", 3, 0.90)], "local_hit_ratio")
    theirs = frontier([run("r", 1, 0.50), run("r", 2, 0.80)], "local_hit_ratio")
    found = losses(ours, theirs)
    assert [(x.budget, round(x.ours or 0, 3), x.theirs) for x in found] == [(2.0, 0.753, 0.8)]
    assert losses(ours, theirs, margin=0.06) == []


def test_a_rival_cheaper_than_every_run_of_ours_is_a_loss() -> None:
    ours = frontier([run("p", 2, 0.9)], "local_hit_ratio")
    theirs = frontier([run("r", 1, 0.1)], "local_hit_ratio")
    assert [(x.budget, x.ours) for x in losses(ours, theirs)] == [(1.0, None)]


def test_bytes_are_the_fewest_of_a_mix_that_serves_the_rivals_latency_in_its_budget() -> None:
    # At 2 replica-hours the rival serves 0.9 ms moving 15 bytes. Our cheaper run alone
    # is too slow (1.0 ms); the mix of 80 % of it and 20 % of the dearer run serves
    # 0.9 ms at 1.4 replica-hours and moves 14: no loss. (Read along our latency
    # frontier, the mix at 2 replica-hours moved 20.2, and counted as a loss.)
    ours = [run("p", 1, 0, ms=1.0, moved=10.0), run("p", 3, 0, ms=0.5, moved=30.0)]
    theirs = frontier([run("r", 2, 0, ms=0.9, moved=15.0)], "mean_latency_ms")
    assert bytes_losses(ours, theirs) == []
    assert least_bytes(ours, 2.0, 0.9) == pytest.approx(14.0)


def test_a_run_that_is_a_hair_faster_does_not_decide_the_bytes() -> None:
    # Two runs at the same budget, one 0.02 % faster moving three times the bytes: the
    # rival's latency is served by the frugal one.
    ours = [run("p", 576, 0, ms=0.5101, moved=2.2), run("p", 576, 0, ms=0.5100, moved=7.5)]
    theirs = frontier([run("r", 589, 0, ms=0.508 * 1.01, moved=6.7)], "mean_latency_ms")
    assert bytes_losses(ours, theirs) == []


def test_more_bytes_at_the_rivals_latency_is_a_loss() -> None:
    ours = [run("p", 1, 0, ms=1.0, moved=10.0), run("p", 3, 0, ms=0.5, moved=30.0)]
    theirs = frontier([run("r", 2, 0, ms=0.9, moved=12.0)], "mean_latency_ms")
    found = bytes_losses(ours, theirs)
    assert [(x.budget, x.ours) for x in found] == [(2.0, pytest.approx(14.0))]


def test_where_no_mix_serves_the_rivals_latency_our_latency_frontier_is_read() -> None:
    ours = [run("p", 1, 0, ms=1.0, moved=10.0), run("p", 3, 0, ms=0.5, moved=30.0)]
    theirs = frontier([run("r", 2, 0, ms=0.6, moved=15.0)], "mean_latency_ms")
    assert least_bytes(ours, 2.0, 0.6) is None
    found = bytes_losses(ours, theirs)
    assert [(x.budget, x.ours) for x in found] == [(2.0, pytest.approx(20.2))]
