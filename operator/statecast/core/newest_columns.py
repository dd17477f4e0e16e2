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
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["NewestColumns"]

Float32Array = npt.NDArray[np.float32]

#: Columns of the first buffer.
FIRST_WIDTH = 16


class NewestColumns:
    """The newest ``keep`` columns appended to a ``rows``-row series (NaN stored as 0).

    The buffer grows with the columns held (by half, up to ``keep`` plus a slack of an
    eighth of it); once full, the newest columns move into a new buffer of the same
    width. Memory: at most ``rows x (keep + slack) x 4`` bytes, plus the buffer a
    handed-out view still holds until it is dropped.

    Args:
        rows: rows of the series.
        keep: newest columns kept (at least 1).
    """

    def __init__(self, rows: int, keep: int) -> None:
        self.keep = max(1, keep)
        self.limit = self.keep + max(FIRST_WIDTH, self.keep // 8)
        self._data: Float32Array = np.zeros((rows, min(self.limit, FIRST_WIDTH)), np.float32)
        self._start = 0
        self._stop = 0

    @property
    def nbytes(self) -> int:
        """Bytes of the buffer."""
        return int(self._data.nbytes)

    def append(self, columns: npt.ArrayLike) -> None:
        """Add ``columns`` (rows x k, oldest first) as the newest; NaN counts as 0."""
        values = np.nan_to_num(np.asarray(columns, dtype=np.float64)[:, -self.keep :])
        width = values.shape[1]
        if width == 0:
            return
        held = min(self._stop - self._start, self.keep - width)
        if self._stop + width > self._data.shape[1]:
            size = max(held + width, min(self.limit, self._data.shape[1] * 3 // 2))
            self._move(held, min(self.limit, size))
        self._data[:, self._stop : self._stop + width] = values
        self._stop += width
        self._start = max(self._start, self._stop - self.keep)

    def _move(self, held: int, size: int) -> None:
        """Put the newest ``held`` columns at the start of a new buffer of ``size``."""
        data = np.zeros((self._data.shape[0], size), np.float32)
        data[:, :held] = self._data[:, self._stop - held : self._stop]
        self._data, self._start, self._stop = data, 0, held

    def view(self) -> Float32Array:
        """The columns held, oldest first, read-only (later appends never change it)."""
        out = self._data[:, self._start : self._stop]
        out.flags.writeable = False
        return out
