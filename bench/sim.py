"""Placement benchmark: every policy family swept, compared as frontiers, beside the bounds.

Run from the repository root::

    .venv/bin/python -m bench.sim                 # everything; writes docs/bench/sim*.{md,json,png}
    .venv/bin/python -m bench.sim --quick         # two scenarios, 6 generated, no scale section
    .venv/bin/python -m bench.sim --jobs 1        # one process (default: 2)
    .venv/bin/python -m bench.sim --partial DIR   # keep each finished trace in DIR, resume
    .venv/bin/python -m bench.sim --partial NEW --reuse OLD --rerun predictive
                                                  # replay one family, keep the others' runs
    .venv/bin/python -m bench.sim --partial NEW --reuse OLD --rerun none \
        --keep predictive,perfect-forecast        # only the settings the rivals gained

Times are CPU seconds of the process that ran the work (the machine is shared: wall
time would measure the neighbours).

Sections, all from one run:

1. the built-in scenarios and the NAB Twitter trace (ten series as ten nodes in three
   zones, through the command's CSV loader): every family at every setting of its
   sweep (:mod:`statecast.sim.sweeps`), the runs at default settings with the bounds
   at their replica-hours, and predictive's frontier against each rival's
   (:mod:`statecast.sim.frontier`), with a PNG of the frontiers per trace;
2. 50 generated scenarios (:mod:`statecast.sim.generator`), the same comparisons;
3. replay speed: a week of 100 nodes x 100 resources, every family at its default, and
   predictive end to end (forecasts and plans).
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import re
import signal
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from statecast.core.warm import WARM_RETENTION_S
from statecast.sim import SimConfig, Trace, replay
from statecast.sim.bounds import HitBound
from statecast.sim.frontier import Point, bytes_losses, frontier, losses
from statecast.sim.generator import random_shape, scenario_of
from statecast.sim.latency_bound import LatencyBound, tractable
from statecast.sim.loaders import load_trace
from statecast.sim.planned import ForecastCache, Predictive
from statecast.sim.plot import plot, plot_frontiers
from statecast.sim.refine import refine
from statecast.sim.registry import make_policy
from statecast.sim.scenarios import SCENARIOS, scenario
from statecast.sim.sweeps import DEFAULT, PREDICTIVE, Variant, run_sweep, variants

OUT = Path("docs/bench")
TRACES = Path("/work/shared/data/traces/nab")
TWITTER = ("AAPL", "AMZN", "CRM", "CVS", "FB", "GOOG", "IBM", "KO", "PFE", "UPS")
RIVALS = ("reactive", "follow-the-workload", "groupcache", "static")
#: The runs at default settings, by family.
DEFAULTS = {
    family: family
    for family in (
        "static",
        "full",
        "reactive",
        "follow-the-workload",
        "groupcache",
        "predictive",
        "perfect-forecast",
    )
}
#: Stated margins of the comparisons: local hits in points, latency and bytes relative.
MARGIN_HITS = 0.02
MARGIN_LATENCY = 0.03
MARGIN_BYTES = 0.0
GENERATED = 50
#: Predictive runs added where a rival comes closest (statecast.sim.refine): two of each
#: kind bisected at a latency gap.
REFINE_RUNS = 10


@dataclass
class Study:
    """Everything one trace contributes to the report."""

    name: str
    shape: str
    points: list[Point]
    bounds: dict[str, dict[str, float]] = field(default_factory=dict)
    checks: dict[str, dict[str, Any]] = field(default_factory=dict)
    seconds: float = 0.0
    #: The replays' warm retention (SimConfig.warm_retention_s); studies saved before
    #: session 11 have none: they charged every copy in full (0).
    warm_retention_s: float = 0.0


def twitter_trace(workdir: Path) -> Trace:
    """The ten Twitter series as ten nodes in three zones, through the CSV loader."""
    frames = []
    for i, name in enumerate(TWITTER):
        frame = pd.read_csv(TRACES / f"Twitter_volume_{name}.csv")
        frame["node"] = f"node-{name.lower()}"
        frame["zone"] = ("zone-a", "zone-b", "zone-c")[i % 3]
        frames.append(frame)
    data = pd.concat(frames)
    trace_csv, nodes_csv, res_csv = (workdir / n for n in ("trace.csv", "nodes.csv", "res.csv"))
    pd.DataFrame(
        {
            "timestamp": data["timestamp"],
            "resource": "tweets",
            "node": data["node"],
            "accesses": data["value"],
        }
    ).to_csv(trace_csv, index=False)
    data[["node", "zone"]].drop_duplicates().to_csv(nodes_csv, index=False)
    # A small lookup table: 16 MiB, 10 writes a minute (chosen once, not tuned).
    res_csv.write_text("resource,bytes,writes_per_min\ntweets,16Mi,10\n")
    return load_trace(trace_csv, nodes_csv, res_csv, name="twitter-nab")


def trace_of(row: str) -> Trace:
    """The trace of a row: ``generated-NN``, ``twitter-nab`` or a built-in scenario."""
    found = re.fullmatch(r"generated-(\d+)", row)
    if found:
        return scenario_of(int(found.group(1)))
    if row == "twitter-nab":
        with tempfile.TemporaryDirectory() as tmp:
            return twitter_trace(Path(tmp))
    return scenario(row)


def scale_trace(nodes: int, resources: int, steps: int, seed: int = 7) -> Trace:
    """Many nodes and resources: daily cycles with per-zone phases and random weights."""
    rng = np.random.default_rng(seed)
    zones = tuple(f"zone-{i % 5}" for i in range(nodes))
    t = np.arange(steps) * 300.0 / 3600.0
    phase = np.array([int(z[-1]) * 4.8 for z in zones])
    shape = 0.2 + np.exp(-0.5 * (((t[None, :] - phase[:, None] + 12) % 24 - 12) / 3) ** 2)
    weight = rng.gamma(0.7, 1.0, size=(resources, nodes))
    scale = rng.lognormal(5.0, 1.0, size=resources)
    demand = rng.poisson(scale[:, None, None] * weight[:, :, None] * shape[None, :, :] / 5)
    return Trace(
        name=f"scale-{nodes}x{resources}",
        demand=demand.astype(np.float64),
        resources=tuple(f"res-{i:03d}" for i in range(resources)),
        nodes=tuple(f"node-{i:03d}" for i in range(nodes)),
        zones=zones,
        step_s=300.0,
        available=np.ones((nodes, steps), dtype=np.bool_),
        state_bytes=np.full(resources, 16.0 * 2**20),
        writes_per_min=np.full(resources, 10.0),
        min_replicas=np.full(resources, 2, dtype=np.int64),
        max_replicas=np.zeros(resources, dtype=np.int64),
    )


def _config(trace: Trace, warm_retention_s: float = WARM_RETENTION_S) -> SimConfig:
    """One day of warm-up when the trace spans two or more, else none."""
    warmup = trace.period if trace.steps >= 2 * trace.period else 0
    return SimConfig(warmup_steps=warmup, warm_retention_s=warm_retention_s)


def declared_order() -> tuple[str, ...]:
    """Predictive's runs in the order an equal-count verdict takes them, fixed in advance.

    The default run, then the grid (:data:`~statecast.sim.sweeps.PREDICTIVE`) in its
    order, then its hand-off twins in the same order (where a trace has them). Never the
    refinement's runs: they are placed where a rival came closest, chosen by outcome.
    """
    grid = tuple(PREDICTIVE)
    twins = tuple(replace(s, hand_off=True) for s in grid if not s.hand_off)
    return (DEFAULT.label, *(s.label for s in grid), *(s.label for s in twins))


def equal_count(ours: list[Point], runs: int) -> list[Point]:
    """The first ``runs`` of predictive's runs in :func:`declared_order` (those it has)."""
    rank = {label: i for i, label in enumerate(declared_order())}
    declared = sorted((p for p in ours if p.label in rank), key=lambda p: rank[p.label])
    return declared[:runs]


