"""Point forecasts of whole counts: rounded where the backtest favours it."""

from __future__ import annotations

import numpy as np

from statecast.core.forecast import ForecastEngine, forecast_batch

PERIOD = 48
HORIZON = 6


def low_counts(n_series: int, n_steps: int, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n_steps)
    rate = 3.0 + 1.5 * np.sin(2 * np.pi * t / PERIOD)
    return rng.poisson(np.broadcast_to(rate, (n_series, n_steps))).astype(float)


def test_low_counts_get_whole_point_forecasts() -> None:
    data = low_counts(8, PERIOD * 8)
    result = forecast_batch(data, period=PERIOD, horizon=HORIZON, level=0.9)
    whole = np.all(result.mean == np.round(result.mean), axis=1)
    assert whole.sum() >= 6  # rounding lowers the backtest MAE of most such series
    assert np.all(result.lower <= result.mean) and np.all(result.mean <= result.upper)


def test_fractional_history_is_never_rounded() -> None:
    data = low_counts(8, PERIOD * 8) + 0.37
    result = forecast_batch(data, period=PERIOD, horizon=HORIZON, level=0.9)
    assert not np.any(result.mean == np.round(result.mean))


def test_engine_rounds_like_forecast_batch() -> None:
    data = low_counts(8, PERIOD * 8)
    engine = ForecastEngine(8, period=PERIOD, horizon=HORIZON, capacity=PERIOD * 8)
    engine.refit(data)
    batch = forecast_batch(data, period=PERIOD, horizon=HORIZON, level=0.9)
    # float32 history in the engine: equal to a few parts per million
    np.testing.assert_allclose(engine.forecast().mean, batch.mean, rtol=1e-4, atol=1e-4)
