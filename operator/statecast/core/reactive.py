"""Reactive replication: Anna's selective replication of hot (resource, node) pairs.

The one reactive rule of statecast: the operator's ``replication.policy: reactive``
and the simulator's ``reactive`` policy both call :func:`choose_by_heat`, which
decides many resources at once (rows) over the same nodes (columns).

Each (resource, node) pair's access rate over the last window is compared with the
mean and standard deviation of the rates of every active pair in the cluster (a pair
is active when its rate is above zero): a pair more than ``k`` deviations above the
mean is *hot* and gets a replica, and so does a node running a consumer pod. A replica
that has not been hot for the grace period goes. ``replicas.min`` and ``replicas.max``
hold: the set is trimmed to the max keeping consumers' nodes, then the hottest, and
refilled to the min with new zones first, then the hottest nodes. The zone floor holds
as for every policy: when the chosen nodes cover fewer than ``min(min, zones)`` zones,
the hottest node of an uncovered zone is added (at the max it replaces the coldest
copy of a crowded zone).

:func:`place_by_heat` is the operator's one-resource view of the same rule;
:func:`heat_wanted` gives the reasons of each addition and removal, and
:func:`heat_replicas` the Replica changes with the same hand-off rule as the plain spread.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np
import numpy.typing as npt

from statecast.core.placement.types import CurrentReplica
from statecast.core.replica_set import (
    ReplicaSetPlan,
    WantedReplicas,
    hand_off,
    lost_nodes,
    retire_unwanted,
)
from statecast.core.spread import Candidate

__all__ = [
    "HeatBatch",
    "HeatChoice",
    "HeatPlacement",
    "HeatStats",
    "ObservedHeat",
    "Why",
    "choose_by_heat",
    "heat_replicas",
    "heat_wanted",
    "place_by_heat",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]


class Why(IntEnum):
    """Why the rule wants a replica on a node (0: it does not)."""

    NONE = 0
    CONSUMER = 1
    HOT = 2
    GRACE = 3
    MINIMUM = 4
    SPREAD = 5


@dataclass(frozen=True)
class HeatStats:
    """Mean and standard deviation of the access rates of every active pair."""

    mean: float
    sigma: float
    pairs: int
    """How many active pairs the figures are over."""

    @classmethod
    def of(cls, rates: Iterable[float]) -> HeatStats:
        """The statistics of the positive ``rates`` (population deviation, as numpy's)."""
        active = [r for r in rates if r > 0]
        if not active:
            return cls(0.0, 0.0, 0)
        mean = sum(active) / len(active)
        sigma = math.sqrt(sum((r - mean) ** 2 for r in active) / len(active))
        return cls(mean, sigma, len(active))

    @classmethod
    def of_array(cls, rates: FloatArray) -> HeatStats:
        """:meth:`of` for an array of rates (any shape)."""
        active = rates[rates > 0]
        if active.size == 0:
            return cls(0.0, 0.0, 0)
        return cls(float(active.mean()), float(active.std()), int(active.size))

    def threshold(self, k_sigma: float) -> float:
        """The rate a pair must exceed to be hot."""
        return self.mean + k_sigma * self.sigma


@dataclass(frozen=True)
class ObservedHeat:
    """One resource's heat: its nodes' access rates and the cluster's statistics.

    Attributes:
        rates: node -> accesses per second over the window (nodes absent: zero).
        stats: over every active (resource, node) pair of the cluster.
        window_s: the window's length in seconds.
        k_sigma: deviations above the mean that make a pair hot.
    """

    rates: Mapping[str, float]
    stats: HeatStats
    window_s: float
    k_sigma: float = 1.0

    def hot(self) -> frozenset[str]:
        """The nodes whose pair is hot."""
        limit = self.stats.threshold(self.k_sigma)
        return frozenset(n for n, r in self.rates.items() if r > 0 and r > limit)


@dataclass(frozen=True)
class HeatBatch:
    """What the rule sees for many resources (rows) on the same nodes (columns).

    Attributes:
        rates: accesses per second over the window, shape (resources, nodes).
        threshold: the rate a pair must exceed to be hot (:meth:`HeatStats.threshold`).
        eligible: nodes that may hold a replica, shape (nodes,) or (resources, nodes).
        holding: nodes holding a replica now, shape (resources, nodes).
        last_hot: when each pair was last hot (seconds; NaN: never seen), same shape.
        consumers: nodes running a consumer pod of the resource, same shape.
        zone_id: zone of each node as an integer, shape (nodes,).
        min_replicas: per resource, shape (resources,).
        max_replicas: per resource (0: no limit), shape (resources,).
    """

    rates: FloatArray
    threshold: float
    eligible: BoolArray
    holding: BoolArray
    last_hot: FloatArray
    consumers: BoolArray
    zone_id: npt.NDArray[np.intp]
    min_replicas: IntArray
    max_replicas: IntArray


@dataclass(frozen=True)
class HeatChoice:
    """The rule's answer for a batch.

    Attributes:
        why: a :class:`Why` per (resource, node); nonzero where a replica is wanted.
        last_hot: when each pair was last hot, for the next decision: hot pairs get
            ``now``, a replica seen for the first time too (its grace starts); NaN for
            pairs neither hot nor holding.
    """

    why: npt.NDArray[np.int8]
    last_hot: FloatArray

    @property
    def wanted(self) -> BoolArray:
        """Where a replica is wanted."""
        return np.asarray(self.why != Why.NONE, dtype=np.bool_)


def _pick(options: BoolArray, keys: Sequence[npt.NDArray[np.generic]]) -> npt.NDArray[np.intp]:
    """Per row, the option that sorts first by ``keys`` (most significant first).

    Rows without options get -1.
    """
    n_cols = options.shape[1]
    columns = np.broadcast_to(np.arange(n_cols), options.shape)
    order = np.lexsort((columns, *reversed(keys), ~options), axis=-1)
    first = order[:, 0]
    rows = np.arange(options.shape[0])
    return np.where(options[rows, first], first, -1)


def _rank(wanted: BoolArray, keys: Sequence[npt.NDArray[np.generic]]) -> npt.NDArray[np.intp]:
    """Per row, each column's position when the wanted columns are sorted by ``keys``."""
    columns = np.broadcast_to(np.arange(wanted.shape[1]), wanted.shape)
    order = np.lexsort((columns, *reversed(keys), ~wanted), axis=-1)
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(wanted.shape[1])[None, :], axis=-1)
    return rank


