"""Forecast benchmark: every model and baseline side by side on windows they did not see.

Run from the repository root::

    .venv/bin/python -m bench.forecast            # accuracy + speed, writes docs/bench/forecast.md
    .venv/bin/python -m bench.forecast --quick    # fewer origins, no speed section

Each window is 7 days of 5-minute history (2016 steps) ending at a rolling origin and
the next 12 steps (one hour) as truth. Origins are spread evenly over the part of each
trace after its first week. Scores: MAE relative to naive and to seasonal naive (sum of
MAE over windows / sum of the baseline's), MASE (seasonal-naive in-sample scale), interval
coverage and MSIS at 0.9 and 0.95, and the scaled pinball loss of the 0.95 quantile (the
upper bound at level 0.9, which placement acts on).
"""

from __future__ import annotations

import argparse
import json
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.stats import norm

from bench.forecast_data import DAY, WEEK, TraceSet, real_sets, synthetic_set
from statecast.core.forecast import forecast_batch, forecast_series
from statecast.core.forecast.metrics import coverage, interval_score, mae, mase_scale, pinball
from statecast.core.forecast.transform import fill_missing

HORIZON = 12
LEVELS = (0.9, 0.95)
OUT = Path("docs/bench")

Intervals = dict[float, tuple[np.ndarray, np.ndarray, np.ndarray]]  # level -> mean, lower, upper
Runner = Callable[[np.ndarray], Intervals]


@dataclass(frozen=True)
class Windows:
    """Backtest windows of one trace set."""

    name: str
    history: np.ndarray  # (n, WEEK)
    truth: np.ndarray  # (n, HORIZON)
    labels: tuple[str, ...]


def make_windows(trace_set: TraceSet, origins: int) -> Windows:
    hist, truth, labels = [], [], []
    for name, values in trace_set.series.items():
        last = len(values) - HORIZON
        for origin in np.linspace(WEEK, last, origins).astype(int):
            hist.append(values[origin - WEEK : origin])
            truth.append(values[origin : origin + HORIZON])
            labels.append(f"{name}@{origin}")
    return Windows(trace_set.name, np.array(hist), np.array(truth), tuple(labels))


def _filled(history: np.ndarray) -> np.ndarray:
    return np.expm1(fill_missing(np.log1p(history), DAY))


def run_naive(history: np.ndarray) -> Intervals:
    y = _filled(history)
    point = np.repeat(y[:, -1:], HORIZON, axis=1)
    sigma = np.nanstd(np.diff(y, axis=1), axis=1)[:, None]
    spread = sigma * np.sqrt(np.arange(1, HORIZON + 1))[None, :]
    return _normal(point, spread)


def run_seasonal_naive(history: np.ndarray) -> Intervals:
    y = _filled(history)
    point = y[:, -DAY : -DAY + HORIZON]
    sigma = np.nanstd(y[:, DAY:] - y[:, :-DAY], axis=1)[:, None]
    spread = sigma * np.ones((1, HORIZON))
    return _normal(point, spread)


def _normal(point: np.ndarray, spread: np.ndarray) -> Intervals:
    out: Intervals = {}
    for level in LEVELS:
        z = norm.ppf((1 + level) / 2)
        out[level] = (point, np.maximum(point - z * spread, 0), point + z * spread)
    return out


def run_fast(history: np.ndarray) -> Intervals:
    out: Intervals = {}
    for level in LEVELS:
        result = forecast_batch(history, period=DAY, horizon=HORIZON, level=level)
        out[level] = (result.mean, result.lower, result.upper)
    return out


def run_series(history: np.ndarray) -> Intervals:
    out: Intervals = {}
    for level in LEVELS:
        rows = [forecast_series(h, period=DAY, horizon=HORIZON, level=level) for h in history]
        out[level] = tuple(
            np.stack([getattr(r, a) for r in rows]) for a in ("mean", "lower", "upper")
        )  # type: ignore[assignment]
    return out


