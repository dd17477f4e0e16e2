# ruff: noqa: E402 - the thread limits must be set before numpy is imported
"""M4 hourly benchmark: statecast's two paths against baselines and statsforecast.

Run from the repository root::

    .venv/bin/python -m bench.m4                 # everything, writes docs/bench/m4.json
    .venv/bin/python -m bench.m4 --skip AutoARIMA --no-write
    # a long run in parts: each model's forecasts are kept as they are made
    .venv/bin/python -m bench.m4 --only AutoARIMA --cache /tmp/m4 --chunk 4 --no-write &
    .venv/bin/python -m bench.m4 --skip AutoARIMA --cache /tmp/m4 --chunk 26 --no-write
    .venv/bin/python -m bench.m4 --cache /tmp/m4  # the table, from what the cache holds

414 series, horizon 48, 95% intervals, scored with the M4 organisers' measures
(bench/m4_data.py). statecast forecasts with seasons 24 and 168 (a day and a week of
hourly steps); statsforecast's models get the same seasons where they take several
(MSTL) and the day otherwise, and conformal intervals (two windows of 48 steps, the
statsforecast default), so every interval is calibrated the same way. Every model runs
on one core (n_jobs=1, thread pools limited to one thread); statsforecast's numba code
is compiled on a small warm-up set first and that time is not counted. Naive2 is
recomputed here and must match its published scores (a check on the measures).

With ``--cache``, series are forecast in an order (:data:`PHASES`) whose every prefix of
whole phases is every 32nd, 16th, ... 2nd series; a model that has not finished all 414
is scored on the series it has finished, beside every model that forecast them, and the
docs say so (``--report-only`` writes the tables from the cache without forecasting).
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
from dataclasses import dataclass, field
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


def _statsforecast(name: str, conformal_intervals: bool = True) -> Runner:
    """A statsforecast model with conformal 95% intervals (or, without
    ``conformal_intervals``, the model's own: one fit instead of three, the same point
    forecasts), numba compiled beforehand."""

    def model() -> object:
        from statsforecast.models import MSTL, AutoARIMA, AutoETS, AutoTheta
        from statsforecast.utils import ConformalIntervals

        conformal = ConformalIntervals(h=HORIZON, n_windows=2) if conformal_intervals else None
        models: dict[str, Callable[[], object]] = {
            "MSTL": lambda: MSTL(
                season_length=list(PERIODS),
                trend_forecaster=AutoETS(model="ZZN"),
                prediction_intervals=conformal,
            ),
            "AutoETS": lambda: AutoETS(season_length=SEASON, prediction_intervals=conformal),
            "AutoTheta": lambda: AutoTheta(season_length=SEASON, prediction_intervals=conformal),
            "AutoARIMA": lambda: AutoARIMA(season_length=SEASON, prediction_intervals=conformal),
        }
        return models[name]()

    def forecast(train: tuple[np.ndarray, ...]) -> Bands:
        from statsforecast import StatsForecast

        sf = StatsForecast(models=[model()], freq=1, n_jobs=1)
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
    # Three times cheaper (about 20 CPU s a series): where the conformal one cannot finish.
    "statsforecast AutoARIMA (24), its own intervals": _statsforecast("AutoARIMA", False),
}


#: Series are forecast phase by phase of their row number modulo 32, in bit-reversed
#: order (0, 16, 8, 24, ...): a run stopped part way has forecast every 32nd, 16th, ...
#: 2nd series (``--cache``), a subset all models can be compared on.
PHASES = tuple(int(f"{i:05b}"[::-1], 2) for i in range(32))
#: The subsets a partial run can be scored on: every k-th series.
EVERY = (1, 2, 4, 8, 16, 32)


def chunks(n: int, size: int) -> list[np.ndarray]:
    """Rows ``0..n-1`` in :data:`PHASES` order, cut into chunks of at most ``size``."""
    out: list[np.ndarray] = []
    for phase in PHASES:
        rows = np.arange(phase, n, len(PHASES))
        out.extend(rows[i : i + size] for i in range(0, len(rows), size))
    return out


def subset(data: M4Hourly, rows: np.ndarray) -> M4Hourly:
    """The series at ``rows``."""
    return M4Hourly(
        tuple(data.ids[i] for i in rows), tuple(data.train[i] for i in rows), data.test[rows]
    )


@dataclass
class Forecasts:
    """One model's forecasts of every series so far, with the seconds spent on each.

    A chunk's wall and CPU seconds are shared equally by its series, so the time of any
    subset of series can be added up. Saved to ``<cache>/<slug>.npz`` after each chunk.
    """

    mean: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    wall: np.ndarray
    cpu: np.ndarray
    done: np.ndarray
    loads: list[float] = field(default_factory=list)

    @classmethod
    def empty(cls, n: int) -> Forecasts:
        """Nothing forecast yet for ``n`` series."""
        nan = np.full((n, HORIZON), np.nan)
        return cls(nan, nan.copy(), nan.copy(), np.zeros(n), np.zeros(n), np.zeros(n, bool))

    @classmethod
    def read(cls, path: Path, n: int) -> Forecasts:
        """The saved forecasts at ``path`` (empty when there are none)."""
        if not path.exists():
            return cls.empty(n)
        with np.load(path) as f:
            fields = {k: f[k] for k in ("mean", "lower", "upper", "wall", "cpu", "done")}
            return cls(**fields, loads=[float(x) for x in f["loads"]])

    def write(self, path: Path) -> None:
        """Save (atomically: a run killed while writing keeps the previous chunks)."""
        tmp = path.with_suffix(f".{os.getpid()}.npz")
        np.savez(
            tmp,
            mean=self.mean,
            lower=self.lower,
            upper=self.upper,
            wall=self.wall,
            cpu=self.cpu,
            done=self.done,
            loads=np.asarray(self.loads, dtype=float),
        )
        tmp.replace(path)

    def bands(self, rows: np.ndarray) -> Bands:
        """Mean, lower, upper at ``rows`` (no bounds for a model that gives none)."""
        if np.isnan(self.lower[rows]).all():
            return self.mean[rows], None, None
        return self.mean[rows], self.lower[rows], self.upper[rows]


def slug(name: str) -> str:
    """A file name for a model's name."""
    return "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")


