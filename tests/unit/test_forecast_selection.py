"""Selection per series: the fast family against statsmodels models on the same origins."""

from __future__ import annotations

import numpy as np
import pytest

from statecast.core.forecast import ParameterError, forecast_series
from statecast.core.forecast.selection import MARGIN, select

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


def test_backtests_come_sorted_with_the_fast_family_scored_on_the_same_origins() -> None:
    fast_mae, ranked = select(seasonal(PERIOD * 12), period=PERIOD, horizon=HORIZON, level=0.9)
    assert np.isfinite(fast_mae)
    assert [bt.name for bt in ranked]  # at least one statsmodels model was usable
    maes = [bt.mae for bt in ranked]
    assert maes == sorted(maes)
    for bt in ranked:
        assert bt.zhat.shape == bt.se.shape
        assert bt.zhat.shape[1] == HORIZON


def test_a_statsmodels_model_must_beat_the_fast_family_by_the_margin() -> None:
    history = seasonal(PERIOD * 12)
    fast_mae, ranked = select(history, period=PERIOD, horizon=HORIZON, level=0.9)
    result = forecast_series(history, period=PERIOD, horizon=HORIZON)
    if ranked[0].mae < (1 - MARGIN) * fast_mae:
        assert result.model == ranked[0].name
    else:
        assert result.model not in {"stl_ets", "holt_winters", "sarimax_fourier"}


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


@pytest.mark.parametrize(
    "history",
    [
        np.zeros(PERIOD * 12),  # all zero
        np.random.default_rng(1).poisson(0.2, PERIOD * 12).astype(float),  # intermittent
        seasonal(PERIOD + HORIZON + 3),  # shorter than two seasons before the first origin
    ],
)
def test_the_fast_family_stands_alone_where_statsmodels_cannot_help(history: np.ndarray) -> None:
    fast_mae, ranked = select(history, period=PERIOD, horizon=HORIZON, level=0.9)
    assert ranked == []
    assert np.isnan(fast_mae)


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
