"""Model selection per series: the fast family and statsmodels models, by backtest."""

from __future__ import annotations

import numpy.typing as npt

from statecast.core.forecast.engine import forecast_fast_series
from statecast.core.forecast.errors import ParameterError
from statecast.core.forecast.result import Forecast
from statecast.core.forecast.transform import as_history, check_parameters

__all__ = ["forecast_series"]


def forecast_series(
    history: npt.ArrayLike,
    *,
    period: int,
    horizon: int,
    level: float = 0.9,
    exog: npt.ArrayLike | None = None,
    future_exog: npt.ArrayLike | None = None,
) -> Forecast:
    """Forecast one series, choosing the model by rolling-origin backtest.

    Args:
        history: Counts per step, oldest first; NaN marks a missing sample.
        period: Season length in steps.
        horizon: Steps ahead.
        level: Nominal coverage of the interval.
        exog: Known regressors over the history, shape ``(T,)`` or ``(T, k)``.
        future_exog: The same regressors over the horizon, shape ``(H,)`` or ``(H, k)``.

    Returns:
        The forecast of the model with the best backtest.

    Raises:
        HistoryError: The history is not 1-D, empty, negative or infinite.
        ParameterError: A parameter is out of range or the regressors do not match.
    """
    check_parameters(period=period, horizon=horizon, level=level)
    y = as_history(history, ndim=1)
    if (exog is None) != (future_exog is None):
        raise ParameterError("exog and future_exog must be given together")
    return forecast_fast_series(y, period=period, horizon=horizon, level=level)
