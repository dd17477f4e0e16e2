"""A fixed-size numpy ring of sums per node and interval.

:class:`IntervalRing` keeps, per node (a row, added on first use), the last
``capacity`` intervals of some count (accesses, writes, pod-seconds) in one float32
array; an interval is addressed by its absolute index (``time // interval``).
:func:`resample` moves a ring's values onto another interval.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["IntervalRing", "RingSnapshot", "resample", "spread"]

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

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.rows: dict[str, int] = {}
        self.width = min(capacity, self.FIRST_WIDTH)
        self.data = np.zeros((0, self.width), dtype=np.float32)
        self.last: int | None = None
        self.first: int | None = None  # the oldest interval ever written or advanced to

    def _row(self, node: str) -> int:
        row = self.rows.get(node)
        if row is None:
            row = self.rows[node] = len(self.rows)
            self.data = np.vstack([self.data, np.zeros((1, self.width), dtype=np.float32)])
        return row

    def _reach(self, oldest: int, newest: int) -> None:
        """Widen the array so that it holds intervals ``oldest .. newest`` (within capacity)."""
        self.first = oldest if self.first is None else min(self.first, oldest)
        needed = min(self.capacity, newest - self.first + 1)
        if needed <= self.width:
            return
        width = min(self.capacity, max(needed, self.width * 3 // 2))
        data = np.zeros((self.data.shape[0], width), dtype=np.float32)
        if self.last is not None:
            index = np.arange(self.last - self.width + 1, self.last + 1)
            data[:, index % width] = self.data[:, index % self.width]
        self.data, self.width = data, width

    def advance(self, index: int) -> None:
        """Make ``index`` the newest interval (clearing the columns it takes over)."""
        if self.last is None:
            self._reach(index, index)
            self.last = index
        elif index > self.last:
            self._reach(self.first if self.first is not None else index, index)
            if index - self.last >= self.width:
                self.data[:] = 0.0
            else:
                self.data[:, np.arange(self.last + 1, index + 1) % self.width] = 0.0
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
        np.add.at(self.data[row], index[keep] % self.width, values)

    def span(self, node: str, start: float, end: float, amount: float, interval: float) -> None:
        """Spread ``amount`` evenly over ``[start, end]`` into ``node``'s intervals."""
        if amount:
            index, share = spread(start, end, interval)
            self.add(node, index, amount * share)

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
        out[..., held] = self.data[rows][..., index[held] % self.width]
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
        out[np.ix_(where, np.flatnonzero(held))] = self.data[rows][:, index[held] % self.width]
        return out

    def total_of(self, first: int, count: int) -> float:
        """The sum of every row over intervals ``first .. first + count - 1``."""
        if self.last is None or count <= 0 or not self.rows:
            return 0.0
        index = np.arange(first, first + count)
        held = (index <= self.last) & (index > self.last - self.width)
        return float(self.data[:, index[held] % self.width].sum(dtype=np.float64))

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
        self.data = np.zeros((len(snapshot.nodes), self.width), dtype=np.float32)
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
            order = np.arange(snapshot.last - k + 1, snapshot.last + 1) % self.width
            self.data[:, order] = values


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
