"""The placement benchmark's report says how many runs each frontier is the best of.

Our sweep grid grows each session while the rivals' do not, and more runs can only raise
a frontier: a verdict read without the run counts overstates the planner (the lead,
session 13). Per trace and rival the frontier table shows ``predictive / rival`` runs,
the generated scenarios' table every family's, and a line the median and range.
"""

from __future__ import annotations

from pathlib import Path

from bench.sim import Study, _checks
from bench.sim_report import report

from statecast.sim.frontier import Point


def _point(family: str, label: str, rh: float, hits: float) -> Point:
    return Point(family, label, rh, hits, 1.0 - hits, 1.0)


def _study(name: str, ours: int, reactive: int) -> Study:
    points = [_point("predictive", f"p{i}", 10.0 + i, 0.5 + 0.01 * i) for i in range(ours)]
    points += [_point("reactive", f"r{i}", 10.0 + i, 0.4) for i in range(reactive)]
    points += [_point("static", "static", 12.0, 0.3)]
    return Study(name, "shape", points, checks=_checks(points))


def test_the_report_counts_each_frontier_s_runs(tmp_path: Path) -> None:
    studies = [_study("weekly", 5, 2), _study("generated-00", 7, 3), _study("generated-01", 9, 4)]
    report(studies, [], 60.0, tmp_path)
    text = (tmp_path / "sim.md").read_text()
    assert "| weekly | reactive |" in text
    weekly = [line for line in text.splitlines() if line.startswith("| weekly | reactive |")]
    assert weekly[-1].endswith("| 5 / 2 |")
    static = [line for line in text.splitlines() if line.startswith("| weekly | static |")]
    assert static[-1].endswith("| 5 / 1 |")  # the frontier table, after the defaults
    generated = [line for line in text.splitlines() if line.startswith("| generated-01 |")]
    assert generated[0].endswith("| 9 / 4 / 0 / 0 / 1 |")
    assert "predictive 7 (5-9), reactive 3 (2-4)" in text
