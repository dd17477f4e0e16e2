# ruff: noqa: E402 - the thread limits must be set before numpy is imported
"""The operator's forecasts against session 15's history and the dense windows (#16).

Session 15 holds a resource's forecast engine window and the planner's last day at the
interval's resolution only for the newest hours
(:func:`statecast.core.demand_series.fine_steps`) and every older hour as one value;
session 16 holds the demand ring itself for a day
(:func:`statecast.core.demand_series.fine_capacity`, was three days) and a rebuild's
backtest scores only the origins that ring holds (older hours come spread from the
coarse ring). This replays demand through the operator's own objects - a
:class:`~statecast.controller.sampling.DemandSampler` fed the agents' cumulative counters
and a :class:`~statecast.controller.forecasting.DemandForecaster` asked for the forecast
every interval, as the reconciles do - three times in the same run on the same readings:
one forecaster with the dense windows (``dense=True``, session 14's), one with session
15's history (a three-day ring, every origin scored; ``session15``) and one with the
default (``hourly``). Each forecast is scored against the demand that followed:

- MAE over every node, origin and step ahead, and that MAE over seasonal naive's (the
  same targets forecast by the value a day before: below 1 beats it);
- interval coverage: the share of the targets inside the forecast's bounds (nominal 0.9);
- how many forecasts the default gave alike with the dense one, and with session 15's
  (every mean, lower and upper equal).

Sources: the ten NAB Twitter series as ten nodes of one resource and the NAB load
balancer's requests as one node (5-minute steps, ``/work/shared/data/traces``), and the
scale benchmark's demand (:class:`~bench.scale_agents.DemandModel`, a hot node walking
over the nodes, 10 s intervals). Scored from the fourth day (the daily season and its
older hours in use) to the end. Run::

    python -m bench.operator_forecast_quality --json OUT [--walk-days 3 --walk-nodes 10]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one core

import argparse
import contextlib
import csv
import datetime as dt
import json
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bench.scale_agents import DemandModel
from statecast.api.shared_resource import SharedResourceSpec
from statecast.api.units import DAY_S
from statecast.controller import forecasting
from statecast.controller.forecasting import DemandForecaster
from statecast.controller.sampling import DemandSampler
from statecast.core import demand_series
from statecast.core.demand import AgentSample
from statecast.core.reconcile.predicted import PredictedDemand

__all__ = ["Score", "Source", "main", "replay"]

TRACES = Path("/work/shared/data/traces/nab")
TWITTER = ("AAPL", "AMZN", "CRM", "CVS", "FB", "GOOG", "IBM", "KO", "PFE", "UPS")
START = 1_796_515_200.0  # a midnight (UTC); any fixed time
REF = ("bench", "quality")

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Source:
    """Demand per node and interval to replay.

    Attributes:
        name: what it is.
        interval_s: seconds per interval.
        horizon: ``prediction.horizon``.
        counts: accesses per node (rows) and interval (columns).
        scored_from: the first interval whose forecast is scored.
    """

    name: str
    interval_s: float
    horizon: str
    counts: FloatArray
    scored_from: int


@dataclass
class Score:
    """One forecaster's scores over a source."""

    errors: list[float] = field(default_factory=list)
    naive_errors: list[float] = field(default_factory=list)
    inside: list[float] = field(default_factory=list)
    first_step_errors: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, float]:
        """MAE, MAE over seasonal naive's, coverage, one-step MAE."""
        mae = float(np.mean(self.errors)) if self.errors else float("nan")
        naive = float(np.mean(self.naive_errors)) if self.naive_errors else float("nan")
        return {
            "mae": round(mae, 4),
            "mae_over_seasonal_naive": round(mae / naive, 4) if naive > 0 else float("nan"),
            "coverage": round(float(np.mean(self.inside)), 4) if self.inside else float("nan"),
            "mae_one_step": round(float(np.mean(self.first_step_errors)), 4)
            if self.first_step_errors
            else float("nan"),
            "targets": len(self.errors),
        }


def _read(path: Path) -> FloatArray:
    with path.open(encoding="utf-8") as rows:
        return np.array([float(row["value"]) for row in csv.DictReader(rows)])


def twitter() -> Source:
    """The ten Twitter series as ten nodes (5-minute steps, one clock)."""
    series = [_read(TRACES / f"Twitter_volume_{name}.csv") for name in TWITTER]
    steps = min(len(s) for s in series)
    return Source("NAB Twitter, 10 nodes", 300.0, "15m",
                  np.stack([s[:steps] for s in series]), 3 * 288)  # fmt: skip


def elb() -> Source:
    """The load balancer's requests as one node (5-minute steps)."""
    return Source("NAB load balancer, 1 node", 300.0, "15m",
                  _read(TRACES / "elb_request_count_8c0756.csv")[None, :], 3 * 288)  # fmt: skip


