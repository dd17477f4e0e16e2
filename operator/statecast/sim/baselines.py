"""Two baselines from the field: CockroachDB's follow-the-workload and groupcache's hot copies.

``follow-the-workload`` (CockroachDB moves a range's lease to the locality that sends it
the most requests): every resource keeps ``min`` replicas (plus ``extra``), spread over
zones; once ``window_s`` (at least 30 s) of statistics show a node without a replica
issuing more than ``ratio`` times the requests of the least busy replica's node, that
replica moves there (one move per resource and step, the zone floor kept).

``groupcache`` (a peer that fetches a key from its owner keeps it in a bounded hot
cache with probability 1/10): every resource keeps ``min`` owner replicas on fixed
nodes, as ``static`` does; each remote read from a node copies the resource there with
probability ``probability`` (seeded), and a node holds at most ``per_node`` such hot
copies, evicting the least recently read. Hot copies here are replicas kept in sync
(a stale cache is not what a statecast user asked for), so they cost replica-hours
and sync bytes like any other.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from statecast.sim.config import SimConfig
from statecast.sim.policies import consumers, enforce_bounds, zone_order
from statecast.sim.trace import Trace

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: CockroachDB waits for this much load statistics before it moves a lease.
MIN_STATS_S = 30.0


class FollowTheWorkload:
    """Move a replica to the node with the most demand (CockroachDB's lease rule).

    Args:
        window_s: statistics window (at least 30 s; at least one step).
        ratio: the busiest node must issue more than this times the requests of the
            replica's node.
        extra: replicas held beyond ``min``, on the busiest nodes.
    """

    name = "follow-the-workload"

    def __init__(self, window_s: float = MIN_STATS_S, ratio: float = 1.0, extra: int = 0) -> None:
        self.window_s = max(window_s, MIN_STATS_S)
        self.ratio = ratio
        self.extra = extra

    def start(self, trace: Trace, config: SimConfig) -> None:
        """Reset the windows."""
        self._trace = trace
        self._window = max(1, int(np.ceil(self.window_s / trace.step_s)))
        self._sum = np.zeros((trace.n_resources, trace.n_nodes))
        self._followed = np.zeros((trace.n_resources, trace.n_nodes), dtype=np.bool_)
        names = sorted(set(trace.zones))
        self._zone_id = np.array([names.index(z) for z in trace.zones], dtype=np.intp)
        self._count = trace.min_replicas + self.extra
        if (trace.max_replicas > 0).any():
            self._count = np.where(
                trace.max_replicas > 0, np.minimum(self._count, trace.max_replicas), self._count
            )

    def decide(self, t: int, replicas: BoolArray, ready: BoolArray, age_s: FloatArray) -> BoolArray:
        """Refill to the count (new zones first, busiest first); move to the busiest node.

        Consumers' nodes get a copy beside the followed ones (pre-replication).
        """
        trace = self._trace
        if t >= 1:
            self._sum += trace.demand[:, :, t - 1]
        if t > self._window:
            self._sum -= trace.demand[:, :, t - 1 - self._window]
        available = trace.available[:, t]
        followed = self._followed & available[None, :]
        rate = self._sum.copy()
        followed = _refill(followed, rate, self._count, self._zone_id, available)
        if t * trace.step_s >= MIN_STATS_S:
            for r in range(trace.n_resources):
                self._move(followed[r], rate[r], available, int(trace.min_replicas[r]))
        self._followed = followed
        return followed | consumers(trace, t)

    def _move(self, row: BoolArray, rate: FloatArray, available: BoolArray, low: int) -> None:
        """One move for one resource, in place, when the busiest node is not served."""
        options = available & ~row
        if not options.any() or not row.any():
            return
        busiest = int(np.flatnonzero(options)[np.argmax(rate[options])])
        if rate[busiest] <= 0:
            return
        zone = self._zone_id
        floor = min(low, len(np.unique(zone[available])))
        held = np.flatnonzero(row)
        allowed = []
        for j in held:
            after = row.copy()
            after[j], after[busiest] = False, True
            if len(np.unique(zone[after])) >= min(floor, len(np.unique(zone[row]))):
                allowed.append(j)
        if not allowed:
            return
        coldest = min(allowed, key=lambda j: (rate[j], j))
        if rate[busiest] > self.ratio * rate[coldest]:
            row[coldest], row[busiest] = False, True


def _refill(
    desired: BoolArray,
    rate: FloatArray,
    count: npt.NDArray[np.int64],
    zone_id: npt.NDArray[np.intp],
    available: BoolArray,
) -> BoolArray:
    """Every resource up to ``count`` replicas, new zones first, then the busiest."""
    for r in np.flatnonzero(desired.sum(axis=1) < count):
        row = desired[r]
        while row.sum() < count[r]:
            covered = set(zone_id[row].tolist())
            options = np.flatnonzero(available & ~row)
            if len(options) == 0:
                break
            best = max(options, key=lambda i: (zone_id[i] not in covered, rate[r, i], -i))
            row[best] = True
    return desired


class HotCopies:
    """groupcache's hot cache: copy on a remote read with some probability, bounded per node.

    Args:
        probability: chance that one remote read copies the resource to the reader's node.
        per_node: most hot copies a node holds (least recently read evicted first).
        seed: of the coin flips (the same run every time).
    """

    name = "groupcache"

    def __init__(self, probability: float = 0.1, per_node: int = 1, seed: int = 0) -> None:
        self.probability = probability
        self.per_node = per_node
        self.seed = seed

    def start(self, trace: Trace, config: SimConfig) -> None:
        """Place the owners (fixed nodes, spread over zones) and empty the hot caches."""
        self._trace = trace
        self._rng = np.random.default_rng(self.seed)
        shape = (trace.n_resources, trace.n_nodes)
        rank = np.zeros(trace.n_nodes)
        rank[zone_order(trace.zones)] = -np.arange(trace.n_nodes, dtype=np.float64)
        self._score = np.broadcast_to(rank, shape)
        self._owners = np.zeros(shape, dtype=np.bool_)
        self._hot = np.zeros(shape, dtype=np.bool_)
        self._last_read = np.full(shape, -np.inf)

    def decide(self, t: int, replicas: BoolArray, ready: BoolArray, age_s: FloatArray) -> BoolArray:
        """Owners as ``static``; hot copies from last step's remote reads, LRU-bounded.

        Consumers' nodes get a copy too (pre-replication, as every policy here).
        """
        trace = self._trace
        available = trace.available[:, t]
        self._owners = enforce_bounds(
            self._owners & available[None, :], self._score, trace, available
        )
        self._hot &= available[None, :] & ~self._owners
        if t >= 1:
            seen = trace.demand[:, :, t - 1]
            self._last_read = np.where(seen > 0, float(t), self._last_read)
            remote = np.where(replicas, 0.0, seen)
            chance = 1.0 - (1.0 - self.probability) ** remote
            copy = (self._rng.random(chance.shape) < chance) & available[None, :]
            self._hot |= copy & ~self._owners
            self._evict()
        return self._owners | self._hot | consumers(trace, t)

    def _evict(self) -> None:
        """Keep each node's ``per_node`` most recently read hot copies."""
        over = np.flatnonzero(self._hot.sum(axis=0) > self.per_node)
        for n in over:
            held = np.flatnonzero(self._hot[:, n])
            order = sorted(held, key=lambda r: (-self._last_read[r, n], r))
            self._hot[order[self.per_node :], n] = False
