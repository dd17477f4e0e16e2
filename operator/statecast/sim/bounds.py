"""The best local-hit ratio any placement could reach with a given number of replica-hours.

The model (what "any placement" ranges over): at every measured step, every resource
has a set of replicas on live nodes that includes the nodes running its consumer pods,
holds at least ``min(min, live nodes)`` replicas over at least ``min(min, live zones)``
zones (the requirements every policy in this simulator keeps, ``spread=True``; with
``spread=False`` the zone part is dropped), and copies are instant and free. The
replay's replica-hours count every replica at every step, and a copy serves locally
only once it is done, so a policy's local hits are at most those of its own replica
sets under this model.

:class:`HitBound` solves the model exactly. Per step and resource, the best set of
``k`` replicas that covers ``z`` zones holds the busiest node of each of the ``z``
zones whose busiest nodes are busiest, plus the ``k - z`` busiest remaining nodes
(exchange argument: a set that misses one of those zones covers another zone ``Z``
instead; swapping ``Z``'s lowest chosen node, or its only one, for the missed zone's
busiest node keeps ``z`` zones covered and serves no less). Consumers' nodes are in
every set, so they count as chosen first, with the zones they cover. The floor then
greedily picks the busiest node, then the busiest of a new zone while zones are short,
then the busiest remaining, which is that set for ``k`` = the floor; every further
replica's best use is the busiest node not yet chosen, and those marginal values fall,
so the remaining budget, pooled over all steps and resources, goes to the busiest
(step, resource, node) triples outside the floors. That is the optimum under the model
for every budget at once, hence an upper bound for every policy that keeps the floor.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from statecast.sim.trace import Trace

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.intp]


@dataclass(frozen=True)
class Measured:
    """The measured steps of a trace as rows, one per (step, resource).

    Attributes:
        demand: accesses per node, shape (rows, nodes).
        live: nodes up at that step, shape (rows, nodes).
        forced: live nodes running a consumer pod, in every set, shape (rows, nodes).
        need: replicas the floor needs, ``min(min, live nodes)``, shape (rows,).
        zones_needed: zones the floor needs, ``min(min, live zones)``, shape (rows,).
        zone_id: zone of each node as an integer, shape (nodes,).
        n_zones: number of zones.
        step_h: hours per step.
    """

    demand: FloatArray
    live: BoolArray
    forced: BoolArray
    need: IntArray
    zones_needed: IntArray
    zone_id: IntArray
    n_zones: int
    step_h: float

    @classmethod
    def of(cls, trace: Trace, warmup_steps: int = 0, spread: bool = True) -> Measured:
        """The rows of ``trace`` after the warm-up."""
        steps = trace.steps - warmup_steps
        demand = trace.demand[:, :, warmup_steps:].transpose(2, 0, 1).reshape(-1, trace.n_nodes)
        alive = trace.available[:, warmup_steps:].T  # (steps, nodes)
        live = np.repeat(alive, trace.n_resources, axis=0)
        names = sorted(set(trace.zones))
        zone_id = np.array([names.index(z) for z in trace.zones], dtype=np.intp)
        onehot = np.eye(len(names), dtype=np.int64)[zone_id]
        live_zones = ((live.astype(np.int64) @ onehot) > 0).sum(axis=1)
        minimum = np.tile(trace.min_replicas, steps)
        need = np.minimum(minimum, live.sum(axis=1))
        zones_needed = np.minimum(minimum, live_zones) if spread else np.zeros_like(need)
        forced = np.zeros_like(live)
        if trace.pods is not None:
            pods = trace.pods[:, :, warmup_steps:].transpose(2, 0, 1).reshape(-1, trace.n_nodes)
            forced = (pods > 0) & live
        return cls(
            demand=np.ascontiguousarray(demand, dtype=np.float64),
            live=live,
            forced=forced,
            need=need.astype(np.intp),
            zones_needed=zones_needed.astype(np.intp),
            zone_id=zone_id,
            n_zones=len(names),
            step_h=trace.step_s / 3600.0,
        )


def floor_sets(rows: Measured) -> BoolArray:
    """The floor of every row, up to ``need`` nodes (see the module).

    The consumers' nodes, then the busiest node, the busiest of a new zone while zones
    are short, then the busiest remaining.
    """
    chosen = rows.forced.copy()
    onehot = np.eye(rows.n_zones, dtype=np.int64)[rows.zone_id]
    score = np.where(rows.live, rows.demand, -np.inf)
    for _ in range(int(rows.need.max(initial=0))):
        covered = (chosen.astype(np.int64) @ onehot) > 0
        short_of_zones = covered.sum(axis=1) < rows.zones_needed
        fresh = ~covered[:, rows.zone_id]
        options = rows.live & ~chosen & (chosen.sum(axis=1) < rows.need)[:, None]
        options &= fresh | ~short_of_zones[:, None]
        best = np.argmax(np.where(options, score, -np.inf), axis=1)
        picked = options[np.arange(len(best)), best]
        chosen[np.flatnonzero(picked), best[picked]] = True
    return chosen


class HitBound:
    """The best local-hit ratio reachable at any replica-hours (exact under the model).

    Args:
        trace: the demand and the cluster.
        warmup_steps: steps not measured.
        spread: keep the zone floor (as every policy here does).
    """

    def __init__(self, trace: Trace, warmup_steps: int = 0, spread: bool = True) -> None:
        rows = Measured.of(trace, warmup_steps, spread)
        floor = floor_sets(rows)
        self.step_h = rows.step_h
        self.total = float(rows.demand.sum())
        self.floor_replicas = int(floor.sum())
        self._floor_served = float(rows.demand[floor].sum())
        pool = np.sort(rows.demand[rows.live & ~floor])[::-1]
        self._served = np.concatenate([[0.0], np.cumsum(pool)])

    @property
    def floor_hours(self) -> float:
        """Replica-hours the floors alone take."""
        return self.floor_replicas * self.step_h

    def ratio(self, replica_hours: float) -> float:
        """Local accesses over all accesses with ``replica_hours`` (0 with no accesses).

        Below the floors' replica-hours the floors are still placed: no policy here
        holds fewer.
        """
        if self.total <= 0:
            return 0.0
        extra = round(replica_hours / self.step_h) - self.floor_replicas
        extra = int(np.clip(extra, 0, len(self._served) - 1))
        return (self._floor_served + float(self._served[extra])) / self.total


def local_hit_bound(
    trace: Trace, replica_hours: float, *, warmup_steps: int = 0, spread: bool = True
) -> float:
    """The highest local-hit ratio reachable with ``replica_hours`` (see :class:`HitBound`).

    Args:
        trace: the demand and the cluster.
        replica_hours: the budget, measured like the replay measures it (after warm-up).
        warmup_steps: steps not measured.
        spread: keep every resource's floor over ``min(min, zones)`` zones.
    """
    return HitBound(trace, warmup_steps, spread).ratio(replica_hours)
