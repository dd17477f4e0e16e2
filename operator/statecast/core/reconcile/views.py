"""Views of Kubernetes objects the operator observes, parsed from their bodies.

These are pure functions from an object's JSON body to a small frozen value, so the
handlers' indexes hold only what decisions need and the parsing is unit-tested
without a cluster.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from statecast.api.replica import NODE_LABEL, RESOURCE_LABEL
from statecast.api.shared_resource import LabelSelector
from statecast.api.types import GROUP
from statecast.core.demand import AgentSample
from statecast.core.pki import Leaf
from statecast.core.placement.types import CurrentReplica, Reason
from statecast.core.replica_set import UP_TO_DATE
from statecast.core.spread import Candidate
from statecast.core.storage import STORAGE_CONDITION, STORAGE_UNAVAILABLE, StorageReport
from statecast.core.strong.election import ReplicaProgress
from statecast.core.strong.log import LogPosition

_REASONS = frozenset(str(r) for r in Reason)

UNSCHEDULABLE_TAINTS = frozenset(
    {
        "node.kubernetes.io/unreachable",
        "node.kubernetes.io/not-ready",
        "node.kubernetes.io/unschedulable",
    }
)


@dataclass(frozen=True)
class NodeView:
    """A node as placement sees it."""

    name: str
    labels: Mapping[str, str]
    ready: bool
    unschedulable: bool
    taints: tuple[tuple[str, str, str], ...]
    """(key, value, effect) of each taint."""

    @functools.cached_property
    def usable(self) -> bool:
        """Ready, schedulable, and without a taint that says it is not (unreachable, ...).

        Worked out once per view (the nodes' index keeps a view until the node changes).
        """
        return (
            self.ready
            and not self.unschedulable
            and not any(key in UNSCHEDULABLE_TAINTS for key, _, _ in self.taints)
        )

    def candidate(self, spread_label: str, load: tuple[float, ...] = ()) -> Candidate:
        """This node as a placement candidate, its domain read from ``spread_label``.

        ``load``: how busy it is already (:attr:`Candidate.load`), given here so that a
        plan builds each node's candidate once.
        """
        return Candidate(
            name=self.name,
            domain=self.labels.get(spread_label, ""),
            labels=self.labels,
            ready=self.usable,
            load=load,
        )


@dataclass(frozen=True)
class ReplicaView:
    """A Replica object, as the resource's reconcile sees it."""

    name: str
    namespace: str
    resource: str
    node: str
    role: str
    reason: str
    phase: str
    lag_seconds: float | None
    created: dt.datetime | None = None
    bytes: int = 0
    version_vector: Mapping[str, int] = field(default_factory=dict)
    """The events its agent last reported it holds."""
    stand_in_for: tuple[str, ...] = ()
    """Nodes of the lost copies it stands in for (its spec, set by the operator)."""
    lost_since: dt.datetime | None = None
    """When the operator marked it Lost (its Ready condition's transition), if it did."""
    epoch: int = 0
    """The leader epoch its role belongs to (strong)."""
    strong: ReplicaProgress | None = None
    """What its agent reports of the strong protocol (None: eventual, or nothing yet)."""
    voters: tuple[str, ...] = ()
    """On a strong leader's Replica: the epoch's voters."""
    storage_failing_since: dt.datetime | None = None
    """Since when its agent reports its files unwritable (None: it does not; see
    :mod:`statecast.core.storage`)."""

    @property
    def storage(self) -> StorageReport:
        """What its agent says of its files, for :func:`~statecast.core.storage.storage_failed`."""
        return StorageReport(self.node, self.storage_failing_since)

    def current(self, now: dt.datetime | None = None) -> CurrentReplica:
        """The replica as the placement rules and the hand-off see it.

        Its age (from ``now``; 0 without it or a creation time), whether it holds an
        up-to-date copy (its phase is in :data:`~statecast.core.replica_set.UP_TO_DATE`),
        and for a strong resource its role (a learner counts as a follower) and progress
        (its commit index): the planner never removes the leader's copy, and proposes
        promoting the most advanced copy when the leader's goes (the operator's election
        then decides, from the fenced log positions). Its reason goes along: a policy
        without an informed plan keeps every copy but a consumer's.
        """
        age = (now - self.created).total_seconds() if now and self.created else 0.0
        role = "follower" if self.role == "learner" else self.role
        progress = self.strong.commit if self.strong is not None else 0
        return CurrentReplica(
            self.node,
            age_s=age,
            up_to_date=self.phase in UP_TO_DATE,
            role=role if role in ("peer", "leader", "follower") else "peer",  # type: ignore[arg-type]
            progress=progress,
            reason=Reason(self.reason) if self.reason in _REASONS else None,
        )


def node_view(body: Mapping[str, Any]) -> NodeView:
    """Parse a Node object."""
    meta = body.get("metadata", {})
    spec = body.get("spec", {}) or {}
    conditions = (body.get("status", {}) or {}).get("conditions", []) or []
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
    taints = tuple(
        (t.get("key", ""), t.get("value", ""), t.get("effect", ""))
        for t in spec.get("taints", []) or []
    )
    return NodeView(
        name=meta["name"],
        labels=dict(meta.get("labels", {}) or {}),
        ready=ready,
        unschedulable=bool(spec.get("unschedulable", False)),
        taints=taints,
    )


def replica_view(body: Mapping[str, Any]) -> ReplicaView:
    """Parse a Replica object."""
    meta = body.get("metadata", {})
    spec = body.get("spec", {}) or {}
    status = body.get("status", {}) or {}
    labels = meta.get("labels", {}) or {}
    return ReplicaView(
        name=meta["name"],
        namespace=meta.get("namespace", ""),
        resource=spec.get("resource") or labels.get(RESOURCE_LABEL, ""),
        node=spec.get("nodeName") or labels.get(NODE_LABEL, ""),
        role=spec.get("role", "peer"),
        reason=spec.get("reason", "minimum"),
        phase=status.get("phase", "Pending"),
        lag_seconds=status.get("lagSeconds"),
        created=_timestamp(meta.get("creationTimestamp")),
        bytes=int(status.get("bytes") or 0),
        version_vector=_vector(status.get("versionVector")),
        stand_in_for=tuple(str(n) for n in spec.get("standInFor") or ()),
        lost_since=_lost_since(status),
        epoch=int(spec.get("epoch") or 0),
        strong=strong_progress(status.get("strong")),
        voters=tuple(str(v) for v in spec.get("voters") or ()),
        storage_failing_since=_storage_failing_since(status),
    )


#: Ready condition reasons the operator writes when it marks a Replica Lost.
LOST_REASONS = frozenset({"NodeLost", "AgentLost"})


def _vector(raw: Any) -> dict[str, int]:
    if not isinstance(raw, Mapping):
        return {}
    return {str(k): int(v) for k, v in raw.items() if isinstance(v, int) and v > 0}


def _storage_failing_since(status: Mapping[str, Any]) -> dt.datetime | None:
    """When its agent began reporting the Replica's files unwritable (None: it does not)."""
    for condition in status.get("conditions") or []:
        if (
            condition.get("type") == STORAGE_CONDITION
            and condition.get("status") == "False"
            and condition.get("reason") == STORAGE_UNAVAILABLE
        ):
            return _timestamp(condition.get("lastTransitionTime"))
    return None


def _lost_since(status: Mapping[str, Any]) -> dt.datetime | None:
    """When the operator marked the Replica Lost (None if it is not marked)."""
    if status.get("phase") != "Lost":
        return None
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Ready" and condition.get("reason") in LOST_REASONS:
            return _timestamp(condition.get("lastTransitionTime"))
    return None


def strong_progress(raw: Any) -> ReplicaProgress | None:
    """A Replica status's ``strong`` block (None when absent or malformed)."""
    if not isinstance(raw, Mapping):
        return None
    try:
        match = raw.get("match")
        return ReplicaProgress(
            epoch=int(raw.get("epoch") or 0),
            position=LogPosition(int(raw.get("lastEpoch") or 0), int(raw.get("lastIndex") or 0)),
            commit=int(raw.get("commitIndex") or 0),
            leading=bool(raw.get("leading")),
            match={str(k): int(v) for k, v in match.items()}
            if isinstance(match, Mapping)
            else None,
            isolated=bool(raw.get("isolated")),
        )
    except (TypeError, ValueError):
        return None


def _timestamp(value: Any) -> dt.datetime | None:
    """A Kubernetes timestamp (RFC 3339 text, or a datetime from a typed client)."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, str) and value:
        try:
            return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return None


#: Pods list the resources they use in this annotation (comma-separated names).
USES_ANNOTATION = f"{GROUP}/uses"


@dataclass(frozen=True)
class PodView:
    """A pod bound to a node and not finished: a possible consumer of resources."""

    namespace: str
    name: str
    node: str
    labels: Mapping[str, str]
    uses: frozenset[str]
    """Resources named in the pod's ``statecast.io/uses`` annotation."""


def pod_view(body: Mapping[str, Any]) -> PodView | None:
    """Parse a Pod; None while it is unbound, once it has finished, or while deleting."""
    meta = body.get("metadata", {}) or {}
    node = (body.get("spec", {}) or {}).get("nodeName")
    phase = (body.get("status", {}) or {}).get("phase")
    if not node or phase in ("Succeeded", "Failed") or meta.get("deletionTimestamp"):
        return None
    annotation = (meta.get("annotations", {}) or {}).get(USES_ANNOTATION, "")
    return PodView(
        namespace=meta.get("namespace", ""),
        name=meta.get("name", ""),
        node=node,
        labels=dict(meta.get("labels", {}) or {}),
        uses=frozenset(part.strip() for part in annotation.split(",") if part.strip()),
    )


def consumer_pods(
    pods: Iterable[PodView], resource: str, selector: LabelSelector | None
) -> dict[str, int]:
    """Node -> how many of ``pods`` consume ``resource``.

    A pod consumes it when it names it in ``statecast.io/uses`` or matches the
    resource's ``consumers.selector`` (``pods`` are those of the resource's namespace).
    """
    counts: dict[str, int] = {}
    for pod in pods:
        if resource in pod.uses or (selector is not None and selector.matches(pod.labels)):
            counts[pod.node] = counts.get(pod.node, 0) + 1
    return counts


@dataclass(frozen=True)
class AgentLease:
    """A node agent's heartbeat: its Lease's holder, last renewal and duration."""

    node: str
    renew_time: dt.datetime | None
    duration_seconds: int
    endpoint: str = ""
    """The agent's URL (its ``statecast.io/endpoint`` annotation)."""
    peer_endpoint: str = ""
    """Its mutual-TLS listener's URL (``statecast.io/peer-endpoint``; with TLS only)."""
    certificate: Leaf | None = None
    """The certificate it says it holds (``statecast.io/certificate``; with TLS only)."""
    version: str = ""
    """Its ``resourceVersion`` as read (orders two reads: ``core.liveness.newer``)."""

    def expired(self, now: dt.datetime) -> bool:
        """True once the agent has not renewed for longer than the Lease lasts."""
        if self.renew_time is None:
            return True
        return (now - self.renew_time).total_seconds() > self.duration_seconds


def agents_down(leases: Iterable[AgentLease], now: dt.datetime) -> frozenset[str]:
    """Nodes whose agent's Lease has expired.

    A node without a Lease is not in the answer: its agent may not have started yet
    (or statecast runs without agents, as in some tests), and the node's own readiness
    still decides. An agent that stopped renewing is down even on a Ready node.
    """
    return frozenset(lease.node for lease in leases if lease.expired(now))


def tolerates(
    taints: tuple[tuple[str, str, str], ...], tolerations: Sequence[Mapping[str, Any]]
) -> bool:
    """Whether every NoSchedule/NoExecute taint is tolerated by one of ``tolerations``."""
    for key, value, effect in taints:
        if effect == "PreferNoSchedule" or key in UNSCHEDULABLE_TAINTS:
            continue
        if not any(_matches(t, key, value, effect) for t in tolerations):
            return False
    return True


def _matches(toleration: Mapping[str, Any], key: str, value: str, effect: str) -> bool:
    if toleration.get("effect") and toleration["effect"] != effect:
        return False
    if toleration.get("operator", "Equal") == "Exists":
        return not toleration.get("key") or toleration["key"] == key
    return toleration.get("key") == key and toleration.get("value", "") == value


#: The Agent API operations that change state.
WRITE_OPERATIONS = frozenset({"put", "delete", "increment"})


def agent_sample(body: Mapping[str, Any], node: str) -> AgentSample:
    """Parse an agent's ``/v1/stats`` answer into its access counters.

    Raises:
        ValueError: The answer is not the shape the Agent API documents.
    """
    try:
        counts: dict[tuple[str, str, str], int] = {}
        writes: dict[tuple[str, str], int] = {}
        for row in body.get("accesses", []):
            ref = (str(row["namespace"]), str(row["resource"]))
            key = (*ref, str(row["served"]))
            counts[key] = counts.get(key, 0) + int(row["count"])
            if row.get("operation") in WRITE_OPERATIONS:
                writes[ref] = writes.get(ref, 0) + int(row["count"])
        rtts = {str(row["node"]): float(row["rttSeconds"]) for row in body.get("peers", [])}
        return AgentSample(
            node=str(body.get("node") or node),
            started_at=float(body["startedAt"]),
            time=float(body["time"]),
            counts=counts,
            writes=writes,
            rtts=rtts,
        )
    except (KeyError, TypeError, AttributeError) as err:
        raise ValueError(f"malformed /v1/stats answer from {node}: {err!r}") from err
