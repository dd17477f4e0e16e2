"""One holistic reconcile of a SharedResource, as a pure function of what was observed.

:func:`reconcile` reads the resource, the nodes and the resource's replicas and
returns every change to make and the whole status to report. The kopf handlers only
gather the inputs, call it, apply the result and post the events.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from pydantic import ValidationError

from statecast.api.shared_resource import SharedResourceSpec
from statecast.api.units import parse_duration, parse_quantity
from statecast.controller.observed import (
    NodeView,
    PodView,
    ReplicaView,
    consumer_pods,
    tolerates,
)
from statecast.controller.predictive import PredictedDemand, changes_from_plan, placement_input
from statecast.controller.selftuning import TuningDecision, tuning_enabled
from statecast.core.placement import PlacementError
from statecast.core.placement import plan as plan_placement
from statecast.core.reactive import ObservedHeat, heat_replicas, place_by_heat
from statecast.core.replica_set import ReplicaChange, ReplicaSetPlan, reconcile_replicas
from statecast.core.spread import eligible


@dataclass(frozen=True)
class Event:
    """A Kubernetes Event to post on the resource."""

    type: str
    """Normal or Warning."""
    reason: str
    message: str


@dataclass(frozen=True)
class ReconcileResult:
    """What a reconcile decided: changes to make, status to write, events to post.

    ``events`` are about the resource's state; each change made gets its own Event
    from :func:`change_event` once it has been applied.
    """

    changes: tuple[ReplicaChange, ...]
    status: dict[str, Any]
    events: tuple[Event, ...] = field(default_factory=tuple)
    lost: tuple[LostReplica, ...] = field(default_factory=tuple)
    """Replica objects to mark Lost: their agent cannot report any more."""
    last_hot: Mapping[str, float] | None = None
    """With policy reactive and heat observed: node -> when it was last hot, to pass
    back as ``last_hot`` next time (None: nothing to keep)."""


@dataclass(frozen=True)
class LostReplica:
    """A Replica whose copy is unreachable, and why."""

    name: str
    reason: str
    """``NodeLost`` (node NotReady or gone) or ``AgentLost`` (its agent's Lease expired)."""
    message: str


def change_event(change: ReplicaChange) -> Event:
    """The Event that reports an applied change, with its reason code."""
    return Event(
        "Normal",
        "ReplicaAdded" if change.action == "add" else "ReplicaRemoved",
        f"{change.action} replica on {change.node} (reason {change.reason})",
    )


def _condition(
    previous: Sequence[Mapping[str, Any]],
    type_: str,
    status: bool,
    reason: str,
    message: str,
    generation: int,
    now: dt.datetime,
) -> dict[str, Any]:
    value = "True" if status else "False"
    old = next((c for c in previous if c.get("type") == type_), None)
    changed = old is None or old.get("status") != value
    return {
        "type": type_,
        "status": value,
        "reason": reason,
        "message": message,
        "observedGeneration": generation,
        "lastTransitionTime": (
            now.isoformat().replace("+00:00", "Z")
            if changed or old is None
            else old.get("lastTransitionTime", now.isoformat())
        ),
    }


def _invalid(
    error: ValidationError, generation: int, previous: Mapping[str, Any], now: dt.datetime
) -> ReconcileResult:
    first = error.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "spec"
    message = f"invalid spec: {where}: {first['msg']}"
    conditions = previous.get("conditions", [])
    status = {
        "phase": "Failed",
        "observedGeneration": generation,
        "conditions": [
            _condition(conditions, "Ready", False, "InvalidSpec", message, generation, now),
            _condition(conditions, "Degraded", True, "InvalidSpec", message, generation, now),
        ],
    }
    return ReconcileResult((), status, (Event("Warning", "InvalidSpec", message),))


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


def reconcile(
    body: Mapping[str, Any],
    nodes: Iterable[NodeView],
    replicas: Iterable[ReplicaView],
    *,
    now: dt.datetime | None = None,
    agents_down: frozenset[str] = frozenset(),
    pods: Iterable[PodView] = (),
    local_hit_ratio: float | None = None,
    demand: PredictedDemand | None = None,
    recently_removed: Mapping[str, float] | None = None,
    bytes_elsewhere: Mapping[str, int] | None = None,
    spec: SharedResourceSpec | None = None,
    tuning: TuningDecision | None = None,
    heat: ObservedHeat | None = None,
    last_hot: Mapping[str, float] | None = None,
) -> ReconcileResult:
    """Decide the replicas and the status of one SharedResource.

    Args:
        body: the SharedResource object.
        nodes: every node of the cluster.
        replicas: the resource's Replica objects.
        now: the current time (for condition transition times).
        agents_down: nodes whose agent stopped renewing its Lease: treated like
            NotReady nodes (no new replicas there, copies there are Lost and replaced).
        pods: the bound pods of the resource's namespace; those that consume it (by
            ``spec.consumers.selector`` or the ``statecast.io/uses`` annotation) get a
            replica on their node (reason ``consumer``), up to ``replicas.max``.
        local_hit_ratio: share of the recent accesses served by a replica on the
            reader's node, as the agents counted them (None: no recent accesses, and
            the last reported figure stays).
        demand: the resource's demand forecast; with ``replication.policy:
            predictive`` the placement planner decides from it (None: not enough
            history yet, and the plain spread of ``replicas.min`` plus consumers holds).
        recently_removed: node -> seconds since a replica of the resource was removed
            there (the planner's hysteresis).
        bytes_elsewhere: node -> bytes its agent holds for other resources; with
            ``placement.maxBytesPerNode`` a node already at the limit, or without room
            for this resource's state, takes no new replica (copies already there stay).
        spec: ``body``'s spec, already validated by the caller (None: validate it here).
        tuning: the self-tuner's decision (:mod:`statecast.controller.selftuning`): its
            knobs go to the planner, ``status.tuning`` is written, and a ``Tuned`` Event
            posted when they changed (None: not tuned now; with tuning off in the spec
            an old ``status.tuning`` is removed).
        heat: the resource's observed heat; with ``replication.policy: reactive`` the
            replicas follow it (:mod:`statecast.core.reactive`; None: no window of
            demand yet, and the plain spread of ``replicas.min`` plus consumers holds).
        last_hot: node -> when the resource's pair there was last hot, as the previous
            result's ``last_hot`` said (reactive only).
    """
    now = now or dt.datetime.now(dt.UTC)
    meta = body.get("metadata", {})
    generation = int(meta.get("generation", 0))
    previous = body.get("status", {}) or {}
    if spec is None:
        try:
            spec = SharedResourceSpec.model_validate(body.get("spec", {}))
        except ValidationError as err:
            return _invalid(err, generation, previous, now)

    tolerations = [t.to_k8s() for t in spec.placement.tolerations]
    given = list(nodes)
    node_list = [replace(n, ready=False) if n.name in agents_down else n for n in given]
    node_ready = {n.name for n in given if n.ready}
    zones = {n.name: n.labels.get(spec.placement.spread_across, "") for n in node_list}
    ready_nodes = {n.name for n in node_list if n.ready}
    replica_list = sorted(replicas, key=lambda r: r.node)
    free = _free_bytes(spec, bytes_elsewhere or {}, [n.name for n in node_list])
    state_bytes = max((r.bytes for r in replica_list), default=0)
    holding = {r.node for r in replica_list}
    candidates = eligible(
        (
            n.candidate(spec.placement.spread_across)
            for n in node_list
            if tolerates(n.taints, tolerations)
            and (free is None or n.name in holding or _fits(free[n.name], state_bytes))
        ),
        spec.placement.node_selector,
    )
    count = spec.replicas.min
    if spec.replicas.max is not None:
        count = min(count, spec.replicas.max)
    name = meta.get("name", "")
    consumers = set(consumer_pods(pods, name, spec.consumers.selector))
    plan = reconcile_replicas(
        candidates,
        [r.current() for r in replica_list],
        count=count,
        consumers=consumers,
        limit=spec.replicas.max,
        unreachable={r.node for r in replica_list if r.node not in ready_nodes},
    )
    forecast_ready, forecast_reason, forecast_msg = (
        False,
        "NotPredictive",
        "policy is not predictive",
    )
    planner_notes: tuple[str, ...] = ()
    if spec.replication.policy == "predictive":
        if demand is None:
            forecast_reason, forecast_msg = "NotEnoughHistory", "sampling access counts"
        else:
            try:
                chosen = plan_placement(
                    placement_input(
                        spec,
                        node_list,
                        {c.name for c in candidates},
                        replica_list,
                        demand,
                        now=now,
                        consumers=consumers,
                        recently_removed=recently_removed,
                        free_bytes=free,
                        tuned=tuning.state if tuning is not None else None,
                    )
                )
            except PlacementError as err:
                forecast_reason, forecast_msg = "PlannerError", str(err)
            else:
                plan = ReplicaSetPlan(
                    wanted=tuple(sorted(chosen.nodes)),
                    changes=changes_from_plan(chosen, replica_list),
                )
                forecast_ready, forecast_reason = True, "Forecasting"
                forecast_msg = f"placed by forecast ({', '.join(sorted(set(demand.models)))})"
                planner_notes = chosen.notes

    kept_hot: Mapping[str, float] | None = None
    if spec.replication.policy == "reactive":
        forecast_msg = "policy reactive: the plain spread until a window of demand is sampled"
        if heat is not None:
            placed = place_by_heat(
                candidates,
                heat,
                [r.node for r in replica_list],
                last_hot=last_hot or {},
                now=now.timestamp(),
                grace_s=parse_duration(spec.replication.cooldown).total_seconds(),
                min_replicas=spec.replicas.min,
                max_replicas=spec.replicas.max,
                consumers=consumers,
            )
            plan = heat_replicas(
                candidates,
                [r.current() for r in replica_list],
                placed,
                unreachable={r.node for r in replica_list if r.node not in ready_nodes},
            )
            kept_hot = placed.last_hot
            forecast_msg = (
                f"policy reactive: {len(heat.hot())} hot nodes above "
                f"{heat.stats.threshold(heat.k_sigma):.3g} accesses/s "
                f"over the last {heat.window_s:.0f}s"
            )

    ready = sum(1 for r in replica_list if r.node in plan.wanted and r.phase == "Ready")
    desired = max(count, len(plan.wanted))  # consumers' copies count once planned
    short = len(candidates) < count
    if ready >= desired:
        phase = "Ready"
    elif short and not plan.adds:
        phase = "Degraded"
    elif replica_list:
        phase = "Progressing"
    else:
        phase = "Pending"

    conditions = previous.get("conditions", [])
    ready_msg = f"{ready}/{desired} replicas ready"
    degraded_msg = (
        f"only {len(candidates)} eligible nodes for {count} replicas"
        if short
        else "replicas placed"
    )
    status: dict[str, Any] = {
        "phase": phase,
        "observedGeneration": generation,
        "readyReplicas": ready,
        "desiredReplicas": desired,
        "ready": f"{ready}/{desired}",
        "replicas": [
            {
                "node": r.node,
                "zone": zones.get(r.node, ""),
                "role": r.role,
                # An agent on a node that is gone or NotReady, or an agent whose Lease
                # expired, cannot report: its copy is Lost, whatever it said last.
                "phase": r.phase if r.node in ready_nodes else "Lost",
                "reason": r.reason,
                **({"lagSeconds": r.lag_seconds} if r.lag_seconds is not None else {}),
            }
            for r in replica_list
        ],
        "conditions": [
            _condition(conditions, "Ready", phase == "Ready", phase, ready_msg, generation, now),
            _condition(
                conditions,
                "Progressing",
                bool(plan.changes) or phase == "Progressing",
                "Reconciling" if plan.changes or phase == "Progressing" else "Stable",
                ready_msg,
                generation,
                now,
            ),
            _condition(
                conditions,
                "Degraded",
                short,
                "NotEnoughNodes" if short else "AsExpected",
                degraded_msg,
                generation,
                now,
            ),
        ],
    }
    status["conditions"].append(
        _condition(
            conditions,
            "ForecastReady",
            forecast_ready,
            forecast_reason,
            "; ".join((forecast_msg, *planner_notes)),
            generation,
            now,
        )
    )
    if forecast_ready and demand is not None:
        status["forecast"] = demand.status()
    if local_hit_ratio is not None:
        status["localHitRatio"] = round(local_hit_ratio, 3)
        status["hitPercent"] = round(local_hit_ratio * 100)
    if plan.changes:
        last = plan.changes[-1]
        status["lastDecision"] = {
            "action": last.action,
            "reason": last.reason,
            "node": last.node,
            "message": f"{len(plan.adds)} to add, {len(plan.removes)} to remove",
            "time": now.isoformat().replace("+00:00", "Z"),
        }
    if tuning is not None:
        status["tuning"] = tuning.status()
    elif previous.get("tuning") is not None and not tuning_enabled(spec):
        status["tuning"] = None  # tuning turned off: the spec's knobs hold again
    lost = tuple(
        LostReplica(
            r.name,
            "AgentLost" if r.node in node_ready else "NodeLost",
            f"the agent on {r.node} stopped renewing its Lease"
            if r.node in node_ready
            else f"node {r.node} is NotReady or gone",
        )
        for r in replica_list
        if r.node not in ready_nodes and r.phase != "Lost"
    )
    events: tuple[Event, ...] = tuple(
        Event("Warning", "ReplicaLost", f"{r.name}: {r.message}") for r in lost
    )
    was_short = any(c.get("type") == "Degraded" and c.get("status") == "True" for c in conditions)
    if short and not was_short:
        events += (Event("Warning", "NotEnoughNodes", degraded_msg),)
    if tuning is not None and tuning.changed:
        events += (Event("Normal", "Tuned", tuning.state.explanation),)
    return ReconcileResult(plan.changes, status, events, lost, kept_hot)
