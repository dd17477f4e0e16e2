"""Per-node access forecasts with calibrated prediction intervals.

Pure code (numpy, statsmodels; no Kubernetes). The entry points:

* :func:`forecast_series` forecasts one series, choosing among the guarded fast path,
  naive and seasonal naive, STL+ETS, Holt-Winters, SARIMAX with Fourier terms and the
  mean of the best three by rolling-origin backtest, with conformal intervals.
* :func:`forecast_batch` forecasts thousands of series with the vectorised fast path.
* :class:`ForecastEngine` keeps forecasts of many series current: a cheap
  :meth:`~ForecastEngine.update` per sample, a :meth:`~ForecastEngine.refit` now and then
  (in a worker thread).

Exception tree::

    ForecastError (ValueError)
    ├── HistoryError      the history cannot be forecast (wrong shape, negative counts)
    └── ParameterError    a parameter is out of range (period, horizon, level, exog shape)
"""

from statecast.core.forecast.engine import forecast_batch
from statecast.core.forecast.errors import ForecastError, HistoryError, ParameterError
from statecast.core.forecast.incremental import ForecastEngine
from statecast.core.forecast.result import QUANTILE_LEVELS, BatchForecast, Forecast
from statecast.core.forecast.selection import forecast_series

__all__ = [
    "QUANTILE_LEVELS",
    "BatchForecast",
    "Forecast",
    "ForecastEngine",
    "ForecastError",
    "HistoryError",
    "ParameterError",
    "forecast_batch",
    "forecast_series",
]