def run_mstl(history: np.ndarray) -> Intervals:
    import pandas as pd
    from statsforecast import StatsForecast
    from statsforecast.models import MSTL, AutoETS

    z = fill_missing(np.log1p(history), DAY)
    n, t = z.shape
    frame = pd.DataFrame(
        {
            "unique_id": np.repeat(np.arange(n), t),
            "ds": np.tile(np.arange(t), n),
            "y": z.ravel(),
        }
    )
    model = MSTL(season_length=[DAY], trend_forecaster=AutoETS(model="ZZN"))
    sf = StatsForecast(models=[model], freq=1, n_jobs=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fc = sf.forecast(df=frame, h=HORIZON, level=[int(lv * 100) for lv in LEVELS])
    fc = fc.sort_values(["unique_id", "ds"])

    def col(name: str) -> np.ndarray:
        return np.maximum(np.expm1(fc[name].to_numpy().reshape(n, HORIZON)), 0)

    point = col("MSTL")
    return {
        lv: (point, col(f"MSTL-lo-{int(lv * 100)}"), col(f"MSTL-hi-{int(lv * 100)}"))
        for lv in LEVELS
    }


MODELS: dict[str, Runner] = {
    "naive": run_naive,
    "seasonal_naive": run_seasonal_naive,
    "statsforecast MSTL+ETS (log1p)": run_mstl,
    "statecast fast path (forecast_batch)": run_fast,
    "statecast selection (forecast_series)": run_series,
}


def score(windows: Windows, result: Intervals, base: dict[str, np.ndarray]) -> dict[str, float]:
    truth = windows.truth
    scales = np.array([mase_scale(h, DAY) for h in windows.history])
    point = result[LEVELS[0]][0]
    maes = np.array([mae(t, p) for t, p in zip(truth, point, strict=True)])
    row = {
        "rel_mae_naive": float(np.nansum(maes) / np.nansum(base["naive"])),
        "rel_mae_snaive": float(np.nansum(maes) / np.nansum(base["seasonal_naive"])),
        "mase": float(np.nanmean(maes / scales)),
    }
    for level in LEVELS:
        _, lower, upper = result[level]
        row[f"coverage_{level}"] = coverage(truth, lower, upper)
        msis = [
            interval_score(t, lo, up, level) / s
            for t, lo, up, s in zip(truth, lower, upper, scales, strict=True)
        ]
        row[f"msis_{level}"] = float(np.nanmean(msis))
    upper90 = result[0.9][2]
    spl = [pinball(t, u, 0.95) / s for t, u, s in zip(truth, upper90, scales, strict=True)]
    row["spl_q0.95"] = float(np.nanmean(spl))
    row["_maes"] = maes  # type: ignore[assignment]
    return row


def accuracy(
    origins_real: int, origins_syn: int, skip: set[str]
) -> dict[str, dict[str, dict[str, float]]]:
    sets = [make_windows(s, origins_real) for s in real_sets()]
    sets.append(make_windows(synthetic_set(), origins_syn))
    table: dict[str, dict[str, dict[str, float]]] = {}
    for windows in sets:
        base: dict[str, np.ndarray] = {}
        table[windows.name] = {}
        for name, runner in MODELS.items():
            if name in skip:
                continue
            started = time.perf_counter()
            result = runner(windows.history)
            elapsed = time.perf_counter() - started
            row = score(windows, result, base | {"naive": np.ones(1), "seasonal_naive": np.ones(1)})
            maes = row.pop("_maes")  # type: ignore[arg-type]
            if name in ("naive", "seasonal_naive"):
                base[name] = maes  # type: ignore[assignment]
            table[windows.name][name] = row | {"seconds": elapsed, "windows": len(windows.labels)}
        # Recompute relative MAE now that both baselines are known.
        naive_total = float(np.nansum(base["naive"]))
        snaive_total = float(np.nansum(base["seasonal_naive"]))
        for row in table[windows.name].values():
            total = row["rel_mae_naive"]  # currently sum(maes) / 1
            row["rel_mae_naive"] = total / naive_total
            row["rel_mae_snaive"] = total / snaive_total
        print(render_set(windows.name, table[windows.name]), flush=True)
    return table


COLUMNS = (
    ("rel_mae_naive", "MAE/naive"),
    ("rel_mae_snaive", "MAE/snaive"),
    ("mase", "MASE"),
    ("coverage_0.9", "cov 0.90"),
    ("coverage_0.95", "cov 0.95"),
    ("msis_0.9", "MSIS 0.90"),
    ("msis_0.95", "MSIS 0.95"),
    ("spl_q0.95", "SPL q0.95"),
    ("seconds", "time s"),
)


def render_set(name: str, rows: dict[str, dict[str, float]]) -> str:
    windows = next(iter(rows.values()))["windows"]
    lines = [f"### {name} ({int(windows)} windows)", ""]
    lines.append("| model | " + " | ".join(label for _, label in COLUMNS) + " |")
    lines.append("|---|" + "---:|" * len(COLUMNS))
    for model, row in rows.items():
        cells = [f"{row[key]:.3f}" if key != "seconds" else f"{row[key]:.1f}" for key, _ in COLUMNS]
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--origins", type=int, default=8, help="origins per real series")
    parser.add_argument(
        "--synthetic-origins", type=int, default=6, help="origins per synthetic series"
    )
    parser.add_argument("--skip", action="append", default=[], help="model name to skip")
    parser.add_argument(
        "--quick", action="store_true", help="3 origins per series, no speed section"
    )
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    if args.quick:
        args.origins, args.synthetic_origins = 3, 2
    table = accuracy(args.origins, args.synthetic_origins, set(args.skip))
    if not args.no_write:
        OUT.mkdir(parents=True, exist_ok=True)
        (OUT / "forecast.json").write_text(json.dumps({"accuracy": table}, indent=2))
        body = "\n".join(render_set(name, rows) for name, rows in table.items())
        (OUT / "forecast.md").write_text("# Forecast benchmark\n\n" + body)
    _ = math


if __name__ == "__main__":
    main()