def _verdicts(ours: list[Point], theirs: list[Point]) -> dict[str, Any]:
    """Losses of ``ours`` against ``theirs`` per metric, strict and within the margins."""
    entry: dict[str, Any] = {}
    for metric, margin in (
        ("local_hit_ratio", MARGIN_HITS),
        ("mean_latency_ms", MARGIN_LATENCY),
    ):
        ours_f, theirs_f = frontier(ours, metric), frontier(theirs, metric)
        strict = losses(ours_f, theirs_f)
        entry[metric] = {
            "strict": [asdict(loss) for loss in strict],
            "within_margin": [asdict(loss) for loss in losses(ours_f, theirs_f, margin)],
        }
    entry["bytes_moved"] = {
        "strict": [asdict(loss) for loss in bytes_losses(ours, theirs, margin=MARGIN_BYTES)],
        "within_margin": [
            asdict(loss)
            for loss in bytes_losses(ours, theirs, MARGIN_HITS, MARGIN_LATENCY, MARGIN_BYTES)
        ],
    }
    return entry


def _checks(points: list[Point]) -> dict[str, dict[str, Any]]:
    """Predictive's frontier against each rival's: worst shortfall per metric, strict and
    within the stated margins; bytes at every rival run's service (strict, and within the
    hits and latency margins). Each rival's entry also holds ``equal_count``: the same
    verdicts with predictive's frontier built from no more runs than the rival's
    (:func:`equal_count`), and ``runs``, how many that is."""
    ours = [p for p in points if p.family == "predictive"]
    out: dict[str, dict[str, Any]] = {}
    for rival in RIVALS:
        theirs = [p for p in points if p.family == rival]
        if not theirs or not ours:
            continue
        entry = _verdicts(ours, theirs)
        subset = equal_count(ours, len(theirs))
        if subset:
            entry["equal_count"] = {"runs": len(subset), **_verdicts(subset, theirs)}
        out[rival] = entry
    return out


