"""The forecast contract: names, shapes and invariants the planner and simulator rely on."""

from __future__ import annotations

import numpy as np
import pytest

import statecast.core.forecast as forecast_pkg
from statecast.core.forecast import (
    QUANTILE_LEVELS,
    BatchForecast,
    Forecast,
    HistoryError,
    ParameterError,
    forecast_batch,
    forecast_series,
)

PERIOD = 24
HORIZON = 6


def diurnal(n_steps: int, seed: int = 0, base: float = 20.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n_steps)
    return rng.poisson(base * np.exp(np.sin(2 * np.pi * t / PERIOD))).astype(float)


def test_public_names_are_exported() -> None:
    assert set(forecast_pkg.__all__) >= {
        "Forecast",
        "BatchForecast",
        "forecast_series",
        "forecast_batch",
        "ForecastEngine",
        "ForecastError",
        "HistoryError",
        "ParameterError",
    }


def test_forecast_series_has_the_contract_shape() -> None:
    result = forecast_series(diurnal(PERIOD * 8), period=PERIOD, horizon=HORIZON, level=0.9)
    assert isinstance(result, Forecast)
    assert result.level == 0.9
    assert result.horizon == HORIZON
    for arr in (result.mean, result.lower, result.upper):
        assert arr.shape == (HORIZON,)
        assert arr.dtype == np.float64
    assert np.all(result.lower >= 0)
    assert np.all(result.lower <= result.mean)
    assert np.all(result.mean <= result.upper)
    assert set(result.quantiles) == set(QUANTILE_LEVELS)
    assert result.score is not None
    assert result.score > 0
    assert isinstance(result.model, str)


def test_quantiles_are_ordered() -> None:
    result = forecast_series(diurnal(PERIOD * 8), period=PERIOD, horizon=HORIZON)
    levels = sorted(result.quantiles)
    stacked = np.stack([result.quantiles[q] for q in levels])
    assert np.all(np.diff(stacked, axis=0) >= -1e-9)


def test_forecast_batch_has_the_contract_shape() -> None:
    history = np.stack([diurnal(PERIOD * 8, seed=s) for s in range(5)])
    result = forecast_batch(history, period=PERIOD, horizon=HORIZON, level=0.95)
    assert isinstance(result, BatchForecast)
    assert len(result.models) == 5
    assert result.level == 0.95
    for arr in (result.mean, result.lower, result.upper):
        assert arr.shape == (5, HORIZON)
    assert np.all(result.lower >= 0)
    assert np.all(result.lower <= result.mean)
    assert np.all(result.mean <= result.upper)


def test_wider_level_gives_wider_intervals() -> None:
    history = diurnal(PERIOD * 8)
    narrow = forecast_series(history, period=PERIOD, horizon=HORIZON, level=0.5)
    wide = forecast_series(history, period=PERIOD, horizon=HORIZON, level=0.95)
    assert np.all(wide.upper - wide.lower >= narrow.upper - narrow.lower - 1e-9)
    assert np.sum(wide.upper - wide.lower) > np.sum(narrow.upper - narrow.lower)


@pytest.mark.parametrize(
    ("history", "message"),
    [
        ([[1.0, 2.0]], "dimension"),
        ([], "empty"),
        ([1.0, -1.0, 2.0], "negative"),
        ([1.0, np.inf], "infinite"),
        (["a", "b"], "numeric"),
    ],
)
def test_bad_history_is_rejected(history: object, message: str) -> None:
    with pytest.raises(HistoryError, match=message):
        forecast_series(history, period=4, horizon=2)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"period": 0, "horizon": 2}, "period"),
        ({"period": 4, "horizon": 0}, "horizon"),
        ({"period": 4, "horizon": 2, "level": 1.0}, "level"),
        ({"period": 4, "horizon": 2, "level": 0.0}, "level"),
    ],
)
def test_bad_parameters_are_rejected(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        forecast_series([1.0, 2.0, 3.0], **kwargs)  # type: ignore[arg-type]


def test_batch_rejects_one_dimensional_history() -> None:
    with pytest.raises(HistoryError, match="dimension"):
        forecast_batch([1.0, 2.0], period=4, horizon=2)
