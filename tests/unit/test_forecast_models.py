"""Each model of the forecast engine, the fast family's members and its fallbacks."""

from __future__ import annotations

import numpy as np
import pytest

from statecast.core.forecast import forecast_batch, forecast_series
from statecast.core.forecast.backtest import plan_backtest
from statecast.core.forecast.calibration import conformal_offsets, interval_probs
from statecast.core.forecast.family import Grid, Member, member_grid, seasonal_naive, usable_periods
from statecast.core.forecast.fastpath import model_name
from statecast.core.forecast.metrics import coverage, interval_score, mae, mase_scale, pinball
from statecast.core.forecast.models import HoltWinters, SarimaxFourier, StlEts, fourier_terms
from statecast.core.forecast.profiles import lag_profile, profile_at, smooth_phase
from statecast.core.forecast.transform import fill_missing

pytestmark = pytest.mark.filterwarnings("ignore")

PERIOD = 24
HORIZON = 6


def seasonal_log(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return np.log1p(rng.poisson(40 * np.exp(0.8 * np.sin(2 * np.pi * t / PERIOD))).astype(float))


@pytest.mark.parametrize("candidate", [StlEts(), HoltWinters(), SarimaxFourier()])
def test_statsmodels_candidate_fits_forecasts_and_extends(candidate: object) -> None:
    z = seasonal_log(PERIOD * 8)
    fitted = candidate.fit(z[:-PERIOD], None, period=PERIOD, start=0)  # type: ignore[attr-defined]
    first = fitted.forecast(HORIZON, None)
    assert first.zhat.shape == (HORIZON,)
    assert first.se.shape == (HORIZON,)
    assert np.all(first.se > 0)
    # It follows the daily cycle: the forecast correlates with the truth on the log scale.
    truth = z[-PERIOD : -PERIOD + HORIZON]
    assert np.mean(np.abs(first.zhat - truth)) < 0.5
    # Extending by a few steps moves the forecast along the cycle, parameters fixed.
    extended = fitted.extend(z[-PERIOD : -PERIOD + 3], None).forecast(HORIZON, None)
    assert extended.zhat.shape == (HORIZON,)
    assert np.mean(np.abs(extended.zhat - z[-PERIOD + 3 : -PERIOD + 3 + HORIZON])) < 0.5
    assert not np.allclose(extended.zhat, first.zhat)


def test_candidates_declare_what_history_they_need() -> None:
    assert not StlEts().usable(PERIOD, PERIOD, with_exog=False)
    assert StlEts().usable(3 * PERIOD, PERIOD, with_exog=False)
    assert not HoltWinters().usable(10_000, 288, with_exog=False)  # long seasons: too many states
    assert HoltWinters().usable(4 * PERIOD, PERIOD, with_exog=False)
    assert SarimaxFourier().usable(60, 288, with_exog=True)
    assert not SarimaxFourier().usable(60, 288, with_exog=False)


def test_fourier_terms_are_periodic() -> None:
    steps = np.arange(3 * PERIOD)
    terms = fourier_terms(steps, PERIOD, 3)
    assert terms.shape == (3 * PERIOD, 6)
    assert np.allclose(terms[:PERIOD], terms[PERIOD : 2 * PERIOD])


def test_sarimax_uses_known_future_events() -> None:
    rng = np.random.default_rng(0)
    n = PERIOD * 10
    event = np.zeros(n + HORIZON)
    for start in rng.choice(np.arange(5, n - 5), 8, replace=False):
        event[start : start + 2] = 1
    event[n + 2 : n + 4] = 1
    t = np.arange(n + HORIZON)
    z = np.log1p(rng.poisson(30 * np.exp(0.4 * np.sin(2 * np.pi * t / PERIOD) + 1.5 * event)))
    fitted = SarimaxFourier().fit(z[:n], event[:n, None], period=PERIOD, start=0)
    result = fitted.forecast(HORIZON, event[n:, None])
    assert result.zhat[2] > result.zhat[0] + 1.0  # the event lifts the forecast by ~e^1.5


# -- the fast family ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("member", "name"),
    [
        (Member(), "naive"),
        (Member(alpha=0.3), "ses"),
        (Member(period=PERIOD, seasons=1), "seasonal_naive"),
        (Member(period=7 * PERIOD, seasons=1), f"seasonal_naive/{7 * PERIOD}"),
        (Member(period=PERIOD, seasons=1, alpha=0.5, phi=0.9), "profile"),
        (Member(period=PERIOD, seasons=3, robust=True), "robust_profile"),
        (Member(period=PERIOD, seasons=2, width=1), "profile"),
    ],
)
def test_family_members_are_named_for_what_they_are(member: Member, name: str) -> None:
    assert member.name(PERIOD) == name
    assert model_name([member], PERIOD, zero=True) == "zero"
    mean = (
        "mean(naive x2)" if name == "naive" else "mean(" + ",".join(sorted([name, "naive"])) + ")"
    )
    assert model_name([member, Member()], PERIOD) == mean


