"""What ``kubectl statecast status`` shows, built from API objects (pure).

Every input is an object as the API server sends it (a plain dict, camelCase keys):
the SharedResource, its Replicas, the Events about it and, when the caller may list
them, the Nodes. Nothing here talks to a cluster, so each view is table-tested.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, is_dataclass
from typing import Any

from statecast.api.shared_resource import ZONE_LABEL

__all__ = [
    "ADD_OR_REMOVE",
    "ConditionLine",
    "DecisionLine",
    "NodeForecastLine",
    "ReplicaLine",
    "ResourceStatus",
    "ResourceSummary",
    "ZoneLine",
    "as_dict",
    "decisions",
    "parse_time",
    "replica_lines",
    "status_view",
    "summary_view",
]

Obj = Mapping[str, Any]

#: One change in the message of a ReplicaAdded/ReplicaRemoved Event
#: (``core.reconcile.change_event``; an Event lists every change of its action in one
#: reconcile, ``core.reconcile.changes_events``).
ADD_OR_REMOVE = re.compile(
    r"(?P<action>add|remove) replica on (?P<node>\S+) \(reason (?P<reason>[\w-]+)\)"
)
#: The Event reasons that record a decision about the resource's replicas.
DECISION_REASONS = frozenset(
    {"ReplicaAdded", "ReplicaRemoved", "ReplicaLost", "NotEnoughNodes", "NoReplacement", "Tuned",
     "InvalidSpec"}
)  # fmt: skip


def parse_time(value: object) -> dt.datetime | None:
    """An RFC 3339 time as the API server writes it (``...Z``), or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _get(obj: Obj | None, *path: str) -> Any:
    value: Any = obj
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


@dataclass(frozen=True)
class ReplicaLine:
    """One replica: where it is, how it is, and why it is there."""

    node: str
    zone: str
    role: str
    phase: str
    reason: str
    lag_seconds: float | None = None
    bytes: int | None = None
    created: dt.datetime | None = None
    last_sync: dt.datetime | None = None


@dataclass(frozen=True)
class ZoneLine:
    """A zone: its nodes and those of them holding a replica."""

    zone: str
    nodes: tuple[str, ...]
    with_replica: tuple[str, ...]


@dataclass(frozen=True)
class NodeForecastLine:
    """The operator's forecast for one node (accesses per interval, mean over the horizon)."""

    node: str
    zone: str
    mean: float
    lower: float
    upper: float
    replica: bool


@dataclass(frozen=True)
class ConditionLine:
    """One status condition."""

    type: str
    status: str
    reason: str
    message: str
    since: dt.datetime | None


@dataclass(frozen=True)
class DecisionLine:
    """A decision the operator reported in an Event (newest first in a view)."""

    time: dt.datetime | None
    type: str
    reason: str
    message: str
    node: str = ""
    count: int = 1


@dataclass(frozen=True)
class ResourceStatus:
    """Everything ``status RESOURCE`` shows."""

    namespace: str
    name: str
    consistency: str
    merge: str
    policy: str
    interval: str
    horizon: str
    level: float
    spread_across: str
    phase: str
    ready_replicas: int
    desired_replicas: int
    hit_percent: int | None
    local_hit_ratio: float | None
    replicas: tuple[ReplicaLine, ...]
    zones: tuple[ZoneLine, ...]
    forecast_model: str
    forecast_generated: dt.datetime | None
    forecast: tuple[NodeForecastLine, ...]
    tuning: str
    last_decision: str
    conditions: tuple[ConditionLine, ...]
    decisions: tuple[DecisionLine, ...]
    created: dt.datetime | None


@dataclass(frozen=True)
class ResourceSummary:
    """One row of ``status`` without a name."""

    namespace: str
    name: str
    policy: str
    phase: str
    ready: str
    hit_percent: int | None
    forecast: str
    last_decision: str
    created: dt.datetime | None


def _spec(resource: Obj) -> Obj:
    spec = resource.get("spec")
    return spec if isinstance(spec, Mapping) else {}


def _status(resource: Obj) -> Obj:
    status = resource.get("status")
    return status if isinstance(status, Mapping) else {}


def spread_label(resource: Obj) -> str:
    """The node label the resource's replicas spread over."""
    return str(_get(_spec(resource), "placement", "spreadAcross") or ZONE_LABEL)


def node_zones(nodes: Iterable[Obj], label: str) -> dict[str, str]:
    """Node name -> the value of ``label`` on it (empty when unset)."""
    return {
        str(_get(n, "metadata", "name")): str((_get(n, "metadata", "labels") or {}).get(label, ""))
        for n in nodes
    }


