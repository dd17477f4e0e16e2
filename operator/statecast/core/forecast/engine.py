"""The fast path for a block of series (:func:`fast_forecast`) and :func:`forecast_batch`.

Both are synchronous, pure and thread-safe (no shared mutable state); the operator runs
them off its event loop.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from statecast.core.forecast.calibration import interval_probs
from statecast.core.forecast.fallback import random_walk
from statecast.core.forecast.family import Grid
from statecast.core.forecast.fastpath import FamilyFit, fit_family, round_counts, spread
from statecast.core.forecast.hedge import weekly_hedge
from statecast.core.forecast.result import QUANTILE_LEVELS, BatchForecast, Forecast
from statecast.core.forecast.transform import (
    Periods,
    as_history,
    as_periods,
    check_parameters,
    fill_missing,
    from_log,
    to_log,
)

__all__ = [
    "BATCH_CHUNK",
    "FastForecast",
    "bounds",
    "ceiling",
    "fast_forecast",
    "forecast_batch",
    "forecast_from_fast",
]

_log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

#: Series fitted together per chunk (bounds the working memory of the backtest).
BATCH_CHUNK = 256
#: Upper bounds stay below the history's maximum plus this many times its range.
CEILING_RANGES = 2.0


@dataclass(frozen=True)
class FastForecast:
    """Log-scale point forecasts and calibrated offsets of the fast path.

    Attributes:
        zhat: Log-scale point forecasts, shape ``(n, H)``.
        offsets: Normalised residual quantiles, shape ``(n, H, len(probs))``.
        spread: Log-scale spread the offsets are multiplied by, shape ``(n, H)``.
        probs: Probabilities of the offsets: interval ends first, then quantiles.
        models: Model name per series.
        scores: Backtest MASE per series (NaN when too short to backtest).
        fit: The fitted family (``None`` when too short), for incremental use.
        whole: Whether the point forecast is rounded to a whole count, per series.
        hedge: Log-scale stretch of the intervals towards the week-ago level, shape
            ``(n, H)`` (see :func:`~statecast.core.forecast.hedge.weekly_hedge`).
        cap: Largest upper bound per series (see :func:`ceiling`).
    """

    zhat: FloatArray
    offsets: FloatArray
    spread: FloatArray
    probs: tuple[float, ...]
    models: tuple[str, ...]
    scores: FloatArray
    fit: FamilyFit | None
    whole: npt.NDArray[np.bool_]
    hedge: FloatArray
    cap: FloatArray


def ceiling(y: FloatArray) -> FloatArray:
    """Largest sane upper bound per series: the maximum plus twice the range, plus 1."""
    observed = ~np.isnan(y)
    high = np.max(np.where(observed, y, -np.inf), axis=1)
    low = np.min(np.where(observed, y, np.inf), axis=1)
    cap = high + CEILING_RANGES * (high - low) + 1.0
    return np.asarray(np.where(np.isfinite(cap), cap, np.inf), dtype=np.float64)


def fast_forecast(
    y: FloatArray,
    *,
    periods: tuple[int, ...],
    horizon: int,
    level: float,
    quantiles: tuple[float, ...] = QUANTILE_LEVELS,
    grid: Grid | None = None,
    scored_from: int = 0,
) -> FastForecast:
    """Fit and forecast the fast path for a block of series (no chunking).

    Args:
        y: Checked counts with NaN for missing samples, shape ``(n, T)``.
        periods: Season lengths in steps, the main one first.
        horizon: Steps ahead.
        level: Interval level.
        quantiles: Extra quantile levels to calibrate.
        grid: Candidates.
        scored_from: The first column held at the history's resolution (older ones:
            spread from coarser values), see :func:`fit_family`.
    """
    grid = grid or Grid()
    probs = interval_probs(level, quantiles)
    z = fill_missing(to_log(y), periods[0])
    fit = fit_family(
        y, z, periods=periods, horizon=horizon, probs=probs, grid=grid, scored_from=scored_from
    )
    cap = ceiling(y)
    if fit is None:
        zhat, offsets = random_walk(z, horizon=horizon, probs=probs)
        zero = np.nansum(y, axis=1) == 0
        models = tuple("zero" if zr else "naive" for zr in zero)
        unit = np.ones_like(zhat)
        scores = np.full(len(y), np.nan)
        whole = np.zeros(len(y), dtype=np.bool_)
        hedge = np.zeros_like(zhat)
        return FastForecast(zhat, offsets, unit, probs, models, scores, None, whole, hedge, cap)
    scale = spread(fit.zhat, fit.kappa)
    hedge = np.zeros_like(fit.zhat)
    if len(fit.periods) <= 1 and grid.week > 0:
        ends = fit.offsets[..., :2] * scale[..., None]
        hedge = weekly_hedge(
            z, fit.zhat, ends, scale, period=periods[0], week=grid.week,
            threshold=grid.hedge_threshold,
        )  # fmt: skip
    return FastForecast(
        fit.zhat, fit.offsets, scale, probs, fit.names(), fit.score, fit, fit.whole, hedge, cap
    )


def bounds(
    zhat: FloatArray,
    offsets: FloatArray,
    scale: FloatArray,
    whole: npt.NDArray[np.bool_] | None = None,
    hedge: FloatArray | None = None,
    cap: FloatArray | None = None,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Point, lower and upper bounds on the count scale (offsets' first two are the ends).

    Where ``whole`` (per series) is set, the point forecast is the nearest whole count;
    ``hedge`` (log scale, per series and step) lowers the lower bound where negative and
    raises the upper bound where positive; ``cap`` (per series) limits the upper bound.
    """
    stretch = np.zeros_like(zhat) if hedge is None else hedge
    mean = from_log(zhat)
    if whole is not None and whole.any():
        mean = np.where(whole[:, None], round_counts(mean), mean)
    low = zhat + offsets[..., 0] * scale + np.minimum(stretch, 0.0)
    high = zhat + offsets[..., 1] * scale + np.maximum(stretch, 0.0)
    upper = from_log(high)
    if cap is not None:
        upper = np.minimum(upper, cap[:, None])
    lower = np.minimum(from_log(low), mean)
    return mean, lower, np.maximum(upper, mean)


