"""M4 hourly: the data, the official measures and the Naive2 benchmark.

The measures follow the organisers' evaluation code (see /work/shared/data/m4/README.md):
sMAPE and MASE (m = 24, in-sample seasonal-naive scale) per series, then averaged over
series; OWA against Naive2's published hourly scores; MSIS at 95% on the MASE scale and
coverage. Naive2 is recomputed here (seasonality test on the autocorrelation at lag 24,
classical multiplicative decomposition, naive on the adjusted series) to check the
measures against the published figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

M4 = Path("/work/shared/data/m4")
HORIZON = 48
SEASON = 24
#: Naive2's published hourly scores (the OWA denominator).
NAIVE2_SMAPE = 18.383
NAIVE2_MASE = 2.395


@dataclass(frozen=True)
class M4Hourly:
    """Training series (ragged: 700 or 960 values) and the 48 test values of each."""

    ids: tuple[str, ...]
    train: tuple[np.ndarray, ...]
    test: np.ndarray  # (n, 48)

    def padded(self) -> np.ndarray:
        """Training values right-aligned in one array, NaN before a series starts."""
        width = max(len(t) for t in self.train)
        out = np.full((len(self.train), width), np.nan)
        for i, values in enumerate(self.train):
            out[i, width - len(values) :] = values
        return out


def load(root: Path = M4) -> M4Hourly:
    """Read ``Hourly-train.csv`` and ``Hourly-test.csv``."""
    train = pd.read_csv(root / "Hourly-train.csv")
    test = pd.read_csv(root / "Hourly-test.csv")
    ids = tuple(str(v) for v in train.iloc[:, 0])
    if tuple(str(v) for v in test.iloc[:, 0]) != ids:
        raise ValueError("train and test ids differ")
    values = tuple(row[~np.isnan(row)] for row in train.iloc[:, 1:].to_numpy(dtype=float))
    return M4Hourly(ids, values, test.iloc[:, 1:].to_numpy(dtype=float))


def mase_scales(train: tuple[np.ndarray, ...], season: int = SEASON) -> np.ndarray:
    """In-sample MAE of seasonal naive per series (the MASE and MSIS denominator)."""
    return np.array([np.mean(np.abs(t[season:] - t[:-season])) for t in train])


@dataclass(frozen=True)
class Scores:
    """Official M4 measures of one method, averaged over series."""

    smape: float
    mase: float
    owa: float
    msis: float
    coverage: float
    finite: bool
    max_bound_ratio: float

    def row(self) -> dict[str, float]:
        """The figures as a plain mapping (for JSON)."""
        return {
            "smape": self.smape,
            "mase": self.mase,
            "owa": self.owa,
            "msis": self.msis,
            "coverage": self.coverage,
            "finite": float(self.finite),
            "max_bound_ratio": self.max_bound_ratio,
        }


def score(
    data: M4Hourly,
    point: np.ndarray,
    lower: np.ndarray | None = None,
    upper: np.ndarray | None = None,
    alpha: float = 0.05,
) -> Scores:
    """sMAPE, MASE, OWA; with bounds, MSIS at ``1 - alpha``, coverage and bound sanity.

    ``max_bound_ratio`` is the largest distance of a bound outside the training range,
    in units of that range (0 when every bound lies within it).
    """
    truth = data.test
    smape = np.mean(200.0 * np.abs(truth - point) / (np.abs(truth) + np.abs(point)), axis=1)
    scales = mase_scales(data.train)
    mase = np.mean(np.abs(truth - point), axis=1) / scales
    s, m = float(np.mean(smape)), float(np.mean(mase))
    owa = 0.5 * (s / NAIVE2_SMAPE + m / NAIVE2_MASE)
    if lower is None or upper is None:
        return Scores(s, m, owa, float("nan"), float("nan"), True, float("nan"))
    penalty = (2.0 / alpha) * (np.maximum(lower - truth, 0) + np.maximum(truth - upper, 0))
    msis = np.mean((upper - lower) + penalty, axis=1) / scales
    inside = (truth >= lower) & (truth <= upper)
    finite = bool(np.isfinite(lower).all() and np.isfinite(upper).all())
    lo = np.array([t.min() for t in data.train])[:, None]
    hi = np.array([t.max() for t in data.train])[:, None]
    span = np.maximum(hi - lo, 1e-9)
    outside = np.maximum(np.maximum(upper - hi, lo - lower), 0.0) / span
    return Scores(
        s,
        m,
        owa,
        float(np.mean(msis)),
        float(np.mean(inside)),
        finite,
        float(np.nanmax(outside)) if finite else float("inf"),
    )


def _seasonal(values: np.ndarray, season: int) -> bool:
    """The M4 benchmarks' seasonality test: 90% one-sided on the ACF at ``season``."""
    n = len(values)
    if n < 3 * season:
        return False
    lags = int(10 * np.log10(n))
    centred = values - values.mean()
    denom = float(np.sum(centred**2))
    acf = np.array([np.sum(centred[k:] * centred[:-k]) / denom for k in range(1, lags + 1)])
    limit = 1.645 / np.sqrt(n) * np.sqrt(np.cumsum(np.r_[1.0, 2.0 * acf**2]))
    return season <= lags and abs(acf[season - 1]) > limit[season - 1]


def _seasonal_index(values: np.ndarray, season: int) -> np.ndarray:
    """R's ``decompose(type = "multiplicative")`` seasonal figure, one value per phase."""
    n = len(values)
    weights = np.r_[0.5, np.ones(season - 1), 0.5] / season
    trend = np.full(n, np.nan)
    half = season // 2
    trend[half : n - half] = np.convolve(values, weights, mode="valid")
    ratio = values / trend
    phases = np.arange(n) % season
    figure = np.array([np.nanmean(ratio[phases == p]) for p in range(season)])
    return np.asarray(figure / figure.mean(), dtype=float)


def naive2(data: M4Hourly, season: int = SEASON) -> np.ndarray:
    """Naive on the seasonally adjusted series, re-seasonalised (the M4 benchmark)."""
    out = np.empty_like(data.test)
    for i, values in enumerate(data.train):
        horizon = data.test.shape[1]
        if _seasonal(values, season):
            figure = _seasonal_index(values, season)
            phases = (len(values) + np.arange(horizon)) % season
            last = values[-1] / figure[(len(values) - 1) % season]
            out[i] = last * figure[phases]
        else:
            out[i] = values[-1]
    return out
