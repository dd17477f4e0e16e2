"""The operator's out-of-the-box default beside the simulator's default point (session 23).

A SharedResource's default spec has the self-tuner on without a ``targetLocalHitRatio``:
the cost weight stays 1, the reactive budget holds, and each tuning window (1 hour) the
learner moves the deviation threshold by how many hedge copies were used
(:mod:`statecast.core.tuning`). The published default point (``predictive`` in
docs/bench/sim*.json) runs with no learner: the threshold stays at 0.5. This replays, on
each row, the published default run (bit-equal to the table's, a check), the same run with
the operator's learner (``predictive+threshold``) and reactive's default, at warm retention
0 as the tables are, and says per row whether the learner's run is within the tables'
margins of the default's (2 points of local hits, 3 % latency), its bytes against the
default's, and whether it is at or below reactive's replica-hours (within the hand-off's
share of a step, ``bench.sim_report.HANDOFF_MARGIN``, as the tables' check).

    python -m bench.sim_operator_default --out docs/bench/sim-operator-default.jsonl \
        --report docs/bench/sim-operator-default.md [--rows ROW,...]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, replace
from pathlib import Path

from bench.sim import MARGIN_HITS, MARGIN_LATENCY, _config, trace_of
from bench.sim_report import HANDOFF_MARGIN
from statecast.core.tuning import TunerConfig
from statecast.sim import replay
from statecast.sim.config import SimConfig
from statecast.sim.frontier import Point
from statecast.sim.planned import ForecastCache
from statecast.sim.policies import Policy, Reactive
from statecast.sim.scenarios import SCENARIOS
from statecast.sim.sweeps import DEFAULT, predictive_variant
from statecast.sim.trace import Trace

#: The rows by default: the built-in scenarios, then the judges (held-out, fresh).
ROWS = (
    *sorted(SCENARIOS),
    *(f"generated-{n}" for n in range(140, 150)),
    *(f"generated-{n}" for n in range(100, 110)),
)
LEARNED = "predictive+threshold"


def timed(
    row: str, trace: Trace, config: SimConfig, family: str, label: str, build: Callable[[], Policy]
) -> dict[str, object]:
    """One run: its Point's fields under ``label``, with its row and CPU seconds."""
    began = time.process_time()
    result = replay(trace, build(), config)
    point = replace(Point.of(family, result), label=label)
    return {"trace": row, **asdict(point), "cpu_s": time.process_time() - began}


def runs(row: str) -> list[dict[str, object]]:
    """The three runs of one row, each a Point's fields with its row and CPU seconds."""
    trace = trace_of(row)
    config = _config(trace, 0.0)
    cache = ForecastCache()
    default = predictive_variant(trace, cache, DEFAULT)

    def learned() -> Policy:
        policy = default.make()
        policy.tuner = TunerConfig(target_local_hit_ratio=None)  # type: ignore[attr-defined]
        policy.name = LEARNED
        return policy

    return [
        timed(row, trace, config, family, label, build)
        for label, family, build in (
            (DEFAULT.label, "predictive", default.make),
            (LEARNED, "predictive", learned),
            ("reactive", "reactive", Reactive),
        )
    ]


def verdict(
    default: dict[str, float], learned: dict[str, float], reactive: dict[str, float]
) -> str:
    """Whether the learner's run is within the margins of the default's, and its budget."""
    hits = learned["local_hit_ratio"] >= default["local_hit_ratio"] - MARGIN_HITS
    latency = learned["mean_latency_ms"] <= default["mean_latency_ms"] * (1 + MARGIN_LATENCY)
    budget = learned["replica_hours"] <= reactive["replica_hours"] * (1 + HANDOFF_MARGIN)
    said = "within" if hits and latency else "OUTSIDE"
    ratio = learned["bytes_moved"] / max(default["bytes_moved"], 1.0)
    return f"{said}; bytes x{ratio:.3f}; rh {'<=' if budget else '>'} reactive"


def report(lines: Iterable[dict[str, object]]) -> str:
    """A markdown table: per row, the default, the learner's run, reactive, the verdict."""
    by_row: dict[str, dict[str, dict[str, float]]] = {}
    for line in lines:
        by_row.setdefault(str(line["trace"]), {})[str(line["label"])] = line  # type: ignore[assignment]
    out = [
        "| row | default rh / local / ms / MB | learned (operator's default) | reactive |"
        " learned vs default |",
        "|---|---|---|---|---|",
    ]

    def cell(p: dict[str, float]) -> str:
        return (
            f"{p['replica_hours']:.0f} / {100 * p['local_hit_ratio']:.1f} % /"
            f" {p['mean_latency_ms']:.4f} / {p['bytes_moved'] / 1e6:.1f}"
        )

    said, ratios = [], []
    for row, got in by_row.items():
        if {DEFAULT.label, LEARNED, "reactive"} <= got.keys():
            d, t, r = got[DEFAULT.label], got[LEARNED], got["reactive"]
            said.append(verdict(d, t, r))
            ratios.append(t["bytes_moved"] / max(d["bytes_moved"], 1.0))
            out.append(f"| {row} | {cell(d)} | {cell(t)} | {cell(r)} | {verdict(d, t, r)} |")
    if not said:
        return "no row has all three runs\n"
    head = [
        "# The operator's default spec beside the simulator's default point",
        "",
        f"{len(said)} rows (`python -m bench.sim_operator_default`, warm retention 0): the"
        " learner's run (tuning on, no target: the deviation threshold learned from hedge"
        f" use) within the margins of the default's on {sum(v.startswith('within') for v in said)},"
        f" replica-hours at or below reactive's on {sum(v.endswith('<= reactive') for v in said)};"
        f" bytes x{min(ratios):.3f} - x{max(ratios):.3f} the default's"
        f" (equal on {sum(abs(x - 1) < 5e-4 for x in ratios)}).",
        "",
    ]
    return "\n".join(head + out) + "\n"


def run_rows(
    argv: Sequence[str] | None,
    description: str,
    rows: Sequence[str],
    replay: Callable[[str], Iterable[dict[str, object]]],
    write: Callable[[list[dict[str, object]]], str],
) -> None:
    """The command line both row benches share: replay each of ``--rows`` not yet in
    ``--out`` (one at a time, appending its lines), then write ``--report`` of every
    line in ``--out`` (``--report-only``: only that)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--rows", default=",".join(rows))
    parser.add_argument("--out", type=Path, required=True, help="JSON Lines, appended")
    parser.add_argument("--report", type=Path, help="markdown report of every row in --out")
    parser.add_argument("--report-only", action="store_true")
    args = parser.parse_args(argv)
    if not args.report_only:
        done = set()
        if args.out.exists():
            done = {json.loads(x)["trace"] for x in args.out.read_text().splitlines() if x}
        for row in args.rows.split(","):
            if row in done:
                continue
            with args.out.open("a") as out:
                out.writelines(json.dumps(line) + "\n" for line in replay(row))
            print(f"{row} done", flush=True)
    if args.report is not None:
        lines = [json.loads(x) for x in args.out.read_text().splitlines() if x]
        args.report.write_text(write(lines))


def main(argv: Sequence[str] | None = None) -> None:
    """Replay the rows (one at a time, appending to ``--out``) and write the report."""
    run_rows(argv, __doc__.splitlines()[0], ROWS, runs, report)


if __name__ == "__main__":
    main()
