"""Errors raised by the forecast engine.

Exception tree::

    ForecastError (ValueError)
    ├── HistoryError      the history cannot be forecast (wrong shape, negative counts)
    └── ParameterError    a parameter is out of range (period, horizon, level, exog shape)
"""

from __future__ import annotations

__all__ = ["ForecastError", "HistoryError", "ParameterError"]


class ForecastError(ValueError):
    """Base class of every error the forecast engine raises."""


class HistoryError(ForecastError):
    """The history is unusable: wrong shape, negative or infinite counts."""


class ParameterError(ForecastError):
    """A parameter (period, horizon, level, exogenous input) is out of range."""
