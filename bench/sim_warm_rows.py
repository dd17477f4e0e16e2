"""Session 10's 61 worst bytes rows replayed with warm copies (placement-history.md, session 11).

Each row of ``docs/bench/sim-warm-rows.json`` is a (trace, rival) whose bytes we lost
within the margins in session 10's comparison: the rival run we lost by most, and our
least-bytes mix of predictive runs at its service (weights and labels, as bytes11's
diagnostic found them). This replays each run once and records its bytes with warm copies
(``--warm-retention``, default the agent's hour) and with every copy full (the same
replay's ``bytes_full_copies``), so the mix is compared with the rival run under both
accountings. The mix is kept as it was found: under warm accounting another mix of ours
may move fewer bytes still (the full comparison is the sweep's, bench.sim).

Run from the repository root (resumable: rows with results are kept)::

    .venv/bin/python -m bench.sim_warm_rows [--warm-retention 3600] [--only generated-05]
"""

from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path
from typing import Any

from bench.sim import _config, trace_of
from statecast.core.warm import WARM_RETENTION_S
from statecast.sim import Trace, replay
from statecast.sim.planned import ForecastCache
from statecast.sim.policies import Policy
from statecast.sim.sweeps import Setting, predictive_variant, variants

ROWS = Path(__file__).resolve().parents[1] / "docs" / "bench" / "sim-warm-rows.json"
_SETTING = re.compile(
    r"predictive hold x([0-9.e+-]+) copy x([0-9.e+-]+)( local-first)?(?: cd=([0-9.]+)s)?$"
)


def policy_of(trace: Trace, cache: ForecastCache, label: str) -> Policy:
    """The run of the sweep named ``label`` (a refinement run's label is read back)."""
    for variant in variants(trace, cache=cache):
        if variant.label == label:
            return variant.make()
    found = _SETTING.fullmatch(label)
    if found is None:
        raise SystemExit(f"unknown run {label!r}")
    hold, copy, local, cooldown = found.groups()
    setting = Setting(float(hold), float(copy), bool(local), float(cooldown) if cooldown else None)
    return predictive_variant(trace, cache, setting).make()


def replay_row(row: dict[str, Any], retention: float) -> dict[str, Any]:
    """The row's rival run and mix replayed: bytes with warm copies and with full copies."""
    trace = trace_of(row["trace"])
    config, cache = _config(trace, retention), ForecastCache()
    runs = {}
    for label in [row["rival_run"], *(label for _, label in row["mix"])]:
        result = replay(trace, policy_of(trace, cache, label), config)
        runs[label] = {"warm": result.bytes_moved, "full": result.bytes_full_copies}
    return {"warm_retention_s": retention, "runs": runs}


def verdicts(row: dict[str, Any]) -> dict[str, dict[str, float | bool]]:
    """Per accounting: our mix's bytes, the rival run's, and whether we still lose."""
    runs = row["result"]["runs"]
    out: dict[str, dict[str, float | bool]] = {}
    for key in ("full", "warm"):
        ours = sum(weight * runs[label][key] for weight, label in row["mix"])
        theirs = runs[row["rival_run"]][key]
        out[key] = {"ours": ours, "rival": theirs, "lost": ours > theirs * (1 + 1e-6)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--warm-retention", type=float, default=WARM_RETENTION_S)
    parser.add_argument("--only", help="comma-separated traces")
    args = parser.parse_args()
    document = json.loads(ROWS.read_text())
    wanted = set(args.only.split(",")) if args.only else None
    for row in document["rows"]:
        done = row.get("result", {}).get("warm_retention_s") == args.warm_retention
        if done or (wanted is not None and row["trace"] not in wanted):
            continue
        started = time.monotonic()
        row["result"] = replay_row(row, args.warm_retention)
        ROWS.write_text(json.dumps(document, indent=1) + "\n")
        print(row["trace"], row["rival"], f"{time.monotonic() - started:.0f} s", flush=True)
    rows = [r for r in document["rows"] if "result" in r]
    table = [verdicts(r) for r in rows]
    for key in ("full", "warm"):
        lost = sum(bool(v[key]["lost"]) for v in table)
        ours = sum(float(v[key]["ours"]) for v in table) / 2**30
        theirs = sum(float(v[key]["rival"]) for v in table) / 2**30
        print(f"{key}: lost {lost} of {len(rows)}; ours {ours:.1f} GiB, rivals {theirs:.1f} GiB")


if __name__ == "__main__":
    main()