def _covered(wanted: BoolArray, zone_id: npt.NDArray[np.intp], n_zones: int) -> BoolArray:
    """Per row, which zones hold a wanted node, shape (resources, zones)."""
    onehot = np.zeros((wanted.shape[1], n_zones), dtype=np.int64)
    onehot[np.arange(wanted.shape[1]), zone_id] = 1
    return np.asarray((wanted.astype(np.int64) @ onehot) > 0, dtype=np.bool_)


def choose_by_heat(batch: HeatBatch, *, now: float, grace_s: float) -> HeatChoice:
    """Decide every resource's nodes from observed heat (Anna's rule, see the module).

    Args:
        batch: rates, threshold, eligibility, current replicas and bounds.
        now: the current time, seconds.
        grace_s: how long a replica stays after its pair was last hot (the cooldown).
    """
    rates = batch.rates
    eligible = np.broadcast_to(batch.eligible, rates.shape)
    hot = (rates > 0) & (rates > batch.threshold)
    tracked = batch.holding | hot
    seen = np.where(hot, now, np.where(np.isnan(batch.last_hot), now, batch.last_hot))
    last_hot = np.where(tracked, seen, np.nan)
    why = np.zeros(rates.shape, dtype=np.int8)
    why[batch.holding & eligible & (now - seen < grace_s)] = Why.GRACE
    why[hot & eligible] = Why.HOT
    why[batch.consumers & eligible] = Why.CONSUMER
    n_eligible = eligible.sum(axis=1)
    high = np.where(batch.max_replicas > 0, batch.max_replicas, n_eligible)
    heat = (-rates, ~batch.holding)
    rank = _rank(why > 0, ((why != Why.CONSUMER), *heat))
    why[(why > 0) & (rank >= high[:, None])] = Why.NONE
    n_zones = int(batch.zone_id.max()) + 1 if batch.zone_id.size else 1
    low = np.minimum(np.minimum(batch.min_replicas, high), n_eligible)
    for _ in range(int(low.max(initial=0))):
        short = (why > 0).sum(axis=1) < low
        if not short.any():
            break
        covered = _covered(why > 0, batch.zone_id, n_zones)[:, batch.zone_id]
        best = _pick(short[:, None] & eligible & (why == 0), (covered, *heat))
        rows = np.flatnonzero(best >= 0)
        why[rows, best[rows]] = Why.MINIMUM
    _keep_zone_floor(batch, why, eligible, high, n_zones)
    return HeatChoice(why, last_hot)


