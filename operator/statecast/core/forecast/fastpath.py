"""The vectorised fast path: choose, combine and calibrate the family for many series.

For each series every member of the grid (:mod:`~statecast.core.forecast.family`) is
backtested from the same rolling origins (:mod:`~statecast.core.forecast.backtest`) and
scored by its recency-weighted count-scale MAE. The ``top`` best are combined with
equal weights on the log scale (the M4 lesson: a combination of good forecasts beats
the best of them more often than not), and the combination is one more candidate: the
series forecasts with whichever of the best member and the combination scored lower.
Naive and seasonal naive of every season are members, so a series whose backtest no
rule beats keeps the better baseline (the guard).

The same backtest calibrates the interval: for each step ahead, split-conformal
quantiles of the chosen forecast's log-scale residuals divided by a predicted spread
``s = sqrt(mu / (1 + mu)**2 + kappa**2)`` (``mu`` the point forecast as a count, at least
0.25; the first term is the Poisson spread of ``log1p``, ``kappa`` the series' extra
multiplicative noise), so quiet hours get wider log intervals than busy ones.

Where a series' history holds only whole counts and rounding the backtest forecasts to
the nearest whole count lowered their MAE, the point forecast is rounded (``whole``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from statecast.core.forecast.backtest import Backtest, Plan, Scorer, plan_backtest, weighted_mae
from statecast.core.forecast.calibration import conformal_offsets
from statecast.core.forecast.family import Grid, Member, member_grid, usable_periods
from statecast.core.forecast.transform import from_log

__all__ = ["MIN_RATE", "FamilyFit", "fit_family", "round_counts", "spread"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: Index of the mean of the best member of each kind among :func:`_slates`.
DIVERSE = 2
#: Smallest rate used for the Poisson part of the spread (keeps near-zero forecasts from
#: dividing residuals by almost nothing).
MIN_RATE = 0.25


@dataclass(frozen=True)
class FamilyFit:
    """The chosen members, their state and the calibration, for ``n`` series.

    Attributes:
        periods: Seasons modelled, shortest first.
        main_period: The season the caller named first (members of other seasons are
            named after it, e.g. ``profile/168``).
        members: The candidate members; ``chosen`` indexes them.
        chosen: Members forecasting each series, shape ``(n, top)``.
        weights: Their weights on the log scale, same shape (rows sum to 1).
        levels: Each chosen member's level after the last sample, same shape.
        zhat: Log-scale forecast of steps ``1..H`` after the last sample, ``(n, H)``.
        offsets: Quantiles of the normalised residuals, shape ``(n, H, len(probs))``.
        kappa: Extra multiplicative noise per series (see :func:`spread`).
        probs: Probabilities of ``offsets``' last axis.
        mae: Backtest count-scale MAE of the chosen forecast, per series.
        scale: MASE scale per series (in-sample MAE of seasonal or plain naive).
        zero: Whether the whole history is zero, per series.
        whole: Whether the point forecast is rounded to a whole count, per series.
    """

    periods: tuple[int, ...]
    main_period: int
    members: tuple[Member, ...]
    chosen: IntArray
    weights: FloatArray
    levels: FloatArray
    zhat: FloatArray
    offsets: FloatArray
    kappa: FloatArray
    probs: tuple[float, ...]
    mae: FloatArray
    scale: FloatArray
    zero: BoolArray
    whole: BoolArray

    @property
    def score(self) -> FloatArray:
        """Backtest MASE per series."""
        return self.mae / self.scale

    def names(self) -> tuple[str, ...]:
        """Model name per series: a member's, or ``mean(a,b,...)`` of a combination."""
        return tuple(
            model_name([self.members[int(j)] for j in row[w > 0]], self.main_period, zero=bool(zr))
            for row, w, zr in zip(self.chosen, self.weights, self.zero, strict=True)
        )


def model_name(members: list[Member], main_period: int, *, zero: bool = False) -> str:
    """Name of one member or of the equal-weight mean of several.

    Members that share a short name (profiles of different numbers of seasons, say) are
    named once with their count: ``mean(naive,profile x2)``, not ``mean(naive,profile,profile)``.
    """
    if zero:
        return "zero"
    names = sorted(m.name(main_period) for m in members)
    if len(members) == 1:
        return names[0]
    counted = (n if (k := names.count(n)) == 1 else f"{n} x{k}" for n in dict.fromkeys(names))
    return "mean(" + ",".join(counted) + ")"


def spread(zhat: FloatArray, kappa: FloatArray) -> FloatArray:
    """Predicted spread of the log-scale residual at ``zhat``, per series and step.

    Args:
        zhat: Log-scale point forecasts, shape ``(n, ...)``.
        kappa: Extra multiplicative noise per series, shape ``(n,)``.
    """
    mu = np.maximum(from_log(zhat), MIN_RATE)
    extra = kappa.reshape((-1,) + (1,) * (zhat.ndim - 1))
    poisson = mu / (1.0 + mu) ** 2
    return np.asarray(np.sqrt(poisson + extra**2 + 1e-6), dtype=np.float64)


