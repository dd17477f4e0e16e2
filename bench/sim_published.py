"""The published placement tables, rebuilt as ``bench.sim --partial`` studies and extended.

The tables (``docs/bench/sim.json`` for the 58 rows and NAB Twitter, ``sim-heldout.json``
for generated-140..149, ``sim-fresh.json`` for generated-100..109) were spliced from many
sessions' runs. This turns a published report back into the studies ``bench.sim`` keeps
(one ``DIR/<row>.json`` each) and its note (``DIR/note.md``), so ``bench.sim
--report-only`` regenerates the report, and adds runs to them without replacing any.
Run from the repository root::

    .venv/bin/python -m bench.sim_published rebuild docs/bench/sim-fresh.json DIR
    .venv/bin/python -m bench.sim_published missing DIR [--only generated-100,...]
    .venv/bin/python -m bench.sim_published verify DIR --only generated-100 [--per-family 2]
    .venv/bin/python -m bench.sim_published fill DIR --only ROWS --out RUNS.jsonl
        [--families copies_at_count,reactive]
    .venv/bin/python -m bench.sim_published splice DIR RUNS.jsonl [...]
    .venv/bin/python -m bench.sim_published verdicts docs/bench/sim-fresh.json NEW.json
    .venv/bin/python -m bench.sim_published summary docs/bench/sim.json [...]
    .venv/bin/python -m bench.sim --partial DIR --report-only --note DIR/note.md \\
        --generated 110 --only generated-100,...,generated-109 --out-name sim-fresh

``missing``: the labels today's sweep (:func:`statecast.sim.sweeps.variants`) makes on a
row that its study lacks. ``fill``: replays only those (every family; never the
refinement, never an existing run) at the study's warm retention, one line a finished
run appended to RUNS.jsonl (resumable: labels already there are not replayed).
``splice``: adds RUNS.jsonl's runs (the exchange format: a Point's fields and ``trace``)
whose labels today's sweep makes on their row and the study lacks, and says why each
other line is skipped; checks recomputed. ``verify``: replays a few existing runs and
says whether they are bit-equal (the code that fills must reproduce the published runs).
``--families`` (``missing`` and ``fill``): only the labels of those families, each a
variant's family (``reactive``, ``predictive``, ...) or a group of predictive's settings
named in :mod:`statecast.sim.sweeps` (``copies_at_count``, ``windowed``, ``BYTES_DEAR``,
...: a function of the trace, a tuple of settings or one setting); default all.
"""

from __future__ import annotations

import argparse
import inspect
import json
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from bench.sim import RIVALS, Study, _checks, _config, _save, trace_of
from bench.sim_report import OLDER_HEAD, PARTIAL_HEAD
from statecast.sim import sweeps
from statecast.sim.frontier import Point
from statecast.sim.planned import ForecastCache
from statecast.sim.sweeps import Setting, Variant, run_sweep, variants
from statecast.sim.trace import Trace

#: The published tables charge every copy in full (SimConfig.warm_retention_s = 0).
PUBLISHED_RETENTION = 0.0
NOTE = "note.md"
#: The report's fixed head ends with this line; the note follows, up to the first section.
_HEAD_END = "are compared and what the bounds are."
_FIRST_SECTION = "## "
_POINT_FIELDS = tuple(f.name for f in fields(Point))


# -- rebuild ---------------------------------------------------------------------------


def study_of(row: str, raw: dict[str, Any], warm_retention_s: float) -> Study:
    """One row of a published report as the study ``bench.sim --partial`` keeps."""
    return Study(
        name=row,
        shape=raw["shape"],
        points=[Point(**p) for p in raw["runs"]],
        bounds=raw["bounds_at_defaults"],
        checks=raw["checks"],
        seconds=raw["seconds"],
        warm_retention_s=warm_retention_s,
    )


def full_copies(study: Study) -> bool:
    """Whether every run's bytes are its full copies' (where the run records both)."""
    return all(
        p.bytes_full_copies is None or p.bytes_full_copies == p.bytes_moved for p in study.points
    )


