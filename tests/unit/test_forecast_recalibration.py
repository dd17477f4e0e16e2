"""Stretching the fast path's interval shape to cover a forecast's newest residuals."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from statecast.core.forecast.recalibration import SHRINK, conformal_quantile, stretch, stretched

PROBS = (0.025, 0.975, 0.1, 0.5, 0.9)
HORIZON = 24
ORIGINS = 8


def normal_offsets(sigma_per_step: np.ndarray) -> np.ndarray:
    """Offsets of a normal residual whose spread grows with the step, shape (H, P)."""
    return np.stack([sigma_per_step * norm.ppf(p) for p in PROBS], axis=1)


def residuals(sigma_per_step: np.ndarray, origins: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(0.0, 1.0, (origins, len(sigma_per_step))) * sigma_per_step[None, :]


def test_the_conformal_quantile_takes_rank_ceil_n_plus_one_p() -> None:
    scores = np.array([5.0, 1.0, np.nan, 3.0, 2.0, 4.0])
    assert conformal_quantile(scores, 0.5) == 3.0  # ceil(6 * 0.5) = 3rd of 5
    assert conformal_quantile(scores, 0.8) == 5.0  # ceil(4.8) = 5th
    assert conformal_quantile(scores, 0.99) == 5.0  # past the largest: the largest
    assert np.isnan(conformal_quantile(np.array([np.nan]), 0.9))


def test_a_forecast_worse_than_the_shape_gets_a_wider_interval_that_covers_more() -> None:
    shape = np.linspace(1.0, 2.0, HORIZON)
    offsets = normal_offsets(shape)
    worse = 1.8 * shape  # the chosen forecast's errors are 1.8x what the shape expects
    factors = stretch(residuals(worse, 40, seed=1), offsets, PROBS)
    assert factors[PROBS.index(0.5)] == 1.0
    for prob in (0.025, 0.975, 0.1, 0.9):  # the conformal factor, shrunk towards 1
        assert factors[PROBS.index(prob)] == pytest.approx(1.8**SHRINK, rel=0.1)
    wide = stretched(offsets, factors, PROBS)
    fresh = residuals(worse, 2000, seed=2)
    inside = (fresh >= wide[:, 0]) & (fresh <= wide[:, 1])
    before = (fresh >= offsets[:, 0]) & (fresh <= offsets[:, 1])
    assert before.mean() < 0.8  # the unstretched shape under-covers
    assert inside.mean() > before.mean() + 0.08


def test_residuals_inside_the_shape_never_narrow_it() -> None:
    shape = np.ones(HORIZON)
    offsets = normal_offsets(shape)
    factors = stretch(residuals(0.3 * shape, ORIGINS, seed=3), offsets, PROBS)
    np.testing.assert_array_equal(factors, np.ones(len(PROBS)))
    np.testing.assert_array_equal(stretched(offsets, factors, PROBS), offsets)


def test_a_biased_forecast_stretches_the_side_it_misses() -> None:
    shape = np.ones(HORIZON)
    offsets = normal_offsets(shape)
    high = residuals(shape, ORIGINS, seed=4) + 2.0  # the truth lies well above the point
    factors = stretch(high, offsets, PROBS)
    assert factors[PROBS.index(0.975)] > 1.2
    assert factors[PROBS.index(0.025)] == 1.0


def test_quantiles_on_the_wrong_side_of_zero_are_left_and_the_order_is_kept() -> None:
    offsets = normal_offsets(np.ones(HORIZON))
    offsets[:, PROBS.index(0.1)] = 0.2  # a biased shape: its 10% quantile lies above zero
    factors = np.array([1.0, 1.0, 3.0, 1.0, 1.0])  # the inner 10% end stretched past 2.5%
    factors[PROBS.index(0.025)] = 1.0
    out = stretched(offsets, factors, PROBS)
    assert np.all(out[:, PROBS.index(0.1)] == 0.2)  # not pushed over the median
    offsets = normal_offsets(np.ones(HORIZON))
    out = stretched(offsets, factors, PROBS)
    order = np.argsort(PROBS)
    assert np.all(np.diff(out[:, order], axis=1) >= 0)
    assert np.all(out[:, PROBS.index(0.025)] <= 3.0 * offsets[:, PROBS.index(0.1)])


def test_missing_truth_is_ignored_and_no_residual_leaves_the_shape() -> None:
    offsets = normal_offsets(np.ones(HORIZON))
    gaps = residuals(2.0 * np.ones(HORIZON), ORIGINS, seed=5)
    gaps[:, ::2] = np.nan
    assert stretch(gaps, offsets, PROBS)[PROBS.index(0.975)] > 1.2
    empty = np.full((ORIGINS, HORIZON), np.nan)
    np.testing.assert_array_equal(stretch(empty, offsets, PROBS), np.ones(len(PROBS)))
