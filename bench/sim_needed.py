"""Which of predictive's families the published bytes verdicts stand on (docs/tuning.md).

For every row of a published report and every rival, each rival run's bytes verdict within
the margins is the fewest bytes a mix of our runs moves at its service
(:func:`statecast.sim.frontier.least_bytes_mix`). Where that mix wins, each family carrying
weight in it is left out in turn and the run checked again: the family is *needed* for
that run when the verdict is then lost. Runs are assigned to families by label
(:data:`statecast.sim.sweeps.FAMILIES`, the first family that makes a label; the price
grid, its hand-off twins and the refinement are ``grid``). Nothing is replayed: the
report's runs alone. Run from the repository root::

    .venv/bin/python -m bench.sim_needed docs/bench/sim.json [--out NEEDED.json]

It prints, per family and rival, the rows where it is needed (``row(runs/of)``) and the
rows each rival still wins; ``--out`` keeps the per-row counts and the needed runs' labels.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.sim import MARGIN_HITS, MARGIN_LATENCY, RIVALS, trace_of
from statecast.sim.frontier import BYTES_TOLERANCE, Point, least_bytes_mix
from statecast.sim.sweeps import FAMILIES

#: Predictive's runs of no family: the price grid, its hand-off twins, the refinement.
GRID = "grid"


def families_of(row: str, ours: Sequence[Point]) -> list[str]:
    """The family of each of ``ours`` on ``row``, by its label."""
    trace = trace_of(row)
    named: dict[str, str] = {}
    for name, settings in FAMILIES:
        for setting in settings(trace):
            named.setdefault(setting.label, name)
    return [named.get(p.label, GRID) for p in ours]


def _moved(points: Sequence[Point], run: Point) -> float | None:
    """Our fewest bytes at ``run``'s service less the margins (None: not served)."""
    weights = least_bytes_mix(
        points,
        run.replica_hours,
        run.mean_latency_ms * (1 + MARGIN_LATENCY),
        run.local_hit_ratio - MARGIN_HITS,
    )
    if weights is None:
        return None
    return float(np.array([p.bytes_moved for p in points]) @ weights)


def needed_for(
    run: Point, ours: Sequence[Point], families: Sequence[str]
) -> tuple[bool, dict[str, dict[str, float]]]:
    """Whether we win ``run``'s bytes verdict, and the families it needs (their runs' weights)."""
    weights = least_bytes_mix(
        ours,
        run.replica_hours,
        run.mean_latency_ms * (1 + MARGIN_LATENCY),
        run.local_hit_ratio - MARGIN_HITS,
    )
    limit = run.bytes_moved * (1 + BYTES_TOLERANCE)
    if weights is None or float(np.array([p.bytes_moved for p in ours]) @ weights) > limit:
        return False, {}
    held = [int(i) for i in np.flatnonzero(weights > 1e-9)]
    used = sorted({families[i] for i in held})
    needed: dict[str, dict[str, float]] = {}
    for family in used:
        rest = [p for p, f in zip(ours, families, strict=True) if f != family]
        moved = _moved(rest, run) if rest else None
        if moved is None or moved > limit:
            needed[family] = {
                ours[i].label: float(weights[i]) for i in held if families[i] == family
            }
    return True, needed


def row_needs(row: str, entry: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per rival: its runs, those we lose, and per family the runs it is needed for."""
    points = [Point(**{k: r[k] for k in Point.__dataclass_fields__}) for r in entry["runs"]]
    ours = [p for p in points if p.family == "predictive"]
    families = families_of(row, ours)
    out: dict[str, dict[str, Any]] = {}
    for rival in RIVALS:
        theirs = [p for p in points if p.family == rival]
        lost = 0
        needed: dict[str, int] = defaultdict(int)
        labels: dict[str, dict[str, float]] = defaultdict(dict)
        for run in theirs:
            won, needs = needed_for(run, ours, families)
            lost += not won
            for family, weights in needs.items():
                needed[family] += 1
                for label, weight in weights.items():
                    labels[family][label] = labels[family].get(label, 0.0) + weight
        out[rival] = {
            "runs": len(theirs),
            "lost": lost,
            "needed": dict(needed),
            "labels": dict(labels),
        }
    return out


def summary(needs: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    """Per family and rival, the rows that need it; then each rival's rows still lost."""
    by_family: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    lost: dict[str, list[str]] = defaultdict(list)
    for row, rivals in needs.items():
        for rival, entry in rivals.items():
            if entry["lost"]:
                lost[rival].append(f"{row}({entry['lost']}/{entry['runs']})")
            for family, count in entry["needed"].items():
                by_family[family][rival].append(f"{row}({count}/{entry['runs']})")
    lines = []
    for family in sorted(by_family):
        for rival, rows in by_family[family].items():
            lines.append(f"{family} vs {rival}: {len(rows)} rows: {' '.join(rows)}")
    lines += [f"lost vs {rival}: {' '.join(rows)}" for rival, rows in lost.items()]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("report", type=Path, help="a published report (docs/bench/sim*.json)")
    parser.add_argument("--out", type=Path, help="write the per-row counts and labels here")
    args = parser.parse_args()
    report = json.loads(args.report.read_text())
    needs = {
        row: row_needs(row, entry)
        for row, entry in report.items()
        if isinstance(entry, dict) and entry.get("checks")
    }
    if args.out is not None:
        args.out.write_text(json.dumps(needs, indent=1) + "\n")
    print("\n".join(summary(needs)))


if __name__ == "__main__":
    main()