def _keep_zone_floor(
    batch: HeatBatch, why: npt.NDArray[np.int8], eligible: BoolArray, high: IntArray, n_zones: int
) -> None:
    """Cover ``min(min, zones)`` zones: the hottest node of an uncovered zone joins.

    At the max it replaces the coldest non-consumer copy of a crowded zone.
    """
    zone_id = batch.zone_id
    zones_open = _covered(eligible, zone_id, n_zones).sum(axis=1)
    floor = np.minimum(batch.min_replicas, zones_open)
    heat = (-batch.rates, ~batch.holding)
    for _ in range(int(floor.max(initial=0))):
        wanted = why > 0
        covered = _covered(wanted, zone_id, n_zones)
        short = covered.sum(axis=1) < floor
        if not short.any():
            return
        fresh = ~covered[:, zone_id]
        best = _pick(short[:, None] & eligible & fresh, heat)
        rows = np.flatnonzero(best >= 0)
        full = rows[wanted[rows].sum(axis=1) >= high[rows]]
        if len(full):
            per_zone = wanted[full].astype(np.int64) @ np.eye(n_zones, dtype=np.int64)[zone_id]
            crowded = wanted[full] & (per_zone[:, zone_id] > 1) & (why[full] != Why.CONSUMER)
            cold = _pick(crowded, (batch.rates[full], batch.holding[full]))
            swap = cold >= 0
            why[full[swap], cold[swap]] = Why.NONE
            rows = np.setdiff1d(rows, full[~swap])
        why[rows, best[rows]] = Why.SPREAD


@dataclass(frozen=True)
class HeatPlacement:
    """The nodes chosen by heat for one resource, why, and when each was last hot.

    Attributes:
        nodes: the wanted nodes, sorted.
        why: per wanted node: ``consumer`` (a consumer pod runs there), ``hot``,
            ``grace`` (a replica not hot now but hot within the grace period),
            ``minimum`` (refilled to ``replicas.min``) or ``spread`` (the zone floor).
        last_hot: node -> when it was last hot, for the next decision: hot nodes get
            ``now``; a replica seen for the first time too (its grace starts).
    """

    nodes: tuple[str, ...]
    why: Mapping[str, str]
    last_hot: Mapping[str, float] = field(default_factory=dict)


