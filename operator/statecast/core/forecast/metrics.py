"""Forecast accuracy measures: MAE, MASE scale, coverage, MSIS and pinball loss.

All functions take arrays of the same shape and ignore NaN truths.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["coverage", "interval_score", "mae", "mase_scale", "pinball"]

FloatArray = npt.NDArray[np.float64]


def mae(truth: FloatArray, point: FloatArray) -> float:
    """Mean absolute error."""
    return float(np.nanmean(np.abs(truth - point)))


def mase_scale(history: FloatArray, period: int) -> float:
    """In-sample MAE of seasonal naive (naive when shorter than two seasons), at least 1e-9."""
    lag = period if len(history) >= 2 * period else 1
    diffs = np.abs(history[lag:] - history[:-lag])
    scale = float(np.nanmean(diffs)) if np.isfinite(diffs).any() else 1.0
    return scale if scale > 0 else 1.0


def coverage(truth: FloatArray, lower: FloatArray, upper: FloatArray) -> float:
    """Share of truths inside ``[lower, upper]``."""
    valid = ~np.isnan(truth)
    inside = (truth >= lower) & (truth <= upper)
    return float(np.mean(inside[valid]))


def interval_score(truth: FloatArray, lower: FloatArray, upper: FloatArray, level: float) -> float:
    """Mean interval (Winkler) score at ``level``; divide by a MASE scale for MSIS."""
    alpha = 1.0 - level
    below = np.maximum(lower - truth, 0.0)
    above = np.maximum(truth - upper, 0.0)
    score = (upper - lower) + (2.0 / alpha) * (below + above)
    return float(np.nanmean(score))


def pinball(truth: FloatArray, quantile: FloatArray, prob: float) -> float:
    """Mean pinball (quantile) loss of ``quantile`` at probability ``prob``."""
    diff = truth - quantile
    loss = np.maximum(prob * diff, (prob - 1.0) * diff)
    return float(np.nanmean(loss))
