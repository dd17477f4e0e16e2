"""Moving a replica: when taking one away and placing it elsewhere saves latency.

Demand may move while the number of replicas should not change (at ``min``, at
``max``, or when a new replica would not pay for its holding): the best move takes the
replica off one holder and puts one on a candidate, chosen together so that the
latency saved (the candidate's gain without that holder, less the holder's loss) is
largest. A move changes no holding cost, so the planner makes it when the latency it
saves over the value window beats the copy, by the margin.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.intp]


@dataclass(frozen=True)
class Move:
    """Take the replica off ``source`` and put one on ``target``, saving ``value_ms``."""

    source: int
    target: int
    value_ms: float


def best_move(
    matrix: FloatArray,
    holders: BoolArray,
    demand: FloatArray,
    *,
    movable: BoolArray,
    targets: BoolArray,
    zone_id: IntArray,
    min_zones: int,
    no_replica_ms: float,
) -> Move | None:
    """The move that saves most latency over the window, or None when none is possible.

    Every (holder, candidate) pair at once: without holder ``j`` each node falls back to
    its second-nearest holder where ``j`` was its nearest (to the source of truth when
    ``j`` was the only one).

    Args:
        matrix: node-to-node latency.
        holders: nodes holding a serving replica.
        demand: expected accesses per node over the window.
        movable: holders that may give up their replica.
        targets: nodes that may receive one.
        zone_id: zone of each node, as an integer.
        min_zones: zones that must stay covered after the move (the durability floor).
        no_replica_ms: latency when nothing serves.
    """
    options = targets & ~holders
    sources = np.flatnonzero(movable & holders)
    if not options.any() or len(sources) == 0:
        return None
    held = np.flatnonzero(holders)
    sub = matrix[:, held]
    order = np.argsort(sub, axis=1, kind="stable")
    rows = np.arange(matrix.shape[0])
    first = sub[rows, order[:, 0]]
    second = sub[rows, order[:, 1]] if len(held) > 1 else np.full(len(rows), no_replica_ms)
    nearest = held[order[:, 0]]
    # Latency of every node once each source is gone: (sources, nodes).
    without = np.where(nearest[None, :] == sources[:, None], second[None, :], first[None, :])
    loss = (without - first[None, :]) @ demand
    saved = np.maximum(without[:, :, None] - matrix[None, :, :], 0.0)  # (sources, i, c)
    gain = np.tensordot(demand, saved, axes=([0], [1]))  # (sources, c)
    # The floor: a source whose zone would go uncovered below it may only move to a
    # zone without a copy (its own zone included, as it will have none).
    per_zone = np.bincount(zone_id[held], minlength=int(zone_id.max()) + 1)
    uncover = (per_zone[zone_id[sources]] == 1) & (np.count_nonzero(per_zone) - 1 < min_zones)
    restricted = (per_zone[zone_id] == 0)[None, :] | (zone_id[None, :] == zone_id[sources][:, None])
    allowed = options[None, :] & (restricted | ~uncover[:, None])
    value = np.where(allowed, gain - loss[:, None], -np.inf)
    k, c = divmod(int(np.argmax(value)), value.shape[1])
    if not np.isfinite(value[k, c]):
        return None
    return Move(int(sources[k]), int(c), float(value[k, c]))
