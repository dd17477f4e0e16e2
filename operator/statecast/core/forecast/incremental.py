"""Incremental forecasting at scale: cheap updates every step, refits in the background.

:class:`ForecastEngine` keeps, for ``n`` series, a bounded history (log scale, float32,
with a missing-sample mask) and the fitted fast-path state: each series' chosen members
(:class:`~statecast.core.forecast.state.Slots`), their levels and the calibrated
offsets. :meth:`ForecastEngine.update` appends one sample per series, advances the
levels with the parameters held fixed and returns fresh forecasts; it costs a few
gathers per series. :meth:`ForecastEngine.refit` re-chooses members and recalibrates
the intervals from the stored history, chunk by chunk; it is meant to run in a worker
thread while updates continue: each chunk is fitted on a snapshot and, once swapped in,
replays the samples that arrived meanwhile.

The engine is thread-safe: one lock guards the state, and the expensive part of a refit
runs outside it.
"""

from __future__ import annotations

import logging
import threading
import time

import numpy as np
import numpy.typing as npt

from statecast.core.forecast.calibration import interval_probs
from statecast.core.forecast.engine import BATCH_CHUNK, CEILING_RANGES, bounds, fast_forecast
from statecast.core.forecast.errors import HistoryError
from statecast.core.forecast.family import Grid
from statecast.core.forecast.fastpath import spread
from statecast.core.forecast.hedge import weekly_hedge
from statecast.core.forecast.result import BatchForecast
from statecast.core.forecast.state import Slots
from statecast.core.forecast.transform import (
    Periods,
    as_history,
    as_periods,
    check_parameters,
    fill_missing,
)
from statecast.core.forecast.window import (
    BlockedView,
    Columns,
    block_means,
    fold_span,
    nonzero_rows,
)

__all__ = [
    "BLOCKED_SLACK",
    "DEFAULT_REFIT_EVERY",
    "ForecastEngine",
    "default_capacity",
    "due_for_refit",
]

#: Updates between two refits by default (hourly at a 1-minute sampling interval).
DEFAULT_REFIT_EVERY = 60

_log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]


#: Columns a blocked window's buffer holds beyond its fine steps and one block.
BLOCKED_SLACK = 16


def due_for_refit(since_refit: int, refit_every: int, held: int, held_at_refit: int) -> bool:
    """The refit schedule: every ``refit_every`` updates, and whenever the history doubled.

    A young history's parameters change most as it grows, so early on a refit also comes
    whenever the history held has doubled since the last one (a full history does not
    double: then only the schedule counts). :attr:`ForecastEngine.refit_due` is this rule;
    whoever rebuilds an engine instead of refitting it decides with it too.

    Args:
        since_refit: updates since the last refit.
        refit_every: updates between two scheduled refits.
        held: steps of history held now (at most the capacity).
        held_at_refit: steps of history held at the last refit.
    """
    return since_refit >= refit_every or held >= 2 * held_at_refit


def default_capacity(periods: tuple[int, ...], horizon: int) -> int:
    """Steps of history kept by default: a week of the main season, five of the longest."""
    return max(7 * min(periods), 5 * max(periods) if len(periods) > 1 else 0, 4 * horizon)


