# ruff: noqa: E402 - the thread limits must be set before numpy is imported
"""Forecast benchmark: every model and baseline side by side on windows they did not see.

Run from the repository root::

    .venv/bin/python -m bench.forecast            # accuracy + speed, writes docs/bench/forecast.md
    .venv/bin/python -m bench.forecast --quick    # a smoke run

Each window is 7 days of 5-minute history (2016 steps) ending at a rolling origin and
the next 12 steps (one hour) as truth. Origins are spread evenly over the part of each
trace after its first week (at least 24 windows per set). Scores: MAE relative to naive
and to seasonal naive (sum of MAE over windows / sum of the baseline's), MASE (scale:
in-sample seasonal-naive MAE), interval coverage and MSIS at 0.9 and 0.95, and the
scaled pinball loss of the 0.95 quantile (the upper bound at level 0.9, which placement
acts on). `--quick` uses fewer origins and a 1000-series speed test.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one core, as the targets are stated

import argparse
import json
import time
import tracemalloc
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.stats import norm

from bench.forecast_data import DAY, WEEK, TraceSet, real_sets, synthetic_set
from statecast.core.forecast import forecast_batch, forecast_series
from statecast.core.forecast.incremental import ForecastEngine
from statecast.core.forecast.metrics import coverage, interval_score, mae, mase_scale, pinball
from statecast.core.forecast.models import Candidate, SarimaxFourier, StlEts
from statecast.core.forecast.selection import FIT_SEASONS
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


#: Fewest windows per trace set (a set with one series gets more origins).
MIN_WINDOWS = 24


def make_windows(trace_set: TraceSet, origins: int) -> Windows:
    hist, truth, labels = [], [], []
    origins = max(origins, -(-MIN_WINDOWS // len(trace_set.series)))
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


def _statsmodels(candidate: Candidate) -> Runner:
    def run(history: np.ndarray) -> Intervals:
        z = fill_missing(np.log1p(history), DAY)[:, -FIT_SEASONS * DAY :]
        zhat, se = [], []
        for row in z:
            result = candidate.fit(row, None, period=DAY, start=0).forecast(HORIZON, None)
            zhat.append(result.zhat)
            se.append(result.se)
        zh, sd = np.array(zhat), np.array(se)
        out: Intervals = {}
        for level in LEVELS:
            q = norm.ppf((1 + level) / 2)
            out[level] = (
                np.expm1(zh).clip(0),
                np.expm1(zh - q * sd).clip(0),
                np.expm1(zh + q * sd),
            )
        return out

    return run


MODELS: dict[str, Runner] = {
    "naive": run_naive,
    "seasonal_naive": run_seasonal_naive,
    "statsforecast MSTL+ETS (log1p)": run_mstl,
    "statecast fast path (forecast_batch)": run_fast,
}

#: Slow models, run on a subset of the windows next to every model above.
SLOW_MODELS: dict[str, Runner] = {
    "statsmodels STL+ETS (log1p, model intervals)": _statsmodels(StlEts()),
    "statsmodels SARIMAX+Fourier (log1p, model intervals)": _statsmodels(SarimaxFourier()),
    "statecast selection (forecast_series)": run_series,
}


def window_maes(windows: Windows, point: np.ndarray) -> np.ndarray:
    return np.array([mae(t, p) for t, p in zip(windows.truth, point, strict=True)])


def score(windows: Windows, result: Intervals, base: dict[str, np.ndarray]) -> dict[str, float]:
    truth = windows.truth
    scales = np.array([mase_scale(h, DAY) for h in windows.history])
    maes = window_maes(windows, result[LEVELS[0]][0])
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
    return row


def evaluate(windows: Windows, models: dict[str, Runner]) -> dict[str, dict[str, float]]:
    """Run every model on the same windows and score it against both baselines."""
    results: dict[str, tuple[Intervals, float]] = {}
    for name, runner in models.items():
        started = time.perf_counter()
        results[name] = (runner(windows.history), time.perf_counter() - started)
    base = {b: window_maes(windows, results[b][0][LEVELS[0]][0]) for b in BASELINES}
    rows = {}
    for name, (result, elapsed) in results.items():
        rows[name] = score(windows, result, base) | {
            "seconds": elapsed,
            "windows": float(len(windows.labels)),
        }
    return rows


BASELINES = ("naive", "seasonal_naive")


def subset(windows: list[Windows], per_set: int, name: str) -> Windows:
    hist, truth, labels = [], [], []
    for w in windows:
        pick = np.linspace(0, len(w.labels) - 1, min(per_set, len(w.labels))).astype(int)
        hist.append(w.history[pick])
        truth.append(w.truth[pick])
        labels.extend(f"{w.name}:{w.labels[i]}" for i in pick)
    return Windows(name, np.concatenate(hist), np.concatenate(truth), tuple(labels))


def accuracy(
    origins_real: int, origins_syn: int, slow_per_set: int, skip: set[str]
) -> dict[str, dict[str, dict[str, float]]]:
    real = [make_windows(s, origins_real) for s in real_sets()]
    synthetic = make_windows(synthetic_set(), origins_syn)
    fast_models = {k: v for k, v in MODELS.items() if k not in skip or k in BASELINES}
    slow_models = {k: v for k, v in SLOW_MODELS.items() if k not in skip}
    table: dict[str, dict[str, dict[str, float]]] = {}
    for windows in [*real, synthetic]:
        table[windows.name] = evaluate(windows, fast_models)
        print(render_set(windows.name, table[windows.name]), flush=True)
    if slow_per_set > 0 and slow_models:
        for group in (
            subset(real, slow_per_set, "real traces, subset for the slow models"),
            subset([synthetic], 2 * slow_per_set, "synthetic, subset for the slow models"),
        ):
            table[group.name] = evaluate(group, fast_models | slow_models)
            print(render_set(group.name, table[group.name]), flush=True)
    return table


def synthetic_load(n_series: int, n_steps: int, seed: int = 11) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n_steps)
    out = np.empty((n_series, n_steps))
    for first in range(0, n_series, 1000):
        rows = slice(first, min(n_series, first + 1000))
        k = rows.stop - rows.start
        phase = rng.uniform(0, 2 * np.pi, (k, 1))
        scale = np.exp(rng.uniform(-1, 5, (k, 1)))
        rate = scale * np.exp(0.8 * np.sin(2 * np.pi * t / DAY + phase))
        out[rows] = rng.poisson(rate)
    return out


def speed(n_series: int, updates: int) -> dict[str, float]:
    """Refit, update and memory of the incremental engine for ``n_series`` series."""
    data = synthetic_load(n_series, WEEK + updates)
    tracemalloc.start()  # before the engine exists: its buffers count
    engine = ForecastEngine(n_series, period=DAY, horizon=HORIZON, level=0.9)
    state, _ = tracemalloc.get_traced_memory()
    started = time.perf_counter()
    engine.refit(data[:, :WEEK])
    refit_s = time.perf_counter() - started
    _, refit_peak = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    times = []
    for step in range(WEEK, WEEK + updates):
        started = time.perf_counter()
        engine.update(data[:, step])
        times.append(time.perf_counter() - started)
    _, update_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    started = time.perf_counter()
    forecast_batch(data[:1000, :WEEK], period=DAY, horizon=HORIZON)
    batch_1000 = time.perf_counter() - started
    return {
        "series": float(n_series),
        "history_steps": float(WEEK),
        "refit_seconds": refit_s,
        "update_seconds_median": float(np.median(times)),
        "update_seconds_max": float(np.max(times)),
        "engine_state_mb": state / 2**20,
        "refit_peak_mb": refit_peak / 2**20,
        "update_peak_mb": update_peak / 2**20,
        "input_mb": data[:, :WEEK].nbytes / 2**20,
        "forecast_batch_1000_seconds": batch_1000,
    }


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


def render_speed(figures: dict[str, float]) -> str:
    return "\n".join(
        [
            f"### Incremental engine, {int(figures['series'])} series x "
            f"{int(figures['history_steps'])} steps (one core)",
            "",
            "| measure | value |",
            "|---|---:|",
            f"| full refit (ForecastEngine.refit) | {figures['refit_seconds']:.1f} s |",
            f"| cheap update, median | {figures['update_seconds_median'] * 1000:.0f} ms |",
            f"| cheap update, max | {figures['update_seconds_max'] * 1000:.0f} ms |",
            f"| engine state (history buffer, parameters) | {figures['engine_state_mb']:.0f} MB |",
            f"| peak memory during refit (engine + work, traced) "
            f"| {figures['refit_peak_mb']:.0f} MB |",
            f"| peak memory during updates (engine + work, traced) "
            f"| {figures['update_peak_mb']:.0f} MB |",
            f"| input history (float64, not held by the engine) | {figures['input_mb']:.0f} MB |",
            f"| forecast_batch, 1000 series | {figures['forecast_batch_1000_seconds']:.1f} s |",
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--origins", type=int, default=8, help="origins per real series")
    parser.add_argument(
        "--synthetic-origins", type=int, default=6, help="origins per synthetic series"
    )
    parser.add_argument(
        "--slow-windows", type=int, default=4, help="windows per set for the slow models"
    )
    parser.add_argument("--series", type=int, default=10_000, help="series in the speed test")
    parser.add_argument("--updates", type=int, default=20, help="updates timed")
    parser.add_argument("--skip", action="append", default=[], help="model name to skip")
    parser.add_argument("--quick", action="store_true", help="few origins, small speed test")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    if args.quick:
        args.origins, args.synthetic_origins, args.slow_windows = 3, 2, 2
        args.series, args.updates = 1000, 5
    warnings.simplefilter("ignore")
    started = time.perf_counter()
    table = accuracy(args.origins, args.synthetic_origins, args.slow_windows, set(args.skip))
    figures = speed(args.series, args.updates) if args.series > 0 else {}
    if figures:
        print(render_speed(figures), flush=True)
    total = time.perf_counter() - started
    print(f"total {total:.0f} s")
    if not args.no_write:
        OUT.mkdir(parents=True, exist_ok=True)
        document = {"accuracy": table, "speed": figures, "seconds": total, "args": vars(args)}
        (OUT / "forecast.json").write_text(json.dumps(document, indent=2) + "\n")
        body = "\n".join(render_set(name, rows) for name, rows in table.items())
        header = (
            "# Forecast benchmark\n\n"
            "Generated by `make bench-forecast` (`python -m bench.forecast`); "
            f"run took {total:.0f} s. Windows: 7 days of 5-minute history, "
            f"{HORIZON} steps (1 h) ahead; {args.origins} rolling origins per real series, "
            f"{args.synthetic_origins} per synthetic series; the slow models run on "
            f"{args.slow_windows} windows per real set and {2 * args.slow_windows} synthetic "
            "ones, next to every other model on the same windows. See docs/forecast.md.\n\n"
        )
        speed_md = render_speed(figures) if figures else ""
        (OUT / "forecast.md").write_text(header + body + "\n" + speed_md)


if __name__ == "__main__":
    main()