def _bounds(trace: Trace, config: SimConfig, points: list[Point]) -> dict[str, Any]:
    """The bounds at every default run's replica-hours, and as curves for the plot."""
    hits = HitBound(trace, config.warmup_steps)
    latency = LatencyBound(trace, config.latency, config.warmup_steps) if tractable(trace) else None
    grid = np.geomspace(hits.floor_hours, max(p.replica_hours for p in points), 40)
    out: dict[str, Any] = {
        "hit_curve": [(float(h), hits.ratio(float(h))) for h in grid],
        "latency_curve": [(float(h), latency.lower(float(h))) for h in grid] if latency else [],
        "at_defaults": {},
    }
    for family, label in DEFAULTS.items():
        run = next((p for p in points if p.label == label), None)
        if run is None:
            continue
        entry = {"bound_local_hit_ratio": hits.ratio(run.replica_hours)}
        if latency is not None:
            entry["bound_mean_latency_ms"] = latency.lower(run.replica_hours)
        out["at_defaults"][family] = entry
    return out


def reused_runs(
    chosen: list[Variant],
    kept: Study | None,
    rerun: frozenset[str],
    warm_retention_s: float = WARM_RETENTION_S,
) -> dict[int, Point]:
    """The kept runs of the families not re-run, by their index in ``chosen``.

    Runs are matched by label where a family's kept labels are distinct, predictive's
    always (a sweep that gained settings replays only those); older runs named every
    baseline run by its
    family: those are taken in order, and only while the family's number of runs is
    unchanged (else it is re-run). Every predictive refinement run is re-run (refined
    again), as is every run of a study replayed with another warm retention (its bytes
    are another count).
    """
    if kept is None or kept.warm_retention_s != warm_retention_s:
        return {}
    out: dict[int, Point] = {}
    for family in {v.family for v in chosen} - rerun:
        index = [i for i, v in enumerate(chosen) if v.family == family]
        runs = [p for p in kept.points if p.family == family]
        by_label = {p.label: p for p in runs}
        # Predictive's labels name its settings: a label twice (a refinement run that
        # landed on a grid setting) is the same run twice.
        if family == "predictive" or len(by_label) == len(runs):
            out.update({i: by_label[chosen[i].label] for i in index if chosen[i].label in by_label})
        elif len(runs) == len(index):
            out.update(
                {i: replace(p, label=chosen[i].label) for i, p in zip(index, runs, strict=True)}
            )
    return out


