"""What one reconcile of a SharedResource reads: :class:`Observed`.

The handlers gather it (the resource's body, the nodes, its Replicas, the bound pods
of its namespace, the agents' liveness, and what the operator knows of its demand) and
pass it to :func:`statecast.core.reconcile.reconcile`; nothing else enters a decision.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from statecast.api.shared_resource import SharedResourceSpec
from statecast.core.placement import LatencyModel
from statecast.core.reactive import ObservedHeat
from statecast.core.reconcile.predicted import PredictedDemand
from statecast.core.reconcile.tuning import TuningDecision
from statecast.core.reconcile.views import NodeView, PodView, ReplicaView

__all__ = ["DemandView", "Observed"]


@dataclass(frozen=True)
class DemandView:
    """What the operator knows of one resource's demand, as the placement policies read it.

    Attributes:
        local_hit_ratio: share of the recent accesses served by a replica on the
            reader's node, as the agents counted them (None: no recent accesses, and
            the last reported figure stays).
        forecast: the resource's demand forecast; with ``replication.policy:
            predictive`` the placement planner decides from it (None: not enough
            history yet, and the plain spread of ``replicas.min`` plus consumers holds).
        recently_removed: node -> seconds since a replica of the resource was removed
            there (the planner's hysteresis).
        heat: the resource's observed heat; with ``replication.policy: reactive`` the
            replicas follow it (:mod:`statecast.core.reactive`; None: no window of
            demand yet, and the plain spread of ``replicas.min`` plus consumers holds);
            with ``predictive`` its cluster-wide statistics give the default prices'
            hot threshold (``PlanInput.cluster_heat``; None: the resource's own nodes).
        last_hot: node -> when the resource's pair there was last hot, as the previous
            result's ``last_hot`` said (reactive; for a predictive resource the shadow
            of the reactive rule whose count is its budget).
        tuning: the self-tuner's decision (:mod:`statecast.core.reconcile.tuning`): its
            knobs go to the planner, ``status.tuning`` is written, and a ``Tuned`` Event
            posted when they changed (None: not tuned now; with tuning off in the spec
            an old ``status.tuning`` is removed).
        latency: the latency between zones the planner prices reads with (None: its
            default model; see ``--latency-source``).
        warm_retention_s: how long the agents keep a removed copy's files
            (``STATECAST_AGENT_WARM_RETENTION``): removals are remembered that long at least,
            and the planner prices a copy back within it at the writes it missed (0:
            every copy in full).
        lost_removals: the nodes of ``recently_removed`` whose copy was lost with the
            node, not handed off: no files kept, a copy back there is priced in full.
        consumers_lately: nodes a consumer pod ran on within the reactive rule's window
            and grace (``replication.cooldown``) before now, from the demand history's
            pod counts; those running none now are ``PlanInput.consumers_left``, read
            only with ``replication.planner.releasePodCopies`` (empty: not gathered).
    """

    local_hit_ratio: float | None = None
    forecast: PredictedDemand | None = None
    recently_removed: Mapping[str, float] = field(default_factory=dict)
    heat: ObservedHeat | None = None
    last_hot: Mapping[str, float] = field(default_factory=dict)
    tuning: TuningDecision | None = None
    latency: LatencyModel | None = None
    warm_retention_s: float = 0.0
    lost_removals: frozenset[str] = frozenset()
    consumers_lately: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Observed:
    """Everything one reconcile of a SharedResource reads.

    Attributes:
        resource: the SharedResource object (its body).
        nodes: every node of the cluster.
        replicas: the resource's Replica objects.
        now: the current time (condition transition times, replica ages, cooldowns).
        pods: the bound pods of the resource's namespace; those that consume it (by
            ``spec.consumers.selector`` or the ``statecast.io/uses`` annotation) get a
            replica on their node (reason ``consumer``), up to ``replicas.max``.
        agents_down: nodes whose agent stopped renewing its Lease: treated like
            NotReady nodes (no new replicas there, copies there are Lost and replaced).
        bytes_elsewhere: node -> bytes its agent holds for other resources; with
            ``placement.maxBytesPerNode`` a node already at the limit, or without room
            for this resource's state, takes no new replica (copies already there stay).
        demand: what the operator knows and learned of the resource's demand.
        node_load: node -> how busy it is already (replicas of other resources, their
            bytes, its agent's accesses per second): the spread puts new copies on the
            least loaded node of a zone, not on the one that sorts first.
        spec: ``resource``'s spec, already validated by the caller (None: the reconcile
            validates it and reports an invalid one in status).
    """

    resource: Mapping[str, Any]
    nodes: Sequence[NodeView]
    replicas: Sequence[ReplicaView]
    now: dt.datetime
    pods: Sequence[PodView] = ()
    agents_down: frozenset[str] = frozenset()
    bytes_elsewhere: Mapping[str, int] = field(default_factory=dict)
    demand: DemandView = field(default_factory=DemandView)
    spec: SharedResourceSpec | None = None
    node_load: Mapping[str, tuple[float, ...]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The resource's name."""
        return str(self.resource.get("metadata", {}).get("name", ""))

    @property
    def generation(self) -> int:
        """The resource's ``metadata.generation``."""
        return int(self.resource.get("metadata", {}).get("generation", 0))

    @property
    def previous_status(self) -> Mapping[str, Any]:
        """The resource's status as last written."""
        return self.resource.get("status", {}) or {}