def note_of(markdown: str) -> str:
    """The paragraphs a report's head holds between its fixed text and its first section,
    but those the report writes itself (what a partial run holds): reported again, the
    note would repeat them."""
    lines = markdown.splitlines()
    start = next(i for i, line in enumerate(lines) if line == _HEAD_END) + 1
    end = next(i for i in range(start, len(lines)) if lines[i].startswith(_FIRST_SECTION))
    paragraphs = "\n".join(lines[start:end]).strip().split("\n\n")
    kept = [p for p in paragraphs if not p.startswith((OLDER_HEAD, PARTIAL_HEAD))]
    return "\n\n".join(kept).strip() + "\n"


def rebuild(report: Path, directory: Path, warm_retention_s: float) -> list[str]:
    """Write ``report``'s rows as studies and its note (``NOTE``) into ``directory``.

    The note is read from the Markdown beside the JSON (same name). At warm retention
    0 every run that records its full copies' bytes must have moved exactly those.
    """
    directory.mkdir(parents=True, exist_ok=True)
    rows = json.loads(report.read_text())
    for row, raw in rows.items():
        study = study_of(row, raw, warm_retention_s)
        if warm_retention_s == 0.0 and not full_copies(study):
            raise SystemExit(f"{row}: a run's bytes are not its full copies'; not retention 0")
        _save(study, directory)
    (directory / NOTE).write_text(note_of(report.with_suffix(".md").read_text()))
    return list(rows)


# -- missing ---------------------------------------------------------------------------


def load(directory: Path, row: str) -> Study:
    """The study kept for ``row`` in ``directory``."""
    raw = json.loads((directory / f"{row}.json").read_text())
    raw["points"] = [Point(**p) for p in raw["points"]]
    return Study(**raw)


def rows_in(directory: Path, only: str | None) -> list[str]:
    """``only``'s rows (comma-separated, in that order), else every study in ``directory``."""
    if only:
        return only.split(",")
    return sorted(p.stem for p in directory.glob("*.json"))


def lacking(chosen: Iterable[Variant], study: Study) -> list[Variant]:
    """The variants of ``chosen`` whose labels ``study`` has no run of."""
    have = {p.label for p in study.points}
    return [v for v in chosen if v.label not in have]


def group_labels(trace: Trace, name: str) -> set[str] | None:
    """The labels of the predictive settings ``name`` names in :mod:`statecast.sim.sweeps`
    on ``trace``: a public function of the trace alone (``copies_at_count``), a tuple of
    settings (``BYTES_DEAR``) or one setting (``DEFAULT``), or a name in
    :data:`~statecast.sim.sweeps.FAMILIES` (``copies-at-count``); None: no such group."""
    if name in dict(sweeps.FAMILIES):
        return {s.label for s in sweeps.family_settings(trace, [name])}
    found = None if name.startswith("_") else getattr(sweeps, name, None)
    if inspect.isfunction(found) and found.__module__ == sweeps.__name__:
        found = found(trace) if len(inspect.signature(found).parameters) == 1 else None
    if isinstance(found, Setting):
        found = (found,)
    if not isinstance(found, tuple) or not all(isinstance(s, Setting) for s in found):
        return None
    return {s.label for s in found}


def of_families(
    trace: Trace, chosen: list[Variant], families: Sequence[str] | None
) -> list[Variant]:
    """``chosen``'s variants of ``families`` (all when None), in order: each a variant's
    family or a group of predictive's settings (:func:`group_labels`)."""
    if families is None:
        return chosen
    kinds = dict.fromkeys(v.family for v in chosen)
    labels: set[str] = set()
    for name in families:
        group = set() if name in kinds else group_labels(trace, name)
        if group is None:
            raise SystemExit(
                f"{name!r}: neither a family of the sweep ({', '.join(kinds)}) nor a group"
                " of predictive's settings in statecast.sim.sweeps (copies_at_count, ...)"
            )
        labels |= group
    return [
        v
        for v in chosen
        if v.family in families or (v.family == "predictive" and v.label in labels)
    ]


