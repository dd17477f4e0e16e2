"""Forecasts for histories too short to backtest: naive with a random-walk interval.

The last observed value is carried forward. The interval is that of a Gaussian random
walk on the log1p scale, with the step spread estimated from the history's own first
differences (one log unit when there are fewer than three); it is not calibrated and
the forecast reports no backtest score.
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import numpy.typing as npt

__all__ = ["random_walk"]

FloatArray = npt.NDArray[np.float64]


def random_walk(
    z: FloatArray, *, horizon: int, probs: tuple[float, ...]
) -> tuple[FloatArray, FloatArray]:
    """Naive point and random-walk quantile offsets for series too short to backtest.

    Args:
        z: Imputed log-scale history, shape ``(n, T)``.
        horizon: Steps ahead.
        probs: Probabilities of the offsets.

    Returns:
        ``(zhat, offsets)`` of shapes ``(n, H)`` and ``(n, H, len(probs))``.
    """
    n, n_steps = z.shape
    zhat = np.repeat(z[:, -1:], horizon, axis=1)
    if n_steps >= 4:
        spread = np.std(np.diff(z, axis=1), axis=1)
        spread = np.where(spread > 0, spread, 1.0)
    else:
        spread = np.ones(n)
    steps = np.sqrt(np.arange(1, horizon + 1, dtype=np.float64))
    quantiles = np.array([NormalDist().inv_cdf(p) for p in probs])
    offsets = spread[:, None, None] * steps[None, :, None] * quantiles[None, None, :]
    all_zero = np.all(z == 0, axis=1)
    offsets[all_zero] = 0.0
    return zhat, np.asarray(offsets, dtype=np.float64)
