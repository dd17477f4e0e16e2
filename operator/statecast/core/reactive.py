"""Reactive replication: Anna's selective replication of hot (resource, node) pairs.

Each (resource, node) pair's access rate over the last window is compared with the
mean and standard deviation of the rates of every active pair in the cluster (a pair
is active when its rate is above zero): a pair more than ``k`` deviations above the
mean is *hot* and gets a replica. A replica that has not been hot for the grace period
goes. ``replicas.min`` and ``replicas.max`` hold: the set is trimmed to the max keeping
consumers' nodes, then the hottest, and refilled to the min with new zones first, then
the hottest nodes. :func:`place_by_heat` decides the nodes; :func:`heat_wanted` gives
the reasons of each addition and removal, and :func:`heat_replicas` the Replica changes
with the same hand-off rule as the plain spread.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from statecast.core.replica_set import (
    CurrentReplica,
    ReplicaSetPlan,
    WantedReplicas,
    hand_off,
    lost_nodes,
    retire_unwanted,
)
from statecast.core.spread import Candidate

__all__ = [
    "HeatPlacement",
    "HeatStats",
    "ObservedHeat",
    "heat_replicas",
    "heat_wanted",
    "place_by_heat",
]


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
class HeatPlacement:
    """The nodes chosen by heat, why, and when each was last hot.

    Attributes:
        nodes: the wanted nodes, sorted.
        why: per wanted node: ``consumer`` (a consumer pod runs there), ``hot``,
            ``grace`` (a replica not hot now but hot within the grace period) or
            ``minimum`` (refilled to ``replicas.min``).
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
    """Decide a resource's nodes from observed heat (Anna's rule).

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
    nodes = {c.name: c for c in candidates}
    holding = set(current)
    hot = heat.hot()
    seen = {n: now if n in hot else last_hot.get(n, now) for n in holding | hot}
    rate = {n: heat.rates.get(n, 0.0) for n in nodes}
    users = set(consumers) & nodes.keys()
    why: dict[str, str] = {n: "consumer" for n in users}
    why |= {n: "hot" for n in hot & nodes.keys() if n not in why}
    for n in sorted(holding & nodes.keys()):
        if n not in why and now - seen[n] < grace_s:
            why[n] = "grace"
    high = len(nodes) if max_replicas is None else max_replicas
    if len(why) > high:
        order = sorted(why, key=lambda n: (why[n] != "consumer", -rate[n], n not in holding, n))
        why = {n: why[n] for n in order[:high]}
    while len(why) < min(min_replicas, high, len(nodes)):
        covered = {nodes[n].domain for n in why}
        free = [n for n in nodes if n not in why]
        best = min(free, key=lambda n: (nodes[n].domain in covered, -rate[n], n not in holding, n))
        why[best] = "minimum"
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
    hot (heat moves replicas; the CRD has no reason of its own for it), and ``minimum``
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
