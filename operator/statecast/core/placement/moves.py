"""Moving a replica: when taking one away and placing it elsewhere saves latency.

At the floor (``min``) or the ceiling (``max``) the planner cannot add or remove, yet
demand may have moved: the best move removes the holder whose loss is smallest and
adds the candidate whose gain (without that holder) is largest. The planner makes a
move only when it saves more than the copy costs, plus the hysteresis margin.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from statecast.core.placement.costs import gain_of_adding, serving_latency

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


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
    movable: list[int],
    targets: BoolArray,
    zones: tuple[str, ...],
    min_zones: int,
    no_replica_ms: float,
) -> Move | None:
    """The move that saves most latency over the horizon, or None when none is possible.

    Args:
        matrix: node-to-node latency.
        holders: nodes holding a serving replica.
        demand: expected accesses per node over the horizon.
        movable: holders that may give up their replica.
        targets: nodes that may receive one.
        zones: zone of each node.
        min_zones: zones that must stay covered after the move.
        no_replica_ms: latency when nothing serves.
    """
    now = float(demand @ serving_latency(matrix, holders, no_replica_ms))
    best: Move | None = None
    for j in movable:
        without = holders.copy()
        without[j] = False
        covered = {zones[i] for i in np.flatnonzero(without)}
        options = targets & ~holders
        if len(covered) < min_zones:
            options &= np.array([z not in covered for z in zones], dtype=np.bool_)
        if not options.any():
            continue
        latency = serving_latency(matrix, without, no_replica_ms)
        gain = np.where(options, gain_of_adding(matrix, latency, demand), -np.inf)
        c = int(np.argmax(gain))
        value = float(gain[c]) - (float(demand @ latency) - now)
        if best is None or value > best.value_ms:
            best = Move(j, c, value)
    return best