def forecast_all(
    data: M4Hourly, name: str, runner: Runner, cache: Path | None, chunk: int, run: bool = True
) -> Forecasts:
    """``runner``'s forecasts of every series, resuming from and saving to ``cache``.

    Without ``run``, only what ``cache`` holds.
    """
    path = None if cache is None else cache / f"{slug(name)}.npz"
    out = (
        Forecasts.empty(len(data.train)) if path is None else Forecasts.read(path, len(data.train))
    )
    todo = [rows for rows in chunks(len(data.train), chunk) if not out.done[rows].all()]
    if not todo or not run:
        return out
    warm = getattr(runner, "warm_up", None)
    if warm is not None:
        warm(data)
    out.loads.append(os.getloadavg()[0])
    for rows in todo:
        wall, cpu = time.perf_counter(), time.process_time()
        bands = runner(subset(data, rows))
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        for target, values in zip((out.mean, out.lower, out.upper), bands, strict=True):
            if values is not None:
                target[rows] = values
        out.wall[rows], out.cpu[rows], out.done[rows] = wall / len(rows), cpu / len(rows), True
        if path is not None:
            out.write(path)
    out.loads.append(os.getloadavg()[0])
    if path is not None:
        out.write(path)
    return out


def scored(
    data: M4Hourly, runs: dict[str, Forecasts], rows: np.ndarray
) -> dict[str, dict[str, float]]:
    """Every model's scores and seconds on the series at ``rows``."""
    part = subset(data, rows)
    table: dict[str, dict[str, float]] = {}
    for name, run in runs.items():
        scores: Scores = score(part, *run.bands(rows))
        table[name] = scores.row() | {
            "seconds": float(run.wall[rows].sum()),
            "cpu_seconds": float(run.cpu[rows].sum()),
        }
    return table


