"""Input checks and the variance-stabilising scale (log1p) shared by every model."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from statecast.core.forecast.errors import HistoryError, ParameterError

__all__ = [
    "Periods",
    "as_history",
    "as_periods",
    "check_parameters",
    "fill_missing",
    "from_log",
    "to_log",
]

FloatArray = npt.NDArray[np.float64]

#: One season length in steps, or several (the main one first), e.g. ``(24, 168)``.
Periods = int | Sequence[int]


def as_periods(period: Periods) -> tuple[int, ...]:
    """The season lengths as a tuple, the main one first, duplicates dropped.

    Raises:
        ParameterError: no period, or one that is not a positive integer.
    """
    values = [period] if isinstance(period, int | np.integer) else list(period)
    if not values:
        raise ParameterError("period must name at least one season length")
    for value in values:
        if isinstance(value, bool) or int(value) != value or value < 1:
            raise ParameterError(f"period must be a positive integer, got {value!r}")
    return tuple(dict.fromkeys(int(v) for v in values))


def check_parameters(*, period: Periods, horizon: int, level: float) -> None:
    """Reject a period, horizon or level that no model can use.

    Raises:
        ParameterError: a period below 1, ``horizon < 1`` or ``level`` outside (0, 1).
    """
    as_periods(period)
    if int(horizon) != horizon or horizon < 1:
        raise ParameterError(f"horizon must be a positive integer, got {horizon!r}")
    if not 0.0 < level < 1.0:
        raise ParameterError(f"level must be between 0 and 1, got {level!r}")


def as_history(history: npt.ArrayLike, *, ndim: int) -> FloatArray:
    """Return ``history`` as a float array of ``ndim`` dimensions, checked.

    NaN marks a missing sample; every other value must be a finite count ``>= 0``.

    Raises:
        HistoryError: wrong number of dimensions, no time steps, infinite or negative values.
    """
    try:
        array = np.asarray(history, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise HistoryError(f"history is not numeric: {err}") from None
    if array.ndim != ndim:
        raise HistoryError(f"history must have {ndim} dimension(s), got shape {array.shape}")
    if array.shape[-1] == 0:
        raise HistoryError("history is empty")
    if np.isinf(array).any():
        raise HistoryError("history holds an infinite value")
    if (array < 0).any():
        raise HistoryError("history holds a negative count")
    return array


def to_log(counts: FloatArray) -> FloatArray:
    """Counts to the modelling scale ``log1p`` (NaN stays NaN)."""
    return np.log1p(counts)


def from_log(values: FloatArray) -> FloatArray:
    """Modelling scale back to counts, clipped at zero."""
    return np.maximum(np.expm1(values), 0.0)


def fill_missing(z: FloatArray, period: int) -> FloatArray:
    """Impute NaN samples of ``z`` (shape ``(n, T)``) without looking ahead.

    A missing sample takes the value one season earlier when that is known, otherwise
    the last observed value; leading gaps take the first observed value (zero for a
    series with no observation at all).
    """
    filled = z.copy()
    missing = np.isnan(filled)
    if not missing.any():
        return filled
    n_steps = filled.shape[1]
    for t in np.flatnonzero(missing.any(axis=0)):
        column = filled[:, t]
        gaps = np.isnan(column)
        if t >= period:
            column[gaps] = filled[gaps, t - period]
            gaps = np.isnan(column)
        if t >= 1:
            column[gaps] = filled[gaps, t - 1]
    still = np.isnan(filled)
    if still.any():
        # Leading gaps: back-fill from the first observation of each series.
        first = np.argmax(~still, axis=1)
        first_value = filled[np.arange(filled.shape[0]), first]
        first_value = np.where(np.isnan(first_value), 0.0, first_value)
        lead = np.arange(n_steps)[None, :] < first[:, None]
        filled = np.where(lead | np.isnan(filled), first_value[:, None], filled)
    return filled