def test_the_grid_holds_the_baselines_of_every_season() -> None:
    members = member_grid((PERIOD, 7 * PERIOD), PERIOD * 40, Grid())
    assert Member() in members
    assert seasonal_naive(PERIOD) in members
    assert seasonal_naive(7 * PERIOD) in members
    assert len(set(members)) == len(members)


def test_robust_profile_ignores_a_burst_in_an_earlier_season() -> None:
    z = seasonal_log(PERIOD * 8)
    burst = z.copy()
    burst[-PERIOD + 1 : -PERIOD + 4] += 2.0  # yesterday, at the phases about to come
    columns = np.arange(len(z), len(z) + 3)
    for robust, moved in ((False, True), (True, False)):
        args = {"period": PERIOD, "seasons": 5, "robust": robust, "width": 0}
        clean = profile_at(z[None], columns, **args)
        hit = profile_at(burst[None], columns, **args)
        assert (np.abs(hit - clean).max() > 0.3) == moved


def test_gathered_profile_matches_the_whole_series_profile() -> None:
    z = seasonal_log(PERIOD * 8)[None]
    for seasons, robust, width in ((1, False, 0), (3, False, 1), (5, True, 2), (12, False, 0)):
        series = smooth_phase(lag_profile(z, PERIOD, seasons, robust=robust, extend=PERIOD), width)
        columns = np.arange(4 * PERIOD, 8 * PERIOD + PERIOD - width)
        gathered = profile_at(
            z, columns, period=PERIOD, seasons=seasons, robust=robust, width=width
        )
        np.testing.assert_allclose(gathered[0], series[0, columns])


def test_random_walk_chooses_a_level_model() -> None:
    rng = np.random.default_rng(1)
    walk = np.exp(np.cumsum(rng.normal(0, 0.15, PERIOD * 8)) / 3 + 4)
    result = forecast_batch(walk[None, :], period=PERIOD, horizon=HORIZON)
    assert "naive" in result.models[0].replace("seasonal_naive", "") or "ses" in result.models[0]


def test_strong_season_chooses_a_seasonal_model() -> None:
    history = np.expm1(seasonal_log(PERIOD * 8))
    result = forecast_batch(history[None, :], period=PERIOD, horizon=HORIZON)
    assert "profile" in result.models[0] or "seasonal_naive" in result.models[0]


def test_all_zero_series_forecasts_zero() -> None:
    result = forecast_series(np.zeros(PERIOD * 8), period=PERIOD, horizon=HORIZON)
    assert result.model == "zero"
    assert np.all(result.mean == 0)
    assert np.all(result.upper == 0)


def test_short_history_falls_back_to_naive_without_score() -> None:
    result = forecast_series([5.0, 7.0, 6.0, 8.0], period=PERIOD, horizon=HORIZON)
    assert result.model == "naive"
    assert result.score is None
    assert np.allclose(result.mean, 8.0)
    assert np.all(np.diff(result.upper - result.lower) >= 0)  # widens with the horizon


def test_less_than_two_seasons_uses_no_season() -> None:
    period = 100
    assert usable_periods((period,), 180, HORIZON, Grid()) == ()
    assert plan_backtest(180, (), HORIZON, Grid()) is not None
    history = np.random.default_rng(4).poisson(20, 180).astype(float)
    result = forecast_series(history, period=period, horizon=HORIZON)
    assert result.model in {"naive", "ses"}
    assert result.score is not None


def test_intermittent_series_has_zero_lower_bounds_and_covers() -> None:
    rng = np.random.default_rng(2)
    n = PERIOD * 10
    history = rng.poisson(0.3, size=(200, n + HORIZON)).astype(float)
    result = forecast_batch(history[:, :n], period=PERIOD, horizon=HORIZON, level=0.9)
    assert np.mean(result.lower < 0.5) > 0.95  # zero accesses stay possible
    assert coverage(history[:, n:], result.lower, result.upper) >= 0.85


