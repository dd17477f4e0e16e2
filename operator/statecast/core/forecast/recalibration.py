"""Recalibrating an interval on the newest backtest origins (the default path's check).

The fast path calibrates its interval per step ahead on hundreds of backtest origins
spread over the whole history. The default path chooses a forecast on a few origins
spread over the newest season and must give that forecast an interval too. It keeps the
fast path's interval shape (the normalised residual quantiles per step, ``offsets``)
and stretches each quantile by one factor per probability, found by split-conformal
calibration on the chosen forecast's own residuals at those origins: for a probability
``p`` above one half the factor ``f`` is the smallest (at least 1) under which a share
``p`` of the normalised residuals ``e`` at every origin and step lies below
``f * offset`` of their step; below one half, above it. Every step of every origin is a
residual, so the pooled sample is large enough for a 95% end (eight origins of 48 steps:
384 residuals) while the shape per step still comes from the long backtest.

The pooled residuals of one origin are correlated, so eight origins say less than their
count suggests: the factor is shrunk halfway towards the long backtest's (the geometric
mean of ``f`` and 1, :data:`SHRINK`). Factors never narrow: the recent origins can say
that an interval is too narrow for the forecast that will be used, but a few quiet
origins do not outweigh the long backtest's tails.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["SHRINK", "conformal_quantile", "stretch", "stretched"]

FloatArray = npt.NDArray[np.float64]

#: Exponent applied to the recent origins' factor (0.5: halfway to 1 on the log scale).
SHRINK = 0.5
#: Probabilities this close to one half are the median: never stretched.
MEDIAN_TOLERANCE = 1e-9


def conformal_quantile(scores: FloatArray, prob: float) -> float:
    """Split-conformal quantile of ``scores`` (NaN ignored): rank ``ceil((n+1) p)``.

    Where that rank lies past the largest score (too few scores for the probability),
    the largest score; NaN when there is no score.
    """
    ordered = np.sort(scores[np.isfinite(scores)])
    if ordered.size == 0:
        return float("nan")
    rank = min(int(np.ceil((ordered.size + 1) * prob)), ordered.size)
    return float(ordered[rank - 1])


def _outward(offsets: FloatArray, probs: tuple[float, ...]) -> npt.NDArray[np.bool_]:
    """Where each quantile lies on its own side of zero (those are stretched), ``(H, P)``."""
    p = np.asarray(probs)[None, :]
    median = np.abs(p - 0.5) <= MEDIAN_TOLERANCE
    return np.asarray(~median & np.where(p > 0.5, offsets > 0, offsets < 0), dtype=np.bool_)


def stretch(residuals: FloatArray, offsets: FloatArray, probs: tuple[float, ...]) -> FloatArray:
    """Factor per probability (at least 1) towards covering the residuals at its probability.

    The conformal factor ``f`` that would cover them, shrunk to ``f ** SHRINK``.

    Args:
        residuals: Normalised log-scale residuals (truth minus forecast, divided by the
            predicted spread), shape ``(origins, H)``; NaN where the truth is missing.
        offsets: Normalised residual quantiles per step, shape ``(H, len(probs))``.
        probs: Probability of each column of ``offsets``.

    Returns:
        Shape ``(len(probs),)``: 1 for the median, for a quantile on the wrong side of
        zero at every step, and where there are no residuals.
    """
    outward = _outward(offsets, probs)
    factors = np.ones(len(probs))
    for i, prob in enumerate(probs):
        if not outward[:, i].any():
            continue
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = residuals / np.where(outward[:, i], offsets[:, i], np.nan)[None, :]
        needed = conformal_quantile(ratio.ravel(), max(prob, 1.0 - prob))
        factors[i] = 1.0 if np.isnan(needed) else max(1.0, needed) ** SHRINK
    return factors


def stretched(offsets: FloatArray, factors: FloatArray, probs: tuple[float, ...]) -> FloatArray:
    """``offsets`` times ``factors`` where outward, kept in order of probability per step.

    A quantile on the wrong side of zero is left as it is; an outer quantile is pushed
    out to an inner one that was stretched past it.
    """
    out = np.where(_outward(offsets, probs), offsets * factors[None, :], offsets)
    order = np.argsort(probs, kind="stable")
    split = int(np.searchsorted(np.asarray(probs)[order], 0.5))
    low, high = order[:split][::-1], order[split:]
    out[:, low] = np.minimum.accumulate(out[:, low], axis=1)
    out[:, high] = np.maximum.accumulate(out[:, high], axis=1)
    return np.asarray(out, dtype=np.float64)
