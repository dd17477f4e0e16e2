"""Rolling-origin backtests of the family's members, many series at once.

:func:`plan_backtest` picks the origins: the most recent ``span`` longest seasons of
the history (every ``stride``-th step, at most ``max_origins``), the last one just
before the newest sample, so the most recent behaviour is scored at short steps
ahead; an origin whose later steps lie beyond the history is scored on the steps it
has. Newer origins weigh more (half-life of two thirds of the span). :class:`Backtest`
forecasts any member from every origin with the profiles and levels computed once per
history and shared between members.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from statecast.core.forecast.family import MIN_ORIGINS, Grid, Member
from statecast.core.forecast.profiles import ahead_columns, ewma, lag_profile, smooth_phase

__all__ = ["Backtest", "Plan", "Scorer", "plan_backtest", "scored_origin", "weighted_mae"]

FloatArray = npt.NDArray[np.float64]
Float32Array = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Plan:
    """Where a history is backtested.

    Attributes:
        periods: Seasons the history can model, shortest first.
        origins: Origin columns, oldest first (the last is ``T - 2``).
        weights: Recency weight per origin.
        horizon: Steps ahead.
        scored: Steps ahead (1-based) scored when choosing members.
    """

    periods: tuple[int, ...]
    origins: IntArray
    weights: FloatArray
    horizon: int
    scored: IntArray


def _first_origin(n_steps: int, periods: tuple[int, ...], horizon: int, grid: Grid) -> int:
    last = n_steps - 2
    longest = max(periods, default=0)
    warm = max(horizon, min(periods, default=horizon))
    span = max(round(grid.span * longest), 8 * horizon, 4 * MIN_ORIGINS)
    return max(last - span + 1, longest + warm if longest else min(warm, n_steps // 4))


def scored_origin(first: int, last: int, scored_from: int) -> int:
    """The first origin to score when only columns from ``scored_from`` on are truth.

    An origin's truth starts a step after it, so origins from ``scored_from - 1`` on
    have some; never later than :data:`~statecast.core.forecast.family.MIN_ORIGINS`
    origins before ``last`` (a shorter truth is scored further back, as it is), never
    before ``first``.
    """
    return max(first, min(scored_from - 1, last - MIN_ORIGINS + 1))


def plan_backtest(
    n_steps: int, periods: tuple[int, ...], horizon: int, grid: Grid, scored_from: int = 0
) -> Plan | None:
    """Origins and weights for a history of ``n_steps``; None when too short.

    The longest seasons are dropped while they leave fewer than
    :data:`~statecast.core.forecast.family.MIN_ORIGINS` origins. ``scored_from``: the
    first column held at the history's own resolution (older columns were spread from
    coarser values, whose truth a member cannot miss within): origins start where
    :func:`scored_origin` says, the seasons kept as for the whole history.
    """
    last = n_steps - 2
    kept = tuple(periods)
    while True:
        first = _first_origin(n_steps, kept, horizon, grid)
        if last - first + 1 >= MIN_ORIGINS:
            break
        if not kept:
            return None
        kept = kept[:-1]
    first = scored_origin(first, last, scored_from)
    stride = max(1, math.ceil((last - first + 1) / grid.max_origins))
    origins = np.arange(last, first - 1, -stride, dtype=np.int64)[::-1]
    half = max(1.0, (last - first) / 1.5)
    weights = 0.5 ** ((last - origins) / half)
    every = max(1, math.ceil(horizon / grid.max_steps))
    scored = np.unique(np.r_[np.arange(1, horizon + 1, every), horizon]).astype(np.int64)
    return Plan(kept, origins, np.asarray(weights, dtype=np.float64), horizon, scored)


def weighted_mae(error: FloatArray, weights: FloatArray) -> FloatArray:
    """Recency-weighted mean over origins of each origin's MAE, per series.

    Args:
        error: Absolute errors, shape ``(n, M, S)``, NaN where there is no truth.
        weights: Weight per origin, shape ``(M,)``.

    Returns:
        Shape ``(n,)``; ``inf`` for a series without any scored error.
    """
    count = np.sum(~np.isnan(error), axis=2)
    per_origin = np.nansum(error, axis=2) / np.maximum(count, 1)
    w = np.where(count > 0, weights[None, :], 0.0)
    total = np.sum(w, axis=1)
    mean = np.sum(per_origin * w, axis=1) / np.maximum(total, 1e-300)
    return np.where(total > 0, mean, np.inf)


class Scorer:
    """Recency-weighted MAE of many candidates against the same truths, cheaply.

    The weights of :func:`weighted_mae` (per origin, shared by the steps it has truth
    for) are folded into one array once, so scoring a candidate is one pass.

    Args:
        truth: Counts, shape ``(n, M, S)``, NaN where there is no truth.
        weights: Weight per origin, shape ``(M,)``.
    """

    def __init__(self, truth: FloatArray, weights: FloatArray) -> None:
        valid = ~np.isnan(truth)
        count = np.sum(valid, axis=2, keepdims=True)
        per_step = np.where(valid, weights[None, :, None] / np.maximum(count, 1), 0.0)
        total = np.sum(per_step, axis=(1, 2), keepdims=True)
        self._weight = (per_step / np.maximum(total, 1e-300)).astype(np.float32)
        self._truth = np.where(valid, truth, 0.0).astype(np.float32)
        self._empty = total[:, 0, 0] <= 0

    def mae(self, point: Float32Array) -> FloatArray:
        """Weighted MAE per series of ``point`` (``(n, M, S)`` or ``(n, M, 1)``)."""
        error = np.abs(self._truth - point)
        error *= self._weight
        total = np.sum(error, axis=(1, 2), dtype=np.float64)
        return np.where(self._empty, np.inf, total)


@dataclass
class Backtest:
    """Forecasts of members from a plan's origins, sharing profiles and levels.

    Args:
        z: Imputed log-scale history, shape ``(n, T)``.
        plan: The origins.
    """

    z: FloatArray
    plan: Plan
    _profiles: dict[tuple[int, int, bool, int], FloatArray] = field(default_factory=dict)
    _levels: dict[tuple[object, ...], FloatArray] = field(default_factory=dict)
    _exp: dict[tuple[object, ...], Float32Array] = field(default_factory=dict)

    def _exp_of(self, key: tuple[object, ...], values: FloatArray) -> Float32Array:
        if key not in self._exp:
            self._exp[key] = np.exp(values).astype(np.float32)
        return self._exp[key]

    def profile(self, member: Member) -> FloatArray:
        """The member's profile ``q`` at columns ``0 .. T + P - 1``."""
        key = member.profile_key
        if key not in self._profiles:
            q = lag_profile(
                self.z, member.period, member.seasons, robust=member.robust, extend=member.period
            )
            self._profiles[key] = smooth_phase(q, member.width)
        return self._profiles[key]

    def level(self, member: Member) -> FloatArray:
        """The member's smoothed level at every column, shape ``(n, T)``."""
        key = (member.profile_key if member.seasonal else None, member.alpha)
        if key not in self._levels:
            if member.seasonal:
                now = self.profile(member)[:, : self.z.shape[1]]
                deviation = np.where(np.isnan(now), 0.0, self.z - now)
                self._levels[key] = ewma(deviation, member.alpha)
            else:
                self._levels[key] = ewma(self.z, member.alpha)
        return self._levels[key]

    def forecast(
        self,
        member: Member,
        origins: IntArray,
        steps: IntArray,
        rows: IntArray | slice = slice(None),
    ) -> FloatArray:
        """Log-scale forecasts of ``steps`` ahead (1-based) from each origin.

        Returns:
            Shape ``(n_rows, len(origins), len(steps))``.
        """
        level = self.level(member)[rows][:, origins]
        if not member.seasonal:
            return np.repeat(level[:, :, None], len(steps), axis=2)
        columns = ahead_columns(origins, int(steps.max()), member.period, member.width)
        ahead = self.profile(member)[rows][:, columns[:, steps - 1]]
        if member.phi == 0.0:
            return np.asarray(ahead, dtype=np.float64)
        damp = member.phi ** steps.astype(np.float64)
        return np.asarray(ahead + level[:, :, None] * damp[None, None, :], dtype=np.float64)

    def counts(self, member: Member, origins: IntArray, steps: IntArray) -> Float32Array:
        """Count-scale forecasts, as :meth:`forecast` but cheaper (for scoring).

        ``exp`` of the profiles and levels is taken once per history, so a member
        without damping costs a gather and a product per forecast. A level member's
        forecasts come back with one step axis of length 1 (they are flat).
        """
        level = self.level(member)
        key = (member.profile_key if member.seasonal else None, member.alpha)
        if not member.seasonal:
            flat: Float32Array = self._exp_of(key, level)[:, origins][:, :, None] - np.float32(1.0)
            np.maximum(flat, np.float32(0.0), out=flat)
            return flat
        columns = ahead_columns(origins, int(steps.max()), member.period, member.width)
        ahead = self._exp_of(member.profile_key, self.profile(member))[:, columns[:, steps - 1]]
        one = np.float32(1.0)
        if member.phi == 0.0:
            return ahead - one
        if member.phi == 1.0:
            factor = self._exp_of(key, level)[:, origins][:, :, None]
        else:
            damp = (member.phi ** steps.astype(np.float64)).astype(np.float32)
            start = level[:, origins].astype(np.float32)
            factor = np.exp(start[:, :, None] * damp[None, None, :])
        ahead *= factor
        ahead -= one
        return np.maximum(ahead, np.float32(0.0), out=ahead)

    def final(self, member: Member, rows: IntArray | slice = slice(None)) -> FloatArray:
        """Forecast of steps ``1..H`` after the last sample, shape ``(n_rows, H)``."""
        last = np.array([self.z.shape[1] - 1], dtype=np.int64)
        steps = np.arange(1, self.plan.horizon + 1, dtype=np.int64)
        return self.forecast(member, last, steps, rows)[:, 0, :]

    def end_level(self, member: Member) -> FloatArray:
        """The member's level after the last sample, per series."""
        return self.level(member)[:, -1].copy()
