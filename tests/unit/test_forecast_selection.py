"""The default path: the fast path, baselines, statsmodels and their mean on the same origins."""

from __future__ import annotations

import numpy as np
import pytest

from statecast.core.forecast import ParameterError, forecast_batch, forecast_series
from statecast.core.forecast.selection import (
    FAST,
    MARGIN,
    ORIGINS,
    TOP,
    WINS,
    Backtest,
    chosen,
    select,
)

pytestmark = pytest.mark.filterwarnings("ignore")

PERIOD = 12
HORIZON = 4


def seasonal(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return rng.poisson(40 * np.exp(0.6 * np.sin(2 * np.pi * t / PERIOD))).astype(float)


def with_events(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A series that jumps ~4.5x during known events; the last event falls in the horizon."""
    rng = np.random.default_rng(seed)
    event = np.zeros(n + HORIZON)
    for start in rng.choice(np.arange(5, n - 10), 10, replace=False):
        event[start : start + 2] = 1
    event[n + 1 : n + 3] = 1
    t = np.arange(n + HORIZON)
    rate = 30 * np.exp(0.4 * np.sin(2 * np.pi * t / PERIOD) + 1.5 * event)
    return rng.poisson(rate).astype(float), event


def test_every_candidate_is_backtested_on_the_same_origins_and_sorted() -> None:
    ranked = select(seasonal(PERIOD * 12), period=PERIOD, horizon=HORIZON, level=0.9)
    names = {bt.name for bt in ranked}
    assert {FAST, "naive", "seasonal_naive"} <= names  # the guarded fast path, the baselines
    assert names & {"stl_ets", "holt_winters", "sarimax_fourier"}  # a statsmodels model
    combined = [bt for bt in ranked if bt.name.startswith("mean(")]
    assert len(combined) == 1
    assert len(combined[0].parts) == TOP
    singles = sorted((bt for bt in ranked if bt is not combined[0]), key=lambda bt: bt.mae)
    assert set(combined[0].parts) == {bt.name for bt in singles[:TOP]}  # the best ones
    maes = [bt.mae for bt in ranked]
    assert maes == sorted(maes)
    assert {bt.zhat.shape for bt in ranked} == {(ORIGINS, HORIZON)}


def test_the_seasonal_naive_candidate_repeats_the_last_season() -> None:
    history = seasonal(PERIOD * 12)
    ranked = select(history, period=PERIOD, horizon=PERIOD + 2, level=0.9)
    snaive = next(bt for bt in ranked if bt.name == "seasonal_naive")
    origin = len(history) - 1 - (PERIOD + 2)  # the last origin
    expected = np.log1p(np.resize(history[origin + 1 - PERIOD : origin + 1], PERIOD + 2))
    np.testing.assert_allclose(snaive.zhat[-1], expected)


def test_another_candidate_must_beat_the_fast_path_by_the_margin_at_most_origins() -> None:
    zhat = np.zeros((ORIGINS, HORIZON))
    fast = Backtest(FAST, 10.0, zhat, np.full(ORIGINS, 10.0))
    close = Backtest("stl_ets", (1 - MARGIN / 2) * 10.0, zhat, np.full(ORIGINS, 9.5))
    clear = Backtest("mean(fast,stl_ets)", 7.0, zhat, np.full(ORIGINS, 7.0))
    assert chosen([close, fast]) is fast
    assert chosen([clear, close, fast]) is clear
    assert clear.parts == (FAST, "stl_ets")
    # As low an MAE, but from a few origins: better at fewer than WINS of them.
    lucky_maes = np.where(np.arange(ORIGINS) < WINS - 1, 1.0, 12.0)
    lucky = Backtest("holt_winters", 7.0, zhat, lucky_maes)
    assert chosen([lucky, fast]) is fast
    assert chosen([]) is None


def test_the_fast_path_wins_where_nothing_beats_it_and_keeps_its_name() -> None:
    history = seasonal(PERIOD * 12)
    winner = chosen(select(history, period=PERIOD, horizon=HORIZON, level=0.9))
    result = forecast_series(history, period=PERIOD, horizon=HORIZON)
    fast = forecast_batch(history[None, :], period=PERIOD, horizon=HORIZON)
    if winner is not None and winner.name == FAST:
        assert result.model == fast.models[0]
        np.testing.assert_allclose(result.mean, fast.mean[0])
    else:
        assert winner is not None
        assert result.model == winner.name.replace(FAST, fast.models[0])


def test_known_events_choose_sarimax_and_lift_the_forecast() -> None:
    y, event = with_events(PERIOD * 14)
    n = len(y) - HORIZON
    result = forecast_series(
        y[:n], period=PERIOD, horizon=HORIZON, exog=event[:n], future_exog=event[n:]
    )
    assert result.model == "sarimax_fourier"
    assert result.mean[1] > 2.5 * result.mean[0]
    assert result.lower[1] > result.mean[0]
    blind = forecast_series(y[:n], period=PERIOD, horizon=HORIZON)
    assert blind.mean[1] < result.mean[1]
    # The winner's interval has the fast path's calibrated shape, never narrower.
    fast = forecast_batch(y[None, :n], period=PERIOD, horizon=HORIZON)
    width = np.log1p(result.upper) - np.log1p(result.lower)
    assert np.all(width >= np.log1p(fast.upper[0]) - np.log1p(fast.lower[0]) - 1e-9)
    for low, high in ((0.05, 0.95), (0.025, 0.975), (0.1, 0.9)):
        assert np.all(result.quantiles[low] <= result.quantiles[high])


@pytest.mark.parametrize(
    "history",
    [
        np.zeros(PERIOD * 12),  # all zero
        np.random.default_rng(1).poisson(0.2, PERIOD * 12).astype(float),  # intermittent
        seasonal(PERIOD + HORIZON + 3),  # shorter than two seasons before the first origin
    ],
)
def test_the_fast_path_stands_alone_where_the_backtest_cannot_help(history: np.ndarray) -> None:
    assert select(history, period=PERIOD, horizon=HORIZON, level=0.9) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"exog": np.zeros(10)}, "together"),
        ({"exog": np.zeros(9), "future_exog": np.zeros(HORIZON)}, "10 rows"),
        ({"exog": np.zeros(10), "future_exog": np.zeros(HORIZON + 1)}, "4 rows"),
        ({"exog": np.full(10, np.nan), "future_exog": np.zeros(HORIZON)}, "missing"),
        ({"exog": np.zeros((10, 2)), "future_exog": np.zeros((HORIZON, 1))}, "columns"),
    ],
)
def test_bad_regressors_are_rejected(kwargs: dict[str, np.ndarray], message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        forecast_series(np.ones(10), period=PERIOD, horizon=HORIZON, **kwargs)  # type: ignore[arg-type]


def test_newest_errors_larger_than_the_long_backtest_widen_the_interval() -> None:
    # Quiet for ten seasons, then a season and a half three times as noisy: the fast
    # path's interval is calibrated on the whole history, the default path checks it
    # on its newest origins and widens it (never narrows it).
    rng = np.random.default_rng(7)
    n = PERIOD * 24
    t = np.arange(n)
    rate = 200 * np.exp(0.5 * np.sin(2 * np.pi * t / PERIOD))
    noise = np.where(t >= n - PERIOD * 4, 0.45, 0.1)
    history = np.round(rate * np.exp(rng.normal(0.0, noise))).astype(float)
    fast = forecast_batch(history[None, :], period=PERIOD, horizon=HORIZON, level=0.9)
    result = forecast_series(history, period=PERIOD, horizon=HORIZON, level=0.9)
    width = np.log1p(result.upper) - np.log1p(result.lower)
    fast_width = np.log1p(fast.upper[0]) - np.log1p(fast.lower[0])
    assert np.all(width >= fast_width - 1e-9)
    assert np.mean(width) > 1.2 * np.mean(fast_width)
    for low, high in ((0.05, 0.95), (0.025, 0.975), (0.1, 0.9)):
        assert np.all(result.quantiles[low] <= result.quantiles[high])