def replica_lines(
    resource: Obj, replicas: Iterable[Obj], zones: Mapping[str, str]
) -> tuple[ReplicaLine, ...]:
    """Every replica of the resource, by zone then node.

    The resource's ``status.replicas`` (the operator's view, which marks the copies of
    lost nodes ``Lost``) wins over each Replica's own status; a Replica object the
    status does not list yet appears with its own phase.
    """
    listed = {str(r.get("node")): r for r in _status(resource).get("replicas") or []}
    objects = {str(_get(r, "spec", "nodeName")): r for r in replicas}
    lines = []
    for node in sorted(set(listed) | set(objects)):
        summary, obj = listed.get(node, {}), objects.get(node, {})
        lag = summary.get("lagSeconds", _get(obj, "status", "lagSeconds"))
        size = _get(obj, "status", "bytes")
        lines.append(
            ReplicaLine(
                node=node,
                zone=str(summary.get("zone") or zones.get(node, "")),
                role=str(summary.get("role") or _get(obj, "spec", "role") or "peer"),
                phase=str(summary.get("phase") or _get(obj, "status", "phase") or "Pending"),
                reason=str(summary.get("reason") or _get(obj, "spec", "reason") or ""),
                lag_seconds=float(lag) if isinstance(lag, int | float) else None,
                bytes=int(size) if isinstance(size, int) else None,
                created=parse_time(_get(obj, "metadata", "creationTimestamp")),
                last_sync=parse_time(_get(obj, "status", "lastSyncTime")),
            )
        )
    return tuple(sorted(lines, key=lambda r: (r.zone, r.node)))


def zone_lines(zones: Mapping[str, str], replicas: Sequence[ReplicaLine]) -> tuple[ZoneLine, ...]:
    """Each zone's nodes and which hold a replica (replicas on unknown nodes count too)."""
    members: dict[str, set[str]] = {}
    for node, zone in zones.items():
        members.setdefault(zone, set()).add(node)
    for r in replicas:
        members.setdefault(r.zone, set()).add(r.node)
    held = {r.node for r in replicas if r.phase != "Lost"}
    return tuple(
        ZoneLine(zone, tuple(sorted(nodes)), tuple(sorted(nodes & held)))
        for zone, nodes in sorted(members.items())
    )


def forecast_lines(
    resource: Obj, zones: Mapping[str, str], replicas: Sequence[ReplicaLine]
) -> tuple[NodeForecastLine, ...]:
    """The nodes of ``status.forecast`` (the busiest ones), busiest first."""
    held = {r.node for r in replicas if r.phase != "Lost"}
    rows = []
    for entry in _get(_status(resource), "forecast", "nodes") or []:
        node = str(entry.get("node", ""))
        rows.append(
            NodeForecastLine(
                node=node,
                zone=zones.get(node, ""),
                mean=float(entry.get("mean", 0.0)),
                lower=float(entry.get("lower", 0.0)),
                upper=float(entry.get("upper", 0.0)),
                replica=node in held,
            )
        )
    return tuple(sorted(rows, key=lambda r: (-r.mean, r.node)))


def _event_time(event: Obj) -> dt.datetime | None:
    return (
        parse_time(event.get("lastTimestamp"))
        or parse_time(event.get("eventTime"))
        or parse_time(event.get("firstTimestamp"))
        or parse_time(_get(event, "metadata", "creationTimestamp"))
    )


def decisions(events: Iterable[Obj], limit: int = 10) -> tuple[DecisionLine, ...]:
    """The newest ``limit`` decisions among the Events about a resource, newest first.

    Only the reasons of :data:`DECISION_REASONS` count; kopf's own Events and the
    others are left to ``kubectl describe``.
    """
    lines = []
    for event in events:
        reason = str(event.get("reason") or "")
        if reason not in DECISION_REASONS:
            continue
        message = str(event.get("message") or "")
        changes: list[re.Match[str] | None] = [*ADD_OR_REMOVE.finditer(message)] or [None]
        for match in changes:  # one line per change an Event lists
            lines.append(
                DecisionLine(
                    time=_event_time(event),
                    type=str(event.get("type") or "Normal"),
                    reason=reason,
                    message=_change_text(match, message, len(changes)),
                    node=match["node"] if match else "",
                    count=int(event.get("count") or 1),
                )
            )
    oldest = dt.datetime.min.replace(tzinfo=dt.UTC)
    lines.sort(key=lambda d: d.time or oldest, reverse=True)
    return tuple(lines[:limit])


def _change_text(match: re.Match[str] | None, message: str, changes: int) -> str:
    """The part of an Event's ``message`` about one change (all of it when it lists one)."""
    if match is None or changes == 1:
        return message
    rest = message[match.end() :]
    extra = rest.split(" + ", 1)[0]  # what the change's own text goes on with (a stand-in)
    return match.group(0) + extra


def last_decision(resource: Obj) -> str:
    """``status.lastDecision`` in one line (empty when the operator took none yet)."""
    decision = _status(resource).get("lastDecision")
    if not isinstance(decision, Mapping) or not decision.get("action"):
        return ""
    where = f" on {decision['node']}" if decision.get("node") else ""
    text = f"{decision['action']}{where} ({decision.get('reason', '')})"
    return f"{text}: {decision['message']}" if decision.get("message") else text