@dataclass
class Lack:
    """What one row's study lacks of today's sweep."""

    row: str
    runs: int
    seconds: float
    by_family: dict[str, list[str]] = field(default_factory=dict)
    #: Runs of the study that today's sweep does not name (refinement runs, old labels).
    unnamed: int = 0
    #: CPU seconds of a few lacking runs replayed (the first with the row's forecasts).
    sample_s: list[float] = field(default_factory=list)

    @property
    def count(self) -> int:
        """How many runs are lacking."""
        return sum(len(labels) for labels in self.by_family.values())

    @property
    def estimate_s(self) -> float:
        """CPU seconds to replay what is lacking: from the sample where one was taken (the
        first run pays the forecasts once), else at the study's published seconds a run
        (rough: those are often one session's replays of a few runs only)."""
        if not self.sample_s:
            return self.seconds / max(self.runs, 1) * self.count
        first, rest = self.sample_s[0], self.sample_s[1:] or self.sample_s
        return first + (self.count - 1) * sum(rest) / len(rest)


def lack_of(
    directory: Path, row: str, sample: int = 0, families: Sequence[str] | None = None
) -> Lack:
    """What ``row``'s study in ``directory`` lacks of today's sweep, by family.

    ``sample``: replay that many of the lacking runs (spread over each family) and time
    them, for the estimate; their results are dropped. ``families``: of those alone
    (:func:`of_families`; all when None).
    """
    study = load(directory, row)
    trace = trace_of(row)
    chosen = variants(trace, cache=ForecastCache())
    named = {v.label for v in chosen}
    found = Lack(row, len(study.points), study.seconds)
    found.unnamed = sum(1 for p in study.points if p.label not in named)
    todo = lacking(of_families(trace, chosen, families), study)
    for v in todo:
        found.by_family.setdefault(v.family, []).append(v.label)
    config = _config(trace, study.warm_retention_s)
    for variant in spread(todo, sample) if sample else ():
        started = time.process_time()
        run_sweep(trace, config, [variant])
        found.sample_s.append(time.process_time() - started)
    return found


def print_lacks(lacks: list[Lack], labels: bool) -> None:
    """One line a row, then the totals by family."""
    total: Counter[str] = Counter()
    for lack in lacks:
        counts = {f: len(ls) for f, ls in lack.by_family.items()}
        total.update(counts)
        print(
            f"{lack.row:16s} has {lack.runs:4d} runs ({lack.unnamed} unnamed by the sweep),"
            f" lacks {lack.count:4d} {counts} ~{lack.estimate_s / 60:.1f} CPU min",
            flush=True,
        )
        for family, names in lack.by_family.items() if labels else ():
            print("\n".join(f"    {family}: {name}" for name in names))
    minutes = sum(lack.estimate_s for lack in lacks) / 60
    print(f"total: {sum(total.values())} runs lacking over {len(lacks)} rows {dict(total)}")
    sampled = sum(1 for lack in lacks if lack.sample_s)
    print(f"estimate ({sampled} rows sampled, the rest at published s/run): {minutes:.0f} CPU min")


# -- splice ----------------------------------------------------------------------------


@dataclass
class Spliced:
    """What a splice did: runs added by row, lines skipped with the reason."""

    added: Counter[str] = field(default_factory=Counter)
    skipped: list[tuple[str, str, str]] = field(default_factory=list)
    cpu_s: float = 0.0


def read_runs(paths: Iterable[Path]) -> Iterator[dict[str, Any]]:
    """Every line of the JSON Lines files, in order (blank lines left out)."""
    for path in paths:
        for line in path.read_text().splitlines():
            if line.strip():
                yield json.loads(line)


def _reason(
    run: dict[str, Any], families: dict[str, str], have: dict[str, Point], study: Study
) -> str | None:
    """Why ``run`` cannot join ``study`` (None: it can)."""
    label = run.get("label")
    if any(key not in run for key in _POINT_FIELDS if key != "bytes_full_copies"):
        return "not a run (a Point's fields missing)"
    if label not in families:
        return "not a label today's sweep makes on this row (refinement runs never are)"
    if run["family"] != families[label]:
        return f"family {run['family']!r}, the sweep's is {families[label]!r}"
    if label in have:
        equal = same(point_of(run), have[label])
        return "already in the study" + (" (equal)" if equal else " (DIFFERENT values)")
    full = run.get("bytes_full_copies")
    if study.warm_retention_s == 0.0 and full is not None and full != run["bytes_moved"]:
        return "bytes not its full copies' (the study charges every copy in full)"
    return None


