"""Uncertainty: how far off the last forecast was, how sure the current one is.

The seed's rule: a node's forecast is *uncertain* when its last forecast missed what
happened by more than the deviation threshold AND its current confidence is below
the confidence threshold. The planner then judges that node by the upper bound of
its prediction interval instead of the mean, which places hedge replicas.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: Accesses per step below which relative errors are measured against this floor,
#: so that 0 -> 1 accesses does not count as an infinite miss.
DEMAND_FLOOR = 1.0


def forecast_deviation(predicted: npt.ArrayLike, actual: npt.ArrayLike) -> FloatArray:
    """Relative miss of a forecast: ``|actual - predicted| / max(predicted, floor)``.

    Args:
        predicted: what the previous forecast said (any shape).
        actual: what happened (same shape).

    Returns:
        The deviation, elementwise, >= 0 (0.5 means "missed by half the forecast").
    """
    p = np.asarray(predicted, dtype=np.float64)
    a = np.asarray(actual, dtype=np.float64)
    return np.asarray(np.abs(a - p) / np.maximum(p, DEMAND_FLOOR), dtype=np.float64)


def forecast_confidence(
    mean: npt.ArrayLike, lower: npt.ArrayLike, upper: npt.ArrayLike
) -> FloatArray:
    """Confidence of a forecast in [0, 1] from the width of its interval.

    ``confidence = m / (m + (upper - lower) / 2)`` with ``m = max(mean, floor)``:
    an interval as wide as the mean on each side gives 0.5, a point forecast gives 1.
    Inputs of shape (..., horizon) are summed over the last axis first.
    """
    m = np.asarray(mean, dtype=np.float64)
    lo = np.asarray(lower, dtype=np.float64)
    up = np.asarray(upper, dtype=np.float64)
    if m.ndim >= 1:
        m, lo, up = m.sum(axis=-1), lo.sum(axis=-1), up.sum(axis=-1)
    floor = DEMAND_FLOOR * (np.asarray(mean).shape[-1] if np.ndim(mean) >= 1 else 1)
    m = np.maximum(m, floor)
    half_width = np.maximum(up - lo, 0.0) / 2.0
    return np.asarray(m / (m + half_width), dtype=np.float64)


def uncertain_nodes(
    deviation: FloatArray,
    confidence: FloatArray,
    deviation_threshold: float,
    confidence_threshold: float,
) -> BoolArray:
    """Nodes whose forecast missed by more than the threshold and is not confident now."""
    return np.asarray(
        (deviation > deviation_threshold) & (confidence < confidence_threshold), dtype=np.bool_
    )
