"""A SharedResource's status and Events, as pure functions of one reconcile.

:func:`build_status` writes the whole ``status`` from the survey, the policy's answer and
the changes the hand-off decided; :func:`lost_replicas` names the Replicas whose agent
cannot report any more; :func:`resource_events` the Events about the resource's state;
:func:`invalid_status` the status of a resource whose spec does not validate.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from statecast.core.reconcile.observed import Observed
from statecast.core.reconcile.policies import PolicyPlan
from statecast.core.reconcile.survey import Survey
from statecast.core.reconcile.tuning import tuning_enabled
from statecast.core.replica_set import ReplicaChange, ReplicaSetPlan

__all__ = [
    "Event",
    "LostReplica",
    "build_status",
    "change_event",
    "condition",
    "invalid_status",
    "lost_replicas",
    "resource_events",
]


@dataclass(frozen=True)
class Event:
    """A Kubernetes Event to post on the resource."""

    type: str
    """Normal or Warning."""
    reason: str
    message: str


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


def _time(now: dt.datetime) -> str:
    return now.isoformat().replace("+00:00", "Z")


def condition(
    previous: Sequence[Mapping[str, Any]],
    type_: str,
    status: bool,
    reason: str,
    message: str,
    generation: int,
    now: dt.datetime,
) -> dict[str, Any]:
    """A status condition; its transition time moves only when its status changes."""
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
            _time(now) if changed or old is None else old.get("lastTransitionTime", now.isoformat())
        ),
    }


def invalid_status(
    error: ValidationError, observed: Observed
) -> tuple[dict[str, Any], tuple[Event, ...]]:
    """The status and Event of a resource whose spec does not validate."""
    first = error.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "spec"
    message = f"invalid spec: {where}: {first['msg']}"
    conditions = observed.previous_status.get("conditions", [])
    generation, now = observed.generation, observed.now
    status = {
        "phase": "Failed",
        "observedGeneration": generation,
        "conditions": [
            condition(conditions, "Ready", False, "InvalidSpec", message, generation, now),
            condition(conditions, "Degraded", True, "InvalidSpec", message, generation, now),
        ],
    }
    return status, (Event("Warning", "InvalidSpec", message),)


@dataclass(frozen=True)
class _Counts:
    """Replicas ready and desired, and the phase they make."""

    ready: int
    desired: int
    phase: str


def _counts(survey: Survey, plan: ReplicaSetPlan) -> _Counts:
    ready = sum(1 for r in survey.replicas if r.node in plan.wanted and r.phase == "Ready")
    desired = max(survey.count, len(plan.wanted))  # consumers' copies count once planned
    if ready >= desired:
        phase = "Ready"
    elif survey.short and not plan.adds:
        phase = "Degraded"
    elif survey.replicas:
        phase = "Progressing"
    else:
        phase = "Pending"
    return _Counts(ready, desired, phase)


def _degraded_message(survey: Survey) -> str:
    if survey.short:
        return f"only {len(survey.candidates)} eligible nodes for {survey.count} replicas"
    return "replicas placed"


def _replica_rows(survey: Survey) -> list[dict[str, Any]]:
    return [
        {
            "node": r.node,
            "zone": survey.zones.get(r.node, ""),
            "role": r.role,
            # An agent on a node that is gone or NotReady, or an agent whose Lease
            # expired, cannot report: its copy is Lost, whatever it said last.
            "phase": r.phase if r.node in survey.ready else "Lost",
            "reason": r.reason,
            **({"lagSeconds": r.lag_seconds} if r.lag_seconds is not None else {}),
        }
        for r in survey.replicas
    ]


def _conditions(
    observed: Observed, survey: Survey, decided: PolicyPlan, plan: ReplicaSetPlan, counts: _Counts
) -> list[dict[str, Any]]:
    previous = observed.previous_status.get("conditions", [])
    generation, now = observed.generation, observed.now
    phase, short = counts.phase, survey.short
    ready_msg = f"{counts.ready}/{counts.desired} replicas ready"
    progressing = bool(plan.changes) or phase == "Progressing"
    forecast = decided.forecast
    return [
        condition(previous, "Ready", phase == "Ready", phase, ready_msg, generation, now),
        condition(
            previous,
            "Progressing",
            progressing,
            "Reconciling" if progressing else "Stable",
            ready_msg,
            generation,
            now,
        ),
        condition(
            previous,
            "Degraded",
            short,
            "NotEnoughNodes" if short else "AsExpected",
            _degraded_message(survey),
            generation,
            now,
        ),
        condition(
            previous,
            "ForecastReady",
            forecast.ready,
            forecast.reason,
            "; ".join((forecast.message, *decided.notes)),
            generation,
            now,
        ),
    ]


def build_status(
    observed: Observed, survey: Survey, decided: PolicyPlan, plan: ReplicaSetPlan
) -> dict[str, Any]:
    """The resource's whole ``status`` after a reconcile.

    Args:
        observed: what the reconcile read.
        survey: its view of the cluster.
        decided: the placement policy's answer.
        plan: the changes the hand-off decided.
    """
    counts = _counts(survey, plan)
    status: dict[str, Any] = {
        "phase": counts.phase,
        "observedGeneration": observed.generation,
        "readyReplicas": counts.ready,
        "desiredReplicas": counts.desired,
        "ready": f"{counts.ready}/{counts.desired}",
        "replicas": _replica_rows(survey),
        "conditions": _conditions(observed, survey, decided, plan, counts),
    }
    if decided.forecast_status is not None:
        status["forecast"] = dict(decided.forecast_status)
    demand = observed.demand
    if demand.local_hit_ratio is not None:
        status["localHitRatio"] = round(demand.local_hit_ratio, 3)
        status["hitPercent"] = round(demand.local_hit_ratio * 100)
    if plan.changes:
        last = plan.changes[-1]
        status["lastDecision"] = {
            "action": last.action,
            "reason": last.reason,
            "node": last.node,
            "message": f"{len(plan.adds)} to add, {len(plan.removes)} to remove",
            "time": _time(observed.now),
        }
    if demand.tuning is not None:
        status["tuning"] = demand.tuning.status()
    elif observed.previous_status.get("tuning") is not None and not tuning_enabled(survey.spec):
        status["tuning"] = None  # tuning turned off: the spec's knobs hold again
    return status


def lost_replicas(survey: Survey) -> tuple[LostReplica, ...]:
    """The Replicas to mark Lost: on a node that is NotReady or gone, or whose agent is down."""
    return tuple(
        LostReplica(
            r.name,
            "AgentLost" if r.node in survey.node_ready else "NodeLost",
            f"the agent on {r.node} stopped renewing its Lease"
            if r.node in survey.node_ready
            else f"node {r.node} is NotReady or gone",
        )
        for r in survey.replicas
        if r.node not in survey.ready and r.phase != "Lost"
    )


def resource_events(
    observed: Observed, survey: Survey, lost: Sequence[LostReplica]
) -> tuple[Event, ...]:
    """The Events about the resource's state: copies lost, too few nodes, knobs tuned."""
    events = tuple(Event("Warning", "ReplicaLost", f"{r.name}: {r.message}") for r in lost)
    conditions = observed.previous_status.get("conditions", [])
    was_short = any(c.get("type") == "Degraded" and c.get("status") == "True" for c in conditions)
    if survey.short and not was_short:
        events += (Event("Warning", "NotEnoughNodes", _degraded_message(survey)),)
    tuning = observed.demand.tuning
    if tuning is not None and tuning.changed:
        events += (Event("Normal", "Tuned", tuning.state.explanation),)
    return events