def same(run: Point, published: Point) -> bool:
    """Whether a replay is bit-equal to a published run (whose full copies' bytes are
    not recorded, None, when it was saved before session 11)."""
    if published.bytes_full_copies is None:
        run = replace(run, bytes_full_copies=None)
    return run == published


def point_of(run: dict[str, Any]) -> Point:
    """The Point a run line holds."""
    return Point(**{key: run[key] for key in _POINT_FIELDS if key in run})


def splice_row(directory: Path, row: str, runs: list[dict[str, Any]], done: Spliced) -> None:
    """Add ``runs`` (all of ``row``) to its study where they may join; checks recomputed."""
    if not (directory / f"{row}.json").exists():
        done.skipped += [(row, str(r.get("label")), "no study of this row") for r in runs]
        return
    study = load(directory, row)
    chosen = variants(trace_of(row), cache=ForecastCache())
    families = {v.label: v.family for v in chosen}
    order = {v.label: i for i, v in enumerate(chosen)}
    have = {p.label: p for p in study.points}
    new: list[Point] = []
    for run in runs:
        reason = _reason(run, families, have, study)
        if reason is not None:
            done.skipped.append((row, str(run.get("label")), reason))
            continue
        point = point_of(run)
        have[point.label] = point
        new.append(point)
        done.cpu_s += float(run.get("cpu_s", 0.0))
    if new:
        study.points += sorted(new, key=lambda p: order[p.label])
        study.checks = _checks(study.points) if study.checks else {}
        _save(study, directory)
        done.added[row] += len(new)


def splice(directory: Path, paths: Iterable[Path]) -> Spliced:
    """Add the runs of ``paths`` to the studies in ``directory`` (none replaced)."""
    by_row: dict[str, list[dict[str, Any]]] = {}
    for run in read_runs(paths):
        by_row.setdefault(str(run.get("trace")), []).append(run)
    done = Spliced()
    for row, runs in by_row.items():
        splice_row(directory, row, runs, done)
    return done


def print_spliced(done: Spliced) -> None:
    """Runs added by row, then every skipped line with its reason."""
    for row, count in done.added.items():
        print(f"{row:16s} +{count} runs")
    reasons = Counter(reason for _, _, reason in done.skipped)
    print(f"added {sum(done.added.values())} runs to {len(done.added)} studies", end="")
    print(f" ({done.cpu_s / 60:.1f} CPU min where the lines say); skipped {len(done.skipped)}")
    for reason, count in reasons.items():
        print(f"  {count} skipped: {reason}")
    for row, label, reason in done.skipped:
        print(f"    {row}: {label!r}: {reason}")


# -- fill and verify -------------------------------------------------------------------


def labels_in(out: Path) -> set[tuple[str, str]]:
    """The (row, label) pairs already in a runs file (none when there is no file)."""
    if not out.exists():
        return set()
    return {(str(r["trace"]), str(r["label"])) for r in read_runs([out])}


def _past(until: float | None) -> bool:
    return until is not None and time.time() >= until


def fill_row(
    directory: Path,
    row: str,
    out: Path,
    until: float | None = None,
    families: Sequence[str] | None = None,
) -> int:
    """Replay the labels ``row``'s study lacks, appending each run to ``out``; how many.

    At the study's warm retention; labels already in ``out`` are not replayed; stops
    before a run once the clock passes ``until`` (seconds since the epoch); only the
    labels of ``families`` (:func:`of_families`; all when None).
    """
    study = load(directory, row)
    trace = trace_of(row)
    config = _config(trace, study.warm_retention_s)
    cache = ForecastCache()
    done = {label for r, label in labels_in(out) if r == row}
    chosen = of_families(trace, variants(trace, cache=cache), families)
    todo = [v for v in lacking(chosen, study) if v.label not in done]
    ran, cpu = 0, time.process_time()
    for variant in todo:
        if _past(until):
            break
        started = time.process_time()
        point = run_sweep(trace, config, [variant])[0]
        line = {"trace": row, **asdict(point), "cpu_s": time.process_time() - started}
        with out.open("a") as sink:
            sink.write(json.dumps(line) + "\n")
        ran += 1
    cpu = time.process_time() - cpu
    print(f"{row:16s} +{ran} runs ({len(todo) - ran} left) {cpu:.0f} CPU s", flush=True)
    return ran


