"""ForecastEngine: cheap updates with fixed parameters, refits that may run in a thread."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from statecast.core.forecast import HistoryError, forecast_batch
from statecast.core.forecast.incremental import ForecastEngine

PERIOD = 24
HORIZON = 6


def history(n_series: int, n_steps: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n_steps)
    phase = rng.uniform(0, 2 * np.pi, size=(n_series, 1))
    rate = 30 * np.exp(0.8 * np.sin(2 * np.pi * t / PERIOD + phase))
    return rng.poisson(rate).astype(float)


def test_refit_forecasts_like_forecast_batch() -> None:
    data = history(20, PERIOD * 8)
    engine = ForecastEngine(20, period=PERIOD, horizon=HORIZON, level=0.9, capacity=PERIOD * 8)
    engine.refit(data)
    ours = engine.forecast()
    batch = forecast_batch(data, period=PERIOD, horizon=HORIZON, level=0.9)
    assert ours.models == batch.models
    # float32 history in the engine: equal to a few parts per million
    np.testing.assert_allclose(ours.mean, batch.mean, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(ours.upper, batch.upper, rtol=1e-4, atol=1e-4)


def wandering(n_series: int, n_steps: int, seed: int = 0) -> np.ndarray:
    """A daily cycle on a level that wanders (a random walk): forecasts must track it."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_steps)
    walk = np.cumsum(rng.normal(0, 0.08, size=(n_series, n_steps)), axis=1)
    return rng.poisson(50 * np.exp(0.5 * np.sin(2 * np.pi * t / PERIOD) + walk)).astype(float)


def test_update_advances_the_level_with_fixed_parameters() -> None:
    data = wandering(10, PERIOD * 8 + 1)
    engine = ForecastEngine(10, period=PERIOD, horizon=HORIZON)
    engine.refit(data[:, :-1])
    before = engine.forecast()
    surge = data[:, -1] * 5
    after = engine.update(surge)
    assert engine.steps == PERIOD * 8 + 1
    assert after.mean.shape == (10, HORIZON)
    assert after.models == before.models  # the members stay until the next refit
    # A wandering level is tracked: a surge raises the next forecasts.
    assert np.mean(after.mean[:, 0] > 1.2 * before.mean[:, 1]) > 0.8


def test_model_names_stay_between_refits_and_follow_a_refit() -> None:
    data = history(3, PERIOD * 8)
    data[1] = 0.0  # a series that has seen nothing yet
    engine = ForecastEngine(3, period=PERIOD, horizon=HORIZON, capacity=PERIOD * 8)
    engine.refit(data)
    fitted = engine.forecast().models
    assert fitted[1] == "zero" and fitted[0] != "zero"
    assert engine.update(np.array([30.0, 0.0, 30.0])).models == fitted
    engine.refit(np.zeros((3, PERIOD * 8)))
    assert engine.forecast().models == ("zero", "zero", "zero")


def test_updates_keep_a_bounded_history() -> None:
    data = history(3, PERIOD * 12)
    engine = ForecastEngine(3, period=PERIOD, horizon=HORIZON, capacity=PERIOD * 8)
    engine.refit(data[:, : PERIOD * 8])
    for step in range(PERIOD * 8, PERIOD * 12):
        result = engine.update(data[:, step])
    assert engine.steps == PERIOD * 12
    assert np.all(np.isfinite(result.mean))
    engine.refit()  # from the stored (most recent) history
    assert np.all(np.isfinite(engine.forecast().upper))


def test_refit_falls_due_after_refit_every_updates() -> None:
    data = history(2, PERIOD * 8 + 3)
    engine = ForecastEngine(2, period=PERIOD, horizon=HORIZON, refit_every=3)
    assert engine.refit_due  # never fitted
    engine.refit(data[:, : PERIOD * 8])
    assert not engine.refit_due
    for step in range(PERIOD * 8, PERIOD * 8 + 3):
        engine.update(data[:, step])
    assert engine.refit_due


def test_refit_falls_due_early_whenever_the_history_held_doubled() -> None:
    data = history(2, PERIOD * 8)
    engine = ForecastEngine(2, period=PERIOD, horizon=HORIZON, refit_every=1000)
    engine.refit(data[:, :PERIOD])
    for step in range(PERIOD, 2 * PERIOD - 1):
        engine.update(data[:, step])
    assert not engine.refit_due, "grown by less than its length"
    engine.update(data[:, 2 * PERIOD - 1])
    assert engine.refit_due, "doubled"
    engine.refit()
    assert not engine.refit_due