def walk(nodes: int, days: float, interval: float = 10.0) -> Source:
    """The scale benchmark's demand for its resource 2 (as ``bench.operator_memory``)."""
    names = [f"node-{i:02d}" for i in range(1, nodes + 1)]
    model = DemandModel([("bench", f"res-{r:04d}") for r in range(3)], names, start=START)
    steps = round(days * DAY_S / interval)
    cumulative = np.zeros((nodes, steps + 1))
    for t in range(1, steps + 1):
        now = START + interval * t
        rates = [model.rates(k, now).get(2, 0.0) for k in range(nodes)]
        cumulative[:, t] = cumulative[:, t - 1] + np.array(rates) * interval
    counts = np.diff(np.floor(cumulative), axis=1)
    day = round(DAY_S / interval)
    return Source(f"scale benchmark's walk, {nodes} nodes, 10 s", interval, "1m", counts,
                  min(steps - 1, 2 * day + day // 2))  # fmt: skip


def _rows(demand: PredictedDemand, nodes: list[str]) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Mean, lower and upper per node of ``nodes`` (0 where the forecast has no row)."""
    f = demand.forecast
    shape = (len(nodes), f.mean.shape[1])
    mean, lower, upper = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    for i, node in enumerate(f.nodes):
        k = nodes.index(node)
        mean[k], lower[k], upper[k] = f.mean[i], f.lower[i], f.upper[i]
    return mean, lower, upper


@contextlib.contextmanager
def _session15() -> Iterator[None]:
    """Session 15's history while inside: a fine ring of three days (at most
    :data:`~statecast.core.demand_series.MAX_STEPS` intervals) whose rebuilds score every
    origin of the history, spread hours too (the rings are sized when first made, the
    scored column read at each rebuild: both happen inside)."""
    names = vars(forecasting)  # the forecaster's own name for it, rebound while inside
    saved = demand_series.FINE_DAYS, names["scored_column"]
    demand_series.FINE_DAYS = float(demand_series.KEEP_DAYS)
    names["scored_column"] = lambda *_: 0
    try:
        yield
    finally:
        demand_series.FINE_DAYS, names["scored_column"] = saved


def replay(source: Source) -> dict[str, Any]:
    """The forecasters over ``source``, step by step on the same readings."""
    nodes = [f"node-{i:02d}" for i in range(1, source.counts.shape[0] + 1)]
    spec = SharedResourceSpec.model_validate({"replicas": {"min": 1}, "prediction": {
        "interval": f"{source.interval_s:g}s", "horizon": source.horizon}})  # fmt: skip
    samplers = {name: DemandSampler(lambda: []) for name in ("dense", "session15", "hourly")}
    forecasters = {
        "dense": DemandForecaster(samplers["dense"], dense=True),
        "session15": DemandForecaster(samplers["session15"]),
        "hourly": DemandForecaster(samplers["hourly"]),
    }
    inside = {"session15": _session15}
    scores = {name: Score() for name in forecasters}
    day = round(DAY_S / source.interval_s)
    total = np.zeros(len(nodes))
    alike = same = scored = 0
    seconds = dict.fromkeys(forecasters, 0.0)
    steps = source.counts.shape[1]
    for k in range(1, steps + 1):
        at = START + source.interval_s * k
        total += source.counts[:, k - 1]
        made: dict[str, PredictedDemand | None] = {}
        for name, forecaster in forecasters.items():
            started = time.process_time()
            with inside.get(name, contextlib.nullcontext)():
                for i, node in enumerate(nodes):
                    reading = {(*REF, "local"): int(total[i])}
                    samplers[name].record(AgentSample(node, START, at, reading))
                when = dt.datetime.fromtimestamp(at + 0.5, dt.UTC)
                made[name] = forecaster.demand(REF, spec, nodes, when)
            seconds[name] += time.process_time() - started
        if k < source.scored_from or any(d is None for d in made.values()):
            continue
        bands = {name: _rows(d, nodes) for name, d in made.items() if d is not None}
        horizon = bands["dense"][0].shape[1]
        if k + horizon > steps:
            continue
        actual = source.counts[:, k : k + horizon]
        before = source.counts[:, k - day : k - day + horizon]
        scored += 1
        alike += all(
            np.array_equal(a, b) for a, b in zip(bands["dense"], bands["hourly"], strict=True)
        )
        same += all(
            np.array_equal(a, b) for a, b in zip(bands["session15"], bands["hourly"], strict=True)
        )
        for name, (mean, lower, upper) in bands.items():
            score = scores[name]
            score.errors.extend(np.abs(mean - actual).ravel())
            score.naive_errors.extend(np.abs(before - actual).ravel())
            score.inside.extend(((actual >= lower) & (actual <= upper)).ravel())
            score.first_step_errors.extend(np.abs(mean[:, 0] - actual[:, 0]))
    return {
        "source": source.name,
        "interval_s": source.interval_s,
        "horizon": source.horizon,
        "intervals": steps,
        "scored_from": source.scored_from,
        "forecasts_scored": scored,
        "forecasts_alike": alike,
        "forecasts_as_session15": same,
        "cpu_seconds": {name: round(s, 1) for name, s in seconds.items()},
        **{name: score.summary() for name, score in scores.items()},
    }


def main(argv: list[str] | None = None) -> int:
    """Replay every source; print (or write) the scores as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", default=None, help="write the results here")
    parser.add_argument("--walk-days", type=float, default=3.0)
    parser.add_argument("--walk-nodes", type=int, default=10)
    parser.add_argument("--only", choices=("twitter", "elb", "walk"), default=None)
    args = parser.parse_args(argv)
    makers: dict[str, Callable[[], Source]] = {
        "twitter": twitter,
        "elb": elb,
        "walk": lambda: walk(args.walk_nodes, args.walk_days),
    }
    started = time.time()
    results = []
    for name, make in makers.items():
        if args.only in (None, name):
            result = replay(make())
            print(json.dumps(result), file=sys.stderr, flush=True)
            results.append(result)
    report = {
        "command": "python -m bench.operator_forecast_quality " + " ".join(argv or sys.argv[1:]),
        "seconds": round(time.time() - started, 1),
        "results": results,
    }
    text = json.dumps(report, indent=2)
    if args.json:
        Path(args.json).write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