def spread(chosen: list[Variant], per_family: int) -> list[Variant]:
    """Up to ``per_family`` variants of each family, spread evenly over its list (its
    first and last among them), in ``chosen``'s order."""
    picked: set[int] = set()
    for family in dict.fromkeys(v.family for v in chosen):
        index = [i for i, v in enumerate(chosen) if v.family == family]
        step = (len(index) - 1) / max(per_family - 1, 1)
        picked |= {index[round(k * step)] for k in range(min(per_family, len(index)))}
    return [chosen[i] for i in sorted(picked)]


def verify_row(directory: Path, row: str, per_family: int) -> list[str]:
    """Replay the first ``per_family`` runs of each family the study and today's sweep
    share; the labels whose replay is not bit-equal to the study's run (with both)."""
    study = load(directory, row)
    trace = trace_of(row)
    cache = ForecastCache()
    have = {p.label: p for p in study.points}
    chosen = [v for v in variants(trace, cache=cache) if v.label in have]
    picked = spread(chosen, per_family)
    config = _config(trace, study.warm_retention_s)
    started = time.process_time()
    replayed = run_sweep(trace, config, picked)
    cpu = time.process_time() - started
    unequal = [f"{p} != {have[p.label]}" for p in replayed if not same(p, have[p.label])]
    print(
        f"{row:16s} {len(replayed)} replayed, {len(unequal)} not bit-equal ({cpu:.0f} CPU s)",
        flush=True,
    )
    return unequal


def _families(names: str | None) -> list[str] | None:
    """``--families``' names (None: all)."""
    return None if names is None else names.split(",")


def _until(clock: str | None) -> float | None:
    """``HH:MM`` today (machine time) in seconds since the epoch."""
    if clock is None:
        return None
    hours, minutes = (int(x) for x in clock.split(":"))
    now = time.localtime()
    return time.mktime((*now[:3], hours, minutes, 0, 0, 0, -1))


# -- verdicts ---------------------------------------------------------------------------

_TESTS = tuple(
    (metric, kind)
    for metric in ("local_hit_ratio", "mean_latency_ms", "bytes_moved")
    for kind in ("strict", "within_margin")
)


def holds(
    row: dict[str, Any], rival: str, test: tuple[str, str], equal: bool = False
) -> bool | None:
    """Whether predictive's frontier holds on one test of a report row (None: no check);
    ``equal``: its frontier at equal count (the check's ``equal_count``)."""
    check = row["checks"].get(rival)
    if check is not None and equal:
        check = check.get("equal_count")
    return None if check is None else not check[test[0]][test[1]]


