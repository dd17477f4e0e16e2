"""The newest columns of a rows x time series, appended in place, float32.

A resource's forecast hands the planner each node's demand over the newest day (its
break-even look-back). Kept as a fresh float64 array per interval (the day before and
the new interval stacked, then the newest day copied out), it cost 8 bytes per node and
interval held and two allocations of nodes x a day per resource and interval (session
13's hour at 1,000 resources x 50 nodes: ~85 KiB per resource an hour in, ~69 KiB per
node at a day of 10 s intervals). :class:`NewestColumns` keeps the same values in one
float32 buffer a little wider than the day, appends each interval in place and hands out
read-only views that never change: a full buffer is moved into a new one, not over
itself, so a view handed out before still shows what it showed.

With ``blocks`` the columns older than the newest few hours are held one value per
block of columns (an hour: the coarse ring's resolution, at which a rebuild gives them
anyway) and :meth:`NewestColumns.view` spreads each block's mean back over its columns
in a new array: at 10 s intervals a day is 8,640 columns per node, the blocks 24.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from statecast.core.forecast.window import block_means, fold_span

__all__ = ["NewestColumns"]

Float32Array = npt.NDArray[np.float32]

#: Columns of the first buffer.
FIRST_WIDTH = 16


class NewestColumns:
    """The newest ``keep`` columns appended to a ``rows``-row series (NaN stored as 0).

    The buffer grows with the columns held (by half, up to ``keep`` plus a slack of an
    eighth of it); once full, the newest columns move into a new buffer of the same
    width. Memory: at most ``rows x (keep + slack) x 4`` bytes, plus the buffer a
    handed-out view still holds until it is dropped. With ``blocks`` the buffer holds
    the newest ``fine`` columns and the block they reach into, and every older block
    is one value: ``rows x (fine + every + slack + keep / every) x 4`` bytes at most.

    Args:
        rows: rows of the series.
        keep: newest columns kept (at least 1).
        blocks: ``(fine, every, align)``: columns older than the newest ``fine`` (and
            the block they reach into) held as the mean of each block of ``every``
            columns, a block starting at each column ``align + k * every`` (columns
            counted from the first ever appended); None (or ``fine + every`` not below
            ``keep``): every column as it is.
    """

    def __init__(self, rows: int, keep: int, blocks: tuple[int, int, int] | None = None) -> None:
        self.keep = max(1, keep)
        self.limit = self.keep + max(FIRST_WIDTH, self.keep // 8)
        fine, every, align = blocks or (self.keep, 1, 0)
        self._every, self._align = max(1, every), align
        self._fine = max(1, fine)
        self.blocked = self._every > 1 and self._fine + self._every < self.keep
        if self.blocked:  # a slack of 16 columns, not an eighth (90 at 10 s: 296 bytes
            # per node; a wider append gets a buffer of its own, moved back once folded)
            self.limit = self._fine + self._every + FIRST_WIDTH
        self._data: Float32Array = np.zeros((rows, min(self.limit, FIRST_WIDTH)), np.float32)
        self._start = 0
        self._stop = 0
        self._count = 0  # columns ever appended
        self._older: Float32Array = np.zeros((rows, 0), np.float32)  # one mean per block
        self._block0 = 0  # the block index of ``_older``'s first column
        self._view: Float32Array | None = None  # the view handed out since the last append

    @property
    def nbytes(self) -> int:
        """Bytes of the buffer (and of the blocks' values)."""
        return int(self._data.nbytes + self._older.nbytes)

    def append(self, columns: npt.ArrayLike) -> None:
        """Add ``columns`` (rows x k, oldest first) as the newest; NaN counts as 0."""
        given = np.asarray(columns, dtype=np.float64)
        values = np.nan_to_num(given[:, -self.keep :])
        width = values.shape[1]
        if width == 0:
            return
        self._count += given.shape[1]
        self._view = None
        held = min(self._stop - self._start, self.keep - width)
        if self._stop + width > self._data.shape[1]:
            size = max(held + width, min(self.limit, self._data.shape[1] * 3 // 2))
            self._move(held, size)
        self._data[:, self._stop : self._stop + width] = values
        self._stop += width
        self._start = max(self._start, self._stop - self.keep)
        self._fold()

    def _move(self, held: int, size: int) -> None:
        """Put the newest ``held`` columns at the start of a new buffer of ``size``."""
        data = np.zeros((self._data.shape[0], size), np.float32)
        data[:, :held] = self._data[:, self._stop - held : self._stop]
        self._data, self._start, self._stop = data, 0, held

    def _fold(self) -> None:
        """Blocked: every whole block older than the newest ``fine`` columns becomes its mean."""
        if not self.blocked:
            return
        span = fold_span(
            self._count, self._stop - self._start, self._fine, self._align, self._every
        )
        if span is not None:
            width, block, pad = span
            part = self._data[:, self._start : self._start + width].astype(np.float64)
            means = block_means(part, pad, self._every).astype(np.float32)
            if block != self._block0 + self._older.shape[1]:  # none, or all out of reach
                self._older, self._block0 = self._older[:, :0], block
            self._older = np.concatenate([self._older, means], axis=1)
            self._start += width
        first = max(0, self._count - self.keep)  # the oldest column held
        drop = (first - self._align) // self._every - self._block0
        if drop > 0:
            self._older = self._older[:, drop:].copy()
            self._block0 += drop
        if self._data.shape[1] > self.limit:
            self._move(self._stop - self._start, self.limit)

    @property
    def spread(self) -> bool:
        """Whether :meth:`view` spreads older blocks into a new array (else: a view)."""
        return min(self.keep, self._count) > self._stop - self._start

    def view(self) -> Float32Array:
        """The columns held, oldest first, read-only (later appends never change it).

        The same view until the next append; with older blocks held (:attr:`spread`), a
        new array each time, each block's mean spread over its columns.
        """
        if self._view is not None:
            return self._view
        out = self._data[:, self._start : self._stop]
        lead = min(self.keep, self._count) - (self._stop - self._start)
        if lead > 0:
            first = self._count - (self._stop - self._start) - lead
            head = first - (self._align + self._block0 * self._every)
            spread = np.repeat(self._older, self._every, axis=1)[:, head : head + lead]
            out = np.concatenate([spread, out], axis=1)
        out.flags.writeable = False
        if lead <= 0:
            self._view = out
        return out
