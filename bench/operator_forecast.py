# ruff: noqa: E402 - the thread limits must be set before numpy is imported
"""The operator's forecast per interval: the whole history each time against the engine.

Run from the repository root::

    .venv/bin/python -m bench.operator_forecast    # writes docs/bench/operator-forecast.md

For 10 and 100 nodes, three days of 1-minute history (4,320 intervals, the most the
demand history holds) of synthetic daily-seasonal demand, and a resource with the
default prediction settings (1-minute interval, 15-minute horizon, daily season):

- *whole history*: :func:`statecast.core.reconcile.predicted.forecast_demand` over the
  newest 4,320 intervals, once per interval (what the operator did);
- *engine*: :class:`statecast.core.reconcile.demand_engine.DemandEngine`, rebuilt once from
  the same history, then one update per interval; its cost per interval is the update
  plus the daily rebuild spread over the day's intervals.

Both run in the same process on one core (thread limits set to 1), on the same data; the
sampler's reads of the history are left out of both. The last column compares the two
forecasts after an hour of updates (mean of the next interval, median and 90th
percentile over nodes).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one core

import datetime as dt
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from statecast.api.shared_resource import SharedResourceSpec
from statecast.core.reconcile.demand_engine import REFIT_EVERY_S, DemandEngine, EngineSettings
from statecast.core.reconcile.predicted import MAX_HISTORY_STEPS, forecast_demand, steps_of

OUT = Path("docs/bench/operator-forecast.md")
SPEC = SharedResourceSpec.model_validate({"prediction": {"interval": "1m"}})
NODES = (10, 100)
#: Intervals forecast the old way (each fits the whole history) and the new way.
OLD_INTERVALS = 10
NEW_INTERVALS = 60
#: Resources a 100-node cluster is assumed to run, for the cores column.
RESOURCES = 100


@dataclass(frozen=True)
class Row:
    """One cluster size's figures, seconds per resource and interval unless named."""

    nodes: int
    whole: float
    rebuild: float
    update: float
    amortised: float
    deviation: tuple[float, float]


def demand(nodes: int, steps: int, seed: int = 0) -> np.ndarray:
    """Daily-seasonal Poisson counts per node and minute, each node at its own scale."""
    rng = np.random.default_rng(seed)
    t = np.arange(steps)
    day = 1.0 + 0.7 * np.sin(2 * np.pi * t / 1440) + 0.2 * np.sin(2 * np.pi * t / 480)
    scale = rng.uniform(2.0, 80.0, nodes)
    return rng.poisson(np.outer(scale, day)).astype(np.float64)


def measure(nodes: int) -> Row:
    """Time both ways on ``nodes`` nodes."""
    names = tuple(f"node-{i:03d}" for i in range(nodes))
    window = MAX_HISTORY_STEPS
    history = demand(nodes, window + NEW_INTERVALS)
    no_pods = np.zeros_like(history)
    interval, horizon, season = steps_of(SPEC)
    at = dt.datetime(2026, 11, 28, tzinfo=dt.UTC)

    started = time.perf_counter()
    for k in range(OLD_INTERVALS):
        stop = window + k
        forecast_demand(history[:, stop - window : stop], names, SPEC, generated_at=at)
    whole = (time.perf_counter() - started) / OLD_INTERVALS

    settings = EngineSettings(names, interval, horizon, season, SPEC.prediction.level, window)
    started = time.perf_counter()
    engine = DemandEngine.build(
        settings, 0.0, history[:, :window], no_pods[:, :window], no_pods[:, 0]
    )
    rebuild = time.perf_counter() - started
    assert engine is not None
    started = time.perf_counter()
    for k in range(window, window + NEW_INTERVALS):
        engine.update(history[:, k : k + 1], no_pods[:, k : k + 1], interval * (k - window + 1))
    update = (time.perf_counter() - started) / NEW_INTERVALS

    engine_says = engine.demand(SPEC, no_pods[:, 0], previous_next=None, writes_per_min=0.0)
    full = forecast_demand(history[:, NEW_INTERVALS:], names, SPEC, generated_at=at)
    assert full is not None
    mean, reference = engine_says.forecast.mean[:, 0], full.forecast.mean[:, 0]
    apart = np.abs(mean - reference) / np.maximum(reference, 1.0)
    deviation = (float(np.median(apart)), float(np.quantile(apart, 0.9)))
    per_day = REFIT_EVERY_S / interval
    return Row(nodes, whole, rebuild, update, update + rebuild / per_day, deviation)


def table(rows: list[Row]) -> str:
    """The Markdown table of the rows."""
    lines = [
        "| nodes | whole history, per interval | engine: rebuild (daily) | engine: update"
        f" | engine: amortised per interval | speed-up | cores for {RESOURCES} resources,"
        " old → new | engine vs whole history after 1 h of updates (median / p90) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        cores_old, cores_new = RESOURCES * r.whole / 60.0, RESOURCES * r.amortised / 60.0
        lines.append(
            f"| {r.nodes} | {r.whole * 1e3:.0f} ms | {r.rebuild * 1e3:.0f} ms"
            f" | {r.update * 1e3:.2f} ms | {r.amortised * 1e3:.2f} ms"
            f" | {r.whole / r.amortised:.0f}x | {cores_old:.2f} → {cores_new:.3f}"
            f" | {100 * r.deviation[0]:.1f} % / {100 * r.deviation[1]:.1f} % |"
        )
    return "\n".join(lines)


def main() -> None:
    """Measure, print the table and write it to :data:`OUT`."""
    rows = [measure(n) for n in NODES]
    body = table(rows)
    print(body)
    OUT.write_text(
        "# The operator's forecast per interval: whole history vs. engine\n\n"
        "Generated by `.venv/bin/python -m bench.operator_forecast` (one core; "
        f"{MAX_HISTORY_STEPS} one-minute intervals of synthetic daily-seasonal demand per "
        "node; default prediction settings: 15-minute horizon, daily season).\n\n"
        "*Whole history*: `forecast_demand` fitted on the whole history every interval "
        f"(mean of {OLD_INTERVALS}). *Engine*: `DemandEngine` rebuilt once from the same "
        f"history, then {NEW_INTERVALS} updates; amortised = update + rebuild / "
        f"{REFIT_EVERY_S / 60:.0f} (a daily rebuild at 1-minute intervals). Cores: "
        f"{RESOURCES} resources on the cluster, each forecast once a minute. The last "
        "column: median and 90th percentile over nodes of |engine - whole history| / "
        "max(whole history, 1) for the "
        "next interval's mean, after an hour of updates. Reads of the sampler's history "
        "are not timed.\n\n" + body + "\n"
    )


if __name__ == "__main__":
    main()