def round_counts(values: FloatArray) -> FloatArray:
    """Nearest whole counts (halves rounded up)."""
    return np.floor(values + 0.5)


def _whole_counts(y: FloatArray) -> BoolArray:
    """Whether every known sample of a series is a whole number, per series.

    The tolerance (a few parts per million) admits counts that went through a float32
    log scale and back, as in :class:`~statecast.core.forecast.incremental.ForecastEngine`.
    """
    with np.errstate(invalid="ignore"):
        fractional = np.abs(y - np.round(y)) > 1e-5 * np.maximum(1.0, np.abs(y))
    return np.asarray(~np.any(fractional & ~np.isnan(y), axis=1), dtype=np.bool_)


def _kappa(resid: FloatArray, zhat: FloatArray) -> FloatArray:
    """Extra noise per series: residual variance beyond the Poisson part, at least 0."""
    mu = np.maximum(from_log(zhat), MIN_RATE)
    excess = (resid**2 - mu / (1.0 + mu) ** 2).reshape(len(resid), -1)
    count = np.sum(~np.isnan(excess), axis=1)
    mean = np.nansum(excess, axis=1) / np.maximum(count, 1)
    return np.sqrt(np.where(count > 0, np.maximum(mean, 0.0), 0.0))


def _mase_scale(y: FloatArray, period: int) -> FloatArray:
    """In-sample MAE of seasonal naive (or naive without two seasons) per series."""
    lag = period if y.shape[1] >= 2 * period else 1
    if y.shape[1] <= lag:
        return np.ones(y.shape[0])
    diffs = np.abs(y[:, lag:] - y[:, :-lag])
    count = np.sum(~np.isnan(diffs), axis=1)
    scale = np.nansum(diffs, axis=1) / np.maximum(count, 1)
    return np.where((count > 0) & (scale > 0), scale, 1.0)


def _truth(y: FloatArray, origins: IntArray, steps: IntArray) -> FloatArray:
    """Counts at ``origin + step`` (NaN beyond the history), shape ``(n, M, S)``."""
    n, n_steps = y.shape
    columns = origins[:, None] + steps[None, :]
    padded = np.concatenate([y, np.full((n, int(steps.max())), np.nan)], axis=1)
    out: FloatArray = padded[:, np.minimum(columns, n_steps + int(steps.max()) - 1)]
    return out


def _mix(
    bt: Backtest,
    members: tuple[Member, ...],
    chosen: IntArray,
    weights: FloatArray,
    origins: IntArray,
    steps: IntArray,
) -> FloatArray:
    """Weighted mean of each series' chosen members' forecasts, ``(n, M, S)``."""
    out = np.zeros((chosen.shape[0], len(origins), len(steps)))
    for slot in range(chosen.shape[1]):
        for index in np.unique(chosen[:, slot]):
            rows = np.flatnonzero((chosen[:, slot] == index) & (weights[:, slot] > 0))
            if rows.size:
                zhat = bt.forecast(members[int(index)], origins, steps, rows)
                out[rows] += weights[rows, slot, None, None] * zhat
    return out


def _slates(
    maes: FloatArray, members: tuple[Member, ...], top: int
) -> list[tuple[IntArray, FloatArray]]:
    """Candidate forecasts built from members: ``(chosen, weights)``, each ``(n, width)``.

    The best member alone; the equal-weight mean of the ``top`` best; and the mean of
    the best member of each kind (the level members, each season's members), which
    keeps a combination diverse where the best few are near copies of each other.
    """
    n = maes.shape[0]
    kinds = sorted({m.period for m in members})
    width = max(top, len(kinds))
    order = np.argsort(maes, axis=1, kind="stable")
    best = np.repeat(order[:, :1], width, axis=1)
    slates = [(best, np.tile(np.eye(1, width)[0], (n, 1)))]
    k = min(top, len(members))
    top_w = np.zeros((n, width))
    top_w[:, :k] = 1.0 / k
    top_c = np.concatenate([order[:, :k], best[:, : width - k]], axis=1)
    slates.append((top_c, top_w))
    kind_c = best.copy()
    kind_w = np.zeros((n, width))
    for slot, period in enumerate(kinds):
        columns = np.flatnonzero([m.period == period for m in members])
        pick = columns[np.argmin(maes[:, columns], axis=1)]
        kind_c[:, slot] = pick
        kind_w[:, slot] = np.isfinite(maes[np.arange(n), pick])
    kind_w /= np.maximum(kind_w.sum(axis=1, keepdims=True), 1.0)
    slates.append((kind_c, kind_w))
    return [(c.astype(np.int64), w) for c, w in slates]


