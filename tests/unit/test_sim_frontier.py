"""Frontiers as hulls of a family's runs, and where one family falls short of another."""

from __future__ import annotations

from pathlib import Path

import pytest

from statecast.sim.frontier import Point, bytes_losses, bytes_ratios, frontier, least_bytes, losses
from statecast.sim.plot import plot_frontiers


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


def test_bytes_are_the_fewest_of_a_mix_that_serves_the_rivals_run_in_its_budget() -> None:
    # At 2 replica-hours the rival serves 0.9 ms moving 15 bytes. Our cheaper run alone
    # is too slow (1.0 ms); the mix of 80 % of it and 20 % of the dearer run serves
    # 0.9 ms at 1.4 replica-hours and moves 14: no loss.
    ours = [run("p", 1, 0, ms=1.0, moved=10.0), run("p", 3, 0, ms=0.5, moved=30.0)]
    theirs = [run("r", 2, 0, ms=0.9, moved=15.0)]
    assert bytes_losses(ours, theirs) == []
    assert least_bytes(ours, 2.0, 0.9) == pytest.approx(14.0)


def test_a_run_that_is_a_hair_faster_does_not_decide_the_bytes() -> None:
    # Two runs at the same budget, one 0.02 % faster moving three times the bytes: the
    # rival's latency is served by the frugal one.
    ours = [run("p", 576, 0, ms=0.5101, moved=2.2), run("p", 576, 0, ms=0.5100, moved=7.5)]
    theirs = [run("r", 589, 0, ms=0.508 * 1.01, moved=6.7)]
    assert bytes_losses(ours, theirs) == []


def test_more_bytes_at_the_rivals_service_is_a_loss() -> None:
    ours = [run("p", 1, 0, ms=1.0, moved=10.0), run("p", 3, 0, ms=0.5, moved=30.0)]
    theirs = [run("r", 2, 0, ms=0.9, moved=12.0)]
    found = bytes_losses(ours, theirs)
    assert [(x.budget, x.ours) for x in found] == [(2.0, pytest.approx(14.0))]


def test_where_no_mix_serves_the_rivals_run_the_bytes_are_not_compared() -> None:
    # Sessions 8-9 read our best-latency mix here (20.2 bytes at 2 replica-hours, a
    # latency of 0.75 ms against the rival's 0.6): a comparison at worse service, which
    # flattered whichever side moved fewer bytes. Now the run is lost, unserved.
    ours = [run("p", 1, 0, ms=1.0, moved=10.0), run("p", 3, 0, ms=0.5, moved=30.0)]
    theirs = [run("r", 2, 0, ms=0.6, moved=50.0)]
    assert least_bytes(ours, 2.0, 0.6) is None
    assert [(x.budget, x.ours) for x in bytes_losses(ours, theirs)] == [(2.0, None)]


def test_the_rivals_local_hits_must_be_matched_too() -> None:
    # Our cheap run matches the rival's latency with fewer bytes but far fewer local
    # hits (nearby copies instead of local ones): it does not serve the rival's run.
    ours = [run("p", 1, 0.2, ms=0.5, moved=1.0), run("p", 2, 0.8, ms=0.5, moved=9.0)]
    theirs = [run("r", 2, 0.8, ms=0.5, moved=5.0)]
    assert least_bytes(ours, 2.0, 0.5) == pytest.approx(1.0)
    found = bytes_losses(ours, theirs)
    assert [(x.budget, x.ours) for x in found] == [(2.0, pytest.approx(9.0))]
    # Within the margins (2 points, 3 %) a mix at 0.78 hits serves it: still more bytes.
    within = bytes_losses(ours, theirs, 0.02, 0.03)
    assert [(x.budget, x.ours) for x in within] == [(2.0, pytest.approx(1.0 + 8.0 * 0.58 / 0.6))]


def test_every_rival_run_is_checked_not_only_its_best_latency() -> None:
    # The rival's frugal run (slower, few bytes) sits off its latency frontier: checked
    # only at the frontier (sessions 8-9) our bytes looked fine; at its own run we move more.
    ours = [run("p", 2, 0.5, ms=0.5, moved=10.0)]
    theirs = [run("r", 2, 0.5, ms=0.5, moved=20.0), run("r", 2, 0.4, ms=0.6, moved=2.0)]
    found = bytes_losses(ours, theirs)
    assert [(x.budget, x.ours, x.theirs) for x in found] == [(2.0, pytest.approx(10.0), 2.0)]


def test_the_same_run_is_no_loss_whatever_the_other_runs() -> None:
    # Our run and the rival's are the same placement (same hours, service and bytes); a
    # far dearer run beside it scales the linear program, whose rounding read ours
    # 8,257,536.000000001 bytes against 8,257,536 (generated-36).
    same = (48.0, 0.13793985621575883, 1.3975825186221515, 8257536.0)
    ours = [
        run("p", *same[:2], ms=same[2], moved=same[3]),
        run("p", 1088, 0.9700369136183177, 0.11198523455267295, 364890460.0),
    ]
    theirs = [run("r", *same[:2], ms=same[2], moved=same[3])]
    assert bytes_losses(ours, theirs) == []
    assert bytes_losses(ours, theirs, 0.02, 0.03) == []


def test_each_rival_run_gets_our_bytes_over_its_own_or_none_where_not_served() -> None:
    # the picture's fourth panel: 14 of ours against 12 (a loss), 14 against 28 (a win),
    # and a run no mix of ours serves (0.4 ms at 2 replica-hours)
    ours = [run("p", 1, 0, ms=1.0, moved=10.0), run("p", 3, 0, ms=0.5, moved=30.0)]
    theirs = [run("r", 2, 0, ms=0.9, moved=12.0), run("r", 2.5, 0, ms=0.9, moved=28.0)]
    theirs.append(Point("r", "unserved", 2.0, 0.0, 0.4, 5.0))
    got = [(p.label, r) for p, r in bytes_ratios(ours, theirs)]
    assert got == [
        ("r@2", pytest.approx(14 / 12)),
        ("unserved", None),
        ("r@2.5", pytest.approx(14 / 28)),
    ]
    lost = {x.budget for x in bytes_losses(ours, theirs)}
    assert lost == {2.0}  # the ratio above one and the unserved run, both at 2 rh


def test_the_frontier_picture_draws_the_bytes_verdict_panel(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    ours = [run("predictive", 1, 0.5, ms=1.0, moved=10.0), run("predictive", 3, 0.8, ms=0.5)]
    theirs = [run("reactive", 2, 0.4, ms=0.9, moved=12.0), run("static", 1, 0.3, ms=2.0)]
    out = tmp_path / "f.png"
    plot_frontiers("t", ours + theirs, out, margins=(0.02, 0.03))
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