class ForecastEngine:
    """Forecasts of many series kept current one sample at a time.

    Args:
        n_series: Number of series.
        period: Season length in steps, or several (the main one first).
        horizon: Steps ahead.
        level: Nominal coverage of the intervals.
        capacity: Steps of history kept (default: :func:`default_capacity`).
        grid: Candidates of the fast path.
        refit_every: Updates between two refits (:attr:`refit_due`, which also falls due
            whenever the history held has doubled); the default, 60, is hourly at a
            1-minute sampling interval.
        blocks: ``(fine, every, align)``: hold only the newest ``fine`` steps (and the
            block they reach into) as they are, and every older block of ``every``
            steps as one value (the mean of its counts, on the log scale), a block
            starting at each step ``align + k * every`` (steps counted from the first
            ever appended); None (or ``fine + every`` not below the capacity): every
            step as it is. The members read a block's value for each of its steps
            (:class:`~statecast.core.forecast.window.BlockedView`).
    """

    def __init__(
        self,
        n_series: int,
        *,
        period: Periods,
        horizon: int,
        level: float = 0.9,
        capacity: int | None = None,
        grid: Grid | None = None,
        refit_every: int = DEFAULT_REFIT_EVERY,
        blocks: tuple[int, int, int] | None = None,
    ) -> None:
        check_parameters(period=period, horizon=horizon, level=level)
        self.periods = as_periods(period)
        self.period = self.periods[0]
        self.refit_every = refit_every
        self._refitted_at = 0
        self._held_at_refit = 0
        self.n_series = n_series
        self.horizon = horizon
        self.level = level
        self.capacity = capacity or default_capacity(self.periods, horizon)
        self._grid = grid or Grid()
        self._probs = interval_probs(level, ())
        self._lock = threading.Lock()
        # Columns beyond the capacity before the window moves to the buffer's start: an
        # eighth (the window moved once per capacity/8 updates, 8 columns per update on
        # average). It was a season: at 10 s intervals and a daily season, a day of
        # columns beyond the three days held (5 bytes each per series).
        slack = max(self.capacity // 8, 64)
        # The window grows with the history held (to capacity + slack at most, by half
        # each time): an engine over an hour of history holds an hour, not days of zeros.
        self._limit = self.capacity + slack
        fine, every, align = blocks or (self.capacity, 1, 0)
        self._blocked = every > 1 and fine + every < self.capacity
        self._fine, self._every, self._align = max(1, fine), max(1, every), align
        if self._blocked:  # the buffer holds the fine steps (and one block) only; a slack
            # of 16 columns (64 were a third of the buffer at 1-minute intervals: 240 bytes
            # per node and resource; an eighth, 90 at 10 s: 370; the move is of the fine
            # steps only, and :meth:`update` appends one column at a time)
            self._limit = self._fine + self._every + BLOCKED_SLACK
        self._z = np.zeros((n_series, min(self._limit, 128)), dtype=np.float32)
        self._missing = np.ones((n_series, self._z.shape[1]), dtype=np.bool_)
        self._start = 0
        self._stop = 0
        self._steps = 0  # samples ever appended
        self._first = 0  # the oldest step ever held (a refit's history: its first)
        self._scored = 0  # the oldest step a refit scores (older: spread, history only)
        # Blocked: one value per block older than the buffer's steps, and whether the
        # whole block was missing; ``_block0`` is the block index of column 0.
        self._older = np.zeros((n_series, 0), dtype=np.float32)
        self._older_missing = np.zeros((n_series, 0), dtype=np.bool_)
        self._block0 = 0
        self._slots = Slots(n_series, self._grid.top)
        self._offsets = np.zeros((n_series, horizon, len(self._probs)))
        self._kappa = np.zeros(n_series)
        self._whole = np.zeros(n_series, dtype=np.bool_)
        self._unit = np.ones(n_series, dtype=np.bool_)  # offsets are raw log offsets
        self._hedged = np.zeros(n_series, dtype=np.bool_)
        self._scores = np.full(n_series, np.nan)
        self._names: list[str] = ["naive"] * n_series
        # Model names per series as last reported, and the all-zero mask they were built
        # with: rebuilt only after a refit or when that mask changes (a 10,000-series
        # tuple per forecast cost more than the forecast itself).
        self._models: tuple[str, ...] | None = None
        self._models_zero: npt.NDArray[np.bool_] = np.zeros(n_series, dtype=np.bool_)
        self._high = np.zeros(n_series)
        self._low = np.zeros(n_series)
        self._fitted = False

    # -- history ---------------------------------------------------------------------------

    def _reserve(self, columns: int) -> None:
        """Grow the window's buffer (doubling, up to its limit) to hold ``columns``."""
        size = self._z.shape[1]
        if columns <= size or size >= self._limit:
            return
        size = min(self._limit, max(columns, size * 3 // 2))
        z = np.zeros((self.n_series, size), dtype=np.float32)
        missing = np.ones((self.n_series, size), dtype=np.bool_)
        z[:, : self._stop] = self._z[:, : self._stop]
        missing[:, : self._stop] = self._missing[:, : self._stop]
        self._z, self._missing = z, missing

    def _append(self, z: npt.NDArray[np.float32], missing: npt.NDArray[np.bool_]) -> None:
        width = z.shape[1]
        self._reserve(self._stop + width)
        if self._stop + width > self._z.shape[1]:
            keep = min(self.capacity, self._stop - self._start)
            keep = max(0, min(keep, self._z.shape[1] - width))
            self._z[:, :keep] = self._z[:, self._stop - keep : self._stop]
            self._missing[:, :keep] = self._missing[:, self._stop - keep : self._stop]
            self._start, self._stop = 0, keep
        if width > self._z.shape[1]:
            z, missing = z[:, -self._z.shape[1] :], missing[:, -self._z.shape[1] :]
            width = z.shape[1]
        self._z[:, self._stop : self._stop + width] = z
        self._missing[:, self._stop : self._stop + width] = missing
        self._stop += width
        self._start = max(self._start, self._stop - self.capacity)
        self._steps += width
        self._fold()

    def _held(self) -> int:
        """Steps the window holds (blocked: those held as one value per block too)."""
        if not self._blocked:
            return self._stop - self._start
        return max(0, min(self.capacity, self._steps - self._first))

    def _fold(self) -> None:
        """Blocked: every whole block older than the newest ``fine`` steps becomes one value.

        The value is the mean of the block's counts on the log scale (``log1p`` of the
        mean of ``expm1``): a block spread evenly from an hour's total, as a rebuild
        gives it, keeps the value each of its steps had. Blocks wholly before the
        window are dropped; a buffer left wider than the fine steps need (a refit's
        whole history) is replaced by one that is not.
        """
        if not self._blocked:
            return
        span = fold_span(
            self._steps, self._stop - self._start, self._fine, self._align, self._every
        )
        if span is not None:
            width, block, pad = span
            z = self._z[:, self._start : self._start + width].astype(np.float64)
            gone = np.where(self._missing[:, self._start : self._start + width], np.nan, 0.0)
            values = np.log1p(block_means(np.expm1(z), pad, self._every)).astype(np.float32)
            missing = np.isnan(block_means(gone, pad, self._every))
            if block != self._block0 + self._older.shape[1]:  # none, or all out of reach
                self._older, self._block0 = self._older[:, :0], block
                self._older_missing = self._older_missing[:, :0]
            self._older = np.concatenate([self._older, values], axis=1)
            self._older_missing = np.concatenate([self._older_missing, missing], axis=1)
            self._start += width
        start = self._steps - self._held()
        drop = (start - self._align) // self._every - self._block0
        if drop > 0:
            self._older = self._older[:, drop:].copy()
            self._older_missing = self._older_missing[:, drop:].copy()
            self._block0 += drop
        if self._z.shape[1] > self._limit:
            held = self._stop - self._start
            fine = np.zeros((self.n_series, self._limit), dtype=np.float32)
            flags = np.ones((self.n_series, self._limit), dtype=np.bool_)
            fine[:, :held] = self._z[:, self._start : self._stop]
            flags[:, :held] = self._missing[:, self._start : self._stop]
            self._z, self._missing, self._start, self._stop = fine, flags, 0, held

    def _window(self, drop: int = 0) -> Columns:
        """The window, oldest first, without its newest ``drop`` steps."""
        fine = self._z[:, self._start : self._stop - drop]
        lead = self._held() - (self._stop - self._start)
        if lead <= 0:
            return fine
        start = self._steps - self._held()
        head = start - (self._align + self._block0 * self._every)
        return BlockedView(fine, self._older, self._every, lead, head)

    def _dense(self, rows: slice) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
        """The window's ``rows`` as one array of every step, and which were missing."""
        window = self._window()
        fine_missing = self._missing[rows, self._start : self._stop]
        if not isinstance(window, BlockedView):
            return window[rows].astype(np.float64), fine_missing
        view: BlockedView = window[rows]
        flags = BlockedView(
            fine_missing.astype(np.float32), self._older_missing[rows].astype(np.float32),
            view.every, view.lead, view.head,
        )  # fmt: skip
        return view.dense().astype(np.float64), flags.dense() > 0.5

    @property
    def refit_due(self) -> bool:
        """Whether a refit is due: never fitted, or :func:`due_for_refit`.

        That is, :attr:`refit_every` updates since the last refit began, or the history
        held has doubled since.
        """
        return not self._fitted or due_for_refit(
            self._steps - self._refitted_at,
            self.refit_every,
            self._held(),
            self._held_at_refit,
        )

    @property
    def nbytes(self) -> int:
        """Bytes the history window's buffers take now."""
        older = self._older.nbytes + self._older_missing.nbytes
        return int(self._z.nbytes + self._missing.nbytes + older)

    @property
    def steps(self) -> int:
        """Samples appended since the engine was created."""
        return self._steps

    # -- fitting ---------------------------------------------------------------------------

    def refit(self, history: npt.ArrayLike | None = None, scored_from: int = 0) -> None:
        """Choose members and recalibrate intervals, from ``history`` or the stored one.

        Args:
            history: Counts, shape ``(n_series, T)``; when given it replaces the stored
                history. ``None`` refits from the stored history (the background refit).
            scored_from: With ``history``: its first column held at its own resolution
                (older ones were spread from coarser values); the backtest scores from
                there on (:func:`~statecast.core.forecast.fastpath.fit_family`), this
                refit and later ones from the stored history.

        Raises:
            HistoryError: ``history`` is malformed or has the wrong number of series.
        """
        if history is not None:
            self._replace_history(history)
            self._scored = self._steps - np.shape(history)[1] + max(0, scored_from)
        started = time.perf_counter()
        self._refitted_at = self._steps
        self._held_at_refit = self._held()
        for first in range(0, self.n_series, BATCH_CHUNK):
            self._refit_rows(slice(first, min(self.n_series, first + BATCH_CHUNK)))
        self._fitted = True
        with self._lock:
            self._fold()  # a blocked window's history was whole for the refit
        _log.info(
            "forecast_refit series=%d steps=%d seconds=%.2f",
            self.n_series,
            self._held(),
            time.perf_counter() - started,
        )

    def _replace_history(self, history: npt.ArrayLike) -> None:
        y = as_history(history, ndim=2)
        if y.shape[0] != self.n_series:
            raise HistoryError(f"history has {y.shape[0]} series, expected {self.n_series}")
        kept = y[:, -self.capacity :]
        width = kept.shape[1]
        with self._lock:
            if self._blocked:  # the whole history for the refit; folded after it
                self._z = np.zeros((self.n_series, width), dtype=np.float32)
                self._missing = np.ones((self.n_series, width), dtype=np.bool_)
                self._older = np.zeros((self.n_series, 0), dtype=np.float32)
                self._older_missing = np.zeros((self.n_series, 0), dtype=np.bool_)
            else:
                self._reserve(width)
            # Converted chunk by chunk: no full-size float64 temporary.
            for first in range(0, self.n_series, BATCH_CHUNK):
                rows = slice(first, min(self.n_series, first + BATCH_CHUNK))
                self._z[rows, :width] = fill_missing(np.log1p(kept[rows]), self.period)
                self._missing[rows, :width] = np.isnan(kept[rows])
            self._start, self._stop = 0, width
            self._steps += y.shape[1]
            self._first = self._steps - width

    def _refit_rows(self, rows: slice) -> None:
        with self._lock:
            z, missing = self._dense(rows)
            seen = self._steps
            scored = max(0, self._scored - (self._steps - self._held()))
        y = np.where(missing, np.nan, np.expm1(z))
        fast = fast_forecast(
            y, periods=self.periods, horizon=self.horizon, level=self.level, quantiles=(),
            grid=self._grid, scored_from=scored,
        )  # fmt: skip
        with self._lock:
            fit = fast.fit
            if fit is None:
                self._slots.set_naive(rows, z[:, -1])
                self._unit[rows] = True
                self._hedged[rows] = False
            else:
                self._slots.set_fit(rows, fit)
                self._kappa[rows] = fit.kappa
                self._unit[rows] = False
                self._hedged[rows] = len(fit.periods) <= 1 and self._grid.week > 0
            self._offsets[rows] = fast.offsets
            self._whole[rows] = fast.whole
            self._scores[rows] = fast.scores
            self._names[rows] = fast.models
            self._models = None
            observed = np.where(missing, np.nan, np.expm1(z))
            self._high[rows] = np.nan_to_num(np.nanmax(observed, axis=1, initial=0.0))
            self._low[rows] = np.nan_to_num(np.nanmin(observed, axis=1, initial=np.inf))
            # Replay the samples that arrived while this chunk was being fitted.
            late = self._steps - seen
            for back in range(late, 0, -1):
                self._slots.advance(self._window(back - 1)[rows], rows)

    # -- cheap update ----------------------------------------------------------------------

    def update(self, values: npt.ArrayLike) -> BatchForecast:
        """Append one sample per series, advance the state, and forecast.

        Args:
            values: Counts of the newest step, shape ``(n_series,)``; NaN if missing.

        Returns:
            The forecasts after this sample.

        Raises:
            HistoryError: Wrong shape, negative or infinite values.
        """
        sample = as_history(values, ndim=1)
        if sample.shape[0] != self.n_series:
            raise HistoryError(f"update has {sample.shape[0]} values, expected {self.n_series}")
        with self._lock:
            missing = np.isnan(sample)
            z = np.log1p(sample)
            if missing.any():
                length = self._held()
                back = self.period if length >= self.period else 1
                z[missing] = self._window()[:, length - back][missing] if length >= back else 0.0
            self._append(z.astype(np.float32)[:, None], missing[:, None])
            self._slots.advance(self._window(), slice(None))
            known = np.where(missing, np.nan, sample)
            self._high = np.fmax(self._high, known)
            self._low = np.fmin(self._low, known)
            return self._forecast_locked()

    def forecast(self) -> BatchForecast:
        """Forecasts from the current state (without a new sample)."""
        with self._lock:
            return self._forecast_locked()

    def _forecast_locked(self) -> BatchForecast:
        window = self._window()
        zhat = self._slots.forecast(window, self.horizon)
        scale = np.where(self._unit[:, None], 1.0, spread(zhat, self._kappa))
        hedge = np.zeros_like(zhat)
        if self._hedged.any():
            rows = np.flatnonzero(self._hedged)
            hedge[rows] = weekly_hedge(
                window[rows], zhat[rows], self._offsets[rows, :, :2] * scale[rows, :, None],
                scale[rows], period=self.period, week=self._grid.week,
                threshold=self._grid.hedge_threshold,
            )  # fmt: skip
        cap = self._high + CEILING_RANGES * np.maximum(self._high - self._low, 0.0) + 1.0
        mean, lower, upper = bounds(zhat, self._offsets, scale, self._whole, hedge, cap)
        return BatchForecast(
            self._model_names(window), self.level, mean, lower, upper, self._scores.copy()
        )

    def _model_names(self, window: Columns) -> tuple[str, ...]:
        """Each series' model name, ``zero`` while its whole window is zero (cached)."""
        zero: npt.NDArray[np.bool_] = ~nonzero_rows(window)
        if self._models is None or not np.array_equal(zero, self._models_zero):
            self._models = tuple(
                "zero" if zr else name for zr, name in zip(zero, self._names, strict=True)
            )
            self._models_zero = zero
        return self._models