def _conditions(resource: Obj) -> tuple[ConditionLine, ...]:
    return tuple(
        ConditionLine(
            type=str(c.get("type", "")),
            status=str(c.get("status", "Unknown")),
            reason=str(c.get("reason", "")),
            message=str(c.get("message", "")),
            since=parse_time(c.get("lastTransitionTime")),
        )
        for c in _status(resource).get("conditions") or []
    )


def status_view(
    resource: Obj,
    replicas: Iterable[Obj],
    events: Iterable[Obj],
    nodes: Iterable[Obj] | None = None,
    *,
    decision_limit: int = 10,
) -> ResourceStatus:
    """The view of one resource.

    Args:
        resource: the SharedResource.
        replicas: its Replica objects.
        events: Events whose involved object is the resource.
        nodes: every Node, or None when the caller may not list them (zones then come
            from the resource's status alone, and zones without a replica are unknown).
        decision_limit: how many Events to keep.
    """
    spec, status = _spec(resource), _status(resource)
    label = spread_label(resource)
    zones = node_zones(nodes or [], label)
    replica_rows = replica_lines(resource, replicas, zones)
    for r in replica_rows:
        zones.setdefault(r.node, r.zone)
    forecast = status.get("forecast") if isinstance(status.get("forecast"), Mapping) else {}
    prediction = spec.get("prediction") or {}
    tuning = status.get("tuning") or {}
    hit = status.get("hitPercent")
    ratio = status.get("localHitRatio")
    return ResourceStatus(
        namespace=str(_get(resource, "metadata", "namespace") or ""),
        name=str(_get(resource, "metadata", "name") or ""),
        consistency=str(spec.get("consistency") or "eventual"),
        merge=str(spec.get("merge") or "lww"),
        policy=str(_get(spec, "replication", "policy") or "predictive"),
        interval=str(prediction.get("interval") or "1m"),
        horizon=str(prediction.get("horizon") or "15m"),
        level=float(prediction.get("level") or 0.9),
        spread_across=label,
        phase=str(status.get("phase") or "Pending"),
        ready_replicas=int(status.get("readyReplicas") or 0),
        desired_replicas=int(status.get("desiredReplicas") or 0),
        hit_percent=int(hit) if isinstance(hit, int | float) else None,
        local_hit_ratio=float(ratio) if isinstance(ratio, int | float) else None,
        replicas=replica_rows,
        zones=zone_lines(zones, replica_rows) if nodes is not None else (),
        forecast_model=str((forecast or {}).get("model") or ""),
        forecast_generated=parse_time((forecast or {}).get("generatedAt")),
        forecast=forecast_lines(resource, zones, replica_rows),
        tuning=str(tuning.get("explanation") or "") if isinstance(tuning, Mapping) else "",
        last_decision=last_decision(resource),
        conditions=_conditions(resource),
        decisions=decisions(events, decision_limit),
        created=parse_time(_get(resource, "metadata", "creationTimestamp")),
    )


def summary_view(resources: Iterable[Obj]) -> tuple[ResourceSummary, ...]:
    """One row per resource, by namespace then name."""
    rows = []
    for resource in resources:
        spec, status = _spec(resource), _status(resource)
        forecast = status.get("forecast") if isinstance(status.get("forecast"), Mapping) else None
        busiest = (forecast or {}).get("nodes") or []
        if busiest:
            top = busiest[0]
            forecast_text = f"{top.get('node')} {float(top.get('mean', 0)):.1f}/interval"
        else:
            ready = next(
                (c for c in status.get("conditions") or [] if c.get("type") == "ForecastReady"),
                None,
            )
            forecast_text = str((ready or {}).get("reason") or "")
        hit = status.get("hitPercent")
        rows.append(
            ResourceSummary(
                namespace=str(_get(resource, "metadata", "namespace") or ""),
                name=str(_get(resource, "metadata", "name") or ""),
                policy=str(_get(spec, "replication", "policy") or "predictive"),
                phase=str(status.get("phase") or "Pending"),
                ready=str(status.get("ready") or ""),
                hit_percent=int(hit) if isinstance(hit, int | float) else None,
                forecast=forecast_text,
                last_decision=last_decision(resource),
                created=parse_time(_get(resource, "metadata", "creationTimestamp")),
            )
        )
    return tuple(sorted(rows, key=lambda r: (r.namespace, r.name)))


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def as_dict(value: Any) -> Any:
    """A view as JSON-ready data: camelCase keys, RFC 3339 times (for ``-o json|yaml``)."""
    if is_dataclass(value) and not isinstance(value, type):
        return {_camel(f.name): as_dict(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, tuple | list):
        return [as_dict(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): as_dict(v) for k, v in value.items()}
    return value
