"""The weekly hedge: intervals reach the week-ago level where it differs from the forecast."""

from __future__ import annotations

import numpy as np

from statecast.core.forecast import ForecastEngine, forecast_batch
from statecast.core.forecast.family import Grid
from statecast.core.forecast.hedge import weekly_hedge

PERIOD = 48
HORIZON = 6


def weekly(n_series: int, days: int, seed: int = 5) -> np.ndarray:
    """Poisson counts at 50 per step on weekdays (days 0-4 of each week), 30 at weekends."""
    rng = np.random.default_rng(seed)
    day = np.arange(days * PERIOD) // PERIOD
    rate = np.where(day % 7 >= 5, 30.0, 50.0)
    return rng.poisson(np.broadcast_to(rate, (n_series, len(rate)))).astype(float)


def test_no_hedge_without_a_weekly_difference() -> None:
    z = np.full((3, 7 * PERIOD), 2.0)
    zhat = np.full((3, HORIZON), 2.0)
    ends = np.broadcast_to(np.array([-0.2, 0.2]), (3, HORIZON, 2))
    hedge = weekly_hedge(z, zhat, ends, np.full((3, HORIZON), 0.1), period=PERIOD)
    assert np.all(hedge == 0.0)


def test_no_hedge_with_less_than_a_week() -> None:
    z = np.zeros((2, 3 * PERIOD))
    ends = np.broadcast_to(np.array([-0.2, 0.2]), (2, HORIZON, 2))
    hedge = weekly_hedge(z, np.ones((2, HORIZON)), ends, np.full((2, HORIZON), 0.1), period=PERIOD)
    assert np.all(hedge == 0.0)


def test_hedge_moves_the_end_the_week_ago_level_lies_beyond() -> None:
    z = np.full((2, 7 * PERIOD), 2.0)
    z[1] = 3.0  # a week ago (and ever since) higher than the forecast
    zhat = np.full((2, HORIZON), 2.0)
    ends = np.broadcast_to(np.array([-0.3, 0.4]), (2, HORIZON, 2))
    hedge = weekly_hedge(z, zhat, ends, np.full((2, HORIZON), 0.1), period=PERIOD)
    assert np.all(hedge[0] == 0.0)
    np.testing.assert_allclose(hedge[1], 1.0)  # the upper end moves out by the whole gap


def test_monday_after_a_quiet_weekend_is_covered() -> None:
    data = weekly(6, 8)  # days 0..7: the history ends at the start of the second Monday
    history, truth = data[:, : 7 * PERIOD], data[:, 7 * PERIOD : 7 * PERIOD + HORIZON]
    hedged = forecast_batch(history, period=PERIOD, horizon=HORIZON, level=0.9)
    plain = ForecastEngine(6, period=PERIOD, horizon=HORIZON, grid=Grid(week=0))
    plain.refit(history)
    unhedged = plain.forecast()
    # The forecast follows the weekend, but the upper bound reaches the weekday level.
    np.testing.assert_allclose(hedged.mean, unhedged.mean, rtol=1e-4, atol=1e-4)
    assert np.mean(hedged.mean) < 40
    np.testing.assert_allclose(hedged.lower, unhedged.lower, rtol=1e-4, atol=1e-4)
    assert np.all(hedged.upper >= unhedged.upper - 1e-4)
    covered = np.mean((truth >= hedged.lower) & (truth <= hedged.upper))
    assert covered > np.mean((truth >= unhedged.lower) & (truth <= unhedged.upper))
    assert covered >= 0.8


def test_engine_hedges_like_forecast_batch() -> None:
    history = weekly(4, 7)
    engine = ForecastEngine(4, period=PERIOD, horizon=HORIZON)
    engine.refit(history)
    batch = forecast_batch(history, period=PERIOD, horizon=HORIZON, level=0.9)
    np.testing.assert_allclose(engine.forecast().upper, batch.upper, rtol=1e-4, atol=1e-4)