def place_by_heat(
    candidates: Sequence[Candidate],
    heat: ObservedHeat,
    current: Iterable[str],
    *,
    last_hot: Mapping[str, float],
    now: float,
    grace_s: float,
    min_replicas: int,
    max_replicas: int | None = None,
    consumers: Iterable[str] = (),
) -> HeatPlacement:
    """Decide one resource's nodes from observed heat: :func:`choose_by_heat` for one row.

    Args:
        candidates: the eligible nodes (ready, usable, matching placement).
        heat: the resource's rates and the cluster's statistics.
        current: nodes holding a copy (any node; ineligible ones are not kept).
        last_hot: node -> when its pair was last hot (from the previous decision).
        now: the current time, seconds.
        grace_s: how long a replica stays after its pair was last hot (the cooldown).
        min_replicas: fewest replicas (fewer only when fewer nodes are eligible).
        max_replicas: most replicas (None: no limit).
        consumers: nodes running a consumer pod: wanted like hot ones, first kept.
    """
    domains = {c.name: c.domain for c in candidates}
    holding = set(current)
    users = set(consumers)
    names = sorted(domains.keys() | holding | set(heat.rates))
    zone_names = sorted({domains.get(n, "") for n in names})
    batch = HeatBatch(
        rates=np.array([[heat.rates.get(n, 0.0) for n in names]], dtype=np.float64),
        threshold=heat.stats.threshold(heat.k_sigma),
        eligible=np.array([n in domains for n in names], dtype=np.bool_),
        holding=np.array([[n in holding for n in names]], dtype=np.bool_),
        last_hot=np.array([[last_hot.get(n, np.nan) for n in names]], dtype=np.float64),
        consumers=np.array([[n in users for n in names]], dtype=np.bool_),
        zone_id=np.array([zone_names.index(domains.get(n, "")) for n in names], dtype=np.intp),
        min_replicas=np.array([min_replicas], dtype=np.int64),
        max_replicas=np.array([max_replicas or 0], dtype=np.int64),
    )
    choice = choose_by_heat(batch, now=now, grace_s=grace_s)
    row, seen_row = choice.why[0], choice.last_hot[0]
    why = {names[i]: Why(int(row[i])).name.lower() for i in np.flatnonzero(row)}
    seen = {names[i]: float(seen_row[i]) for i in np.flatnonzero(~np.isnan(seen_row))}
    return HeatPlacement(tuple(sorted(why)), why, seen)


def heat_wanted(
    candidates: Sequence[Candidate],
    current: Iterable[CurrentReplica],
    placement: HeatPlacement,
    *,
    unreachable: Iterable[str] | None = None,
) -> WantedReplicas:
    """The nodes of ``placement`` with the reason of each Replica added or removed.

    Adds carry reason ``consumer`` on a consumer's node, ``rebalance`` where the pair is
    hot or the zone floor asks for it (heat moves replicas; the CRD has no reason of its
    own for it), and ``minimum``
    for a refill to ``replicas.min`` (``failover`` when it replaces a copy on a lost
    node). Removes are ``rebalance``, or ``failover`` on a lost node.

    Args:
        candidates: the eligible nodes.
        current: the resource's existing replicas.
        placement: what :func:`place_by_heat` decided.
        unreachable: nodes whose copy cannot be read (see
            :func:`~statecast.core.replica_set.spread_wanted`).
    """
    existing = {r.node: r for r in current}
    eligible_names = {c.name for c in candidates}
    lost = lost_nodes(existing, placement.nodes, eligible_names, unreachable)
    refill = "failover" if lost else "minimum"
    reasons = {
        n: {"consumer": "consumer", "minimum": refill}.get(placement.why[n], "rebalance")
        for n in placement.nodes
    }
    return WantedReplicas(
        placement.nodes, reasons, retire_unwanted(placement.nodes, existing, lost)
    )


def heat_replicas(
    candidates: Sequence[Candidate],
    current: Iterable[CurrentReplica],
    placement: HeatPlacement,
    *,
    unreachable: Iterable[str] | None = None,
) -> ReplicaSetPlan:
    """The Replica changes that reach ``placement`` (:func:`heat_wanted`), hand-off first.

    Removes wait until every wanted node holds a Ready copy.
    """
    current = list(current)
    wanted = heat_wanted(candidates, current, placement, unreachable=unreachable)
    return hand_off(wanted, {r.node: r for r in current})