def test_a_full_history_does_not_double_only_the_schedule_counts() -> None:
    data = history(2, PERIOD * 8)
    engine = ForecastEngine(
        2, period=PERIOD, horizon=HORIZON, capacity=3 * PERIOD, refit_every=1000
    )
    engine.refit(data[:, : 2 * PERIOD])
    for step in range(2 * PERIOD, PERIOD * 8):
        engine.update(data[:, step])
    assert not engine.refit_due, "it holds 3 periods at most: 2 never become 4"


def test_missing_sample_in_an_update_is_tolerated() -> None:
    data = history(4, PERIOD * 8)
    engine = ForecastEngine(4, period=PERIOD, horizon=HORIZON)
    engine.refit(data)
    result = engine.update(np.array([np.nan, 3.0, np.nan, 7.0]))
    assert np.all(np.isfinite(result.mean))


def test_bad_updates_are_rejected() -> None:
    engine = ForecastEngine(2, period=PERIOD, horizon=HORIZON)
    with pytest.raises(HistoryError, match="expected 2"):
        engine.update(np.ones(3))
    with pytest.raises(HistoryError, match="negative"):
        engine.update(np.array([1.0, -1.0]))
    with pytest.raises(HistoryError, match="expected 2"):
        engine.refit(np.ones((3, 50)))


def test_background_refit_while_updates_continue() -> None:
    n_series = 600  # several refit chunks
    data = history(n_series, PERIOD * 10, seed=5)
    engine = ForecastEngine(n_series, period=PERIOD, horizon=HORIZON)
    engine.refit(data[:, : PERIOD * 8])
    errors: list[BaseException] = []

    def refit() -> None:
        try:
            engine.refit()
        except BaseException as err:  # noqa: BLE001 - surfaced by the assert below
            errors.append(err)

    worker = threading.Thread(target=refit)
    worker.start()
    for step in range(PERIOD * 8, PERIOD * 10):
        result = engine.update(data[:, step])
        assert np.all(np.isfinite(result.mean))
    worker.join()
    assert errors == []
    assert engine.steps == PERIOD * 10
    final = engine.forecast()
    assert np.all(np.isfinite(final.upper))
    assert np.all(final.lower <= final.mean)


def test_the_window_takes_memory_for_the_history_held_not_for_the_capacity() -> None:
    # An operator keeps one engine per resource; at a thousand resources, buffers sized
    # for days of history while an hour is held took gigabytes.
    capacity = 4320
    engine = ForecastEngine(50, period=24, horizon=4, capacity=capacity)
    full = 50 * capacity * 5  # float32 values + missing flags
    rng = np.random.default_rng(3)
    engine.refit(rng.poisson(5.0, size=(50, 48)).astype(float))
    for _ in range(12):
        engine.update(rng.poisson(5.0, size=50).astype(float))
    assert engine.nbytes < full / 10
    before = engine.forecast()
    engine.refit(rng.poisson(5.0, size=(50, 2 * capacity)).astype(float))
    assert full <= engine.nbytes < 2 * full
    assert before.mean.shape == engine.forecast().mean.shape


def test_a_long_seasons_window_takes_at_most_an_eighth_more_than_its_capacity() -> None:
    """The window's buffer had a whole season of slack beyond the capacity: at 10 s
    intervals and a daily season, a day of columns beyond the three days held (session
    14, #16). An eighth now; the forecasts are the same whatever the slack."""
    capacity, period = 800, 400
    data = history(4, 3000, seed=9)
    engine = ForecastEngine(4, period=period, horizon=HORIZON, capacity=capacity)
    engine.refit(data[:, :capacity])
    for step in range(capacity, 3000):
        result = engine.update(data[:, step])
    assert engine.nbytes <= 4 * (capacity + capacity // 8) * 5  # was (capacity + period)
    again = ForecastEngine(4, period=period, horizon=HORIZON, capacity=capacity)
    again._limit = 10 * capacity  # a buffer that never moves the window, under test
    again.refit(data[:, :capacity])
    for step in range(capacity, 3000):
        same = again.update(data[:, step])
    assert np.array_equal(result.mean, same.mean) and np.array_equal(result.upper, same.upper)
