"""Consumer pods as a leading signal of demand: split demand by pods, forecast, recombine.

DESIGN asks that the number of consumer pods per node enter the forecaster as a
regressor. Demand that comes from pods moves with them: when a job's pod lands on a
node its reads start there, when it ends they stop, and no forecaster of that node's
own series can see either coming. The model here is the simplest one that can:

    demand[node, t] = per_pod[t] * pods[node, t] + residual[node, t]

``residual`` is what pods do not explain (clients outside the consumer set, pods not
annotated): a node's demand while it runs no pod, and while it runs pods, the level it
had when it last ran none (carried forward; 0 before that), so that the residual
series stays the smooth background it is and does not jump with every job.
``per_pod`` is one series per resource (accesses per pod per step, the same on every
node: the pods of a resource run the same code), estimated each step as what the
nodes that run pods read above their residual, over the number of pods (carried
forward through steps without pods; 0 before the first). Each is forecast as an
ordinary series; the forecast for a node is the residual's forecast plus the per-pod
forecast times the pods the node runs *now* (they are known before they read: the
operator sees a pod when it is bound to a node). A resource without pods reduces to
its plain per-node forecast.

All functions are pure and vectorised over resources.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from statecast.core.forecast.errors import HistoryError

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class PodSplit:
    """Demand split into a per-pod rate and a residual.

    Attributes:
        per_pod: accesses per pod per step, shape (resources, steps); steps without
            pods carry the last estimate forward (0 before the first pod).
        residual: demand the pods do not explain, shape (resources, nodes, steps), >= 0:
            the node's demand on steps without pods, its last pod-free level on steps
            with pods.
    """

    per_pod: FloatArray
    residual: FloatArray


@dataclass(frozen=True)
class Band:
    """A forecast band, shape (resources, nodes, horizon) for each of mean, lower, upper."""

    mean: FloatArray
    lower: FloatArray
    upper: FloatArray


def _check(demand: FloatArray, pods: FloatArray) -> None:
    if demand.ndim != 3 or demand.shape != pods.shape:
        raise HistoryError(
            f"demand and pods must both be (resources, nodes, steps), got {demand.shape}"
            f" and {pods.shape}"
        )
    if (pods < 0).any() or (demand < 0).any():
        raise HistoryError("demand and pod counts must be >= 0")


def split_by_pods(demand: FloatArray, pods: FloatArray) -> PodSplit:
    """Split ``demand`` (resources, nodes, steps) into per-pod rate and residual.

    Raises:
        HistoryError: when the shapes differ or a count is negative.
    """
    demand = np.asarray(demand, dtype=np.float64)
    pods = np.asarray(pods, dtype=np.float64)
    _check(demand, pods)
    busy = pods > 0
    residual = _carry_forward(np.where(busy, np.nan, demand))
    above = np.where(busy, np.maximum(demand - residual, 0.0), 0.0).sum(axis=1)
    count = pods.sum(axis=1)  # (resources, steps)
    rate = np.divide(above, count, out=np.full_like(count, np.nan), where=count > 0)
    return PodSplit(_carry_forward(rate), residual)


def recombine(residual: Band, per_pod: Band, pods_now: FloatArray) -> Band:
    """The node forecast: residual band plus per-pod band times the pods running now.

    Args:
        residual: per-node band of the residual, (resources, nodes, horizon).
        per_pod: band of the per-pod rate, (resources, 1, horizon) or (resources, horizon).
        pods_now: pods per node at the step being decided, (resources, nodes); assumed
            to stay over the horizon (a pod that leaves is seen at the next decision).
    """
    pods = np.asarray(pods_now, dtype=np.float64)[:, :, None]

    def add(base: FloatArray, rate: FloatArray) -> FloatArray:
        r = rate if rate.ndim == 3 else rate[:, None, :]
        return np.asarray(base + np.maximum(r, 0.0) * pods, dtype=np.float64)

    return Band(
        add(residual.mean, per_pod.mean),
        add(residual.lower, per_pod.lower),
        add(residual.upper, per_pod.upper),
    )


def _carry_forward(rate: FloatArray) -> FloatArray:
    """Replace NaN with the last finite value along the last axis (0 before any)."""
    steps = rate.shape[-1]
    idx = np.where(np.isfinite(rate), np.arange(steps), 0)
    np.maximum.accumulate(idx, axis=-1, out=idx)
    filled = np.take_along_axis(np.nan_to_num(rate, nan=0.0), idx, axis=-1)
    seen = np.maximum.accumulate(np.isfinite(rate), axis=-1)
    return np.asarray(np.where(seen, filled, 0.0), dtype=np.float64)


def split_step(
    demand: FloatArray, pods: FloatArray, residual: FloatArray, per_pod: float
) -> tuple[FloatArray, float]:
    """One more step of :func:`split_by_pods` for one resource, from what it carried.

    The split of a step reads only that step and the values carried forward (each
    node's last pod-free level, the last per-pod estimate), so appending a step this way
    gives the last column :func:`split_by_pods` would give over the whole history.

    Args:
        demand: each node's demand in the new step, shape (nodes,); NaN if unknown.
        pods: each node's pods in the new step, shape (nodes,).
        residual: each node's residual after the previous step.
        per_pod: the per-pod rate after the previous step.

    Returns:
        The residual per node and the per-pod rate after the new step.

    Raises:
        HistoryError: when a count is negative.
    """
    demand = np.asarray(demand, dtype=np.float64)
    pods = np.asarray(pods, dtype=np.float64)
    if (pods < 0).any() or (demand < 0).any():
        raise HistoryError("demand and pod counts must be >= 0")
    busy = pods > 0
    kept = np.asarray(np.where(busy | np.isnan(demand), residual, demand), dtype=np.float64)
    above = float(np.where(busy, np.maximum(demand - kept, 0.0), 0.0).sum())
    count = float(pods.sum())
    rate = above / count if count > 0 and np.isfinite(above) else per_pod
    return kept, rate