def evaluate(
    data: M4Hourly,
    names: list[str],
    cache: Path | None = None,
    chunk: int = 1 << 30,
    run: bool = True,
) -> dict[str, Forecasts]:
    """Forecast every series with each model named; seconds exclude numba compilation.

    With ``cache``, each model's forecasts are saved after every ``chunk`` series and a
    later run with the same cache resumes where it stopped (forecasts already there are
    not made again: start a fresh cache after changing statecast's code).
    """
    runs: dict[str, Forecasts] = {}
    for name in names:
        runner = (BASELINES | MODELS)[name]
        runs[name] = made = forecast_all(data, name, runner, cache, chunk, run)
        if made.done.all():
            print(render_row(name, scored(data, {name: made}, np.arange(len(data.train)))[name]))
        else:
            print(f"| {name} | {int(made.done.sum())} of {len(made.done)} series |", flush=True)
    return runs


def sample(data: M4Hourly, every: int) -> M4Hourly:
    """Every ``every``-th series (all of them for 1)."""
    return subset(data, np.arange(0, len(data.train), every))


def against_sampled_naive2(rows: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """OWA against Naive2 recomputed on the same series (its published scores cover all)."""
    base = rows["Naive2 (recomputed)"]
    return {
        name: row | {"owa": 0.5 * (row["smape"] / base["smape"] + row["mase"] / base["mase"])}
        for name, row in rows.items()
    }


def describe(rows: np.ndarray, n: int) -> str:
    """Which series ``rows`` are: every k-th of the ``n``, or which rows (all in m4.json)."""
    for every in EVERY:
        if np.array_equal(rows, np.arange(0, n, every)):
            nth = {2: "2nd", 32: "32nd"}.get(every, f"{every}th")
            return f"{n} series" if every == 1 else f"every {nth} of the {n} series ({len(rows)})"
    shown = ", ".join(str(int(r)) for r in rows[:6])
    more = ", ... (every row in m4.json)" if len(rows) > 6 else ""
    return f"{len(rows)} of the {n} series (rows {shown}{more})"


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


def render(
    rows: dict[str, dict[str, float]], machine: str, series: str, heading: str = "##"
) -> str:
    published = series.startswith("414 series")
    against = (
        "Naive2's published scores (sMAPE 18.383, MASE 2.395)"
        if published
        else "Naive2 recomputed on the same series"
    )
    lines = [
        f"{heading} M4 hourly: {series}",
        "",
        f"Horizon {HORIZON}, 95% intervals; statecast with seasons "
        f"{PERIODS[0]} and {PERIODS[1]}; statsforecast with conformal intervals (2 windows). "
        f"OWA against {against}. "
        "`bound/range`: the farthest any bound lies outside the series' training range, "
        f"in units of that range. Seconds are those spent on these series; one core per "
        f"model; {machine}.",
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


def matching(patterns: list[str], names: list[str]) -> list[str]:
    """The names containing any of the patterns (case-insensitive)."""
    return [n for n in names if any(p.lower() in n.lower() for p in patterns)]


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--skip", action="append", default=[], help="skip models matching")
    parser.add_argument("--only", action="append", default=[], help="run only models matching")
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
    parser.add_argument(
        "--cache",
        type=Path,
        help="keep each model's forecasts in this directory, saved as they are made; a run "
        "with the same directory resumes there and reuses them (runs side by side may "
        "share it, one model each; a fresh directory after changing the code)",
    )
    parser.add_argument(
        "--chunk", type=int, default=1 << 30, help="save to --cache after this many series"
    )
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument(
        "--report-only", action="store_true", help="forecast nothing: the tables from --cache"
    )
    return parser.parse_args()


def main() -> None:
    args = parse()
    warnings.simplefilter("ignore")
    global STATECAST_PERIOD
    seasons = tuple(int(p) for p in args.period.split(","))
    STATECAST_PERIOD = seasons if len(seasons) > 1 else seasons[0]
    if args.cache is not None:
        args.cache.mkdir(parents=True, exist_ok=True)
    data = sample(load(), args.sample)
    names = list(BASELINES) + [n for n in MODELS if n not in matching(args.skip, list(MODELS))]
    if args.only:
        names = list(BASELINES) + matching(args.only, list(MODELS))
    before = os.getloadavg()[0]
    started = time.perf_counter()
    runs = evaluate(data, names, args.cache, args.chunk, run=not args.report_only)
    total = time.perf_counter() - started
    machine = f"load average {before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end"
    loads = {n: r.loads for n, r in runs.items() if r.loads}
    print(f"total {total:.0f} s ({machine}); load at each model's start and end {loads}")
    if args.no_write:
        return
    write(data, runs, args.sample, machine if args.cache is None else cached_loads(loads))


def cached_loads(loads: dict[str, list[float]]) -> str:
    """The load average around each model's forecasts (runs may have resumed from a cache)."""
    if not loads:
        return "every forecast from the cache"
    spans = [f"{min(v):.1f}-{max(v):.1f}" for v in loads.values()]
    low = min(min(v) for v in loads.values())
    high = max(max(v) for v in loads.values())
    return f"load average {low:.1f} to {high:.1f} while the models ran ({len(spans)} models)"


def scored_rows(done: np.ndarray) -> np.ndarray:
    """The rows a partial model is scored on: every k-th series if it has them, else all."""
    n = len(done)
    for every in EVERY:
        rows = np.arange(0, n, every)
        if done[rows].all():
            return rows
    return np.flatnonzero(done)


def write(data: M4Hourly, runs: dict[str, Forecasts], every: int, machine: str) -> None:
    """docs/bench/m4.json and the M4 section of docs/bench/forecast.md.

    One table of every model that forecast all series; for each model that did not,
    another of it beside every model that forecast the same series (the most first): the
    largest every-k-th subset it finished, or else every series it finished.
    """
    n = len(data.train)
    everything = np.arange(n)
    complete = {name: r for name, r in runs.items() if r.done.all()}
    rows = scored(data, complete, everything)
    if every > 1:
        rows = against_sampled_naive2(rows)
    sample_of = "" if every == 1 else f" (of every {every}th series)"
    sections = [render(rows, machine, describe(everything, n) + sample_of)]
    document: dict[str, object] = {"m4_hourly": rows, "load": machine, "every": every}
    partial = sorted(
        ((name, r) for name, r in runs.items() if name not in complete and r.done.any()),
        key=lambda item: -int(item[1].done.sum()),
    )
    subsets: list[dict[str, object]] = []
    for _, run in partial:
        done = scored_rows(run.done)
        if any(t["rows"] == done.tolist() for t in subsets):
            continue
        beside = {k: r for k, r in runs.items() if r.done[done].all()}
        table = against_sampled_naive2(scored(data, beside, done))
        series = describe(done, n) + sample_of
        sections.append(render(table, machine, series, "###"))
        subsets.append({"series": series, "rows": done.tolist(), "m4_hourly": table})
    document["subsets"] = subsets
    left = {name: int(r.done.sum()) for name, r in runs.items() if name not in complete}
    if left:
        sections.append(
            "Not finished: "
            + ", ".join(f"{name} ({d} of {n} series)" for name, d in left.items())
            + ".\n"
        )
        document["unfinished"] = left
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "m4.json").write_text(json.dumps(document, indent=2, default=str) + "\n")
    replace_section(OUT / "forecast.md", "m4", "\n".join(sections))


if __name__ == "__main__":
    main()