def forecast_batch(
    history: npt.ArrayLike, *, period: Periods, horizon: int, level: float = 0.9
) -> BatchForecast:
    """Forecast many series at once with the vectorised fast path.

    Args:
        history: Counts per step, shape ``(n_series, T)``, oldest first; NaN marks a
            missing sample.
        period: Season length in steps (e.g. 288 for a day of 5-minute steps), or
            several (e.g. ``(24, 168)`` for a day and a week of hourly steps).
        horizon: Steps ahead.
        level: Nominal coverage of the intervals.

    Returns:
        Point forecasts, calibrated intervals, model and backtest MASE per series.

    Raises:
        HistoryError: The history is not 2-D, empty, negative or infinite.
        ParameterError: ``period``, ``horizon`` or ``level`` out of range.
    """
    check_parameters(period=period, horizon=horizon, level=level)
    periods = as_periods(period)
    y = as_history(history, ndim=2)
    n = y.shape[0]
    mean, lower, upper = (np.zeros((n, horizon)) for _ in range(3))
    scores = np.full(n, np.nan)
    models: list[str] = []
    for start in range(0, n, BATCH_CHUNK):
        block = slice(start, min(n, start + BATCH_CHUNK))
        fast = fast_forecast(y[block], periods=periods, horizon=horizon, level=level, quantiles=())
        mean[block], lower[block], upper[block] = bounds(
            fast.zhat, fast.offsets, fast.spread, fast.whole, fast.hedge, fast.cap
        )
        scores[block] = fast.scores
        models.extend(fast.models)
    _log.debug("forecast_batch series=%d horizon=%d periods=%s", n, horizon, periods)
    return BatchForecast(tuple(models), level, mean, lower, upper, scores)


def forecast_from_fast(fast: FastForecast, level: float) -> Forecast:
    """The single-series :class:`Forecast` of a one-row fast-path result."""
    mean, lower, upper = bounds(
        fast.zhat, fast.offsets, fast.spread, fast.whole, fast.hedge, fast.cap
    )
    up, down = np.maximum(fast.hedge[0], 0.0), np.minimum(fast.hedge[0], 0.0)
    quantiles = {
        q: np.minimum(
            from_log(
                fast.zhat[0]
                + fast.offsets[0, :, 2 + i] * fast.spread[0]
                + (up if q > 0.5 else down)
            ),
            fast.cap[0],
        )
        for i, q in enumerate(QUANTILE_LEVELS)
    }
    score = float(fast.scores[0])
    return Forecast(
        model=fast.models[0],
        level=level,
        mean=mean[0],
        lower=lower[0],
        upper=upper[0],
        quantiles=quantiles,
        score=score if np.isfinite(score) else None,
    )
