"""The fitted fast-path state of many series, advanced one sample at a time.

Each series forecasts with up to ``top`` members (:class:`~statecast.core.forecast.family.Member`)
and a weight each (:class:`Slots`). Between refits the members stay; each new sample
moves their levels: a level member's towards the sample, a seasonal member's towards
the sample's deviation from its profile (gathered from the stored history, see
:func:`~statecast.core.forecast.profiles.profile_at`). Series sharing a member are
advanced and forecast together.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from statecast.core.forecast.family import Member
from statecast.core.forecast.fastpath import FamilyFit
from statecast.core.forecast.profiles import first_lag, profile_at
from statecast.core.forecast.window import Columns

__all__ = ["Slots"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Rows = slice | IntArray


class Slots:
    """Members, weights and levels of ``n`` series, ``top`` slots each.

    Members are kept once in a registry; each series and slot holds an index into it.

    Attributes:
        index: Registry index per series and slot (``-1``: unused slot).
        weights: Weight per series and slot on the log scale (rows sum to 1).
        levels: Level per series and slot after the newest sample.
    """

    def __init__(self, n: int, top: int) -> None:
        self._registry: list[Member] = [Member()]
        self._known: dict[Member, int] = {Member(): 0}
        self.index = np.full((n, max(1, top)), -1, dtype=np.int64)
        self.index[:, 0] = 0
        self.weights = np.zeros(self.index.shape)
        self.weights[:, 0] = 1.0
        self.levels = np.zeros(self.index.shape)

    def _register(self, member: Member) -> int:
        if member not in self._known:
            self._known[member] = len(self._registry)
            self._registry.append(member)
        return self._known[member]

    def set_naive(self, rows: Rows, last: FloatArray) -> None:
        """Naive at the last log-scale value, for series too short to fit."""
        self.index[rows] = -1
        self.index[rows, 0] = 0
        self.weights[rows] = 0.0
        self.weights[rows, 0] = 1.0
        self.levels[rows] = 0.0
        self.levels[rows, 0] = last

    def set_fit(self, rows: Rows, fit: FamilyFit) -> None:
        """Take the members a fit chose for ``rows`` (in order)."""
        width = min(self.index.shape[1], fit.chosen.shape[1])
        mapping = np.array([self._register(m) for m in fit.members], dtype=np.int64)
        self.index[rows] = -1
        self.weights[rows] = 0.0
        self.levels[rows] = 0.0
        self.index[rows, :width] = mapping[fit.chosen[:, :width]]
        self.weights[rows, :width] = fit.weights[:, :width]
        self.levels[rows, :width] = fit.levels[:, :width]

    def _groups(self, rows: Rows) -> list[tuple[int, Member, IntArray]]:
        """(slot, member, row indices within ``rows``) for every weighted slot."""
        index, weights = self.index[rows], self.weights[rows]
        out: list[tuple[int, Member, IntArray]] = []
        for slot in range(index.shape[1]):
            used = np.where(weights[:, slot] > 0, index[:, slot], -1)
            order = np.argsort(used, kind="stable")
            values, starts = np.unique(used[order], return_index=True)
            bounds = [*starts[1:], len(order)]
            for value, lo, hi in zip(values, starts, bounds, strict=True):
                if value >= 0:
                    out.append((slot, self._registry[int(value)], order[lo:hi]))
        return out

    def advance(self, window: Columns, rows: Rows) -> None:
        """Move the levels of ``rows`` by the newest sample (``window``'s last column).

        Args:
            window: Log-scale history of ``rows`` up to and with the new sample (an
                array, or a :class:`~statecast.core.forecast.window.BlockedView`).
            rows: The series ``window`` holds.
        """
        levels = self.levels[rows]
        newest = np.asarray(window[:, -1], dtype=np.float64)
        last = np.array([window.shape[1] - 1], dtype=np.int64)
        for slot, member, picked in self._groups(rows):
            target = newest[picked]
            if member.seasonal:
                now = profile_at(
                    window[picked], last, period=member.period, seasons=member.seasons,
                    robust=member.robust, width=member.width,
                )[:, 0]  # fmt: skip
                target = np.where(np.isnan(now), 0.0, target - now)
            current = levels[picked, slot]
            levels[picked, slot] = current + member.alpha * (target - current)
        self.levels[rows] = levels

    def forecast(self, window: Columns, horizon: int) -> FloatArray:
        """Log-scale forecasts of steps ``1..horizon`` after ``window``, ``(n, horizon)``."""
        n, n_steps = window.shape
        out = np.zeros((n, horizon))
        steps = np.arange(1, horizon + 1)
        for slot, member, picked in self._groups(slice(None)):
            level = self.levels[picked, slot][:, None]
            if member.seasonal:
                back = np.array(
                    [(first_lag(int(h), member.width, member.period) - 1) for h in steps]
                )
                columns = (n_steps - 1 + steps - back * member.period).astype(np.int64)
                zhat = profile_at(
                    window[picked], columns, period=member.period, seasons=member.seasons,
                    robust=member.robust, width=member.width,
                )  # fmt: skip
                if member.phi > 0.0:
                    zhat = zhat + level * member.phi ** steps.astype(np.float64)[None, :]
            else:
                zhat = np.repeat(level, horizon, axis=1)
            out[picked] += self.weights[picked, slot][:, None] * zhat
        return out
