"""The Markdown and JSON of the placement benchmark (:mod:`bench.sim`)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bench.sim import Study

from bench.sim import DEFAULTS, MARGIN_HITS, MARGIN_LATENCY, RIVALS


def _verdict(losses: list[dict[str, Any]], metric: str) -> str:
    """``yes``, or the worst shortfall and at how many budgets."""
    if not losses:
        return "yes"

    def gap(loss: dict[str, Any]) -> float:
        if loss["ours"] is None:
            return float("inf")
        if metric == "local_hit_ratio":
            return float(loss["theirs"] - loss["ours"])
        return float(loss["ours"] / max(loss["theirs"], 1e-12) - 1.0)

    worst = max(losses, key=gap)
    if worst["ours"] is None and metric == "bytes_moved":
        return f"**no** ({len(losses)}): a run at {worst['budget']:.0f} rh not served"
    if worst["ours"] is None:
        return f"**no**: no run at {worst['budget']:.0f} rh"
    if metric == "local_hit_ratio":
        text = f"{100 * gap(worst):.1f} pts"
    elif metric == "bytes_moved":
        text = f"{worst['ours'] / 2**30:.2f} vs {worst['theirs'] / 2**30:.2f} GiB"
    else:
        text = f"{worst['ours']:.3f} vs {worst['theirs']:.3f} ms"
    return f"**no** ({len(losses)}): {text} at {worst['budget']:.0f} rh"


def _check_cells(entry: dict[str, Any]) -> list[str]:
    cells = []
    for metric in ("local_hit_ratio", "mean_latency_ms"):
        strict = _verdict(entry[metric]["strict"], metric)
        margin = "yes" if not entry[metric]["within_margin"] else "**no**"
        cells.append(f"{strict} / {margin}")
    moved = entry["bytes_moved"]
    strict = "yes" if not moved["strict"] else f"**no** ({len(moved['strict'])})"
    cells.append(f"{strict} / {_verdict(moved['within_margin'], 'bytes_moved')}")
    return cells


def _equal_cell(entry: dict[str, Any]) -> str:
    """The equal-count verdicts of one rival's check: hits · latency · bytes, each
    ``strict / within the margins``, and predictive's run count (``-``: none declared)."""
    equal = entry.get("equal_count")
    if equal is None:
        return "-"
    cells = []
    for metric in ("local_hit_ratio", "mean_latency_ms", "bytes_moved"):
        strict = "yes" if not equal[metric]["strict"] else "**no**"
        within = "yes" if not equal[metric]["within_margin"] else "**no**"
        cells.append(f"{strict}/{within}")
    return " · ".join(cells) + f" ({equal['runs']})"