def verdict_changes(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Per rival and test, from all runs and at equal count, the rows held before ->
    after, and every row whose verdict moved."""
    rows = [r for r in before if r in after]
    lines, moved = [], []
    for equal, rival, test in ((e, r, t) for e in (False, True) for r in RIVALS for t in _TESTS):
        then = [r for r in rows if holds(before[r], rival, test, equal)]
        now = [r for r in rows if holds(after[r], rival, test, equal)]
        counted = sum(1 for r in rows if holds(after[r], rival, test, equal) is not None)
        what = f"vs {rival} {'/'.join(test)}{' at equal count' if equal else ''}"
        lines.append(f"{what:60s} {len(then)} -> {len(now)} of {counted}")
        moved += [f"  {r}: {what}: lost -> held" for r in now if r not in then]
        moved += [f"  {r}: {what}: held -> LOST" for r in then if r not in now]
    return lines + moved


def _held(
    rows: list[dict[str, Any]], rival: str, tests: list[tuple[str, str]], equal: bool = False
) -> int:
    """How many rows hold every one of ``tests`` against ``rival``."""
    return sum(all(holds(row, rival, t, equal) for t in tests) for row in rows)


def summary(report: dict[str, Any]) -> list[str]:
    """The table of record's counts, per rival: rows where predictive's frontier holds
    both service tests (local hits and mean latency) strictly, both within the margins,
    bytes within the margins, bytes strictly; and both service tests within the margins
    at equal count. Of the rows with a check against that rival."""
    hits, latency = "local_hit_ratio", "mean_latency_ms"
    lines = []
    for rival in RIVALS:
        rows = [row for row in report.values() if holds(row, rival, (hits, "strict")) is not None]
        both = [_held(rows, rival, [(hits, k), (latency, k)]) for k in ("strict", "within_margin")]
        moved = [_held(rows, rival, [("bytes_moved", k)]) for k in ("within_margin", "strict")]
        equal = _held(rows, rival, [(hits, "within_margin"), (latency, "within_margin")], True)
        lines.append(
            f"{rival:20s} {'/'.join(map(str, both + moved))} of {len(rows)}"
            f" (both strict / both within / bytes within / bytes strict);"
            f" equal count both within {equal}"
        )
    return lines


# -- command line ----------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    one = sub.add_parser("rebuild", help="a published report as --partial studies and a note")
    one.add_argument("report", type=Path, help="docs/bench/sim.json, sim-heldout.json, ...")
    one.add_argument("directory", type=Path)
    one.add_argument("--warm-retention", type=float, default=PUBLISHED_RETENTION)
    for name, what in (
        ("missing", "the labels today's sweep makes that each study lacks"),
        ("verify", "replay existing runs: are they bit-equal?"),
        ("fill", "replay the lacking labels into a JSON Lines file"),
    ):
        cmd = sub.add_parser(name, help=what)
        cmd.add_argument("directory", type=Path)
        cmd.add_argument("--only", help="comma-separated rows, in this order (default: all)")
        if name != "verify":
            cmd.add_argument(
                "--families",
                help="comma-separated: a variant's family (reactive, predictive, ...) or a"
                " group of predictive's settings in statecast.sim.sweeps (copies_at_count,"
                " windowed, BYTES_DEAR, ...); only their labels (default: all)",
            )
    sub.choices["missing"].add_argument("--labels", action="store_true", help="list them")
    sub.choices["missing"].add_argument(
        "--sample", type=int, default=0, help="replay N lacking runs a family a row, timed"
    )
    sub.choices["verify"].add_argument("--per-family", type=int, default=2)
    sub.choices["fill"].add_argument("--out", type=Path, required=True)
    sub.choices["fill"].add_argument("--until", help="HH:MM: start no run after it")
    cmd = sub.add_parser("verdicts", help="how two reports' verdicts differ, row by row")
    cmd.add_argument("before", type=Path)
    cmd.add_argument("after", type=Path)
    cmd = sub.add_parser("summary", help="the table of record's counts, per rival")
    cmd.add_argument("reports", type=Path, nargs="+")
    cmd = sub.add_parser("splice", help="add runs (JSON Lines) to the studies")
    cmd.add_argument("directory", type=Path)
    cmd.add_argument("runs", type=Path, nargs="+")
    return parser


def main() -> None:
    args = _parser().parse_args()
    if args.command == "rebuild":
        rows = rebuild(args.report, args.directory, args.warm_retention)
        print(f"{len(rows)} studies and {NOTE} in {args.directory}")
    elif args.command == "missing":
        rows = rows_in(args.directory, args.only)
        families = _families(args.families)
        lacks = [lack_of(args.directory, row, args.sample, families) for row in rows]
        print_lacks(lacks, args.labels)
    elif args.command == "verify":
        rows = rows_in(args.directory, args.only)
        unequal = [u for row in rows for u in verify_row(args.directory, row, args.per_family)]
        print("\n".join(unequal) or "every run replayed bit-equal")
        raise SystemExit(1 if unequal else 0)
    elif args.command == "fill":
        until, families = _until(args.until), _families(args.families)
        for row in rows_in(args.directory, args.only):
            fill_row(args.directory, row, args.out, until, families)
    elif args.command == "verdicts":
        before, after = (json.loads(p.read_text()) for p in (args.before, args.after))
        print("\n".join(verdict_changes(before, after)))
    elif args.command == "summary":
        for path in args.reports:
            print(path.name, *summary(json.loads(path.read_text())), sep="\n  ")
    else:
        print_spliced(splice(args.directory, args.runs))


if __name__ == "__main__":
    main()
