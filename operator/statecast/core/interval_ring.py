"""A fixed-size numpy ring of sums per node and interval.

:class:`IntervalRing` keeps, per node (a row, added on first use), the last
``capacity`` intervals of some count (accesses, writes, pod-seconds) in one float32
array; an interval is addressed by its absolute index (``time // interval``).
:class:`CompactRing` holds its intervals older than the newest few in 16 bits a value:
the count's logarithm in steps of :data:`LOG_STEP` (0.05 %), zero exact.
:func:`resample` moves a ring's values onto another interval.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "LOG_STEP",
    "ROUNDING",
    "CompactRing",
    "IntervalRing",
    "RingSnapshot",
    "resample",
    "spread",
]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class RingSnapshot:
    """A ring's rows and values, oldest interval first.

    Attributes:
        nodes: the row names.
        last: absolute index (time // interval) of the newest interval; None: empty.
        values: shape ``(len(nodes), k)``, the ``k`` intervals ending at ``last``.
    """

    nodes: tuple[str, ...]
    last: int | None
    values: npt.NDArray[np.float32]


def spread(start: float, end: float, interval: float) -> tuple[npt.NDArray[np.int64], FloatArray]:
    """Interval indices that ``[start, end]`` overlaps and the share of it in each."""
    first = math.floor(start / interval)
    if end - start <= 1e-9:
        return np.array([first], dtype=np.int64), np.ones(1)
    last = max(first, math.ceil(end / interval) - 1)
    index = np.arange(first, last + 1, dtype=np.int64)
    lo = np.maximum(index * interval, start)
    hi = np.minimum((index + 1) * interval, end)
    return index, np.maximum(hi - lo, 0.0) / (end - start)


class IntervalRing:
    """Sums per node and interval for the last ``capacity`` intervals, in one array.

    An interval is addressed by its absolute index (``time // interval``) and lives in
    column ``index % width``; moving to a newer interval clears the columns it reuses.
    The array is as wide as the intervals held so far need (doubling, up to
    ``capacity``), not ``capacity`` from the first interval: three days of 10 s
    intervals are 4,320 columns per node, and a thousand resources that had run for
    minutes held them all (about 17 KB per node and ring, mostly zeros).

    Args:
        capacity: intervals held.
    """

    #: Columns of a ring's first array.
    FIRST_WIDTH = 16
    #: What a value is stored as.
    DTYPE: type[np.generic] = np.float32

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.rows: dict[str, int] = {}
        self.width = min(capacity, self.FIRST_WIDTH)
        self.data: npt.NDArray[Any] = np.zeros((0, self._columns(self.width)), self.DTYPE)
        self.last: int | None = None
        self.first: int | None = None  # the oldest interval ever written or advanced to

    # --- storage (a CompactRing stores older intervals as codes) ------------------------
    def _columns(self, width: int) -> int:
        """Columns of :attr:`data` for a ring ``width`` intervals wide: all of them here."""
        return width

    def _stored(self, rows: int | slice | npt.NDArray[np.int64], index: Any) -> Any:
        """What ``rows`` hold at intervals ``index`` (absolute, each held): float32 here."""
        return self.data[rows][..., index % self.width]

    def _store(self, index: npt.NDArray[np.int64], values: npt.ArrayLike) -> None:
        """Set every row's intervals ``index`` to ``values`` (rows x intervals)."""
        self.data[:, index % self.width] = values

    def _accumulate(self, row: int, index: npt.NDArray[np.int64], values: FloatArray) -> None:
        """Add ``values`` to ``row``'s intervals ``index`` (one may come more than once)."""
        np.add.at(self.data[row], index % self.width, values)

    def _row(self, node: str) -> int:
        row = self.rows.get(node)
        if row is None:
            row = self.rows[node] = len(self.rows)
            self.data = np.vstack([self.data, np.zeros((1, self.data.shape[1]), self.DTYPE)])
        return row

    def _reach(self, oldest: int, newest: int) -> None:
        """Widen the array so that it holds intervals ``oldest .. newest`` (within capacity)."""
        self.first = oldest if self.first is None else min(self.first, oldest)
        needed = min(self.capacity, newest - self.first + 1)
        if needed > self.width:
            self._widen(min(self.capacity, max(needed, self.width * 3 // 2)))

    def _widen(self, width: int) -> None:
        """Make the ring ``width`` intervals wide, keeping the intervals held."""
        data = np.zeros((self.data.shape[0], width), dtype=self.DTYPE)
        if self.last is not None:
            index = np.arange(self.last - self.width + 1, self.last + 1)
            data[:, index % width] = self.data[:, index % self.width]
        self.data, self.width = data, width

    def _clear(self, was: int, index: int) -> None:
        """Clear the columns intervals ``was + 1 .. index`` take over (``index`` newest now)."""
        if index - was >= self.width:
            self.data[:] = 0.0
        else:
            self.data[:, np.arange(was + 1, index + 1) % self.width] = 0.0

    def advance(self, index: int) -> None:
        """Make ``index`` the newest interval (clearing the columns it takes over)."""
        if self.last is None:
            self._reach(index, index)
            self.last = index
        elif index > self.last:
            self._reach(self.first if self.first is not None else index, index)
            self._clear(self.last, index)
            self.last = index

    def add(self, node: str, index: npt.NDArray[np.int64], amount: npt.ArrayLike) -> None:
        """Add ``amount`` to ``node``'s intervals ``index`` (ones older than the ring: dropped)."""
        if len(index) == 0:
            return
        self.advance(int(index.max()))
        assert self.last is not None
        keep = index > self.last - self.capacity
        if not keep.any():
            return
        self._reach(int(index[keep].min()), self.last)
        values = np.broadcast_to(np.asarray(amount, dtype=np.float64), index.shape)[keep]
        row = self._row(node)  # may grow self.data
        self._accumulate(row, index[keep], values)

    def span(self, node: str, start: float, end: float, amount: float, interval: float) -> None:
        """Spread ``amount`` evenly over ``[start, end]`` into ``node``'s intervals."""
        if amount:
            index, share = spread(start, end, interval)
            self.add(node, index, amount * share)

    def spans(
        self, node: str, parts: Sequence[tuple[float, float, float]], interval: float
    ) -> None:
        """:meth:`span` of each ``(start, end, amount)`` of ``parts``, added at once.

        The same sums as one :meth:`span` each (in the same order); a
        :class:`CompactRing` rounds each interval once, not once per part.
        """
        if len(parts) == 1:  # the usual case (a reading per interval): one span's add
            self.span(node, *parts[0], interval)
            return
        pieces = [(*spread(a, b, interval), amount) for a, b, amount in parts if amount]
        if pieces:
            index = np.concatenate([i for i, _, _ in pieces])
            self.add(node, index, np.concatenate([share * amount for _, share, amount in pieces]))

    @property
    def nbytes(self) -> int:
        """Bytes of its arrays."""
        return int(self.data.nbytes)

    def held_from(self) -> int | None:
        """Index of the oldest interval held (None: empty)."""
        return None if self.last is None else self.last - self.capacity + 1

    def _values(self, rows: int | slice, index: npt.NDArray[np.int64]) -> FloatArray:
        """The values of ``rows`` at intervals ``index`` (0 where none is held)."""
        assert self.last is not None
        held = (index <= self.last) & (index > self.last - self.width)
        shape = (len(index),) if isinstance(rows, int) else (self.data.shape[0], len(index))
        out = np.zeros(shape)
        out[..., held] = self._stored(rows, index[held])
        return out

    def series(self, node: str) -> FloatArray:
        """``node``'s values, oldest first, the ``capacity`` intervals ending at ``last``."""
        row = self.rows.get(node)
        if row is None or self.last is None:
            return np.zeros(self.capacity)
        return self._values(row, np.arange(self.last - self.capacity + 1, self.last + 1))

    def window(self, node: str, first: int, count: int) -> FloatArray:
        """``node``'s values for intervals ``first .. first + count - 1`` (0 where not held)."""
        row = self.rows.get(node)
        if row is None or self.last is None:
            return np.zeros(count)
        return self._values(row, np.arange(first, first + count))

    def block(self, nodes: Sequence[str], first: int, count: int) -> FloatArray:
        """:meth:`window` of each of ``nodes`` at once, one row each (0 where not held).

        One read for every row instead of one per node: a resource read from tens of
        nodes reads its history in one numpy operation.
        """
        out = np.zeros((len(nodes), count))
        if self.last is None or count <= 0:
            return out
        at = [(k, self.rows[node]) for k, node in enumerate(nodes) if node in self.rows]
        if not at:
            return out
        index = np.arange(first, first + count)
        held = (index <= self.last) & (index > self.last - self.width)
        where, rows = (np.array(v, dtype=np.int64) for v in zip(*at, strict=True))
        out[np.ix_(where, np.flatnonzero(held))] = self._stored(rows, index[held])
        return out

    def total_of(self, first: int, count: int) -> float:
        """The sum of every row over intervals ``first .. first + count - 1``."""
        if self.last is None or count <= 0 or not self.rows:
            return 0.0
        index = np.arange(first, first + count)
        held = (index <= self.last) & (index > self.last - self.width)
        stored = self._stored(slice(None), index[held])
        return float(np.sum(stored, dtype=np.float64))

    def snapshot(self, keep: int | None = None) -> RingSnapshot:
        """The ring as plain values (the newest ``keep`` intervals; default all)."""
        k = self.capacity if keep is None else max(0, min(keep, self.capacity))
        nodes = tuple(sorted(self.rows, key=self.rows.__getitem__))
        values = np.zeros((len(nodes), k), dtype=np.float32)
        if self.last is not None and k:
            index = np.arange(self.last - k + 1, self.last + 1)
            values = self._values(slice(None), index).astype(np.float32)
        return RingSnapshot(nodes, self.last, values)

    def restore(self, snapshot: RingSnapshot) -> None:
        """Put back a snapshot (values beyond this ring's capacity are dropped)."""
        self.rows = {node: i for i, node in enumerate(snapshot.nodes)}
        self.last, self.first = snapshot.last, None
        self.width = min(self.capacity, self.FIRST_WIDTH)
        self.data = np.zeros((len(snapshot.nodes), self._columns(self.width)), self.DTYPE)
        if snapshot.last is None:
            return
        values = snapshot.values[:, -self.capacity :] if self.capacity else snapshot.values[:, :0]
        used = np.flatnonzero(values.any(axis=0))  # leading zero columns need no room
        values = values[:, used[0] :] if len(used) else values[:, :0]
        k = values.shape[1]
        self.first = snapshot.last - max(k, 1) + 1
        self.last = None  # nothing held yet: widen without copying
        self._reach(self.first, snapshot.last)
        self.last = snapshot.last
        if k:
            self._store(np.arange(snapshot.last - k + 1, snapshot.last + 1), values)


#: A :class:`CompactRing`'s step in ``log1p(value * COUNT_SCALE)``: neighbouring values
#: differ by 0.049 % (rounded to the nearest: within 0.025 %).
LOG_STEP = 2.0**-11
#: Values are scaled up by this before the log: a fraction of an access rounds within
#: 0.025 % of it and ~1/4,000,000 of one; the largest held is ~7.7e10 per interval.
COUNT_SCALE = 1024.0
#: How far a :class:`CompactRing`'s rounded value may be from the sum ``x``:
#: ``ROUNDING * (x + 1 / COUNT_SCALE)``.
ROUNDING = math.expm1(LOG_STEP / 2)
_CODES = np.iinfo(np.uint16).max
#: Every code's value (512 KiB, once per process).
_DECODED: FloatArray = np.expm1(np.arange(_CODES + 1, dtype=np.float64) * LOG_STEP) / COUNT_SCALE


def _encode(values: npt.ArrayLike) -> npt.NDArray[np.uint16]:
    """Codes of non-negative ``values`` (negative ones: 0, as none are counted)."""
    scaled = np.maximum(np.asarray(values, dtype=np.float64), 0.0) * COUNT_SCALE
    return np.minimum(np.rint(np.log1p(scaled) / LOG_STEP), _CODES).astype(np.uint16)


class CompactRing(IntervalRing):
    """An :class:`IntervalRing` whose intervals older than the newest ``fresh`` are 16 bits.

    The newest ``fresh`` intervals are float32 (:attr:`recent`) as in an
    :class:`IntervalRing` (what is read every interval - the forecast's update, the
    planner's last minutes, the hit ratio's hour - reads what was added); each older one
    is held in :attr:`data` as ``round(log1p(value * COUNT_SCALE) / LOG_STEP)``: within
    0.025 % of what was added (:data:`ROUNDING`), zero exactly, where a forecast's
    residuals are tens of percent. An interval is rounded once, when it leaves the
    newest ``fresh`` (again when something older than that comes late). :attr:`data`
    has a column for each older interval only (``width - fresh``): none while the ring
    is no wider than ``fresh`` - the whole first hour of a demand ring, whose 16-bit
    columns were allocated at the ring's width and never read (session 19). A day of
    minutes per node: 2,758 + 244 bytes, not 5,760. For a count never negative
    (accesses): a negative sum is held as 0.

    Args:
        capacity: intervals held.
        fresh: the newest intervals held as float32 (at most ``capacity``).
    """

    DTYPE = np.uint16

    def __init__(self, capacity: int, fresh: int) -> None:
        self.fresh = max(1, min(fresh, capacity))
        super().__init__(capacity)
        self.recent: npt.NDArray[np.float32] = np.zeros((0, self._recent_width()), np.float32)

    def _columns(self, width: int) -> int:
        """Columns of :attr:`data`: one for each interval older than the newest ``fresh``."""
        return max(0, width - self.fresh)

    def _recent_width(self) -> int:
        return min(self.fresh, self.width)

    def _older(self, index: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """The :attr:`data` columns of older intervals ``index`` (any, if it has none)."""
        return np.asarray(index % max(1, self.data.shape[1]), dtype=np.int64)

    def _is_fresh(self, index: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        assert self.last is not None
        return index > self.last - self.fresh

    def _stored(self, rows: int | slice | npt.NDArray[np.int64], index: Any) -> Any:
        # Most reads are all fresh (an update's newest interval, the hit ratio's hour) or
        # all older (a rebuild's day): each read from one array only, decoding no more
        # than it returns (the same values as the mixed case below).
        assert self.last is not None
        if len(index) and index.min() > self.last - self.fresh:
            return self.recent[rows][..., index % self.recent.shape[1]].astype(np.float64)
        out = _DECODED[self.data[rows][..., self._older(index)]]
        if len(index) and index.max() > self.last - self.fresh:
            new = self._is_fresh(index)
            out[..., new] = self.recent[rows][..., index[new] % self.recent.shape[1]]
        return out

    def _store(self, index: npt.NDArray[np.int64], values: npt.ArrayLike) -> None:
        given = np.asarray(values, dtype=np.float64)
        new = self._is_fresh(index)
        self.recent[:, index[new] % self.recent.shape[1]] = given[:, new]
        self.data[:, self._older(index[~new])] = _encode(given[:, ~new])

    def _accumulate(self, row: int, index: npt.NDArray[np.int64], values: FloatArray) -> None:
        assert self.last is not None
        if index.min() > self.last - self.fresh:  # the usual case: a reading of the newest
            np.add.at(self.recent[row], index % self.recent.shape[1], values)
            return
        new = self._is_fresh(index)
        np.add.at(self.recent[row], index[new] % self.recent.shape[1], values[new])
        if not new.all():
            where, at = np.unique(self._older(index[~new]), return_inverse=True)
            sums = np.bincount(at.ravel(), weights=values[~new], minlength=len(where))
            self.data[row, where] = _encode(_DECODED[self.data[row, where]] + sums)

    def _row(self, node: str) -> int:
        row = super()._row(node)
        if row >= self.recent.shape[0]:
            self.recent = np.vstack([self.recent, np.zeros((1, self.recent.shape[1]), np.float32)])
        return row

    def _widen(self, width: int) -> None:
        data = np.zeros((self.data.shape[0], self._columns(width)), dtype=self.DTYPE)
        recent = self.recent
        if recent.shape[1] != min(self.fresh, width):  # the fresh part is still growing
            recent = np.zeros((recent.shape[0], min(self.fresh, width)), np.float32)
        if self.last is not None:  # the intervals held, to their new columns
            older = np.arange(self.last - self.width + 1, self.last - self.fresh + 1)
            if len(older):
                data[:, older % data.shape[1]] = self.data[:, older % self.data.shape[1]]
            if recent is not self.recent:
                index = np.arange(self.last - self.recent.shape[1] + 1, self.last + 1)
                recent[:, index % recent.shape[1]] = self.recent[:, index % self.recent.shape[1]]
        self.data, self.recent, self.width = data, recent, width

    def _clear(self, was: int, index: int) -> None:
        """The intervals aging past ``fresh`` to 16 bits; the columns taken over cleared."""
        width = self.recent.shape[1]
        if self.data.shape[1]:  # older intervals held: those new to them, from the fresh
            older = np.arange(max(was - self.fresh, index - self.width) + 1,
                              index - self.fresh + 1)  # fmt: skip
            aged = older[older <= was]  # held as float32 until now; the others: none
            self.data[:, self._older(older)] = 0
            self.data[:, self._older(aged)] = _encode(self.recent[:, aged % width])
        if index - was >= width:
            self.recent[:] = 0.0
        else:
            self.recent[:, np.arange(was + 1, index + 1) % width] = 0.0

    def restore(self, snapshot: RingSnapshot) -> None:
        """Put back a snapshot (see :meth:`IntervalRing.restore`)."""
        self.recent = np.zeros((len(snapshot.nodes), min(self.fresh, self.FIRST_WIDTH)), np.float32)
        super().restore(snapshot)

    @property
    def nbytes(self) -> int:
        """Bytes of its arrays."""
        return int(self.data.nbytes + self.recent.nbytes)


def resample(old: IntervalRing, old_interval: float, new: IntervalRing, interval: float) -> None:
    """Add ``old``'s values into ``new``, each old interval spread evenly over the new ones.

    Only the intervals ``old`` has held since its first are spread (earlier ones are
    zeros): a ring of a few minutes resampled over its whole capacity cost a thousand
    resources' first reconciles a few milliseconds each, and widened ``new`` to its
    capacity.
    """
    start = old.held_from()
    if start is None or old.last is None:
        return
    if old.first is not None:
        start = max(start, old.first)
    first = math.floor(start * old_interval / interval)
    last = math.ceil((old.last + 1) * old_interval / interval) - 1
    index = np.arange(first, last + 1, dtype=np.int64)
    edges = np.append(index, last + 1) * interval
    held = np.arange(start, old.last + 1)
    knots = np.append(held, old.last + 1) * old_interval
    for node in old.rows:
        cumulative = np.concatenate(([0.0], np.cumsum(old.window(node, start, len(held)))))
        new.add(node, index, np.diff(np.interp(edges, knots, cumulative)))
