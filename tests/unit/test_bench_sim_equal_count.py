"""The placement benchmark judges predictive twice: from all its runs, and at equal count.

A frontier is a best over runs, so the side with more runs can only gain: session 13's
verdicts were our best of a median 147 runs against reactive's 16 and static's 1. The
equal-count verdict builds predictive's frontier from no more runs than the rival's,
taken in an order fixed in advance (never the refinement's runs, placed by outcome).
"""

from __future__ import annotations

from pathlib import Path

from bench.sim import Study, _checks, declared_order, equal_count
from bench.sim_report import report

from statecast.sim.frontier import Point
from statecast.sim.sweeps import DEFAULT, PREDICTIVE


def _point(family: str, label: str, rh: float, hits: float) -> Point:
    return Point(family, label, rh, hits, 1.0 - hits, 1.0)


def test_the_order_is_the_default_the_grid_then_its_twins() -> None:
    order = declared_order()
    assert order[0] == DEFAULT.label == "predictive"
    assert order[1 : 1 + len(PREDICTIVE)] == tuple(s.label for s in PREDICTIVE)
    assert all(" hand-off" in label for label in order[1 + len(PREDICTIVE) :])
    assert len(set(order)) == len(order)


def test_equal_count_takes_the_declared_runs_first_never_a_refined_one() -> None:
    order = declared_order()
    ours = [
        _point("predictive", "predictive hold x0.3 copy x1", 10.0, 0.9),  # a refinement run
        _point("predictive", order[3], 10.0, 0.2),
        _point("predictive", order[0], 10.0, 0.1),
        _point("predictive", order[7], 10.0, 0.8),
    ]
    assert [p.label for p in equal_count(ours, 2)] == [order[0], order[3]]
    assert [p.label for p in equal_count(ours, 9)] == [order[0], order[3], order[7]]


def _study() -> Study:
    """Our best run is the grid's 8th: from all runs we win, from the rival's 2 we lose."""
    order = declared_order()
    points = [
        _point("predictive", order[0], 10.0, 0.30),
        _point("predictive", order[1], 20.0, 0.35),
        _point("predictive", order[7], 10.0, 0.60),
        _point("reactive", "reactive", 10.0, 0.50),
        _point("reactive", "reactive w=2 steps k=0 g=1 steps", 20.0, 0.55),
        _point("static", "static", 10.0, 0.20),
    ]
    return Study("weekly", "shape", points, checks=_checks(points))


def test_a_verdict_won_only_by_more_runs_is_lost_at_equal_count() -> None:
    checks = _study().checks
    assert not checks["reactive"]["local_hit_ratio"]["strict"]
    equal = checks["reactive"]["equal_count"]
    assert equal["runs"] == 2
    assert equal["local_hit_ratio"]["strict"] and equal["local_hit_ratio"]["within_margin"]
    assert checks["static"]["equal_count"]["runs"] == 1  # the default run alone
    assert not checks["static"]["equal_count"]["local_hit_ratio"]["strict"]


def test_the_report_shows_both_verdicts_and_the_counts(tmp_path: Path) -> None:
    report([_study()], [], 60.0, tmp_path)
    text = (tmp_path / "sim.md").read_text()
    assert "**Equal count**" in text
    rows = [line for line in text.splitlines() if line.startswith("| reactive | ")]
    assert rows[0].startswith("| reactive | 1/1 |")  # all runs: held
    assert rows[1].startswith("| reactive | 0/1 | 0/1 |")  # equal count: lost
    assert rows[1].endswith("| 2 (2-2) / 2 (2-2) |")
    frontier = [line for line in text.splitlines() if line.startswith("| weekly | reactive |")]
    assert "**no**/**no** · " in frontier[-1] and "(2) | 3 / 2 |" in frontier[-1]


def test_the_report_says_where_its_runs_come_from(tmp_path: Path) -> None:
    # Tables regenerated from spliced studies (runs of several sessions) say so under the
    # head, in the generated file itself, not in a hand edit after it.
    report([_study()], [], 60.0, tmp_path, note="**Runs**: the rivals' session-14 settings.")
    head = (tmp_path / "sim.md").read_text().split("## Runs at default settings")[0]
    assert "**Runs**: the rivals' session-14 settings." in head
