"""The vectorised fast path: one small model family fitted to thousands of series at once.

Every series is modelled on ``z = log1p(count)``. At origin ``t`` the forecast of step
``h`` is::

    zhat(t + h) = p(t + h) + phi**h * l(t)

* ``p(u)`` is the seasonal profile: the mean (or, robust to past bursts, the median) of
  ``z(u - k*P + v)`` over the ``K`` most recent seasons known at ``t`` (``k = m ..
  m+K-1``, ``m = ceil((h + w) / P)``), then averaged over phase offsets ``v = -w .. w``
  (smoothing across neighbouring steps of the season). ``K = 0`` means no season.
* ``l`` is an exponentially weighted level of the deviation ``d = z - p`` (smoothing
  ``alpha``), damped towards the profile by ``phi`` as the horizon grows.

A second, level member forecasts ``l_n(t)``, an exponentially weighted level of ``z``
itself (naive when its smoothing is 1, ``ses`` otherwise), and the forecast is the
weighted mean ``c * seasonal + (1 - c) * level``: ``c = 0.5`` where the best seasonal
member beats the best level member on the backtest, ``c = 0`` otherwise (a fixed equal
weight measured steadier than a weight chosen per series). The family nests the
baselines: naive (last value), seasonal naive (``K = 1, w = 0, phi = 0``), simple
exponential smoothing; the seasonal member is a profile with a decaying short-term
correction (``profile``, or ``robust_profile`` with the median); a combination is named
``profile+ses`` and so on.

Parameters are chosen per series by a dense rolling-origin backtest on the most recent
origins (count-scale MAE over steps 1..H), and the same backtest residuals calibrate the
intervals: split-conformal quantiles per step of the residuals on the log scale divided by
a predicted spread ``s = sqrt(mu / (1 + mu)**2 + kappa**2)`` (``mu`` the point forecast as
a count, at least 0.25; the first term is the Poisson spread of ``log1p``, ``kappa`` the
series' extra multiplicative noise), so quiet hours get wider log intervals than busy ones.

A weekly cycle cannot be learned from a week of history, and the backtest (its origins
cover the last two days) cannot see it either: the first hour of a Monday after a quiet
weekend looks like the weekend. :func:`weekly_hedge` compares each step's forecast with the
level one week before it (a centred median of 13 steps); where that level lies beyond an
end of the interval (and ``hedge_threshold`` spreads from the forecast), the end is moved
out by its own distance from the forecast. The point forecast is left alone.

Where a series' history holds only whole counts and rounding the backtest forecasts to the
nearest whole count lowered their MAE, the point forecast is rounded (``whole``): the
median of a count distribution is a whole number, which matters at counts of a few per step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from statecast.core.forecast.calibration import conformal_offsets
from statecast.core.forecast.transform import from_log

__all__ = [
    "MIN_ORIGINS",
    "FamilyFit",
    "Grid",
    "fit_family",
    "fit_names",
    "model_name",
    "plan_origins",
    "profile_ahead",
    "profile_now",
    "round_counts",
    "weekly_hedge",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Fewest backtest origins needed to choose parameters and calibrate intervals.
MIN_ORIGINS = 24
#: Smallest rate used for the Poisson part of the spread (keeps near-zero forecasts from
#: dividing residuals by almost nothing).
MIN_RATE = 0.25
#: Steps of warm-up before the first origin, for the smoothed level to settle.
WARM_UP = 96


@dataclass(frozen=True)
class Grid:
    """Candidate parameters of the family.

    Attributes:
        seasons: Candidate numbers of seasons ``K`` (``0`` is always tried, and so is the
            largest ``K`` up to ``max_seasons`` that the history allows).
        max_seasons: Upper bound on ``K``.
        widths: Candidate half-widths ``w`` of the phase smoothing.
        robust: Whether to try the median across seasons as well as the mean (``K >= 3``).
        alphas: Candidate level smoothing constants.
        phis: Candidate damping factors of the level (seasonal candidates only).
        combine: Weight of the seasonal member, combined with the level member, where it
            beats the level member in the backtest (1 uses the seasonal member alone).
        origins: Span of the most recent backtest origins, in steps (at most).
        stride: Steps between two backtest origins.
        week: Seasons per week for the weekly hedge of the intervals (see
            :func:`weekly_hedge`); 0 turns it off.
        hedge_threshold: Smallest gap, in predicted spreads, between the week-ago level
            and the forecast that stretches an interval.
    """

    seasons: tuple[int, ...] = (1, 2, 4)
    max_seasons: int = 8
    widths: tuple[int, ...] = (0, 2)
    robust: bool = True
    alphas: tuple[float, ...] = (0.1, 0.3, 0.6, 1.0)
    phis: tuple[float, ...] = (0.0, 0.8, 0.95, 1.0)
    combine: float = 0.5
    origins: int = 576
    stride: int = 2
    week: int = 7
    hedge_threshold: float = 2.0


@dataclass(frozen=True)
class FamilyFit:
    """Parameters, calibration and state of the family for ``n`` series.

    Attributes:
        seasons: ``K`` per series, shape ``(n,)``.
        width: Phase-smoothing half-width ``w`` per series.
        robust: Whether the profile is the median across seasons, per series.
        alpha: Level smoothing per series.
        phi: Level damping per series.
        level: Smoothed deviation at the last step, per series.
        alpha_n: Smoothing of the level member (naive when 1), per series.
        level_n: Its smoothed log level at the last step, per series.
        weight: Weight of the seasonal member in the forecast (the level member has the
            rest), per series.
        offsets: Quantiles of the normalised residuals, shape ``(n, H, len(probs))``.
        kappa: Extra multiplicative noise per series (see :func:`spread`).
        probs: Probabilities of ``offsets``' last axis.
        mae: Backtest count-scale MAE per series.
        scale: MASE scale per series (in-sample MAE of the seasonal or plain naive).
        zero: Whether the whole history is zero, per series.
        whole: Whether the point forecast is rounded to a whole count, per series (the
            history holds only whole counts and rounding lowered the backtest MAE).
    """

    seasons: IntArray
    width: IntArray
    robust: npt.NDArray[np.bool_]
    alpha: FloatArray
    phi: FloatArray
    level: FloatArray
    alpha_n: FloatArray
    level_n: FloatArray
    weight: FloatArray
    offsets: FloatArray
    kappa: FloatArray
    probs: tuple[float, ...]
    mae: FloatArray
    scale: FloatArray
    zero: npt.NDArray[np.bool_]
    whole: npt.NDArray[np.bool_]

    @property
    def score(self) -> FloatArray:
        """Backtest MASE per series."""
        return self.mae / self.scale


def spread(zhat: FloatArray, kappa: FloatArray) -> FloatArray:
    """Predicted spread of the log-scale residual at ``zhat``, per series and step.

    Args:
        zhat: Log-scale point forecasts, shape ``(n, ...)``.
        kappa: Extra multiplicative noise per series, shape ``(n,)``.
    """
    mu = np.maximum(from_log(zhat), MIN_RATE)
    extra = kappa.reshape((-1,) + (1,) * (zhat.ndim - 1))
    poisson = mu / (1.0 + mu) ** 2
    return np.asarray(np.sqrt(poisson + extra**2 + 1e-6), dtype=np.float64)


def round_counts(values: FloatArray) -> FloatArray:
    """Nearest whole counts (halves rounded up)."""
    return np.floor(values + 0.5)


def _whole_counts(y: FloatArray) -> npt.NDArray[np.bool_]:
    """Whether every known sample of a series is a whole number, per series.

    The tolerance (a few parts per million) admits counts that went through a float32
    log scale and back, as in :class:`~statecast.core.forecast.incremental.ForecastEngine`.
    """
    with np.errstate(invalid="ignore"):
        fractional = np.abs(y - np.round(y)) > 1e-5 * np.maximum(1.0, np.abs(y))
    return np.asarray(~np.any(fractional & ~np.isnan(y), axis=1), dtype=np.bool_)


def _row_nanmean(values: FloatArray) -> FloatArray:
    """Mean of each row ignoring NaN; NaN for a row without values (and no warning)."""
    count = np.sum(~np.isnan(values), axis=1)
    total = np.nansum(values, axis=1)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _kappa(resid: FloatArray, zhat: FloatArray) -> FloatArray:
    """Extra noise per series: residual variance beyond the Poisson part, at least 0."""
    mu = np.maximum(from_log(zhat), MIN_RATE)
    with np.errstate(invalid="ignore"):
        excess = _row_nanmean((resid**2 - mu / (1.0 + mu) ** 2).reshape(len(resid), -1))
    return np.sqrt(np.where(np.isfinite(excess), np.maximum(excess, 0.0), 0.0))


def model_name(
    seasons: int,
    width: int,
    phi: float,
    alpha_n: float,
    weight: float,
    *,
    zero: bool = False,
    robust: bool = False,
) -> str:
    """Name of the family member (or combination of two) with these parameters."""
    if zero:
        return "zero"
    level_name = "naive" if alpha_n >= 1.0 else "ses"
    if weight <= 0.0 or seasons == 0:
        return level_name
    if seasons == 1 and width == 0 and phi == 0.0:
        seasonal_name = "seasonal_naive"
    else:
        seasonal_name = "robust_profile" if robust else "profile"
    return seasonal_name if weight >= 1.0 else f"{seasonal_name}+{level_name}"


def fit_names(fit: FamilyFit) -> tuple[str, ...]:
    """Model name per series of a fit."""
    return tuple(
        model_name(
            int(fit.seasons[i]),
            int(fit.width[i]),
            float(fit.phi[i]),
            float(fit.alpha_n[i]),
            float(fit.weight[i]),
            zero=bool(fit.zero[i]),
            robust=bool(fit.robust[i]),
        )
        for i in range(len(fit.seasons))
    )


def first_season(step: int, width: int, period: int) -> int:
    """Most recent season ``m`` whose phase window around ``step`` ahead is already known."""
    return max(1, math.ceil((step + width) / period))


def _lags(
    z: FloatArray, period: int, start: int, stop: int, lags: int
) -> tuple[list[FloatArray], list[FloatArray]]:
    """Seasonal lags of ``z[:, start:stop]`` and their cumulative sums.

    ``lag[k]`` is ``z[:, u - k*P]`` and ``sums[k]`` is ``sum_{j=1..k} z[:, u - j*P]`` for
    ``u`` in ``start..stop-1``; a lag before the start of the history is NaN.
    """
    n = z.shape[0]
    width = stop - start
    sums = [np.zeros((n, width))]
    single = [sums[0]]
    for k in range(1, lags + 1):
        lo = start - k * period
        shifted = np.full((n, width), np.nan)
        first = max(0, -lo)
        upper = min(width, z.shape[1] - lo)
        if upper > first:
            shifted[:, first:upper] = z[:, lo + first : lo + upper]
        sums.append(sums[-1] + shifted)
        single.append(shifted)
    return single, sums


def _smooth(values: FloatArray, width: int) -> FloatArray:
    """Centred moving mean of ``2*width + 1`` steps along axis 1 (edges left as they are)."""
    if width == 0 or values.shape[1] <= 2 * width:
        return values
    span = 2 * width + 1
    csum = np.cumsum(np.pad(values, ((0, 0), (1, 0))), axis=1)
    out = values.copy()
    out[:, width:-width] = (csum[:, span:] - csum[:, :-span]) / span
    return out


def _profile(
    lags: tuple[list[FloatArray], list[FloatArray]],
    seasons: int,
    first_lag: int,
    width: int,
    robust: bool,
) -> FloatArray:
    """Profile over lags ``first_lag .. first_lag + seasons - 1``, smoothed in phase."""
    single, sums = lags
    if robust:
        centre = np.median(np.stack(single[first_lag : first_lag + seasons]), axis=0)
    else:
        centre = (sums[first_lag + seasons - 1] - sums[first_lag - 1]) / seasons
    return _smooth(centre, width)


def _ewma(values: FloatArray, alpha: float) -> FloatArray:
    """Exponentially weighted level along axis 1, started at the first value.

    ``l[t] = l[t-1] + alpha * (x[t] - l[t-1])`` with ``l[-1] = x[0]``, computed in blocks
    of up to 64 steps with cumulative sums (a closed form that stays well inside float64
    range for a block), so the Python loop runs over blocks, not steps.
    """
    if alpha >= 1.0:
        return values.copy()
    keep = 1.0 - alpha
    block = 64 if keep >= 0.3 else 16  # keep**-block stays far below float64's range
    out = np.empty_like(values)
    previous = values[:, 0].copy()
    powers = keep ** np.arange(1, block + 1, dtype=np.float64)  # keep^(j+1)
    inverse = keep ** -np.arange(block, dtype=np.float64)  # keep^(-j)
    for first in range(0, values.shape[1], block):
        chunk = values[:, first : first + block]
        width = chunk.shape[1]
        scaled = np.cumsum(chunk * inverse[:width], axis=1)
        # l[j] = keep^(j+1) * l_prev + alpha * keep^j * sum_{i<=j} x_i keep^(-i)
        out[:, first : first + width] = (
            powers[:width] * previous[:, None] + alpha * (powers[:width] / keep) * scaled
        )
        previous = out[:, first + width - 1]
    return out


def _mase_scale(y: FloatArray, period: int) -> FloatArray:
    """In-sample MAE of seasonal naive (or naive without two seasons) per series."""
    lag = period if y.shape[1] >= 2 * period else 1
    if y.shape[1] <= lag:
        return np.ones(y.shape[0])
    diffs = np.abs(y[:, lag:] - y[:, :-lag])
    scale = _row_nanmean(diffs)
    return np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)


def plan_origins(
    n_steps: int, period: int, horizon: int, grid: Grid
) -> tuple[int, tuple[int, ...]]:
    """First backtest origin and the seasonal candidates the history length allows.

    Returns:
        ``(first_origin, seasons)``; ``first_origin`` is ``-1`` when there are fewer than
        :data:`MIN_ORIGINS` origins even without seasons.
    """
    last_origin = n_steps - 1 - horizon
    stride = max(1, grid.stride)
    m_max = first_season(horizon, max(grid.widths, default=0), period)
    usable: list[int] = []
    if n_steps >= 2 * period:
        for k in range(1, grid.max_seasons + 1):
            earliest = (k + m_max - 1) * period + max(grid.widths, default=0) + WARM_UP
            if (last_origin - earliest) // stride + 1 >= MIN_ORIGINS:
                usable.append(k)
    seasons = sorted({k for k in usable if k in grid.seasons} | set(usable[-1:]))
    need = (max(seasons) + m_max - 1) * period + max(grid.widths, default=0) if seasons else 0
    need += min(WARM_UP, n_steps // 4)
    first = max(need, last_origin - grid.origins + 1)
    if (last_origin - first) // stride + 1 < MIN_ORIGINS:
        return -1, ()
    return first, tuple(seasons)


def fit_family(
    y: FloatArray,
    z: FloatArray,
    *,
    period: int,
    horizon: int,
    probs: tuple[float, ...],
    grid: Grid | None = None,
) -> FamilyFit | None:
    """Choose parameters per series by backtest and calibrate their intervals.

    Args:
        y: Counts with NaN for missing samples, shape ``(n, T)``.
        z: ``log1p`` of the counts with missing samples imputed, same shape.
        period: Season length in steps.
        horizon: Steps ahead.
        probs: Probabilities of the residual quantiles to calibrate.
        grid: Candidate parameters (default :class:`Grid`).

    Returns:
        The fit, or ``None`` when the history is too short to backtest.
    """
    grid = grid or Grid()
    n, n_steps = z.shape
    first, seasons_ok = plan_origins(n_steps, period, horizon, grid)
    if first < 0:
        return None
    last = n_steps - 1 - horizon
    start = max(0, first - WARM_UP)
    widths = tuple(grid.widths) or (0,)
    m_max = first_season(horizon, max(widths), period)
    k_max = max(seasons_ok, default=0)
    lags = _lags(z, period, start, n_steps + horizon, k_max + m_max - 1) if k_max else ([], [])

    steps = np.arange(1, horizon + 1)
    origins = np.arange(last, first - 1, -max(1, grid.stride))[::-1] - start  # window-relative
    targets = origins[:, None] + steps[None, :]  # (M, H)
    y_win = np.concatenate([y, np.full((n, horizon), np.nan)], axis=1)[:, start:]
    y_target = y_win[:, targets]
    z_target = np.log1p(y_target)
    end = n_steps - 1 - start  # window index of the last observation
    z_win = z[:, start:]

    nonseasonal = _Best(n, len(origins), horizon, z_win[:, end])
    seasonal = _Best(n, len(origins), horizon, z_win[:, end])

    def mae_of(zhat: FloatArray, *, rounded: bool = False) -> FloatArray:
        point = from_log(zhat)
        with np.errstate(invalid="ignore"):
            err = np.abs(y_target - (round_counts(point) if rounded else point))
        count = np.sum(~np.isnan(err), axis=(1, 2))
        mae = np.nansum(err, axis=(1, 2)) / np.maximum(count, 1)
        return np.where(count > 0, mae, np.inf)

    # Without seasons: naive first (ties go to the simplest), then exponential smoothing.
    for alpha in sorted(grid.alphas, reverse=True):
        level = _ewma(z_win[:, : end + 1], alpha)
        zhat = np.repeat(level[:, origins][:, :, None], horizon, axis=2)
        nonseasonal.offer(mae_of(zhat), zhat, (0, 0, False, alpha, 1.0), level[:, end])

    variants = [
        (k, w, r)
        for k in seasons_ok
        for w in widths
        for r in ((False, True) if grid.robust and k >= 3 else (False,))
    ]
    for k, w, r in variants:
        by_season = {
            m: _profile(lags, k, m, w, r)
            for m in {first_season(int(h), w, period) for h in steps} | {1}
        }
        now = by_season[1][:, : end + 1]
        ahead = np.empty((n, len(origins), horizon))
        for j, h in enumerate(steps):
            ahead[:, :, j] = by_season[first_season(int(h), w, period)][:, targets[:, j]]
        deviation = z_win[:, : end + 1] - now
        for phi in grid.phis:
            damp = phi ** steps.astype(np.float64)
            for alpha in sorted(grid.alphas, reverse=True) if phi > 0 else (1.0,):
                level = _ewma(deviation, alpha)
                zhat = ahead + level[:, origins][:, :, None] * damp[None, None, :]
                seasonal.offer(mae_of(zhat), zhat, (k, w, r, alpha, phi), level[:, end])

    # Where a seasonal member beats the level member, forecast with a fixed-weight mean of
    # the two (an equal-weight combination is steadier than a weight chosen by backtest).
    use_seasonal = seasonal.mae < nonseasonal.mae - 1e-12
    weight = np.where(use_seasonal, grid.combine, 0.0)
    w3 = weight[:, None, None]
    best_zhat = w3 * seasonal.zhat + (1.0 - w3) * nonseasonal.zhat
    best_mae = mae_of(best_zhat)
    # Counts are whole: the median of a count distribution is a whole number, and the
    # nearest one is the point forecast where the backtest says it is at least as good.
    rounded_mae = mae_of(best_zhat, rounded=True)
    whole = _whole_counts(y) & (rounded_mae <= best_mae)
    best_mae = np.where(whole, rounded_mae, best_mae)
    resid = z_target - best_zhat
    kappa = _kappa(resid, best_zhat)
    offsets = conformal_offsets(resid / spread(best_zhat, kappa), probs)
    zero = np.nansum(y, axis=1) == 0
    return FamilyFit(
        seasons=seasonal.k,
        width=seasonal.w,
        robust=seasonal.r,
        alpha=seasonal.alpha,
        phi=seasonal.phi,
        level=seasonal.level,
        alpha_n=nonseasonal.alpha,
        level_n=nonseasonal.level,
        weight=weight,
        offsets=offsets,
        kappa=kappa,
        probs=probs,
        mae=np.where(np.isfinite(best_mae), best_mae, np.nan),
        scale=_mase_scale(y, period),
        zero=zero,
        whole=whole,
    )


class _Best:
    """The best candidate so far per series (backtest MAE, forecasts, parameters)."""

    def __init__(self, n: int, origins: int, horizon: int, level: FloatArray) -> None:
        self.mae = np.full(n, np.inf)
        self.zhat = np.zeros((n, origins, horizon))
        self.k = np.zeros(n, dtype=np.int64)
        self.w = np.zeros(n, dtype=np.int64)
        self.r = np.zeros(n, dtype=np.bool_)
        self.alpha = np.ones(n)
        self.phi = np.ones(n)
        self.level = level.copy()

    def offer(
        self,
        mae: FloatArray,
        zhat: FloatArray,
        params: tuple[int, int, bool, float, float],
        level_end: FloatArray,
    ) -> None:
        better = mae < self.mae - 1e-12
        if not better.any():
            return
        k, w, r, alpha, phi = params
        self.mae[better] = mae[better]
        self.zhat[better] = zhat[better]
        self.k[better] = k
        self.w[better] = w
        self.r[better] = r
        self.alpha[better] = alpha
        self.phi[better] = phi
        self.level[better] = level_end[better]


def _phase_columns(anchor: int, seasons: int, width: int, first: int, period: int) -> list[int]:
    """Columns ``anchor - j*P + v`` ordered season-major (``j``), then phase offset ``v``."""
    return [
        anchor - j * period + v
        for j in range(first, first + seasons)
        for v in range(-width, width + 1)
    ]


def _gathered(
    z: npt.NDArray[np.floating[Any]],
    rows: IntArray,
    cols: list[int],
    seasons: int,
    robust: bool,
) -> FloatArray:
    """Profile value from gathered columns: centre across seasons, then mean over phase."""
    block = z[np.ix_(rows, np.asarray(cols, dtype=np.int64))].astype(np.float64)
    block = block.reshape(len(rows), seasons, -1)
    centre = np.median(block, axis=1) if robust else block.mean(axis=1)
    return np.asarray(centre.mean(axis=1), dtype=np.float64)


def _groups(
    seasons: IntArray, width: IntArray, robust: npt.NDArray[np.bool_]
) -> list[tuple[int, int, bool, IntArray]]:
    keys = {(int(k), int(w), bool(r)) for k, w, r in zip(seasons, width, robust, strict=True)}
    return [
        (k, w, r, np.flatnonzero((seasons == k) & (width == w) & (robust == r)))
        for k, w, r in sorted(keys)
        if k > 0
    ]


def profile_ahead(
    z: npt.NDArray[np.floating[Any]],
    seasons: IntArray,
    width: IntArray,
    robust: npt.NDArray[np.bool_],
    *,
    period: int,
    horizon: int,
) -> FloatArray:
    """Seasonal profile of steps ``1..horizon`` after the last column of ``z``.

    Args:
        z: Imputed log-scale history, shape ``(n, T)``; it must hold enough seasons for
            every series' ``K`` (the engine and the fit guarantee it).
        seasons: ``K`` per series (``0``: no season, profile 0).
        width: Phase-smoothing half-width per series.
        robust: Median (``True``) or mean across seasons, per series.
        period: Season length in steps.
        horizon: Steps ahead.

    Returns:
        Array ``(n, horizon)``.
    """
    n, n_steps = z.shape
    out = np.zeros((n, horizon))
    for k, w, r, rows in _groups(seasons, width, robust):
        for h in range(1, horizon + 1):
            m = first_season(h, w, period)
            cols = [
                min(max(c, 0), n_steps - 1)
                for c in _phase_columns(n_steps - 1 + h, k, w, m, period)
            ]
            out[rows, h - 1] = _gathered(z, rows, cols, k, r)
    return out


def profile_now(
    z: npt.NDArray[np.floating[Any]],
    seasons: IntArray,
    width: IntArray,
    robust: npt.NDArray[np.bool_],
    *,
    period: int,
) -> FloatArray:
    """Seasonal profile of the last column of ``z`` (for the deviation of a new sample)."""
    n, n_steps = z.shape
    out = np.zeros(n)
    for k, w, r, rows in _groups(seasons, width, robust):
        m = first_season(0, w, period)
        cols = [min(max(c, 0), n_steps - 1) for c in _phase_columns(n_steps - 1, k, w, m, period)]
        out[rows] = _gathered(z, rows, cols, k, r)
    return out


def weekly_hedge(
    z: npt.NDArray[np.floating[Any]],
    zhat: FloatArray,
    ends: FloatArray,
    scale: FloatArray,
    *,
    period: int,
    week: int = 7,
    threshold: float = 2.0,
    half: int = 6,
) -> FloatArray:
    """Log-scale stretch of the intervals where the level a week before lies outside them.

    Args:
        z: Imputed log-scale history, shape ``(n, T)``.
        zhat: Log-scale point forecasts of steps ``1..H`` after ``z``, shape ``(n, H)``.
        ends: Log-scale offsets of the interval's ends from ``zhat``, shape ``(n, H, 2)``
            (lower end first, at most 0; then the upper end, at least 0).
        scale: Predicted spread of each step (:func:`spread`), shape ``(n, H)``.
        period: Season length in steps.
        week: Seasons per week (0: no hedge).
        threshold: Smallest gap between the week-ago level and the forecast, in spreads.
        half: Half-width of the centred median around the week-ago step.

    Returns:
        Shape ``(n, H)``: where the week-ago level (the median of ``z`` over ``2*half+1``
        steps centred one week before the step) lies beyond an end of the interval and at
        least ``threshold * scale`` from the forecast, that end's own offset (positive: the
        upper end moves up by it; negative: the lower end moves down), else 0. Zero where
        the history is shorter than a week.
    """
    n, n_steps = z.shape
    horizon = zhat.shape[1]
    out = np.zeros((n, horizon))
    if week <= 0:
        return out
    for h in range(1, horizon + 1):
        centre = n_steps - 1 + h - week * period
        if centre < 0:
            continue
        past = z[:, max(0, centre - half) : centre + half + 1].astype(np.float64)
        gap = np.median(past, axis=1) - zhat[:, h - 1]
        low, high = np.minimum(ends[:, h - 1, 0], 0.0), np.maximum(ends[:, h - 1, 1], 0.0)
        far = np.abs(gap) > threshold * scale[:, h - 1]
        out[:, h - 1] = np.where(far & (gap > high), high, np.where(far & (gap < low), low, 0.0))
    return out
