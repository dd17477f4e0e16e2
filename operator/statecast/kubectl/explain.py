"""Why each replica is where it is, and why other nodes have none (pure).

Built from what a user can read: the resource (spec and status, its forecast), its
Replicas (reason code, phase), the Events the operator posted (adds, removes, losses),
and, when they may be listed, the Nodes and the Pods of its namespace. The sentences
say what the operator's rule for each reason code is (docs/concepts.md); the evidence
lines quote the objects.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from pydantic import ValidationError

from statecast.api.lease import AGENT_LEASE_PREFIX
from statecast.api.shared_resource import LabelSelector
from statecast.core.reconcile.views import (
    UNSCHEDULABLE_TAINTS,
    AgentLease,
    NodeView,
    agents_down,
    consumer_pods,
    node_view,
    pod_view,
    tolerates,
)
from statecast.kubectl.view import (
    DecisionLine,
    NodeForecastLine,
    Obj,
    ResourceStatus,
    parse_time,
    status_view,
)

__all__ = [
    "Explanation",
    "NodeExplanation",
    "ReplicaExplanation",
    "down_agents",
    "explain",
    "why_placed",
]


@dataclass(frozen=True)
class ReplicaExplanation:
    """One replica and why it is there."""

    node: str
    zone: str
    reason: str
    phase: str
    placed: dt.datetime | None
    why: str
    evidence: tuple[str, ...]


@dataclass(frozen=True)
class NodeExplanation:
    """A node without a replica and why."""

    node: str
    zone: str
    why: str


@dataclass(frozen=True)
class Explanation:
    """The answer of ``explain RESOURCE``."""

    namespace: str
    name: str
    policy: str
    summary: str
    replicas: tuple[ReplicaExplanation, ...]
    others: tuple[NodeExplanation, ...]


def why_placed(reason: str, policy: str, min_replicas: int, spread_across: str) -> str:
    """The operator's rule behind a replica's reason code, in one sentence."""
    if reason == "minimum":
        return (
            f"one of the replicas.min={min_replicas} copies kept for durability, spread "
            f"across {spread_across} so that a zone's loss leaves a copy"
        )
    if reason == "predicted":
        return (
            "demand is forecast here: the access latency a local copy saves over the horizon "
            "outweighs what storing and syncing it costs"
        )
    if reason == "hedge":
        return (
            "a hedge: the forecast here is uncertain (or the last one missed), and at the "
            "upper bound of its band a local copy pays for itself"
        )
    if reason == "consumer":
        return (
            "a pod that uses the resource is bound to this node, so its state is made local first"
        )
    if reason == "everywhere":
        return (
            "held on every node: a full copy moves more bytes than replicas.planner."
            "everywhereCopyDays of its write stream, so copies are kept rather than made again"
        )
    if reason == "failover":
        return (
            "replaces a copy on a node that was lost (NotReady, or its agent stopped "
            "renewing its Lease)"
        )
    if reason == "rebalance" and policy == "reactive":
        return (
            "this node is hot: its read rate over the last 15 minutes is above the cluster's "
            "mean + 1 sigma of active (resource, node) pairs"
        )
    if reason == "rebalance":
        return (
            "moved here: a node that held a copy stopped being eligible (cordoned, tainted, "
            "filtered out) or the spread was restored"
        )
    return f"reason {reason or 'unknown'}"


def _eligibility(
    node: NodeView, spec: Mapping[str, object], lost_agents: frozenset[str]
) -> str | None:
    """Why ``node`` may not hold a replica, or None when it may."""
    placement = spec.get("placement")
    placement = placement if isinstance(placement, Mapping) else {}
    if not node.ready:
        return "the node is NotReady: no replica is placed there (and copies there are replaced)"
    if node.name in lost_agents:
        return "its agent's Lease has expired: treated like a NotReady node"
    if node.unschedulable:
        return "the node is cordoned (unschedulable): its copies are handed off"
    if any(key in UNSCHEDULABLE_TAINTS for key, _, _ in node.taints):
        return "the node carries an unreachable/not-ready/unschedulable taint"
    selector = placement.get("nodeSelector") or {}
    if isinstance(selector, Mapping):
        missing = {k: v for k, v in selector.items() if node.labels.get(k) != v}
        if missing:
            wanted = ",".join(f"{k}={v}" for k, v in sorted(missing.items()))
            return f"does not match placement.nodeSelector ({wanted})"
    tolerations = placement.get("tolerations") or []
    if isinstance(tolerations, list) and not tolerates(node.taints, tolerations):
        taints = ",".join(f"{k}={v}:{e}" for k, v, e in node.taints if e != "PreferNoSchedule")
        return f"tainted ({taints}) and placement.tolerations do not tolerate it"
    return None


def down_agents(leases: Iterable[Obj], now: dt.datetime) -> frozenset[str]:
    """Nodes whose agent's Lease (``statecast-agent-<node>``) has expired."""
    views = []
    for lease in leases:
        name = str((lease.get("metadata") or {}).get("name", ""))
        spec = lease.get("spec") or {}
        if not name.startswith(AGENT_LEASE_PREFIX):
            continue
        views.append(
            AgentLease(
                node=str(spec.get("holderIdentity") or name.removeprefix(AGENT_LEASE_PREFIX)),
                renew_time=parse_time(spec.get("renewTime")),
                duration_seconds=int(spec.get("leaseDurationSeconds") or 0),
            )
        )
    return agents_down(views, now)