def kept_only(
    chosen: list[Variant], kept: Study | None, families: frozenset[str]
) -> tuple[list[Variant], list[Point]]:
    """``chosen`` without the settings of ``families`` that have no kept run, and those
    families' kept runs that no setting of ``chosen`` names (refinement runs).

    For a sweep of the other families only: ``families``' published runs stand as they
    are (none replayed, none added, none refined again).
    """
    if not families:
        return chosen, []
    runs = [] if kept is None else [p for p in kept.points if p.family in families]
    labels = {p.label for p in runs}
    named = {v.label for v in chosen}
    left = [v for v in chosen if v.family not in families or v.label in labels]
    return left, [p for p in runs if p.label not in named]


def study(
    job: tuple[str, int | None, bool],
    defaults_only: bool = False,
    reuse: Path | None = None,
    rerun: frozenset[str] = frozenset(),
    warm_retention_s: float = WARM_RETENTION_S,
    keep: frozenset[str] = frozenset(),
) -> Study:
    """Sweep every family over one trace (a worker's job): built-in name or generated seed.

    ``defaults_only``: each family at its default setting only (no sweep, no frontiers).
    ``reuse``: a directory of kept studies whose runs of the families not in ``rerun``
    are taken instead of replayed (same code, same settings); checks, refinement and
    bounds are computed afresh. ``warm_retention_s``: the replays' (see SimConfig).
    ``keep``: families whose kept runs stand as they are, refinement runs included
    (:func:`kept_only`; predictive among them: not refined again).
    """
    name, seed, plots = job
    started = time.process_time()
    trace = trace_of(_label(job))
    if seed is not None:
        shape = random_shape(np.random.default_rng([seed, 1]))
        described = (
            f"{shape.nodes} nodes/{shape.zones} zones, {shape.resources} res, "
            f"{shape.step_s / 60:g} min x {shape.days} d, conc {shape.concentration:.2g}, "
            f"{shape.moves} moves, {shape.bursts} bursts{', pods' if shape.pods else ''}"
            f"{', weekly' if shape.weekly else ''}{', churn' if shape.churn else ''}"
        )
    elif name == "twitter-nab":
        described = "NAB Twitter volumes, 10 nodes in 3 zones, 16 MiB"
    else:
        described = f"built-in, {trace.n_nodes} nodes, {trace.steps} steps of {trace.step_s:g} s"
    config = _config(trace, warm_retention_s)
    cache = ForecastCache()
    chosen = variants(trace, cache=cache)
    if defaults_only:
        chosen = [v for v in chosen if v.label in DEFAULTS.values()]
    saved = _saved(job, reuse)
    chosen, extra = kept_only(chosen, saved, keep)
    kept = reused_runs(chosen, saved, rerun, warm_retention_s)
    fresh = iter(run_sweep(trace, config, [v for i, v in enumerate(chosen) if i not in kept]))
    points = [kept[i] if i in kept else next(fresh) for i in range(len(chosen))] + extra
    settings = {v.label: v.setting for v in chosen if v.setting is not None}
    if not defaults_only and "predictive" not in keep:
        points = refine(trace, config, points, settings, cache, runs=REFINE_RUNS)
    result = Study(trace.name, described, points, warm_retention_s=warm_retention_s)
    result.checks = {} if defaults_only else _checks(points)
    bounds = _bounds(trace, config, points)
    result.bounds = bounds["at_defaults"]
    if plots and not defaults_only:
        plot_frontiers(
            trace.name,
            points,
            OUT / f"sim-frontier-{trace.name}.png",
            hit_bound=bounds["hit_curve"],
            latency_bound=bounds["latency_curve"],
            margins=(MARGIN_HITS, MARGIN_LATENCY),
        )
    result.seconds = time.process_time() - started
    print(f"  {trace.name:16s} {len(points)} runs {result.seconds:6.0f} CPU s", flush=True)
    return result