def _defaults_table(studies: list[Study]) -> list[str]:
    lines = [
        "| trace | policy | local hit | bound | mean ms | bound | replica-h | GiB moved |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for s in studies:
        for family, label in DEFAULTS.items():
            run = next((p for p in s.points if p.label == label), None)
            if run is None:
                continue
            bound = s.bounds.get(family, {})
            lat_bound = bound.get("bound_mean_latency_ms")
            lines.append(
                f"| {s.name} | {family} | {run.local_hit_ratio:.3f}"
                f" | {bound.get('bound_local_hit_ratio', float('nan')):.3f}"
                f" | {run.mean_latency_ms:.3f} | {'-' if lat_bound is None else f'{lat_bound:.3f}'}"
                f" | {run.replica_hours:.0f} | {run.bytes_moved / 2**30:.2f} |"
            )
    return lines


def _runs(s: Study, family: str) -> int:
    """How many runs the family's frontier on this trace is the best of."""
    return sum(1 for p in s.points if p.family == family)


def _runs_summary(studies: list[Study]) -> list[str]:
    """Per family, the runs a trace's frontier is the best of: median and range."""
    swept = [s for s in studies if s.checks]
    if not swept:
        return []
    cells = []
    for family in ("predictive", *RIVALS):
        counts = sorted(_runs(s, family) for s in swept)
        cells.append(f"{family} {counts[len(counts) // 2]} ({counts[0]}-{counts[-1]})")
    return [
        f"Runs per trace, median (range) over these {len(swept)}: " + ", ".join(cells) + ".",
        "",
    ]


def _checks_table(studies: list[Study]) -> list[str]:
    lines = [
        f"| trace | against | local hits: strict / within {100 * MARGIN_HITS:g} pts"
        f" | mean latency: strict / within {100 * MARGIN_LATENCY:g} %"
        " | bytes at each rival run's service: strict / within the margins"
        " | equal count: hits · latency · bytes (our runs) | runs: predictive / rival |",
        "|---|---|---|---|---|---|---:|",
    ]
    for s in studies:
        for rival in RIVALS:
            if rival in s.checks:
                lines.append(
                    f"| {s.name} | {rival} | "
                    + " | ".join(_check_cells(s.checks[rival]))
                    + f" | {_equal_cell(s.checks[rival])}"
                    + f" | {_runs(s, 'predictive')} / {_runs(s, rival)} |"
                )
    return lines


#: The stated margin of "at or below reactive's replica-hours": a sole copy that moves
#: serves (and counts) until its successor's copy is done, a share of a step the count
#: of copies does not see (measured: at most 18 ppm over the traces and seeds).
HANDOFF_MARGIN = 1e-4


def _default_hours(s: Study) -> str:
    ours = next((p for p in s.points if p.label == DEFAULTS["predictive"]), None)
    theirs = next((p for p in s.points if p.label == DEFAULTS["reactive"]), None)
    if ours is None or theirs is None:
        return "-"
    ratio = ours.replica_hours / max(theirs.replica_hours, 1e-9)
    return f"{ratio:.2f}" + ("" if ratio <= 1.0 + HANDOFF_MARGIN else " **>1**")


_SUMMARY_KEYS = (
    ("local_hit_ratio", "strict"),
    ("local_hit_ratio", "within_margin"),
    ("mean_latency_ms", "strict"),
    ("mean_latency_ms", "within_margin"),
    ("bytes_moved", "strict"),
    ("bytes_moved", "within_margin"),
)


#: Local hits and latency together, strict and within the margins.
_BOTH_KEYS = (
    (("local_hit_ratio", "strict"), ("mean_latency_ms", "strict")),
    (("local_hit_ratio", "within_margin"), ("mean_latency_ms", "within_margin")),
)


def _holds(check: dict[str, Any], key: tuple[str, str]) -> bool:
    """Whether predictive's frontier holds on one test of a rival's check row.

    A check row lists the *losses*: ``{"local_hit_ratio": {"strict": [...], ...},
    "bytes_moved": {"strict": [...], ...}}``, each list empty when nothing was lost.
    """
    metric, kind = key
    return not check[metric][kind]


def _summary(studies: list[Study], equal: bool = False) -> list[str]:
    """Counts of traces where predictive's frontier holds against each rival.

    ``equal``: its frontier from no more runs than the rival's (the checks'
    ``equal_count``; traces without one are not counted).
    """
    lines = [
        "| against | hits and latency strict | both within the margins"
        f" | local hits strict | within {100 * MARGIN_HITS:g} pts | latency strict"
        f" | within {100 * MARGIN_LATENCY:g} % | bytes strict | bytes within the margins"
        " | runs: predictive / rival, median (range) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for rival in RIVALS:
        part = [s for s in studies if rival in s.checks]
        if equal:
            part = [s for s in part if "equal_count" in s.checks[rival]]
        rows = [s.checks[rival]["equal_count"] if equal else s.checks[rival] for s in part]
        counts = [
            f"{sum(1 for r in rows if all(_holds(r, key) for key in keys))}/{len(rows)}"
            for keys in _BOTH_KEYS + tuple((key,) for key in _SUMMARY_KEYS)
        ]
        ours = (
            sorted(r["runs"] for r in rows)
            if equal
            else sorted(_runs(s, "predictive") for s in part)
        )
        theirs = sorted(_runs(s, rival) for s in part)
        lines.append(
            f"| {rival} | " + " | ".join(counts) + f" | {_median(ours)} / {_median(theirs)} |"
        )
    return lines


def _median(counts: list[int]) -> str:
    """``median (least-most)`` of sorted run counts (``-``: none)."""
    if not counts:
        return "-"
    return f"{counts[len(counts) // 2]} ({counts[0]}-{counts[-1]})"


def _verdict_summary(studies: list[Study]) -> list[str]:
    """Both verdicts over every trace swept: best of all runs, and at equal count."""
    swept = [s for s in studies if s.checks]
    if not swept:
        return []
    return [
        f"Over the {len(swept)} traces swept, predictive's frontier from **all its runs**"
        " (its grid, the grid's hand-off twins and the refinement's runs):",
        "",
        *_summary(swept),
        "",
        "**Equal count**: predictive's frontier from **no more runs than the rival's** on"
        " each trace: its first runs in an order fixed in advance (the default run, the"
        " grid in its order, then the grid's hand-off twins; never the refinement's runs,"
        " which are placed where a rival came closest), as many as the rival has:",
        "",
        *_summary(swept, equal=True),
        "",
    ]


#: What an earlier run (``--older``) was, unless the command line says otherwise.
OLDER = (
    "the same planner and baselines, the older sweep grid: fewer predictive holding prices,"
    " groupcache at copy chance 0.1 only, follow-the-workload without +2"
)


def _generated_summary(generated: list[Study], older: list[str]) -> list[str]:
    """The counts over the generated scenarios swept, this run's and an earlier run's apart."""
    swept = [s for s in generated if s.checks]
    if not swept:
        return []
    if not older:
        return [
            "How many of them predictive's frontier holds against each rival:",
            "",
            *_summary(swept),
            "",
        ]
    lines = []
    for title, part in (
        ("swept in this run", [s for s in swept if s.name not in older]),
        ("from the earlier run", [s for s in swept if s.name in older]),
    ):
        if part:
            lines += [
                f"How many of the {len(part)} {title} predictive's frontier holds against"
                " each rival:",
                "",
                *_summary(part),
                "",
            ]
    return lines


#: How the paragraphs :func:`_partial_note` writes begin (a note read back from a report
#: leaves them out: the report writes them again).
OLDER_HEAD = "**From an earlier run's sweep**"
PARTIAL_HEAD = "**Partial run**"


def _partial_note(
    studies: list[Study], missing: list[str], older: list[str], older_what: str = OLDER
) -> list[str]:
    """What a run that did not finish every sweep holds (nothing when it did)."""
    note = []
    if older:
        note = [
            f"{OLDER_HEAD} ({older_what}; comparisons recomputed): {', '.join(older)}.",
            "",
        ]
    if not missing:
        return note
    swept = sum(1 for s in studies if s.checks)
    defaults = [s.name for s in studies if not s.checks]
    not_run = [name for name in missing if name not in defaults]
    text = f"{PARTIAL_HEAD}: sweeps finished for {swept} of {swept + len(missing)} traces."
    if defaults:
        text += f" Default settings only (no frontier): {', '.join(defaults)}."
    if not_run:
        text += f" Not run: {', '.join(not_run)}."
    return [*note, text, ""]


def _origin(seconds: float, kept: bool) -> list[str]:
    """The head's first lines: what wrote the report and, for replays, their CPU time."""
    if kept:
        return [
            "Written by `python -m bench.sim --report-only` from kept runs, not by one run",
            "(where they come from: the note below); `make bench-sim` replays every run afresh.",
            "Do not edit by hand.",
        ]
    return [
        "Generated by `make bench-sim` (`python -m bench.sim`); do not edit by hand.",
        f"The traces took {seconds / 60:.1f} CPU minutes on this project's 2-core machine,",
        "shared with other helpers' work (CPU time, not wall time).",
    ]


def report(
    studies: list[Study],
    scale_lines: list[str],
    seconds: float,
    out: Path,
    missing: list[str] | None = None,
    older: list[str] | None = None,
    older_what: str = OLDER,
    note: str = "",
    stem: str = "sim",
    kept: bool = False,
) -> None:
    """Write ``<stem>.md`` and ``<stem>.json`` under ``out``.

    ``missing``: traces not finished; ``older``: traces whose sweep is an earlier run's,
    which ``older_what`` describes; ``note``: Markdown paragraphs on where the runs come
    from (put under the head as they are); ``kept``: the report is written from kept
    runs (``--report-only``), not from the replays of this run.
    """
    missing = missing or []
    named = [s for s in studies if not s.name.startswith("generated-")]
    generated = [s for s in studies if s.name.startswith("generated-")]
    text = [
        "# Placement policies in the simulator",
        "",
        *_origin(seconds, kept),
        "Forecasts updated every step,",
        "refitted once a day; one day of warm-up not measured when the trace spans two;",
        "latency local 0.1 ms, same zone 0.5 ms, cross zone 2 ms, no replica 50 ms.",
        "See [../placement.md](../placement.md) for the policies, the sweeps, how frontiers",
        "are compared and what the bounds are.",
        "",
        *_partial_note(studies, missing, older or [], older_what),
        *([note.strip(), ""] if note.strip() else []),
        "## Runs at default settings, with the bounds at their replica-hours",
        "",
        *_defaults_table(named),
        "",
        "## Frontiers: predictive against each rival, at every replica-hour budget",
        "",
        "`yes`: predictive's frontier is at or above the rival's at every budget (strict) and",
        f"within the stated margin ({100 * MARGIN_HITS:g} points of local hits,"
        f" {100 * MARGIN_LATENCY:g} % of mean latency);",
        "`no (n)`: at n budgets it is not, with the worst shortfall. Bytes: at every run of the",
        "rival's sweep (its own tuned frontier: its mixes follow), the fewest bytes a mix of",
        "predictive's runs moves within that run's replica-hours at its mean latency and local",
        "hits or better (strict), or within the margins; `not served`: no mix of ours reaches",
        "that service in that budget, so our bytes are not compared there and the run counts",
        "against us. Fewer bytes is met against a rival only where no run of it is lost.",
        "Runs: how many runs each frontier is the best of (predictive's: its grid, the grid's",
        "hand-off twins and the refinement's runs; a rival's: its sweep). More runs can only",
        "raise a frontier, so each verdict is given twice: from all runs, and at equal count",
        "(predictive's first runs in an order fixed in advance, no more than the rival's).",
        "",
        *_runs_summary(studies),
        *_verdict_summary(studies),
        *_checks_table(named),
        "",
        "Default prices: predictive@1's replica-hours over reactive's default's (**>1**:"
        " above it by more than the hand-off margin, 0.01 %):",
        "",
        "| trace | " + " | ".join(s.name for s in named) + " |",
        "|---|" + "---:|" * len(named),
        "| ratio | " + " | ".join(_default_hours(s) for s in named) + " |",
        "",
        *[f"![{s.name}](sim-frontier-{s.name}.png)" for s in named if s.checks],
    ]
    pictures = {
        "follow-the-sun": "![follow-the-sun: demand, forecast band, placement](sim.png)",
        "twitter-nab": "![NAB Twitter trace, last three days](sim-twitter.png)",
    }
    for s in named:
        if s.name in pictures:
            text += ["", pictures[s.name]]
    if generated:
        text += [
            "",
            f"## {len(generated)} generated scenarios",
            "",
            *_generated_summary(generated, older or []),
            "| scenario | shape | "
            + " | ".join(f"vs {r}: hits / latency / bytes" for r in RIVALS)
            + " | equal count vs "
            + " / ".join(RIVALS)
            + " | default rh / reactive's | runs: predictive / "
            + " / ".join(RIVALS)
            + " |",
            "|---|---|" + "---|" * len(RIVALS) + "---|---:|---:|",
        ]
        for s in generated:
            cells = [
                " · ".join(_check_cells(s.checks[r])) if r in s.checks else "-" for r in RIVALS
            ]
            name = f"{s.name} (earlier run)" if s.name in (older or []) else s.name
            runs = " / ".join(str(_runs(s, f)) for f in ("predictive", *RIVALS))
            equal = " ; ".join(_equal_cell(s.checks[r]) if r in s.checks else "-" for r in RIVALS)
            text.append(
                f"| {name} | {s.shape} | "
                + " | ".join(cells)
                + f" | {equal} | {_default_hours(s)} | {runs} |"
            )
    if scale_lines:
        text += [
            "",
            "## Replay speed",
            "",
            "| trace | policy | CPU time |",
            "|---|---|---|",
            *scale_lines,
        ]
    (out / f"{stem}.md").write_text("\n".join(text) + "\n")
    raw = {
        s.name: {
            "shape": s.shape,
            "seconds": round(s.seconds, 1),
            "runs": [asdict(p) for p in s.points],
            "bounds_at_defaults": s.bounds,
            "checks": s.checks,
            "sweep": "earlier run" if s.name in (older or []) else "this run",
        }
        for s in studies
    }
    (out / f"{stem}.json").write_text(json.dumps(raw, indent=1) + "\n")
    print("\n".join(text))
