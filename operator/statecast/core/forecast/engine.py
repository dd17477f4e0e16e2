"""The forecast entry points: :func:`forecast_series` and :func:`forecast_batch`.

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
from statecast.core.forecast.fastpath import (
    FamilyFit,
    Grid,
    fit_family,
    fit_names,
    profile_ahead,
    round_counts,
    spread,
    weekly_hedge,
)
from statecast.core.forecast.result import QUANTILE_LEVELS, BatchForecast, Forecast
from statecast.core.forecast.transform import (
    as_history,
    check_parameters,
    fill_missing,
    from_log,
    to_log,
)

__all__ = [
    "BATCH_CHUNK",
    "FastForecast",
    "bounds",
    "fast_forecast",
    "forecast_batch",
    "forecast_from_fast",
]

_log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

#: Series fitted together per chunk (bounds the working memory of the backtest).
BATCH_CHUNK = 256


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
            ``(n, H)`` (see :func:`~statecast.core.forecast.fastpath.weekly_hedge`).
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


def point_from_fit(fit: FamilyFit, z: FloatArray, *, period: int, horizon: int) -> FloatArray:
    """Log-scale point forecast of the fitted family after the last column of ``z``."""
    steps = np.arange(1, horizon + 1, dtype=np.float64)
    profile = profile_ahead(z, fit.seasons, fit.width, fit.robust, period=period, horizon=horizon)
    damp = fit.phi[:, None] ** steps[None, :]
    seasonal = profile + fit.level[:, None] * damp
    weight = fit.weight[:, None]
    zhat: FloatArray = weight * seasonal + (1.0 - weight) * fit.level_n[:, None]
    return zhat


def fast_forecast(
    y: FloatArray,
    *,
    period: int,
    horizon: int,
    level: float,
    quantiles: tuple[float, ...] = QUANTILE_LEVELS,
    grid: Grid | None = None,
) -> FastForecast:
    """Fit and forecast the fast path for a block of series (no chunking).

    Args:
        y: Checked counts with NaN for missing samples, shape ``(n, T)``.
        period: Season length in steps.
        horizon: Steps ahead.
        level: Interval level.
        quantiles: Extra quantile levels to calibrate.
        grid: Candidate parameters.
    """
    probs = interval_probs(level, quantiles)
    z = fill_missing(to_log(y), period)
    fit = fit_family(y, z, period=period, horizon=horizon, probs=probs, grid=grid)
    if fit is None:
        zhat, offsets = random_walk(z, horizon=horizon, probs=probs)
        zero = np.nansum(y, axis=1) == 0
        models = tuple("zero" if zr else "naive" for zr in zero)
        unit = np.ones_like(zhat)
        scores = np.full(len(y), np.nan)
        whole = np.zeros(len(y), dtype=np.bool_)
        hedge = np.zeros_like(zhat)
        return FastForecast(zhat, offsets, unit, probs, models, scores, None, whole, hedge)
    zhat = point_from_fit(fit, z, period=period, horizon=horizon)
    models = fit_names(fit)
    scale = spread(zhat, fit.kappa)
    grid = grid or Grid()
    ends = fit.offsets[..., :2] * scale[..., None]
    hedge = weekly_hedge(
        z, zhat, ends, scale, period=period, week=grid.week, threshold=grid.hedge_threshold
    )
    return FastForecast(zhat, fit.offsets, scale, probs, models, fit.score, fit, fit.whole, hedge)


def bounds(
    zhat: FloatArray,
    offsets: FloatArray,
    scale: FloatArray,
    whole: npt.NDArray[np.bool_] | None = None,
    hedge: FloatArray | None = None,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Point, lower and upper bounds on the count scale (offsets' first two are the ends).

    Where ``whole`` (per series) is set, the point forecast is the nearest whole count;
    ``hedge`` (log scale, per series and step) lowers the lower bound where negative and
    raises the upper bound where positive.
    """
    stretch = np.zeros_like(zhat) if hedge is None else hedge
    mean = from_log(zhat)
    if whole is not None and whole.any():
        mean = np.where(whole[:, None], round_counts(mean), mean)
    low = zhat + offsets[..., 0] * scale + np.minimum(stretch, 0.0)
    high = zhat + offsets[..., 1] * scale + np.maximum(stretch, 0.0)
    lower = np.minimum(from_log(low), mean)
    upper = np.maximum(from_log(high), mean)
    return mean, lower, upper


def forecast_batch(
    history: npt.ArrayLike, *, period: int, horizon: int, level: float = 0.9
) -> BatchForecast:
    """Forecast many series at once with the vectorised fast path.

    Args:
        history: Counts per step, shape ``(n_series, T)``, oldest first; NaN marks a
            missing sample.
        period: Season length in steps (e.g. 288 for a day of 5-minute steps).
        horizon: Steps ahead.
        level: Nominal coverage of the intervals.

    Returns:
        Point forecasts, calibrated intervals, model and backtest MASE per series.

    Raises:
        HistoryError: The history is not 2-D, empty, negative or infinite.
        ParameterError: ``period``, ``horizon`` or ``level`` out of range.
    """
    check_parameters(period=period, horizon=horizon, level=level)
    y = as_history(history, ndim=2)
    n = y.shape[0]
    mean = np.zeros((n, horizon))
    lower = np.zeros((n, horizon))
    upper = np.zeros((n, horizon))
    scores = np.full(n, np.nan)
    models: list[str] = []
    for start in range(0, n, BATCH_CHUNK):
        block = slice(start, min(n, start + BATCH_CHUNK))
        fast = fast_forecast(y[block], period=period, horizon=horizon, level=level, quantiles=())
        mean[block], lower[block], upper[block] = bounds(
            fast.zhat, fast.offsets, fast.spread, fast.whole, fast.hedge
        )
        scores[block] = fast.scores
        models.extend(fast.models)
    _log.debug("forecast_batch series=%d horizon=%d period=%d", n, horizon, period)
    return BatchForecast(tuple(models), level, mean, lower, upper, scores)


def forecast_from_fast(fast: FastForecast, level: float) -> Forecast:
    """The single-series :class:`Forecast` of a one-row fast-path result."""
    mean, lower, upper = bounds(fast.zhat, fast.offsets, fast.spread, fast.whole, fast.hedge)
    up, down = np.maximum(fast.hedge[0], 0.0), np.minimum(fast.hedge[0], 0.0)
    quantiles = {
        q: from_log(
            fast.zhat[0] + fast.offsets[0, :, 2 + i] * fast.spread[0] + (up if q > 0.5 else down)
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
