"""Demand shapes the engine must get right: sharp peaks, quiet nights, weeks, the guard."""

from __future__ import annotations

import numpy as np
import pytest

from statecast.core.forecast import ForecastEngine, forecast_batch, forecast_series
from statecast.core.forecast.backtest import Backtest, Scorer, plan_backtest
from statecast.core.forecast.family import Grid, member_grid, usable_periods
from statecast.core.forecast.fastpath import _truth, fit_family
from statecast.core.forecast.metrics import coverage
from statecast.core.forecast.transform import fill_missing, to_log

pytestmark = pytest.mark.filterwarnings("ignore")

DAY = 24
WEEK = 7 * DAY


def commute(days: int, n_series: int = 1, seed: int = 0, weekend: float = 1.0) -> np.ndarray:
    """Hourly counts: 30 at night, sharp peaks of 1000 at 8 am and 800 at 5 pm.

    Days 5 and 6 of each week are multiplied by ``weekend``.
    """
    rng = np.random.default_rng(seed)
    hour = np.arange(days * DAY) % DAY
    rate = np.full(days * DAY, 30.0)
    rate[hour == 8] = 1000.0
    rate[hour == 7] = rate[hour == 9] = 300.0
    rate[hour == 17] = 800.0
    rate[hour == 16] = rate[hour == 18] = 250.0
    rate[(hour >= 10) & (hour <= 15)] = 150.0
    rate = np.where((np.arange(days * DAY) // DAY) % 7 >= 5, rate * weekend, rate)
    return rng.poisson(np.broadcast_to(rate, (n_series, rate.size))).astype(float)


@pytest.mark.parametrize("path", ["fast", "default"])
def test_a_sharp_daily_peak_is_forecast_at_its_height(path: str) -> None:
    data = commute(29, n_series=4)
    history = data[:, : 28 * DAY]  # ends at 11 pm: the next day's peaks lie ahead
    horizon = 20
    if path == "fast":
        mean = forecast_batch(history, period=DAY, horizon=horizon).mean
    else:
        mean = np.stack([forecast_series(h, period=DAY, horizon=horizon).mean for h in history])
    # Steps ahead: 1 is midnight, 9 is 8 am, 18 is 5 pm.
    np.testing.assert_allclose(mean[:, 8], 1000.0, rtol=0.12)
    np.testing.assert_allclose(mean[:, 17], 800.0, rtol=0.12)
    # The quiet hours after midnight stay quiet: no level dragged up by the busy day.
    np.testing.assert_allclose(mean[:, 1:6], 30.0, rtol=0.3)


def test_the_week_is_learned_from_the_period_list() -> None:
    data = commute(5 * 7 + 1, n_series=4, seed=3, weekend=0.2)
    saturday = data[:, : 5 * WEEK - 2 * DAY]  # ends Friday midnight
    monday = data[:, : 5 * WEEK]  # ends Sunday midnight
    for period in ((DAY, WEEK), DAY):  # a single day offers the week as well
        weekend = forecast_batch(saturday, period=period, horizon=12).mean
        weekday = forecast_batch(monday, period=period, horizon=12).mean
        np.testing.assert_allclose(weekend[:, 8], 200.0, rtol=0.2)
        np.testing.assert_allclose(weekday[:, 8], 1000.0, rtol=0.15)


def test_the_engine_follows_the_week_after_updates() -> None:
    data = commute(5 * 7 + 2, n_series=3, seed=4, weekend=0.2)
    engine = ForecastEngine(3, period=(DAY, WEEK), horizon=12)
    engine.refit(data[:, : 5 * WEEK - 2 * DAY])  # Friday midnight
    assert engine.forecast().mean[:, 8] == pytest.approx(200.0, rel=0.2)
    for step in range(5 * WEEK - 2 * DAY, 5 * WEEK):  # the weekend passes, no refit
        result = engine.update(data[:, step])
    np.testing.assert_allclose(result.mean[:, 8], 1000.0, rtol=0.15)


def _backtest_maes(history: np.ndarray, period: tuple[int, ...], horizon: int) -> np.ndarray:
    grid = Grid()
    z = fill_missing(to_log(history), period[0])
    plan = plan_backtest(
        history.shape[1], usable_periods(period, history.shape[1], horizon, grid), horizon, grid
    )
    assert plan is not None
    members = member_grid(plan.periods, history.shape[1], grid)
    bt = Backtest(z, plan)
    scorer = Scorer(_truth(history, plan.origins, plan.scored), plan.weights)
    return np.stack(
        [scorer.mae(bt.counts(m, plan.origins, plan.scored)) for m in members if m.baseline],
        axis=1,
    )


@pytest.mark.parametrize("kind", ["random walk", "white noise", "repeating days"])
def test_the_guard_never_loses_to_a_baseline_in_the_backtest(kind: str) -> None:
    rng = np.random.default_rng(9)
    n, steps, horizon = 12, 30 * DAY, 12
    if kind == "random walk":
        history = np.exp(4 + np.cumsum(rng.normal(0, 0.1, (n, steps)), axis=1)).round()
    elif kind == "white noise":
        history = rng.poisson(40, (n, steps)).astype(float)
    else:
        history = np.tile(rng.poisson(40, (n, DAY)), steps // DAY).astype(float)
    fit = fit_family(
        history, fill_missing(to_log(history), DAY), periods=(DAY,), horizon=horizon,
        probs=(0.05, 0.95),
    )  # fmt: skip
    assert fit is not None
    baselines = _backtest_maes(history, (DAY,), horizon)
    plan = plan_backtest(steps, usable_periods((DAY,), steps, horizon, Grid()), horizon, Grid())
    assert plan is not None
    from statecast.core.forecast.fastpath import _mix

    bt = Backtest(fill_missing(to_log(history), DAY), plan)
    chosen = _mix(bt, fit.members, fit.chosen, fit.weights, plan.origins, plan.scored)
    scorer = Scorer(_truth(history, plan.origins, plan.scored), plan.weights)
    ours = scorer.mae(np.expm1(chosen).astype(np.float32))
    assert np.all(ours <= baselines.min(axis=1) * (1 + 1e-6))


@pytest.mark.parametrize("level", [0.8, 0.9, 0.95])
def test_intervals_cover_at_each_step(level: float) -> None:
    rng = np.random.default_rng(5)
    n, steps, horizon = 400, 21 * DAY, 6
    t = np.arange(steps + horizon)
    phase = rng.uniform(0, 2 * np.pi, size=(n, 1))
    scale = np.exp(rng.uniform(0, 5, size=(n, 1)))
    data = rng.poisson(scale * np.exp(0.8 * np.sin(2 * np.pi * t / DAY + phase))).astype(float)
    result = forecast_batch(data[:, :steps], period=DAY, horizon=horizon, level=level)
    truth = data[:, steps:]
    for h in range(horizon):
        achieved = coverage(truth[:, h], result.lower[:, h], result.upper[:, h])
        assert abs(achieved - level) < 0.06, (level, h, achieved)


def test_bounds_stay_finite_and_within_a_multiple_of_the_range() -> None:
    rng = np.random.default_rng(6)
    history = rng.poisson(20, (3, 10 * DAY)).astype(float)
    history[0, -3:] = 1e6  # a wild spike at the end
    history[1, ::7] = 0.0
    result = forecast_batch(history, period=DAY, horizon=12, level=0.95)
    assert np.all(np.isfinite(result.upper)) and np.all(np.isfinite(result.lower))
    high, low = history.max(axis=1), history.min(axis=1)
    assert np.all(result.upper <= (high + 2 * (high - low) + 1)[:, None])
    assert np.all(result.lower >= 0)
