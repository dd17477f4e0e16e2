"""Moving a replica: when taking one away and placing it elsewhere saves latency.

Demand may move while the number of replicas should not change (at ``min``, at
``max``, or when a new replica would not pay for its holding): the best move takes the
replica off the holder whose loss is smallest and puts one on the candidate whose gain
(without that holder) is largest. A move changes no holding cost, so the planner makes
it when the latency it saves over the value window beats the copy, by the margin.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from statecast.core.placement.costs import gain_of_adding, serving_latency

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
    if not options.any() or not movable.any():
        return None
    now = float(demand @ serving_latency(matrix, holders, no_replica_ms))
    n_zones = int(zone_id.max()) + 1
    best: Move | None = None
    for j in np.flatnonzero(movable):
        without = holders.copy()
        without[j] = False
        per_zone = np.bincount(zone_id[without], minlength=n_zones)
        allowed = options
        if np.count_nonzero(per_zone) < min_zones:
            allowed = options & (per_zone[zone_id] == 0)
        if not allowed.any():
            continue
        latency = serving_latency(matrix, without, no_replica_ms)
        gain = np.where(allowed, gain_of_adding(matrix, latency, demand), -np.inf)
        c = int(np.argmax(gain))
        value = float(gain[c]) - (float(demand @ latency) - now)
        if best is None or value > best.value_ms:
            best = Move(int(j), c, value)
    return best
