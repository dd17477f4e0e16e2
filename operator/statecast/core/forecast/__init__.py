"""Per-node access forecasts with calibrated prediction intervals.

Pure code (numpy, scipy, statsmodels; no Kubernetes). The entry points:

* :func:`forecast_series` forecasts one series, choosing among the fast family, ETS and
  SARIMAX with Fourier terms by rolling-origin backtest, with conformal intervals.
* :func:`forecast_batch` forecasts thousands of series with the vectorised fast path.

Exception tree::

    ForecastError (ValueError)
    ├── HistoryError      the history cannot be forecast (wrong shape, negative counts)
    └── ParameterError    a parameter is out of range (period, horizon, level, exog shape)
"""

from statecast.core.forecast.engine import forecast_batch
from statecast.core.forecast.errors import ForecastError, HistoryError, ParameterError
from statecast.core.forecast.result import QUANTILE_LEVELS, BatchForecast, Forecast
from statecast.core.forecast.selection import forecast_series

__all__ = [
    "QUANTILE_LEVELS",
    "BatchForecast",
    "Forecast",
    "ForecastError",
    "HistoryError",
    "ParameterError",
    "forecast_batch",
    "forecast_series",
]
