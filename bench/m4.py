# ruff: noqa: E402 - the thread limits must be set before numpy is imported
"""M4 hourly benchmark: statecast's two paths against baselines and statsforecast.

Run from the repository root::

    .venv/bin/python -m bench.m4                 # everything, writes docs/bench/m4.json
    .venv/bin/python -m bench.m4 --skip AutoARIMA --no-write

414 series, horizon 48, 95% intervals, scored with the M4 organisers' measures
(bench/m4_data.py). statecast forecasts with seasons 24 and 168 (a day and a week of
hourly steps); statsforecast's models get the same seasons where they take several
(MSTL) and the day otherwise, and conformal intervals (two windows of 48 steps, the
statsforecast default), so every interval is calibrated the same way. Every model runs
on one core (n_jobs=1, thread pools limited to one thread); statsforecast's numba code
is compiled on a small warm-up set first and that time is not counted. Naive2 is
recomputed here and must match its published scores (a check on the measures).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one core, as the targets are stated

import argparse
import json
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bench.m4_data import HORIZON, SEASON, M4Hourly, Scores, load, naive2, score
from bench.report import replace_section
from statecast.core.forecast import forecast_batch, forecast_series

LEVEL = 0.95
PERIODS = (SEASON, 7 * SEASON)
#: What statecast is given as ``period`` (``--period``).
STATECAST_PERIOD: int | tuple[int, ...] = PERIODS
OUT = Path("docs/bench")

Bands = tuple[np.ndarray, np.ndarray | None, np.ndarray | None]  # mean, lower, upper
Runner = Callable[[M4Hourly], Bands]


def run_naive(data: M4Hourly) -> Bands:
    return np.stack([np.repeat(t[-1], HORIZON) for t in data.train]), None, None


def run_seasonal_naive(data: M4Hourly) -> Bands:
    return np.stack([np.resize(t[-SEASON:], HORIZON) for t in data.train]), None, None


def run_weekly_naive(data: M4Hourly) -> Bands:
    return np.stack([t[-7 * SEASON : -7 * SEASON + HORIZON] for t in data.train]), None, None


def run_naive2(data: M4Hourly) -> Bands:
    return naive2(data), None, None


def _by_length(data: M4Hourly) -> list[np.ndarray]:
    """Rows of the series of each training length (M4 hourly has two)."""
    lengths = np.array([len(t) for t in data.train])
    return [np.flatnonzero(lengths == n) for n in np.unique(lengths)]


def run_fast(data: M4Hourly) -> Bands:
    bands = [np.zeros_like(data.test) for _ in range(3)]
    for rows in _by_length(data):
        history = np.stack([data.train[i] for i in rows])
        result = forecast_batch(history, period=STATECAST_PERIOD, horizon=HORIZON, level=LEVEL)
        for band, values in zip(bands, (result.mean, result.lower, result.upper), strict=True):
            band[rows] = values
    return bands[0], bands[1], bands[2]


def run_default(data: M4Hourly) -> Bands:
    rows = [
        forecast_series(t, period=STATECAST_PERIOD, horizon=HORIZON, level=LEVEL)
        for t in data.train
    ]
    return (
        np.stack([r.mean for r in rows]),
        np.stack([r.lower for r in rows]),
        np.stack([r.upper for r in rows]),
    )


def _frame(train: tuple[np.ndarray, ...]) -> object:
    import pandas as pd

    return pd.DataFrame(
        {
            "unique_id": np.concatenate([np.full(len(t), i) for i, t in enumerate(train)]),
            "ds": np.concatenate([np.arange(len(t)) for t in train]),
            "y": np.concatenate(train),
        }
    )


def _statsforecast(name: str) -> Runner:
    """A statsforecast model with conformal 95% intervals, numba compiled beforehand."""

    def model() -> object:
        from statsforecast.models import MSTL, AutoARIMA, AutoETS, AutoTheta
        from statsforecast.utils import ConformalIntervals

        conformal = ConformalIntervals(h=HORIZON, n_windows=2)
        return {
            "MSTL": lambda: MSTL(
                season_length=list(PERIODS),
                trend_forecaster=AutoETS(model="ZZN"),
                prediction_intervals=conformal,
            ),
            "AutoETS": lambda: AutoETS(season_length=SEASON, prediction_intervals=conformal),
            "AutoTheta": lambda: AutoTheta(season_length=SEASON, prediction_intervals=conformal),
            "AutoARIMA": lambda: AutoARIMA(season_length=SEASON, prediction_intervals=conformal),
        }[name]()

    def forecast(train: tuple[np.ndarray, ...]) -> Bands:
        from statsforecast import StatsForecast

        sf = StatsForecast(models=[model()], freq=1, n_jobs=1)  # type: ignore[list-item]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fc = sf.forecast(df=_frame(train), h=HORIZON, level=[95])
        fc = fc.sort_values(["unique_id", "ds"])
        n = len(train)

        def col(suffix: str) -> np.ndarray:
            return fc[name + suffix].to_numpy(dtype=float).reshape(n, HORIZON)

        return col(""), col("-lo-95"), col("-hi-95")

    def run(data: M4Hourly) -> Bands:
        return forecast(data.train)

    run.warm_up = lambda data: forecast(tuple(t[-500:] for t in data.train[:2]))  # type: ignore[attr-defined]
    return run


BASELINES: dict[str, Runner] = {
    "naive": run_naive,
    "seasonal naive (24)": run_seasonal_naive,
    "seasonal naive (168)": run_weekly_naive,
    "Naive2 (recomputed)": run_naive2,
}
MODELS: dict[str, Runner] = {
    "statecast fast path (forecast_batch)": run_fast,
    "statecast default path (forecast_series)": run_default,
    "statsforecast MSTL 24/168, AutoETS trend": _statsforecast("MSTL"),
    "statsforecast AutoETS (24)": _statsforecast("AutoETS"),
    "statsforecast AutoTheta (24)": _statsforecast("AutoTheta"),
    "statsforecast AutoARIMA (24)": _statsforecast("AutoARIMA"),
}


def evaluate(
    data: M4Hourly, skip: set[str], save: Path | None = None
) -> dict[str, dict[str, float]]:
    """Run every model not skipped; wall and CPU seconds exclude numba compilation.

    With ``save``, the rows finished so far are written there after each model (a run
    stopped part way keeps them; ``--combine`` reads the file).
    """
    rows: dict[str, dict[str, float]] = {}
    for name, runner in (BASELINES | MODELS).items():
        if any(s.lower() in name.lower() for s in skip) and name not in BASELINES:
            continue
        warm = getattr(runner, "warm_up", None)
        if warm is not None:
            warm(data)
        wall, cpu = time.perf_counter(), time.process_time()
        mean, lower, upper = runner(data)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        scores: Scores = score(data, mean, lower, upper)
        rows[name] = scores.row() | {"seconds": wall, "cpu_seconds": cpu}
        print(render_row(name, rows[name]), flush=True)
        if save is not None:
            load = f"load average {os.getloadavg()[0]:.1f} after {name}"
            save.write_text(json.dumps({"m4_hourly": rows, "load": load}, indent=2) + "\n")
    return rows


def sample(data: M4Hourly, every: int) -> M4Hourly:
    """Every ``every``-th series (all of them for 1)."""
    rows = list(range(0, len(data.train), every))
    return M4Hourly(
        tuple(data.ids[i] for i in rows), tuple(data.train[i] for i in rows), data.test[rows]
    )


def against_sampled_naive2(rows: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """OWA against Naive2 recomputed on the same series (its published scores cover all)."""
    base = rows["Naive2 (recomputed)"]
    return {
        name: row | {"owa": 0.5 * (row["smape"] / base["smape"] + row["mase"] / base["mase"])}
        for name, row in rows.items()
    }


def render_row(name: str, row: dict[str, float]) -> str:
    def cell(key: str, fmt: str) -> str:
        value = row.get(key, float("nan"))
        return "" if not np.isfinite(value) else format(value, fmt)

    return (
        f"| {name} | {cell('smape', '.3f')} | {cell('mase', '.3f')} | {cell('owa', '.3f')} "
        f"| {cell('msis', '.3f')} | {cell('coverage', '.3f')} "
        f"| {cell('max_bound_ratio', '.2f')} | {cell('seconds', '.1f')} "
        f"| {cell('cpu_seconds', '.1f')} |"
    )


def render(rows: dict[str, dict[str, float]], machine: str, every: int = 1) -> str:
    series = (
        "414 series"
        if every == 1
        else f"every {every}th of the 414 series ({len(range(0, 414, every))}; `--sample {every}`)"
    )
    against = (
        "Naive2's published scores (sMAPE 18.383, MASE 2.395)"
        if every == 1
        else "Naive2 recomputed on the same series"
    )
    lines = [
        "## M4 hourly (`make bench-m4`)",
        "",
        f"{series}, horizon {HORIZON}, 95% intervals; statecast with seasons "
        f"{PERIODS[0]} and {PERIODS[1]}; statsforecast with conformal intervals (2 windows). "
        f"OWA against {against}. "
        "`bound/range`: the farthest any bound lies outside the series' training range, "
        f"in units of that range. One core per model; {machine}.",
        "",
        "| model | sMAPE | MASE | OWA | MSIS 95 | coverage 95 | bound/range | wall s | CPU s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines.extend(render_row(name, row) for name, row in rows.items())
    lines += [
        "| *published, all 414: best M4 hourly entry (Doornik, Hendry & Castle)* | 8.913 | 0.801 "
        "| 0.410 | 6.139 | | | | |",
        "| *published, all 414: M4 winner overall (Smyl, ES-RNN)* "
        "| 9.328 | 0.893 | 0.440 | 7.928 | | | | |",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--skip", action="append", default=[], help="skip models matching")
    parser.add_argument(
        "--period",
        default=",".join(map(str, PERIODS)),
        help="statecast's seasons (default: %(default)s; '24' for an engine that takes one)",
    )
    parser.add_argument(
        "--sample",
        type=int,
        default=1,
        help="every K-th series only (OWA then against Naive2 recomputed on the same series)",
    )
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--save", type=Path, help="also write this run's rows to this JSON")
    parser.add_argument(
        "--combine",
        type=Path,
        nargs="+",
        help="write the docs from rows saved by concurrent partial runs (--save), run nothing",
    )
    args = parser.parse_args()
    if args.combine:
        combine(args.combine)
        return
    warnings.simplefilter("ignore")
    global STATECAST_PERIOD
    seasons = tuple(int(p) for p in args.period.split(","))
    STATECAST_PERIOD = seasons if len(seasons) > 1 else seasons[0]
    data = sample(load(), args.sample)
    before = os.getloadavg()[0]
    started = time.perf_counter()
    rows = evaluate(data, set(args.skip), args.save)
    if args.sample > 1:
        rows = against_sampled_naive2(rows)
    total = time.perf_counter() - started
    machine = f"load average {before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end"
    print(f"total {total:.0f} s ({machine})")
    document = {"m4_hourly": rows, "seconds": total, "load": machine, "args": vars(args)}
    if args.save:
        args.save.write_text(json.dumps(document, indent=2, default=str) + "\n")
    if not args.no_write:
        OUT.mkdir(parents=True, exist_ok=True)
        (OUT / "m4.json").write_text(json.dumps(document, indent=2, default=str) + "\n")
        replace_section(OUT / "forecast.md", "m4", render(rows, machine, args.sample))


def combine(paths: list[Path]) -> None:
    """Write the docs from partial runs of the same code (side by side or one after another)."""
    parts = [json.loads(p.read_text()) for p in paths]
    rows: dict[str, dict[str, float]] = {}
    for part in parts:
        rows |= {k: v for k, v in part["m4_hourly"].items() if k not in rows}
    order = list(BASELINES | MODELS)
    rows = dict(sorted(rows.items(), key=lambda kv: order.index(kv[0])))
    runs = [
        f"{', '.join(k for k in p['m4_hourly'] if k not in BASELINES) or 'baselines'} ({p['load']})"
        for p in parts
    ]
    machine = (
        parts[0]["load"]
        if len(parts) == 1
        else f"{len(parts)} runs of the same code: " + "; ".join(runs)
    )
    document = {"m4_hourly": rows, "runs": parts, "load": machine}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "m4.json").write_text(json.dumps(document, indent=2, default=str) + "\n")
    every = {int(part.get("args", {}).get("sample", 1)) for part in parts}
    if len(every) > 1:
        raise SystemExit(f"the runs sampled different series: --sample {sorted(every)}")
    replace_section(OUT / "forecast.md", "m4", render(rows, machine, every.pop()))


if __name__ == "__main__":
    main()