def _forecast_line(entry: NodeForecastLine | None, view: ResourceStatus) -> str | None:
    if entry is None:
        return None
    return (
        f"forecast here: {entry.mean:.1f} accesses per {view.interval} interval "
        f"({view.level:.0%} band {entry.lower:.1f}-{entry.upper:.1f}) over the next {view.horizon}"
    )


def _events_about(node: str, decisions: Sequence[DecisionLine]) -> list[DecisionLine]:
    return [d for d in decisions if d.node == node or f" {node} " in f" {d.message} "]


def explain(
    resource: Obj,
    replicas: Iterable[Obj],
    events: Iterable[Obj],
    nodes: Iterable[Obj] | None,
    pods: Iterable[Obj] | None,
    now: dt.datetime,
    leases: Iterable[Obj] | None = None,
) -> Explanation:
    """Explain the placement of one resource.

    Args:
        resource: the SharedResource.
        replicas: its Replica objects.
        events: Events about it.
        nodes: every Node (None: not allowed to list; nodes without a replica are then
            not explained).
        pods: the Pods of its namespace (None: not allowed to list).
        now: the current time.
        leases: the agents' Leases (None: not read; a node's own readiness decides).
    """
    node_list = list(nodes) if nodes is not None else None
    view = status_view(resource, replicas, events, node_list, decision_limit=200)
    spec = resource.get("spec")
    spec = spec if isinstance(spec, Mapping) else {}
    bounds = spec.get("replicas")
    min_replicas = int(bounds.get("min", 2)) if isinstance(bounds, Mapping) else 2
    views = {v.name: v for v in map(node_view, node_list or [])}
    consumers = _consumers(resource, spec, pods)
    forecast = {f.node: f for f in view.forecast}
    lost = down_agents(leases or [], now)
    explained = []
    for r in view.replicas:
        evidence = []
        about = _events_about(r.node, view.decisions)
        added = next((d for d in about if d.reason == "ReplicaAdded"), None)
        if added is not None:
            evidence.append(f"Event ReplicaAdded: {added.message}")
        evidence.extend(
            f"Event {d.reason}: {d.message}" for d in about if d.reason == "ReplicaLost"
        )
        if (line := _forecast_line(forecast.get(r.node), view)) is not None:
            evidence.append(line)
        elif r.reason in ("predicted", "hedge") and view.forecast:
            evidence.append("not among the busiest nodes of the latest forecast any more")
        if consumers.get(r.node):
            evidence.append(f"consumer pods here: {', '.join(consumers[r.node])}")
        state = f"phase {r.phase}"
        if r.lag_seconds is not None:
            state += f", lag {r.lag_seconds:.1f}s"
        if r.bytes is not None:
            state += f", {r.bytes} bytes"
        evidence.append(state)
        node = views.get(r.node)
        if node is not None and (problem := _eligibility(node, spec, lost)) is not None:
            evidence.append(f"but {problem}")
        explained.append(
            ReplicaExplanation(
                node=r.node,
                zone=r.zone,
                reason=r.reason,
                phase=r.phase,
                placed=added.time if added is not None else r.created,
                why=why_placed(r.reason, view.policy, min_replicas, view.spread_across),
                evidence=tuple(evidence),
            )
        )
    held = {r.node for r in view.replicas}
    others = [
        NodeExplanation(
            node=name,
            zone=node.labels.get(view.spread_across, ""),
            why=_why_not(
                node, spec, view, forecast.get(name), _events_about(name, view.decisions), lost
            ),
        )
        for name, node in sorted(views.items())
        if name not in held
    ]
    return Explanation(
        namespace=view.namespace,
        name=view.name,
        policy=view.policy,
        summary=_summary(view, min_replicas, spec),
        replicas=tuple(explained),
        others=tuple(others),
    )