def timelines(names: list[str], out_dir: Path = OUT) -> None:
    """The placement-over-time pictures of follow-the-sun and the Twitter trace (if named)."""
    for name in names:
        if name == "twitter-nab":
            with tempfile.TemporaryDirectory() as tmp:
                trace = twitter_trace(Path(tmp))
        else:
            trace = scenario(name)
        config = _config(trace)
        results, band = [], None
        for policy_name in ("static", "reactive", "predictive", "perfect-forecast"):
            policy = make_policy(policy_name, trace.period)
            results.append(replay(trace, policy, config))
            if isinstance(policy, Predictive):
                band = policy.band
        start = config.warmup_steps if name != "twitter-nab" else trace.steps - 3 * trace.period
        out = out_dir / ("sim.png" if name == "follow-the-sun" else "sim-twitter.png")
        plot(trace, results, out, band=band, start=start)


def redraw(studies: list[Study], out_dir: Path) -> None:
    """The built-in scenarios' frontier PNGs drawn again from kept runs, as a run draws them.

    The runs are the studies' own (their replica-hours, local hits, latency and bytes, as
    charged at the study's warm retention); the bounds' curves are recomputed from the
    trace (:func:`_bounds`), as :func:`study` does. No placement run is replayed.
    """
    for s in studies:
        if not s.checks or s.name not in SCENARIOS:
            continue
        trace = trace_of(s.name)
        bounds = _bounds(trace, _config(trace, s.warm_retention_s), s.points)
        plot_frontiers(
            s.name,
            s.points,
            out_dir / f"sim-frontier-{s.name}.png",
            hit_bound=bounds["hit_curve"],
            latency_bound=bounds["latency_curve"],
            margins=(MARGIN_HITS, MARGIN_LATENCY),
        )
        print(f"  {s.name:16s} frontier PNG from {len(s.points)} kept runs", flush=True)


def speed() -> list[str]:
    """Replay CPU time of a week of 100 nodes x 100 resources, per family at its default."""
    week = scale_trace(100, 100, 7 * 288)
    config = SimConfig()
    lines = []
    for name in ("static", "full", "reactive", "follow-the-workload", "groupcache"):
        started = time.process_time()
        replay(week, make_policy(name), config)
        lines.append(f"| {week.name}, 7 days | {name} | {time.process_time() - started:.1f} s |")
        print(lines[-1], flush=True)
    policy = make_policy("predictive", week.period)
    started = time.process_time()
    replay(week, policy, config)
    wall = time.process_time() - started
    assert isinstance(policy, Predictive)
    fc = policy.forecast_seconds
    lines.append(
        f"| {week.name}, 7 days | predictive (refit daily, update every step)"
        f" | {wall:.0f} s: forecasts {fc:.0f} s ({policy.refits} refits),"
        f" plan() and replay {wall - fc:.0f} s ({(wall - fc) / week.steps:.3f} s a step) |"
    )
    print(lines[-1], flush=True)
    return lines


def _save(result: Study, partial: Path | None) -> Study:
    """Keep a finished trace's study in ``partial`` (if given)."""
    if partial is not None:
        raw = asdict(result)
        (partial / f"{result.name}.json").write_text(json.dumps(raw) + "\n")
    return result


def _saved(job: tuple[str, int | None, bool], partial: Path | None) -> Study | None:
    """A study kept by an earlier (interrupted) run, if any."""
    if partial is None:
        return None
    path = partial / f"{_label(job)}.json"
    if not path.exists():
        return None
    raw = json.loads(path.read_text())
    raw["points"] = [Point(**p) for p in raw["points"]]
    return Study(**raw)


def _label(job: tuple[str, int | None, bool]) -> str:
    name, seed, _ = job
    return name if seed is None else f"generated-{seed:02d}"


