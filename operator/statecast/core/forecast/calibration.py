"""Interval calibration: split-conformal quantiles of backtest residuals.

Residuals ``r = z - zhat`` (log scale) from rolling-origin backtests are collected per
series and per step ahead; the interval at level ``L`` adds the ``(1-L)/2`` and
``(1+L)/2`` residual quantiles to the point forecast. Quantile levels get the
finite-sample correction of split conformal prediction, ``ceil((M+1) q) / M``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["conformal_offsets", "interval_probs"]

FloatArray = npt.NDArray[np.float64]


def interval_probs(level: float, quantiles: tuple[float, ...]) -> tuple[float, ...]:
    """Probabilities to calibrate: the interval's two ends, then ``quantiles``."""
    return ((1.0 - level) / 2.0, (1.0 + level) / 2.0, *quantiles)


def conformal_offsets(residuals: FloatArray, probs: tuple[float, ...]) -> FloatArray:
    """Residual quantiles per series and step, ignoring NaN residuals.

    Args:
        residuals: Shape ``(n, M, H)``: series, backtest origin, step ahead.
        probs: Probabilities in (0, 1).

    Returns:
        Shape ``(n, H, len(probs))``; zero where a series has no residual at a step.
    """
    n, _, horizon = residuals.shape
    ordered = np.sort(residuals, axis=1)  # NaN last
    valid = np.sum(~np.isnan(residuals), axis=1)  # (n, H)
    out = np.zeros((n, horizon, len(probs)))
    count = valid.astype(np.float64)
    top = np.maximum(valid - 1, 0)
    for i, p in enumerate(probs):
        # Rank of the conformal quantile (1-based), pushed outwards from the median.
        rank = np.ceil((count + 1.0) * p) if p >= 0.5 else np.floor((count + 1.0) * p)
        index = np.clip(rank.astype(np.int64) - 1, 0, top)
        value = np.take_along_axis(ordered, index[:, None, :], axis=1)[:, 0, :]
        out[:, :, i] = np.where(valid > 0, value, 0.0)
    return out
