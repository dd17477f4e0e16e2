"""Seasonal profiles and smoothed levels, vectorised over many series.

A *profile* of season ``P`` over ``K`` seasons is the series::

    q(s) = centre of z(s - P), z(s - 2P), ..., z(s - K*P)

(the mean, or the median where ``robust``; over the lags that exist, so early on it
uses fewer seasons), optionally averaged over ``2w + 1`` neighbouring phases. ``q(s)``
only reads the past of ``s``, so it is at once the profile that forecasts step ``s``
and, for ``s`` up to one season after the last sample, the forecast itself: the
forecast of step ``h`` from origin ``o`` reads ``q`` at :func:`ahead_columns`, the
newest column whose lags (and their phase neighbours) are all known at ``o``.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import numpy.typing as npt

from statecast.core.forecast.window import Columns

__all__ = ["ahead_columns", "ewma", "first_lag", "lag_profile", "profile_at", "smooth_phase"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def first_lag(step: int, width: int, period: int) -> int:
    """Most recent season ``m`` whose phase window around ``step`` ahead is known."""
    return max(1, math.ceil((step + width) / period))


def ahead_columns(origins: IntArray, horizon: int, period: int, width: int = 0) -> IntArray:
    """Columns of a profile that forecast steps ``1..horizon`` after each origin.

    Step ``h`` from origin ``o`` reads ``q(o + h - (m - 1) P)`` with ``m`` from
    :func:`first_lag`: lags ``m .. m + K - 1`` of ``o + h``, all at or before ``o``.

    Returns:
        Shape ``(len(origins), horizon)``.
    """
    steps = np.arange(1, horizon + 1)
    back = np.array([(first_lag(int(h), width, period) - 1) * period for h in steps])
    return np.asarray(origins[:, None] + (steps - back)[None, :], dtype=np.int64)


def lag_profile(
    z: npt.NDArray[np.floating[Any]],
    period: int,
    seasons: int,
    *,
    robust: bool = False,
    extend: int = 0,
) -> FloatArray:
    """Profile ``q`` of ``z`` (shape ``(n, T)``) at columns ``0 .. T + extend - 1``.

    Args:
        z: Log-scale history without gaps.
        period: Season length ``P``.
        seasons: Seasons ``K`` averaged (over those that exist at each column).
        robust: Median instead of mean across seasons.
        extend: Columns after the last sample (at most ``period``).

    Returns:
        Shape ``(n, T + extend)``; NaN where no lag exists (the first season).
    """
    n, n_steps = z.shape
    width = n_steps + extend
    if seasons == 1:
        out = np.full((n, width), np.nan)
        out[:, period : period + n_steps] = z[:, : max(0, width - period)]
        return out
    lags = np.full((seasons, n, width), np.nan)
    for k in range(1, seasons + 1):
        shift = k * period
        if shift < width:
            lags[k - 1, :, shift:] = z[:, : width - shift]
    # Column s has min(K, s // P) lags: within each season of columns the count is
    # the same, so each block takes the plain centre of the lags it has.
    out = np.full((n, width), np.nan)
    centre = np.median if robust else np.mean
    for have in range(1, seasons + 1):
        lo = have * period
        hi = width if have == seasons else min(width, lo + period)
        if lo < hi:
            out[:, lo:hi] = centre(lags[:have, :, lo:hi], axis=0)
    return out


def smooth_phase(q: FloatArray, width: int) -> FloatArray:
    """Centred mean over ``2 * width + 1`` columns; NaN where a neighbour is NaN.

    The first and last ``width`` columns are left as they are.
    """
    if width == 0 or q.shape[1] <= 2 * width:
        return q
    span = 2 * width + 1
    missing = np.isnan(q)
    pad = ((0, 0), (1, 0))
    total = np.cumsum(np.pad(np.where(missing, 0.0, q), pad), axis=1)
    holes = np.cumsum(np.pad(missing, pad), axis=1)
    mean = (total[:, span:] - total[:, :-span]) / span
    out = q.copy()
    out[:, width:-width] = np.where(holes[:, span:] > holes[:, :-span], np.nan, mean)
    return out


def ewma(values: FloatArray, alpha: float) -> FloatArray:
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


def profile_at(
    z: Columns,
    columns: IntArray,
    *,
    period: int,
    seasons: int,
    robust: bool,
    width: int,
) -> FloatArray:
    """The profile ``q`` of each row of ``z`` at ``columns`` (gathered, not a whole series).

    The same value :func:`lag_profile` then :func:`smooth_phase` give, for columns up
    to one season after the last sample; lags before the first column are skipped.

    Args:
        z: Log-scale history, shape ``(n, T)`` (an array, or a
            :class:`~statecast.core.forecast.window.BlockedView`).
        columns: Columns (may exceed ``T - 1`` by less than a season), shape ``(C,)``.
        period: Season length.
        seasons: Seasons ``K``.
        robust: Median across seasons instead of the mean.
        width: Half-width of the phase average.

    Returns:
        Shape ``(n, C)``.
    """
    k = np.arange(1, seasons + 1)[:, None, None]
    v = np.arange(-width, width + 1)[None, :, None]
    source = columns[None, None, :] + v - k * period  # (K, 2w+1, C)
    valid = source >= 0
    block = np.asarray(z[:, np.maximum(source, 0)], dtype=np.float64)  # (n, K, 2w+1, C)
    if valid.all():
        centre = np.median(block, axis=1) if robust else block.mean(axis=1)
    else:
        block[:, ~valid] = np.nan
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            centre = np.nanmedian(block, axis=1) if robust else np.nanmean(block, axis=1)
    return np.asarray(centre.mean(axis=1), dtype=np.float64)
