"""A rows x time window whose older columns are held one value per block of columns.

A resource's forecast reads its history between two rebuilds in two ways: the newest
columns as they are (the level members' newest sample, the planner's last minutes), and
the seasonal members' lags a season and more back. At 10 s intervals with a daily
season the lags reach three days back, 25,932 columns per node (about 127 KiB of float32
log values and missing flags per node and resource), while what a rebuild puts there
beyond the fine ring is the coarse ring's hours spread evenly over their 360 columns.
:class:`BlockedView` is such a window held as the newest columns plus one value per
older block (an hour of columns): reading column ``c`` gives the column itself where it
is held and its block's value where not - what the dense window would hold when the
block was spread from the coarse ring, and the block's mean otherwise.

:func:`block_means` folds columns into block values. The view supports the reads the
forecast makes of a window (``shape``, rows by a slice or an index array, and columns by
an integer, a slice or an index array of any shape), so the same members, profiles and
hedge read a dense array or a blocked window.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

import numpy as np
import numpy.typing as npt

__all__ = ["BlockedView", "Columns", "FoldSpan", "block_means", "fold_span", "nonzero_rows"]

Float32Array = npt.NDArray[np.float32]
FloatArray = npt.NDArray[np.float64]


class Columns(Protocol):
    """What the forecast reads of a window: a numpy array or a :class:`BlockedView`."""

    @property
    def shape(self) -> tuple[int, ...]:
        """(rows, columns)."""
        ...

    def __getitem__(self, key: Any) -> Any:
        """Rows (a slice or an index array), or ``[rows, columns]`` values."""
        ...


class FoldSpan(NamedTuple):
    """The whole blocks at a buffer's start to fold: what :func:`fold_span` finds."""

    #: Columns folded, from the buffer's first.
    width: int
    #: The first folded block's index.
    block: int
    #: Columns of that block before the buffer's first (already folded or never held).
    pad: int


def fold_span(count: int, buffered: int, fine: int, align: int, every: int) -> FoldSpan | None:
    """The whole blocks older than the newest ``fine`` of ``count`` columns, in a buffer.

    The buffer holds the newest ``buffered`` columns; blocks of ``every`` columns start at
    column ``align``. None when no whole block lies before the newest ``fine`` columns
    in what the buffer holds.
    """
    oldest = count - buffered  # the buffer's first column
    keep = count - fine
    cut = align + ((keep - align) // every) * every
    if cut <= oldest:
        return None
    block = (oldest - align) // every
    return FoldSpan(cut - oldest, block, oldest - (align + block * every))


def block_means(values: FloatArray, pad: int, every: int) -> FloatArray:
    """The mean of each block of ``every`` columns of ``values`` (rows x k), per row.

    The first block lacks its ``pad`` leading columns (its mean is over those given);
    ``pad + k`` is a whole number of blocks. NaN columns are left out of a mean (a block
    of NaN only: NaN).
    """
    rows, width = values.shape
    blocks = (pad + width) // every
    padded = np.full((rows, blocks * every), np.nan)
    padded[:, pad : pad + width] = values
    shaped = padded.reshape(rows, blocks, every)
    known = ~np.isnan(shaped)
    count = known.sum(axis=2)
    total = np.where(known, shaped, 0.0).sum(axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


@dataclass(frozen=True)
class BlockedView:
    """A window of ``lead`` block-held columns then the ``fine`` columns, oldest first.

    Column ``c < lead`` reads ``coarse[:, (c + head) // every]``; column ``c >= lead``
    reads ``fine[:, c - lead]``.

    Attributes:
        fine: the newest columns as they are, rows x k.
        coarse: one value per block, rows x m, oldest first.
        every: columns per block.
        lead: columns of the window before ``fine``.
        head: columns of the first block before the window's first column.
    """

    fine: Float32Array
    coarse: Float32Array
    every: int
    lead: int
    head: int

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, columns) of the whole window."""
        return self.fine.shape[0], self.lead + self.fine.shape[1]

    @property
    def nbytes(self) -> int:
        """Bytes of the arrays it reads (shared with its holder)."""
        return int(self.fine.nbytes + self.coarse.nbytes)

    def __getitem__(self, key: Any) -> Any:
        """Rows (a :class:`BlockedView` of them) or ``[rows, columns]`` values (an array)."""
        if not isinstance(key, tuple):
            return BlockedView(self.fine[key], self.coarse[key], self.every, self.lead, self.head)
        rows, columns = key
        view = self if isinstance(rows, slice) and rows == slice(None) else self[rows]
        return view.take(_column_index(columns, self.shape[1]))

    def take(self, columns: npt.ArrayLike) -> Float32Array:
        """The values at ``columns`` (an index array of any shape, each in the window).

        Shape ``(rows, *columns.shape)``.
        """
        index = np.asarray(columns, dtype=np.int64)
        held = index >= self.lead
        if held.all():
            out: Float32Array = self.fine[:, index - self.lead]
            return out
        block = np.clip((index + self.head) // self.every, 0, self.coarse.shape[1] - 1)
        older = self.coarse[:, block]
        if not held.any():
            return older
        recent = self.fine[:, np.clip(index - self.lead, 0, self.fine.shape[1] - 1)]
        return np.where(held, recent, older)

    def dense(self) -> Float32Array:
        """The whole window as one array (every column; for a refit from it)."""
        return self.take(np.arange(self.shape[1]))


def _column_index(columns: Any, length: int) -> npt.NDArray[np.int64] | np.int64:
    """Column positions, numpy-style: an integer (negative from the end), slice or array."""
    if isinstance(columns, slice):
        return np.arange(*columns.indices(length), dtype=np.int64)
    index = np.asarray(columns, dtype=np.int64)
    return np.where(index < 0, index + length, index)


def nonzero_rows(window: Columns) -> npt.NDArray[np.bool_]:
    """Per row, whether any column of ``window`` is not zero."""
    if isinstance(window, BlockedView):
        used = window.coarse[:, (window.head // window.every) :]
        return np.asarray(np.any(window.fine, axis=1) | np.any(used, axis=1), dtype=np.bool_)
    return np.asarray(np.any(np.asarray(window), axis=1), dtype=np.bool_)
