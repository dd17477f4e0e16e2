"""What every placement policy starts from: one resource's view of the cluster.

:func:`survey` reads an :class:`~statecast.core.reconcile.observed.Observed` once: the
nodes with the agents that stopped renewing treated as NotReady, each node's zone, the
eligible nodes (ready, schedulable, tolerated, matching ``placement.nodeSelector``, with
room under ``placement.maxBytesPerNode``), the consumers' nodes and the target count.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from statecast.api.shared_resource import SharedResourceSpec
from statecast.api.units import parse_quantity
from statecast.core.placement.types import CurrentReplica
from statecast.core.reconcile.observed import Observed
from statecast.core.reconcile.views import NodeView, ReplicaView, consumer_pods, tolerates
from statecast.core.replica_set import leaving_order
from statecast.core.spread import Candidate, eligible
from statecast.core.storage import storage_failed
from statecast.core.strong.election import voter_count

__all__ = ["Survey", "planner_load", "survey"]


@dataclass(frozen=True)
class Survey:
    """One resource's view of the cluster, shared by every placement policy.

    Attributes:
        spec: the resource's (valid) spec.
        now: the current time.
        nodes: every node; a node whose agent is down counts as not ready.
        node_ready: the nodes Ready by their own status (whatever their agent).
        ready: the nodes Ready whose agent is up: their copies can report.
        zones: node -> its value of the spread label.
        replicas: the resource's Replicas, by node name.
        candidates: the eligible nodes, by name.
        consumers: nodes running a pod that consumes the resource.
        count: the replicas wanted at least (``replicas.min``, at most ``replicas.max``).
        free: node -> bytes it can still take under ``placement.maxBytesPerNode``
            (None: no limit).
        storage_failed: nodes whose copy's agent has reported its files unwritable for
            long (:mod:`statecast.core.storage`): not candidates, and their copies are
            replaced as if unreachable (not marked Lost: they still serve and sync).
    """

    spec: SharedResourceSpec
    now: dt.datetime
    nodes: tuple[NodeView, ...]
    node_ready: frozenset[str]
    ready: frozenset[str]
    zones: Mapping[str, str]
    replicas: tuple[ReplicaView, ...]
    candidates: tuple[Candidate, ...]
    consumers: frozenset[str]
    count: int
    free: Mapping[str, int] | None
    storage_failed: frozenset[str] = frozenset()

    @property
    def lost(self) -> frozenset[str]:
        """Nodes holding a copy that cannot be read: NotReady, gone, or its agent down."""
        return frozenset(r.node for r in self.replicas if r.node not in self.ready)

    @property
    def unreachable(self) -> frozenset[str]:
        """Nodes holding a copy to replace for ``failover``.

        The :attr:`lost` copies, and copies whose files cannot be written
        (:attr:`storage_failed`).
        """
        return self.lost | self.storage_failed

    @property
    def leaving(self) -> list[str]:
        """Nodes holding a copy that take none: lost, storage-failed, or no longer eligible.

        (Cordoned or draining, tainted, filtered out by ``placement``.) Their copies are
        handed off to eligible nodes; ordered the most worth keeping first
        (:func:`~statecast.core.replica_set.leaving_order`) for when nothing can replace
        them.
        """
        eligible = {c.name for c in self.candidates}
        held = [r.node for r in self.replicas if r.node not in eligible]
        return leaving_order(self.existing, held, self.lost, self.storage_failed)

    @property
    def existing(self) -> dict[str, CurrentReplica]:
        """Node -> the resource's replica there."""
        return {r.node: r.current(self.now) for r in self.replicas}

    @property
    def short(self) -> bool:
        """Fewer eligible nodes than the replicas wanted."""
        return len(self.candidates) < self.count


def survey(observed: Observed, spec: SharedResourceSpec) -> Survey:
    """Read ``observed`` once for the placement policies (``spec`` is its valid spec)."""
    placement = spec.placement
    down = observed.agents_down
    nodes = tuple(replace(n, ready=False) if n.name in down else n for n in observed.nodes)
    replicas = tuple(sorted(observed.replicas, key=lambda r: r.node))
    free = _free_bytes(spec, observed.bytes_elsewhere, [n.name for n in nodes])
    state_bytes = max((r.bytes for r in replicas), default=0)
    holding = {r.node for r in replicas}
    failed = storage_failed([r.storage for r in replicas], observed.now)
    tolerations = [t.to_k8s() for t in placement.tolerations]
    load = observed.node_load
    idle = tuple(0.0 for _ in next(iter(load.values()), ()))  # a node with nothing
    candidates = eligible(  # each node's candidate built once, only for a usable node
        (
            n.candidate(placement.spread_across, load.get(n.name, idle))
            for n in nodes
            if n.usable
            and n.name not in failed
            and tolerates(n.taints, tolerations)
            and (free is None or n.name in holding or _fits(free[n.name], state_bytes))
        ),
        placement.node_selector,
    )
    count = spec.replicas.min
    if spec.replicas.max is not None:
        count = min(count, spec.replicas.max)
    if spec.consistency == "strong":  # an odd number of voters: a majority is one more half
        count = voter_count(spec.replicas.min, spec.replicas.max)
    return Survey(
        spec=spec,
        now=observed.now,
        nodes=nodes,
        node_ready=frozenset(n.name for n in observed.nodes if n.ready),
        ready=frozenset(n.name for n in nodes if n.ready),
        zones={n.name: n.labels.get(placement.spread_across, "") for n in nodes},
        replicas=replicas,
        candidates=tuple(candidates),
        consumers=frozenset(consumer_pods(observed.pods, observed.name, spec.consumers.selector)),
        count=count,
        free=free,
        storage_failed=failed,
    )


def _free_bytes(
    spec: SharedResourceSpec, elsewhere: Mapping[str, int], nodes: Iterable[str]
) -> dict[str, int] | None:
    """Bytes each node can still take under ``placement.maxBytesPerNode`` (None: no limit)."""
    if spec.placement.max_bytes_per_node is None:
        return None
    limit = parse_quantity(spec.placement.max_bytes_per_node)
    return {node: limit - elsewhere.get(node, 0) for node in nodes}


def _fits(free: int, state_bytes: int) -> bool:
    """A node with ``free`` bytes left under the limit can take a new copy of the state."""
    return free > 0 and free >= state_bytes


def planner_load(load: Mapping[str, tuple[float, ...]], own: Mapping[str, int]) -> dict[str, float]:
    """Each node's load as the placement planner takes it: its rank among the nodes, in [0, 1].

    ``load`` is node -> (replicas of the other resources, their bytes, accesses/s), as
    :attr:`Candidate.load <statecast.core.spread.Candidate.load>`; ``own`` is node ->
    bytes of the resource's own copy there, counted back in: the nodes' totals, the same
    for every resource planned from one count (the planner's node list is then one
    value, and its derivations are cached). The ranks keep the order of the figures
    (replicas, then bytes, then accesses); equal figures, equal ranks.
    """
    totals = dict(load)
    for node, size in own.items():
        figures = totals.get(node)
        if figures is not None and len(figures) >= 2:
            totals[node] = (figures[0] + 1, figures[1] + size, *figures[2:])
    ranks: dict[str, int] = {}
    rank, last = -1, None
    for node in sorted(totals, key=totals.__getitem__):  # least loaded first
        if totals[node] != last:
            rank, last = rank + 1, totals[node]
        ranks[node] = rank
    top = max(rank, 1)
    return {node: r / top for node, r in ranks.items()}
