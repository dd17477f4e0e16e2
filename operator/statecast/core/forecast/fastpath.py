"""The vectorised fast path: one small model family fitted to thousands of series at once.

Every series is modelled on ``z = log1p(count)``. At origin ``t`` the forecast of step
``h`` is::

    zhat(t + h) = p_K(t + h) + phi**h * l(t)

* ``p_K(u)`` is the seasonal profile: the mean of ``z(u - k*P)`` over the ``K`` most
  recent seasons known at ``t`` (``k = m .. m+K-1`` with ``m = ceil(h / P)``). ``K = 0``
  means no season (``p = 0``).
* ``l`` is an exponentially weighted level of the deviation ``d = z - p_K`` (smoothing
  ``alpha``), damped towards the profile by ``phi`` as the horizon grows.

The family nests the baselines: ``K = 0, alpha = 1`` is naive (last value); ``K = 1,
phi = 0`` is seasonal naive; ``K = 0, alpha < 1`` is simple exponential smoothing; the
rest is a seasonal profile with a decaying short-term correction (``profile``).

Parameters are chosen per series by a dense rolling-origin backtest on the most recent
origins (count-scale MAE over steps 1..H), and the same backtest residuals calibrate the
intervals (split-conformal quantiles per step, on the log scale).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.signal import lfilter

from statecast.core.forecast.calibration import conformal_offsets
from statecast.core.forecast.transform import from_log

__all__ = [
    "MIN_ORIGINS",
    "FamilyFit",
    "Grid",
    "fit_family",
    "model_name",
    "profile_ahead",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Fewest backtest origins needed to choose parameters and calibrate intervals.
MIN_ORIGINS = 24
#: Steps of warm-up before the first origin, for the smoothed level to settle.
WARM_UP = 96


@dataclass(frozen=True)
class Grid:
    """Candidate parameters of the family.

    Attributes:
        seasons: Candidate numbers of seasons ``K`` in the profile (``0`` is always tried).
        alphas: Candidate level smoothing constants.
        phis: Candidate damping factors of the level (seasonal candidates only).
        origins: Span of the most recent backtest origins, in steps (at most).
        stride: Steps between two backtest origins.
    """

    seasons: tuple[int, ...] = (1, 3, 7)
    alphas: tuple[float, ...] = (0.1, 0.3, 0.6, 1.0)
    phis: tuple[float, ...] = (0.0, 0.8, 0.95, 1.0)
    origins: int = 576
    stride: int = 2


@dataclass(frozen=True)
class FamilyFit:
    """Parameters, calibration and state of the family for ``n`` series.

    Attributes:
        seasons: ``K`` per series, shape ``(n,)``.
        alpha: Level smoothing per series.
        phi: Level damping per series.
        level: Smoothed deviation at the last step, per series.
        offsets: Residual quantiles on the log scale, shape ``(n, H, len(probs))``.
        probs: Probabilities of ``offsets``' last axis.
        mae: Backtest count-scale MAE per series.
        scale: MASE scale per series (in-sample MAE of the seasonal or plain naive).
        zero: Whether the whole history is zero, per series.
    """

    seasons: IntArray
    alpha: FloatArray
    phi: FloatArray
    level: FloatArray
    offsets: FloatArray
    probs: tuple[float, ...]
    mae: FloatArray
    scale: FloatArray
    zero: npt.NDArray[np.bool_]

    @property
    def score(self) -> FloatArray:
        """Backtest MASE per series."""
        return self.mae / self.scale


def model_name(seasons: int, alpha: float, phi: float, zero: bool) -> str:
    """Name of the family member with these parameters."""
    if zero:
        return "zero"
    if seasons == 0:
        return "naive" if alpha >= 1.0 else "ses"
    if seasons == 1 and phi == 0.0:
        return "seasonal_naive"
    return "profile"


def _lag_sums(z: FloatArray, period: int, start: int, stop: int, lags: int) -> list[FloatArray]:
    """Cumulative sums over seasonal lags 0..lags of ``z[:, start:stop]``.

    ``out[k]`` is ``sum_{j=1..k} z[:, u - j*P]`` for ``u`` in ``start..stop-1``; a lag
    before the start of the history is NaN.
    """
    n = z.shape[0]
    width = stop - start
    sums = [np.zeros((n, width))]
    for k in range(1, lags + 1):
        lo = start - k * period
        shifted = np.full((n, width), np.nan)
        first = max(0, -lo)
        upper = min(width, z.shape[1] - lo)
        if upper > first:
            shifted[:, first:upper] = z[:, lo + first : lo + upper]
        sums.append(sums[-1] + shifted)
    return sums


def _profile(sums: list[FloatArray], seasons: int, first_lag: int) -> FloatArray:
    """Mean over lags ``first_lag .. first_lag + seasons - 1`` from cumulative sums."""
    total = sums[first_lag + seasons - 1] - sums[first_lag - 1]
    return total / seasons


def _ewma(values: FloatArray, alpha: float) -> FloatArray:
    """Exponentially weighted level along axis 1, started at the first value."""
    if alpha >= 1.0:
        return values.copy()
    zi = ((1.0 - alpha) * values[:, :1])[:, :, None].reshape(values.shape[0], 1)
    out, _ = lfilter([alpha], [1.0, alpha - 1.0], values, axis=1, zi=zi)
    return np.asarray(out, dtype=np.float64)


def _mase_scale(y: FloatArray, period: int) -> FloatArray:
    """In-sample MAE of seasonal naive (or naive without two seasons) per series."""
    lag = period if y.shape[1] >= 2 * period else 1
    diffs = np.abs(y[:, lag:] - y[:, :-lag])
    with np.errstate(invalid="ignore"):
        scale = np.nanmean(diffs, axis=1) if diffs.shape[1] else np.full(y.shape[0], np.nan)
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
    m_max = math.ceil(horizon / period)
    usable: list[int] = []
    for k in sorted(grid.seasons):
        # The profile at every origin and target must use K full seasons.
        earliest = (k + m_max - 1) * period + WARM_UP
        if n_steps >= 2 * period and (last_origin - earliest) // grid.stride + 1 >= MIN_ORIGINS:
            usable.append(k)
    need = ((max(usable) + m_max - 1) * period if usable else 0) + min(WARM_UP, n_steps // 4)
    first = max(need, last_origin - grid.origins + 1)
    if (last_origin - first) // max(1, grid.stride) + 1 < MIN_ORIGINS:
        return -1, ()
    return first, tuple(usable)


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
    m_max = math.ceil(horizon / period)
    k_max = max(seasons_ok, default=0)
    sums = _lag_sums(z, period, start, n_steps + horizon, k_max + m_max - 1) if k_max else []

    steps = np.arange(1, horizon + 1)
    origins = np.arange(last, first - 1, -grid.stride)[::-1] - start  # window-relative
    targets = origins[:, None] + steps[None, :]  # (M, H)
    z_target = np.full((n, len(origins), horizon), np.nan)
    y_abs = np.concatenate([y, np.full((n, horizon), np.nan)], axis=1)[:, start:]
    y_target = y_abs[:, targets]
    z_target = np.log1p(y_target)
    end = n_steps - 1 - start  # window index of the last observation
    z_win = z[:, start:]

    best_mae = np.full(n, np.inf)
    best_resid = np.zeros((n, len(origins), horizon))
    best_k = np.zeros(n, dtype=np.int64)
    best_alpha = np.ones(n)
    best_phi = np.ones(n)
    best_level = z_win[:, end].copy()

    def consider(k: int, alpha: float, phi: float, zhat: FloatArray, level_end: FloatArray) -> None:
        with np.errstate(invalid="ignore"):
            err = np.abs(y_target - from_log(zhat))
            mae = np.nanmean(err.reshape(n, -1), axis=1)
        mae = np.where(np.isfinite(mae), mae, np.inf)
        better = mae < best_mae - 1e-12
        if not better.any():
            return
        best_mae[better] = mae[better]
        best_resid[better] = (z_target - zhat)[better]
        best_k[better] = k
        best_alpha[better] = alpha
        best_phi[better] = phi
        best_level[better] = level_end[better]

    # Without seasons: naive and simple exponential smoothing of z.
    for alpha in sorted(grid.alphas, reverse=True):
        level = _ewma(z_win[:, : end + 1], alpha)
        zhat = np.repeat(level[:, origins][:, :, None], horizon, axis=2)
        consider(0, alpha, 1.0, zhat, level[:, end])

    m_of_step = [math.ceil(h / period) for h in steps]
    for k in seasons_ok:
        now = _profile(sums, k, 1)[:, : end + 1]
        ahead = np.empty((n, len(origins), horizon))
        for j, m in enumerate(m_of_step):
            ahead[:, :, j] = _profile(sums, k, m)[:, targets[:, j]]
        deviation = z_win[:, : end + 1] - now
        for phi in grid.phis:
            damp = phi ** steps.astype(np.float64)
            for alpha in grid.alphas if phi > 0 else (1.0,):
                level = _ewma(deviation, alpha)
                zhat = ahead + level[:, origins][:, :, None] * damp[None, None, :]
                consider(k, alpha, phi, zhat, level[:, end])

    offsets = conformal_offsets(best_resid, probs)
    zero = np.nansum(y, axis=1) == 0
    return FamilyFit(
        seasons=best_k,
        alpha=best_alpha,
        phi=best_phi,
        level=best_level,
        offsets=offsets,
        probs=probs,
        mae=np.where(np.isfinite(best_mae), best_mae, np.nan),
        scale=_mase_scale(y, period),
        zero=zero,
    )


def profile_ahead(z: FloatArray, seasons: IntArray, *, period: int, horizon: int) -> FloatArray:
    """Seasonal profile of steps ``1..horizon`` after the last column of ``z``.

    Args:
        z: Imputed log-scale history, shape ``(n, T)``.
        seasons: ``K`` per series (``0``: no season, profile 0).
        period: Season length in steps.
        horizon: Steps ahead.

    Returns:
        Array ``(n, horizon)``.
    """
    n, n_steps = z.shape
    out = np.zeros((n, horizon))
    for k in np.unique(seasons):
        if k == 0:
            continue
        rows = np.flatnonzero(seasons == k)
        for h in range(1, horizon + 1):
            m = math.ceil(h / period)
            cols = [n_steps - 1 + h - j * period for j in range(m, m + int(k))]
            cols = [c for c in cols if c >= 0]
            out[rows, h - 1] = z[np.ix_(rows, cols)].mean(axis=1) if cols else 0.0
    return out


def profile_now(z: FloatArray, seasons: IntArray, *, period: int) -> FloatArray:
    """Seasonal profile of the last column of ``z`` (for the deviation of a new sample)."""
    n, n_steps = z.shape
    out = np.zeros(n)
    for k in np.unique(seasons):
        if k == 0:
            continue
        rows = np.flatnonzero(seasons == k)
        cols = [n_steps - 1 - j * period for j in range(1, int(k) + 1)]
        cols = [c for c in cols if c >= 0]
        out[rows] = z[np.ix_(rows, cols)].mean(axis=1) if cols else 0.0
    return out