def test_missing_samples_are_imputed_and_tolerated() -> None:
    history = np.expm1(seasonal_log(PERIOD * 8))
    history[[10, 50, 51, 52, -1]] = np.nan
    result = forecast_series(history, period=PERIOD, horizon=HORIZON)
    assert np.all(np.isfinite(result.mean))
    assert np.all(np.isfinite(result.upper))


def test_fill_missing_uses_the_season_then_the_last_value() -> None:
    z = np.array([[np.nan, 1.0, 2.0, 3.0, np.nan, 5.0, np.nan]])
    filled = fill_missing(z, period=3)
    assert filled.tolist() == [[1.0, 1.0, 2.0, 3.0, 1.0, 5.0, 3.0]]


def test_burst_at_the_end_is_followed_not_ignored() -> None:
    quiet = np.expm1(seasonal_log(PERIOD * 8))
    burst = quiet.copy()
    burst[-4:] *= 10
    result = forecast_batch(np.stack([burst, quiet]), period=PERIOD, horizon=HORIZON)
    assert result.mean[0, 0] > 2 * result.mean[1, 0]
    assert result.upper[0, 0] > result.mean[0, 0]


def test_intervals_are_calibrated_on_a_stationary_process() -> None:
    rng = np.random.default_rng(3)
    n = PERIOD * 10
    t = np.arange(n + HORIZON)
    phase = rng.uniform(0, 2 * np.pi, size=(300, 1))
    history = rng.poisson(30 * np.exp(0.8 * np.sin(2 * np.pi * t / PERIOD + phase))).astype(float)
    for level in (0.8, 0.9):
        result = forecast_batch(history[:, :n], period=PERIOD, horizon=HORIZON, level=level)
        achieved = coverage(history[:, n:], result.lower, result.upper)
        assert abs(achieved - level) < 0.05, (level, achieved)


# -- calibration and metrics ----------------------------------------------------------------


def test_conformal_offsets_take_the_corrected_rank() -> None:
    residuals = np.arange(1.0, 20.0)[None, :, None]  # 19 residuals 1..19
    offsets = conformal_offsets(residuals, (0.05, 0.95, 0.5))
    # ranks: floor(20 * 0.05) = 1, ceil(20 * 0.95) = 19, ceil(20 * 0.5) = 10
    assert offsets[0, 0].tolist() == [1.0, 19.0, 10.0]


def test_conformal_offsets_ignore_missing_residuals() -> None:
    residuals = np.array([[[1.0], [np.nan], [3.0]]])
    offsets = conformal_offsets(residuals, (0.5,))
    assert offsets[0, 0, 0] in (1.0, 3.0)
    empty = conformal_offsets(np.full((1, 3, 1), np.nan), (0.9,))
    assert empty[0, 0, 0] == 0.0


def test_interval_probs_puts_the_ends_first() -> None:
    assert interval_probs(0.9, (0.5,)) == pytest.approx((0.05, 0.95, 0.5))


def test_metrics_on_hand_computed_values() -> None:
    truth = np.array([1.0, 2.0, 3.0, np.nan])
    point = np.array([2.0, 2.0, 1.0, 5.0])
    assert mae(truth, point) == pytest.approx(1.0)
    assert coverage(truth, np.array([0, 0, 0, 0.0]), np.array([2, 2, 2, 2.0])) == pytest.approx(
        2 / 3
    )
    # width 2 each; one miss of 1 above at level 0.8 adds 2/0.2 * 1 = 10 -> mean (6+10)/3
    score = interval_score(truth, np.zeros(4), np.full(4, 2.0), 0.8)
    assert score == pytest.approx((6 + 10) / 3)
    assert pinball(np.array([3.0]), np.array([1.0]), 0.9) == pytest.approx(1.8)
    assert pinball(np.array([1.0]), np.array([3.0]), 0.9) == pytest.approx(0.2)
    assert mase_scale(np.array([1.0, 2.0, 4.0]), period=5) == pytest.approx(1.5)


def test_a_mean_names_members_that_share_a_name_once_with_their_count() -> None:
    profiles = [Member(period=PERIOD, seasons=k) for k in (2, 3, 4)]
    assert model_name(profiles, PERIOD) == "mean(profile x3)"
    assert model_name([Member(), *profiles[:2]], PERIOD) == "mean(naive,profile x2)"
    assert model_name([Member(), profiles[0]], PERIOD) == "mean(naive,profile)"