def _choose(
    bt: Backtest, members: tuple[Member, ...], y: FloatArray, top: int, margin: float
) -> tuple[IntArray, FloatArray]:
    """Backtest every member and every slate; the best slate per series."""
    plan = bt.plan
    truth = _truth(y, plan.origins, plan.scored)
    scorer = Scorer(truth, plan.weights)
    maes = np.empty((y.shape[0], len(members)))
    for j, member in enumerate(members):
        maes[:, j] = scorer.mae(bt.counts(member, plan.origins, plan.scored))
    slates = _slates(maes, members, top)
    scores = np.empty((y.shape[0], len(slates)))
    for i, (chosen, weights) in enumerate(slates):
        if i == 0:
            scores[:, 0] = np.min(maes, axis=1)
            continue
        mixed = _mix(bt, members, chosen, weights, plan.origins, plan.scored)
        scores[:, i] = scorer.mae(from_log(mixed).astype(np.float32))
    # The diverse mean is preferred: the others must beat it by the margin.
    preferred = scores.copy()
    preferred[:, :DIVERSE] *= 1.0 + margin
    pick = np.argmin(preferred, axis=1)
    chosen = np.stack([slates[int(p)][0][i] for i, p in enumerate(pick)])
    weights = np.stack([slates[int(p)][1][i] for i, p in enumerate(pick)])
    # The guard: a series whose choice scored worse than a baseline takes that baseline.
    baselines = np.flatnonzero([m.baseline for m in members])
    best = baselines[np.argmin(maes[:, baselines], axis=1)]
    lost = (
        np.take_along_axis(scores, pick[:, None], axis=1)[:, 0] > maes[np.arange(len(best)), best]
    )
    chosen[lost] = best[lost, None]
    weights[lost] = np.eye(1, weights.shape[1])[0]
    return chosen, weights


def fit_family(
    y: FloatArray,
    z: FloatArray,
    *,
    periods: tuple[int, ...],
    horizon: int,
    probs: tuple[float, ...],
    grid: Grid | None = None,
    scored_from: int = 0,
) -> FamilyFit | None:
    """Choose members per series by backtest, combine them and calibrate the intervals.

    Args:
        y: Counts with NaN for missing samples, shape ``(n, T)``.
        z: ``log1p`` of the counts with missing samples imputed, same shape.
        periods: Season lengths in steps, the main one first.
        horizon: Steps ahead.
        probs: Probabilities of the residual quantiles to calibrate.
        grid: Candidates (default :class:`~statecast.core.forecast.family.Grid`).
        scored_from: The first column held at the history's own resolution: the
            backtest scores origins from there (see
            :func:`~statecast.core.forecast.backtest.plan_backtest`) and whole counts are
            judged there; older columns (spread from coarser values) are history only.

    Returns:
        The fit, or ``None`` when the history is too short to backtest.
    """
    grid = grid or Grid()
    usable = usable_periods(periods, z.shape[1], horizon, grid)
    plan = plan_backtest(z.shape[1], usable, horizon, grid, scored_from)
    if plan is None:
        return None
    members = member_grid(plan.periods, z.shape[1], grid)
    bt = Backtest(z, plan)
    chosen, weights = _choose(bt, members, y, grid.top, grid.margin)
    return _calibrated(bt, plan, members, chosen, weights, y, periods, probs, scored_from)


def _calibrated(
    bt: Backtest,
    plan: Plan,
    members: tuple[Member, ...],
    chosen: IntArray,
    weights: FloatArray,
    y: FloatArray,
    periods: tuple[int, ...],
    probs: tuple[float, ...],
    scored_from: int = 0,
) -> FamilyFit:
    """Residual quantiles per step, rounding, state: the rest of :func:`fit_family`."""
    steps = np.arange(1, plan.horizon + 1, dtype=np.int64)
    zhat_bt = _mix(bt, members, chosen, weights, plan.origins, steps)
    truth = _truth(y, plan.origins, steps)
    point = from_log(zhat_bt)
    with np.errstate(invalid="ignore"):
        rounded = weighted_mae(np.abs(truth - round_counts(point)), plan.weights)
        exact = weighted_mae(np.abs(truth - point), plan.weights)
        resid = np.log1p(truth) - zhat_bt
    whole = _whole_counts(y[:, max(0, scored_from) :]) & (rounded <= exact)
    kappa = _kappa(resid, zhat_bt)
    offsets = conformal_offsets(resid / spread(zhat_bt, kappa), probs)
    last = np.array([bt.z.shape[1] - 1], dtype=np.int64)
    zhat = _mix(bt, members, chosen, weights, last, steps)[:, 0, :]
    levels = np.zeros(chosen.shape)
    for slot in range(chosen.shape[1]):
        for index in np.unique(chosen[:, slot]):
            rows = chosen[:, slot] == index
            levels[rows, slot] = bt.end_level(members[int(index)])[rows]
    return FamilyFit(
        periods=plan.periods,
        main_period=periods[0],
        members=members,
        chosen=chosen,
        weights=weights,
        levels=levels,
        zhat=zhat,
        offsets=offsets,
        kappa=kappa,
        probs=probs,
        mae=np.where(np.isfinite(exact), np.where(whole, rounded, exact), np.nan),
        scale=_mase_scale(y, periods[0]),
        zero=np.asarray(np.nansum(y, axis=1) == 0, dtype=np.bool_),
        whole=whole,
    )