def _why_not(
    node: NodeView,
    spec: Mapping[str, object],
    view: ResourceStatus,
    entry: NodeForecastLine | None,
    about: Sequence[DecisionLine],
    lost: frozenset[str],
) -> str:
    problem = _eligibility(node, spec, lost)
    if problem is not None:
        return problem
    removed = next((d for d in about if d.reason == "ReplicaRemoved"), None)
    gone = f"; {removed.message}" if removed is not None else ""
    if view.policy == "static":
        return f"policy static keeps replicas.min copies only{gone}"
    if view.policy == "reactive":
        return f"not hot: its read rate is not above the cluster's mean + 1 sigma{gone}"
    if entry is not None:
        return (
            f"forecast {entry.mean:.1f} per interval (upper {entry.upper:.1f}): a copy would "
            f"cost more than the latency it saves{gone}"
        )
    if view.forecast_generated is None:
        return f"no forecast yet: the plain spread holds{gone}"
    return f"little or no demand forecast here; reads from its pods are forwarded{gone}"


def _consumers(
    resource: Obj, spec: Mapping[str, object], pods: Iterable[Obj] | None
) -> dict[str, list[str]]:
    """Node -> names of the consumer pods bound there."""
    if pods is None:
        return {}
    name = str((resource.get("metadata") or {}).get("name", ""))
    consumers = spec.get("consumers")
    raw = consumers.get("selector") if isinstance(consumers, Mapping) else None
    try:
        selector = LabelSelector.model_validate(raw) if raw is not None else None
    except ValidationError:
        selector = None
    out: dict[str, list[str]] = {}
    for body in pods:
        pod = pod_view(body)
        if pod is not None and consumer_pods([pod], name, selector):
            out.setdefault(pod.node, []).append(pod.name)
    return out


def _summary(view: ResourceStatus, min_replicas: int, spec: Mapping[str, object]) -> str:
    bounds = spec.get("replicas")
    maximum = bounds.get("max") if isinstance(bounds, Mapping) else None
    cap = f", at most {maximum}" if maximum else ""
    zones = len({r.zone for r in view.replicas if r.phase != "Lost"})
    if view.policy == "predictive":
        rule = (
            f"forecast ready (model {view.forecast_model})"
            if view.forecast_generated
            else "no forecast yet, so the plain spread"
        )
    elif view.policy == "reactive":
        rule = "replicas follow observed heat"
    else:
        rule = "replicas.min copies only"
    return (
        f"policy {view.policy}: {rule}; at least {min_replicas}{cap} replicas spread across "
        f"{view.spread_across}; {view.ready_replicas}/{view.desired_replicas} Ready "
        f"in {zones} zone(s)"
    )
