"""A rebuild's backtest scores only what the history holds at its own resolution (#16).

Beyond the fine ring a rebuild's history is the coarse ring's hours spread evenly over
their intervals: history for the seasonal profiles, but no truth to score a forecast
against (a member cannot miss within an hour that is flat by construction, so the
intervals calibrated there come out too narrow).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pytest

from statecast.api.shared_resource import SharedResourceSpec
from statecast.controller import forecasting
from statecast.controller.forecasting import DemandForecaster
from statecast.controller.sampling import DemandSampler
from statecast.core.demand import AgentSample
from statecast.core.demand_series import fine_capacity
from statecast.core.forecast.backtest import plan_backtest, scored_origin
from statecast.core.forecast.engine import fast_forecast
from statecast.core.forecast.family import MIN_ORIGINS, Grid
from statecast.core.reconcile.demand_engine import DemandEngine


@pytest.mark.parametrize(
    ("sentence", "first", "scored_from", "origin"),
    [
        ("every column is truth: the plan's first origin", 100, 0, 100),
        ("truth from column 400: the origin just before it", 100, 400, 399),
        ("truth from before the plan's first origin: that origin", 100, 50, 100),
        (
            "a short truth: scored further back, MIN_ORIGINS origins",
            100,
            490,
            500 - MIN_ORIGINS + 1,
        ),
        ("a short truth and a late first origin: that origin", 480, 495, 480),
    ],
)
def test_scored_origin(sentence: str, first: int, scored_from: int, origin: int) -> None:
    assert scored_origin(first, 500, scored_from) == origin, sentence


def test_a_plan_scores_from_the_truth_and_keeps_the_seasons_of_the_whole_history() -> None:
    whole = plan_backtest(1440, (288,), 3, Grid())
    fine = plan_backtest(1440, (288,), 3, Grid(), scored_from=1152)
    assert whole is not None and fine is not None
    assert fine.periods == whole.periods == (288,)
    assert int(whole.origins[0]) < 1151
    assert int(fine.origins[0]) >= 1151 and int(fine.origins[-1]) == 1438
    default = plan_backtest(1440, (288,), 3, Grid(), scored_from=0)
    assert default is not None and np.array_equal(default.origins, whole.origins)


def _daily(days: int, spread_days: int) -> tuple[np.ndarray, np.ndarray]:
    """Three series with a daily shape at 5 minutes, as counts and with their oldest
    ``spread_days`` days replaced by each hour's mean spread over it (a rebuild's view)."""
    period = 288
    steps = np.arange(days * period)
    rate = 40 * (1.3 + np.sin(2 * np.pi * steps / period))[None, :] * np.array([[1], [0.5], [2]])
    counts = np.random.default_rng(7).poisson(rate).astype(np.float64)
    spread = counts.copy()
    old = spread_days * period
    spread[:, :old] = counts[:, :old].reshape(3, -1, 12).mean(axis=2).repeat(12, axis=1)
    return counts, spread


def _width(y: np.ndarray, scored_from: int = 0) -> float:
    """Mean width of the one-step 90 % interval on the log scale."""
    fast = fast_forecast(y, periods=(288,), horizon=3, level=0.9, quantiles=(),
                         scored_from=scored_from)  # fmt: skip
    return float(np.mean((fast.offsets[:, 0, 1] - fast.offsets[:, 0, 0]) * fast.spread[:, 0]))


def test_older_days_spread_from_hours_do_not_narrow_the_interval() -> None:
    """Five days, the oldest four spread from their hours (a day held fine): scored
    against the spread days the interval came out a quarter narrower than the counts'
    own; scored from the fine day on, within a fifth of it."""
    counts, spread = _daily(5, 4)
    dense = _width(counts)
    assert _width(spread) < 0.8 * dense, "the defect this guards against"
    assert _width(spread, scored_from=4 * 288) == pytest.approx(dense, rel=0.2)


def test_a_rebuild_scores_from_where_the_fine_ring_begins(monkeypatch: pytest.MonkeyPatch) -> None:
    """Three days of 5-minute intervals: the rebuild reads them all (the fine ring's day,
    older hours from the coarse ring) and its backtest scores the fine day only."""
    spec = SharedResourceSpec.model_validate(
        {"replicas": {"min": 1}, "prediction": {"interval": "5m", "horizon": "15m"}}
    )
    sampler = DemandSampler(lambda: [])
    day0, ref, nodes = 1_796_515_200.0, ("ns", "scored"), ("a", "b")
    counts = dict.fromkeys(nodes, 0)
    for k in range(1, 3 * 288 + 1):
        for node in nodes:
            counts[node] += 5 + k % 7
            sampler.record(
                AgentSample(node, day0, day0 + 300.0 * k, {(*ref, "local"): counts[node]})
            )
    built: list[tuple[int, int]] = []
    original = DemandEngine.build

    def spy(*args: Any, **kwargs: Any) -> DemandEngine | None:
        engine = original(*args, **kwargs)
        history, scored_from = args[2], args[5]  # (settings, end, history, pods, pods_now, scored)
        built.append((history.shape[1], scored_from))
        return engine

    monkeypatch.setattr(forecasting.DemandEngine, "build", spy)
    at = day0 + 3 * 86400 + 1
    demand = DemandForecaster(sampler).demand(
        ref, spec, nodes, dt.datetime.fromtimestamp(at, dt.UTC)
    )
    assert demand is not None
    ((steps, scored_from),) = built
    assert steps - scored_from == fine_capacity(300.0) == 288, built
