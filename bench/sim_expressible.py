"""How many of the runs predictive's published verdicts stand on a ``SharedResource`` can run.

A verdict of ``bench.sim`` reads predictive's runs in two ways: the service frontiers
(local hits, mean latency: the hull's vertices, :func:`statecast.sim.frontier.frontier`) and
the bytes at each rival run's service (the mix of our runs of fewest bytes,
:func:`statecast.sim.frontier.least_bytes_mix`, strict and within the margins). This
counts, over a published report's rows, the runs of positive weight in any of those and
how many of them a spec can express (:func:`statecast.sim.expressible.expression`), by
what is missing; and it recomputes the verdicts within the margins with predictive's
expressible runs alone (the verdicts with all its runs are recomputed beside them: they
are the report's own). A row the report does not check (NAB Twitter) is left out.
Run from the repository root::

    .venv/bin/python -m bench.sim_expressible docs/bench/sim.json [MORE.json ...] \\
        [--only generated-10,...] [--out audit.json] [--assume hold_price,...]

``--assume``: count a run expressible were those of what it lacks settable too (what a
new field of the spec would buy).

Reads the reports only (no run is replayed).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from bench.sim import MARGIN_BYTES, MARGIN_HITS, MARGIN_LATENCY, RIVALS
from statecast.sim.expressible import Expression, expression, setting_of
from statecast.sim.frontier import (
    METRICS,
    Point,
    bytes_losses,
    frontier,
    least_bytes_mix,
    losses,
)

#: A run counts in a mix above this weight.
WEIGHT = 1e-9
#: The margins each bytes mix is read at: strict, and within the hits and latency margins.
BYTES_MARGINS = ((0.0, 0.0), (MARGIN_HITS, MARGIN_LATENCY))


@cache
def expressed(label: str) -> Expression:
    """What a spec can say of the run ``label`` names."""
    return expression(setting_of(label))


def verdict_runs(ours: Sequence[Point], theirs: Sequence[Point]) -> set[str]:
    """The labels of our runs a verdict against ``theirs`` stands on (see the module)."""
    used = {label for metric in METRICS for label in frontier(ours, metric).labels}
    for run in theirs:
        for hits, latency in BYTES_MARGINS:
            weights = least_bytes_mix(
                ours,
                run.replica_hours,
                run.mean_latency_ms * (1 + latency),
                run.local_hit_ratio - hits,
            )
            if weights is not None:
                used |= {p.label for p, w in zip(ours, weights, strict=True) if w > WEIGHT}
    return used


def within(ours: Sequence[Point], theirs: Sequence[Point]) -> dict[str, bool]:
    """Whether ``ours`` holds within the margins: both service frontiers, and bytes."""
    service = all(
        not losses(frontier(ours, m), frontier(theirs, m), margin)
        for m, margin in (("local_hit_ratio", MARGIN_HITS), ("mean_latency_ms", MARGIN_LATENCY))
    )
    moved = not bytes_losses(ours, theirs, MARGIN_HITS, MARGIN_LATENCY, MARGIN_BYTES)
    return {"both": service, "bytes": moved}


def able(label: str, assumed: frozenset[str] = frozenset()) -> bool:
    """Whether a spec runs ``label``, were what ``assumed`` names settable too."""
    return set(expressed(label).missing) <= assumed


def audit_row(points: Sequence[Point], assumed: frozenset[str] = frozenset()) -> dict[str, Any]:
    """One row's audit: per rival, the verdict runs, the expressible ones, what the others
    lack, and the verdicts within the margins with all our runs and with the expressible
    (were what ``assumed`` names settable too)."""
    ours = [p for p in points if p.family == "predictive"]
    mine = [p for p in ours if able(p.label, assumed)]
    out: dict[str, Any] = {"runs": len(ours), "expressible": len(mine), "rivals": {}}
    for rival in RIVALS:
        theirs = [p for p in points if p.family == rival]
        if not theirs or not ours:
            continue
        used = verdict_runs(ours, theirs)
        lacking = Counter(m for label in used for m in expressed(label).missing)
        out["rivals"][rival] = {
            "verdict_runs": sorted(used),
            "expressible": sum(able(label, assumed) for label in used),
            "missing": dict(lacking),
            "within_all": within(ours, theirs),
            "within_expressible": within(mine, theirs) if mine else None,
        }
    return out


def audit(
    report: Path, only: Iterable[str] | None = None, assumed: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """Every row of a published report that it checks (``only`` those when given)."""
    rows = json.loads(report.read_text())
    wanted = None if only is None else set(only)
    done = {}
    for row, raw in rows.items():
        if not raw["checks"] or (wanted is not None and row not in wanted):
            continue
        done[row] = audit_row([Point(**p) for p in raw["runs"]], assumed)
        print(f"{report.name} {row}", file=sys.stderr, flush=True)
    return done


def summary(rows: dict[str, Any]) -> list[str]:
    """Markdown lines: per rival, the verdict runs and how many are expressible, what the
    others lack, and the verdicts within the margins with all runs and expressible ones."""
    lines = [
        "| rival | verdict runs (row, run) | expressible | both within: all / expressible"
        " | bytes within: all / expressible |",
        "|---|---:|---:|---:|---:|",
    ]
    lacking: Counter[str] = Counter()
    for rival in RIVALS:
        entries = [r["rivals"][rival] for r in rows.values() if rival in r["rivals"]]
        used = sum(len(e["verdict_runs"]) for e in entries)
        able = sum(e["expressible"] for e in entries)
        for e in entries:
            lacking.update(e["missing"])

        def count(key: str, verdict: str, among: list[dict[str, Any]] = entries) -> int:
            return sum(bool(e[key] and e[key][verdict]) for e in among)

        lines.append(
            f"| {rival} | {used} | {able} ({100 * able / max(used, 1):.1f} %) | "
            f"{count('within_all', 'both')} / {count('within_expressible', 'both')} of "
            f"{len(entries)} | {count('within_all', 'bytes')} / "
            f"{count('within_expressible', 'bytes')} of {len(entries)} |"
        )
    lines += ["", "| missing (verdict runs lacking it, summed over rivals) | runs |", "|---|---:|"]
    lines += [f"| `{name}` | {n} |" for name, n in lacking.most_common()]
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """Audit each report given; print the summary of each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reports", type=Path, nargs="+")
    parser.add_argument("--only", help="comma-separated rows")
    parser.add_argument("--out", type=Path, help="write every row's audit here (JSON)")
    parser.add_argument(
        "--assume", default="", help="comma-separated missing names to count as settable"
    )
    args = parser.parse_args(argv)
    only = None if args.only is None else args.only.split(",")
    assumed = frozenset(filter(None, args.assume.split(",")))
    everything = {}
    for report in args.reports:
        rows = audit(report, only, assumed)
        everything[str(report)] = rows
        print(f"\n### {report} ({len(rows)} rows)\n")
        print("\n".join(summary(rows)))
    if args.out is not None:
        args.out.write_text(json.dumps(everything, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