def _die_with(parent: int) -> None:
    """A worker's initializer: end with ``parent`` (a killed benchmark stops all its work).

    Linux delivers SIGTERM to the worker when the process that started it dies
    (``prctl(PR_SET_PDEATHSIG)``); a parent gone before that took effect ends it now.
    Elsewhere nothing changes (stop the process group instead).
    """
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
    except (AttributeError, OSError):
        return
    if os.getppid() != parent:
        os._exit(1)


def pool(workers: int) -> ProcessPoolExecutor:
    """The benchmark's worker processes, which end when this process does."""
    return ProcessPoolExecutor(max_workers=workers, initializer=_die_with, initargs=(os.getpid(),))


def run_all(
    jobs: list[tuple[str, int | None, bool]],
    workers: int,
    partial: Path | None = None,
    run: bool = True,
    defaults_only: bool = False,
    reuse: Path | None = None,
    rerun: frozenset[str] = frozenset(),
    warm_retention_s: float = WARM_RETENTION_S,
    keep: frozenset[str] = frozenset(),
) -> list[Study]:
    """Every job, in ``workers`` processes (results in job order); kept ones not re-run.

    With ``run`` False, only the studies kept in ``partial``; ``reuse``, ``rerun`` and
    ``keep``: see :func:`study`.
    """
    work = (defaults_only, reuse, rerun, warm_retention_s, keep)
    done = {i: s for i, job in enumerate(jobs) if (s := _saved(job, partial)) is not None}
    todo = [(i, job) for i, job in enumerate(jobs) if i not in done]
    if not run:
        pass
    elif workers <= 1:
        done.update({i: _save(study(job, *work), partial) for i, job in todo})
    else:
        with pool(workers) as executor:
            futures = {executor.submit(study, job, *work): i for i, job in todo}
            for future in as_completed(futures):
                done[futures[future]] = _save(future.result(), partial)
    return [done[i] for i in sorted(done)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a smaller run")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes")
    parser.add_argument("--generated", type=int, default=GENERATED)
    parser.add_argument("--partial", type=Path, help="keep finished traces here; resume")
    parser.add_argument("--no-speed", action="store_true", help="skip the replay-speed section")
    parser.add_argument(
        "--defaults-only",
        action="store_true",
        help="each family at its default only (no sweeps); use its own --partial DIR",
    )
    parser.add_argument(
        "--defaults",
        type=Path,
        help="with --report-only: a --defaults-only run's DIR for the traces not swept",
    )
    parser.add_argument(
        "--reuse",
        type=Path,
        help="a --partial DIR of an earlier run: its runs of the families not in --rerun"
        " are taken, not replayed",
    )
    parser.add_argument(
        "--rerun",
        default="predictive",
        help="with --reuse: the families to replay (comma-separated; default predictive)",
    )
    parser.add_argument(
        "--keep",
        default="",
        help="with --reuse: families whose kept runs stand as they are (none replayed or"
        " added; predictive: not refined again), e.g. --keep predictive,perfect-forecast"
        " --rerun none replays only the settings the rivals' sweeps gained",
    )
    parser.add_argument(
        "--older",
        type=Path,
        help="with --report-only: an earlier run's --partial DIR (same code, an older sweep"
        " grid) for the traces not finished in --partial; named as such in the report",
    )
    parser.add_argument(
        "--older-what",
        help="with --older: what that run was (code, grid), for the report's note",
    )
    parser.add_argument(
        "--note",
        type=Path,
        help="a Markdown file: where the runs come from, put under the report's head",
    )
    parser.add_argument(
        "--warm-retention",
        type=float,
        default=WARM_RETENTION_S,
        help="seconds a node keeps a removed copy warm: a copy back within it costs the"
        " writes it missed (default: the agent's, %(default)g; 0: every copy in full, the"
        " accounting before session 11)",
    )
    parser.add_argument(
        "--only",
        help="comma-separated trace names (e.g. weekly,generated-12): run and report only these",
    )
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="report the traces kept in --partial DIR (run nothing else; names the missing)",
    )
    parser.add_argument(
        "--plots",
        action="store_true",
        help="with --report-only: draw the built-in scenarios' frontier PNGs from the kept"
        " runs and the placement timelines (four default replays each) into --out-dir",
    )
    parser.add_argument(
        "--out-dir",
        type=Path,
        default=OUT,
        help="where the report (NAME.md, NAME.json) is written (default %(default)s; a"
        " run's PNGs stay in docs/bench, --report-only --plots writes them here)",
    )
    parser.add_argument(
        "--out-name",
        default="sim",
        help="the report's file names without suffix (default %(default)s; e.g. sim-heldout"
        " with --generated 150 --only generated-140,...)",
    )
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    if args.partial:
        args.partial.mkdir(parents=True, exist_ok=True)
    # The built-in scenarios first (the two first), then the generated ones, then
    # the longest trace (NAB Twitter): on a shared machine, what finishes first counts most.
    first = ["follow-the-sun", "concentrated"]
    rest = [] if args.quick else [n for n in SCENARIOS if n not in first]
    count = 6 if args.quick else args.generated
    jobs: list[tuple[str, int | None, bool]] = [(n, None, True) for n in [*first, *rest]]
    jobs += [(f"gen-{s}", s, False) for s in range(count)]
    jobs += [] if args.quick else [("twitter-nab", None, True)]
    if args.only:
        wanted = set(args.only.split(","))
        unknown = wanted - {_label(job) for job in jobs}
        if unknown:
            parser.error(f"--only: no such trace {', '.join(sorted(unknown))}")
        jobs = [job for job in jobs if _label(job) in wanted]
    if args.report_only and args.partial is None:
        parser.error("--report-only needs --partial DIR")
    print(f"{len(jobs)} traces", flush=True)
    studies = run_all(
        jobs,
        args.jobs,
        args.partial,
        run=not args.report_only,
        defaults_only=args.defaults_only,
        reuse=args.reuse,
        rerun=frozenset(args.rerun.split(",")),
        warm_retention_s=args.warm_retention,
        keep=frozenset(filter(None, args.keep.split(","))),
    )
    if args.report_only:  # the comparisons of the current code, whatever wrote the runs
        for s in studies:
            s.checks = _checks(s.points) if s.checks else {}
    if args.plots and not args.report_only:
        parser.error("--plots goes with --report-only (a run draws its own PNGs)")
    finished = {s.name for s in studies if s.checks}
    older: list[str] = []
    if args.older is not None:
        earlier = [
            s
            for s in run_all(jobs, 1, args.older, run=False)
            if s.name not in finished and s.checks
        ]
        for s in earlier:
            s.checks = _checks(s.points)
        older = [s.name for s in earlier]
        studies = [s for s in studies if s.name not in older] + earlier
        finished |= set(older)
        order = [_label(job) for job in jobs]
        studies.sort(key=lambda s: order.index(s.name))
    finished |= {s.name for s in studies}
    if args.defaults is not None:
        studies += [
            s
            for s in run_all(jobs, 1, args.defaults, run=False)
            if s.name not in finished and not s.checks
        ]
        order = [_label(job) for job in jobs]
        studies.sort(key=lambda s: order.index(s.name))
    swept = {s.name for s in studies if s.checks}
    missing = [_label(job) for job in jobs if _label(job) not in swept]
    if not args.quick and not args.report_only:  # replays: a report runs nothing
        timelines([n for n in ("follow-the-sun", "twitter-nab") if n in swept])
    if args.plots:  # ... but the pictures, if asked: four default replays a timeline
        redraw(studies, args.out_dir)
        present = {s.name for s in studies}
        timelines([n for n in ("follow-the-sun", "twitter-nab") if n in present], args.out_dir)
    scale_lines = [] if args.quick or args.no_speed or args.report_only else speed()
    from bench.sim_report import report

    seconds = sum(s.seconds for s in studies if s.name not in older)
    what = {"older_what": args.older_what} if args.older_what else {}
    note = args.note.read_text() if args.note else ""
    report(
        studies,
        scale_lines,
        seconds,
        args.out_dir,
        missing,
        older,
        note=note,
        stem=args.out_name,
        kept=args.report_only,
        **what,
    )


if __name__ == "__main__":
    main()
