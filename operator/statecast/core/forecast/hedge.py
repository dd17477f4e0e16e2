"""The weekly hedge of the intervals, for histories that cannot model the week.

Where the week is not among the seasons modelled (the history is shorter than two
weeks), a weekly cycle is invisible to the members and to the backtest: at midnight
before a Monday, after a quiet weekend, the forecast follows the weekend. The history
does show what happened one week before each step ahead, so :func:`weekly_hedge`
compares each step's forecast with the level one week before it (a centred median of
13 steps); where that level lies beyond an end of the interval (and ``threshold``
spreads from the forecast), that end moves out by the gap: the interval becomes the
union of its own and the same interval around the week-ago level, the two hypotheses
the history cannot tell apart (a weekly cycle, or a level shift since). The point
forecast is left alone.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from statecast.core.forecast.window import Columns

__all__ = ["weekly_hedge"]

FloatArray = npt.NDArray[np.float64]


def weekly_hedge(
    z: Columns,
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
        least ``threshold * scale`` from the forecast, its gap from the forecast (positive:
        the upper end moves up by it; negative: the lower end moves down), else 0. Zero
        where the history is shorter than a week.
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
        past = np.asarray(z[:, max(0, centre - half) : centre + half + 1], dtype=np.float64)
        gap = np.median(past, axis=1) - zhat[:, h - 1]
        low, high = np.minimum(ends[:, h - 1, 0], 0.0), np.maximum(ends[:, h - 1, 1], 0.0)
        far = np.abs(gap) > threshold * scale[:, h - 1]
        out[:, h - 1] = np.where(far & (gap > high), gap, np.where(far & (gap < low), gap, 0.0))
    return out
