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
from typing import Any, NamedTuple

from pydantic import ValidationError

from statecast.api.types import transition_time
from statecast.core.custody import Custody
from statecast.core.reconcile.custody import custody_events, custody_message, custody_reason
from statecast.core.reconcile.ignored import IGNORED_REASON, ignored_settings
from statecast.core.reconcile.observed import Observed
from statecast.core.reconcile.policies import ConditionState, PolicyPlan
from statecast.core.reconcile.removals import horizon, recent_removals
from statecast.core.reconcile.survey import Survey
from statecast.core.reconcile.tuning import tuning_enabled
from statecast.core.reconcile.writable import writable
from statecast.core.replica_set import ReplicaChange, ReplicaSetPlan
from statecast.core.storage import STORAGE_UNAVAILABLE

__all__ = [
    "ROUTINE_REASONS",
    "Event",
    "LostReplica",
    "build_status",
    "change_event",
    "changes_events",
    "condition",
    "failed_status",
    "first_placement",
    "ignored_events",
    "invalid_status",
    "lost_replicas",
    "notable",
    "resource_events",
]


class Event(NamedTuple):
    """A Kubernetes Event to post on the resource: type (Normal or Warning), reason, message."""

    type: str
    reason: str
    message: str


@dataclass(frozen=True)
class LostReplica:
    """A Replica whose copy is unreachable: its node is NotReady or gone, or its agent is down.

    Attributes:
        name: the Replica object.
        node: its node.
        node_ready: the node itself is Ready (then its agent stopped renewing its Lease).
    """

    name: str
    node: str
    node_ready: bool

    @property
    def reason(self) -> str:
        """``AgentLost`` (its agent's Lease expired) or ``NodeLost`` (node NotReady or gone)."""
        return "AgentLost" if self.node_ready else "NodeLost"

    @property
    def message(self) -> str:
        """Why, in a sentence."""
        if self.node_ready:
            return f"the agent on {self.node} stopped renewing its Lease"
        return f"node {self.node} is NotReady or gone"


def change_event(change: ReplicaChange) -> Event:
    """The Event that reports an applied change, with its reason code."""
    stands = (
        f"; a stand-in for the lost copies on {', '.join(change.stand_in_for)}, starting"
        " from the source until their writes are merged"
        if change.stand_in_for
        else ""
    )
    return Event(
        "Normal",
        "ReplicaAdded" if change.action == "add" else "ReplicaRemoved",
        f"{change.action} replica on {change.node} (reason {change.reason}){stands}",
    )


#: The reason codes of the placement policies' routine moves: a copy added where demand
#: is forecast (``predicted``, ``hedge``) or hot (``rebalance``), removed where it is not
#: worth its cost any more (``cost``, ``rebalance``). They are the operator doing its job,
#: not news: no Event reports them by default (:func:`changes_events`).
ROUTINE_REASONS = frozenset({"predicted", "hedge", "cost", "rebalance"})
#: Reasons of a new resource's first copies that its creation asked for: the minimum, and
#: a resource held on every node (``everywhere``, said ``minimum`` before session 25).
FIRST_COPIES = frozenset({"minimum", "everywhere"})


def notable(change: ReplicaChange, *, first: bool = False) -> bool:
    """Whether a change is news a user should see as an Event.

    A copy placed for the minimum, for a consumer, to replace a lost one (``failover``),
    or standing in for lost copies is; the routine moves (:data:`ROUTINE_REASONS`) are
    not: the Kubernetes API conventions keep Events for what users or administrators
    should be alerted about, and at 1,000 resources whose demand moves they were ~15 of
    the operator's requests a second (docs/scale-history.md, session 10). Nor are a new
    resource's first copies for its minimum (``first``: its first reconcile, see
    :func:`first_placement`): the outcome its creation asked for, which its status
    reports (``status.replicas``, ``lastDecision``, the conditions); at 1,000 new
    resources they were one write in seven of a first pass (docs/scale.md); nor a copy
    on every node a first plan holds (:data:`FIRST_COPIES`). The floor
    restored on a resource reconciled before, a copy replaced, a consumer's copy are news.
    """
    if first and change.reason in FIRST_COPIES and not change.stand_in_for:
        return False
    return change.reason not in ROUTINE_REASONS or bool(change.stand_in_for)


def first_placement(status: Mapping[str, Any]) -> bool:
    """Whether a resource with this status was never reconciled: no ``observedGeneration``.

    Args:
        status: the resource's status, with the operator's own writes that its body
            does not show yet.
    """
    return not status.get("observedGeneration")


def changes_events(
    changes: Sequence[ReplicaChange], *, routine: bool = False, first: bool = False
) -> tuple[Event, ...]:
    """The Events that report a reconcile's applied changes: one per action at most.

    ``ReplicaAdded`` lists every copy added, ``ReplicaRemoved`` every copy removed, each
    change as :func:`change_event` words it, joined by ``" + "``. One Event per change
    made a first pass over a thousand resources post two thousand Events (a POST each);
    a reader finds every change in a message (``kubectl statecast`` does). Only the
    :func:`notable` changes are listed unless ``routine`` (then every change is); the
    others are in the operator's log (``event=replica-add``/``-remove``), in
    ``statecast_replica_actions_total{action,reason}``, on the Replicas (their reason)
    and in ``status.lastDecision``. ``first``: the resource's first reconcile
    (:func:`first_placement`).
    """
    events = []
    for action in ("add", "remove"):
        parts = [
            change_event(c)
            for c in changes
            if c.action == action and (routine or notable(c, first=first))
        ]
        if parts:
            message = " + ".join(p.message for p in parts)
            events.append(Event("Normal", parts[0].reason, message))
    return tuple(events)


def _time(now: dt.datetime) -> str:
    return now.isoformat().replace("+00:00", "Z")


def condition(
    previous: Sequence[Mapping[str, Any]],
    type_: str,
    state: ConditionState,
    generation: int,
    now: dt.datetime,
) -> dict[str, Any]:
    """A status condition; its transition time moves only when its status changes."""
    value = "True" if state.holds else "False"
    return {
        "type": type_,
        "status": value,
        "reason": state.reason,
        "message": state.message,
        "observedGeneration": generation,
        "lastTransitionTime": _time(transition_time(previous, type_, value, now)),
    }


def _conditions(observed: Observed, states: Mapping[str, ConditionState]) -> list[dict[str, Any]]:
    previous = observed.previous_status.get("conditions", [])
    return [
        condition(previous, type_, state, observed.generation, observed.now)
        for type_, state in states.items()
    ]


def invalid_status(
    error: ValidationError, observed: Observed
) -> tuple[dict[str, Any], tuple[Event, ...]]:
    """The status and Event of a resource whose spec does not validate."""
    first = error.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "spec"
    message = f"invalid spec: {where}: {first['msg']}"
    states = {
        "Ready": ConditionState(False, "InvalidSpec", message),
        "Degraded": ConditionState(True, "InvalidSpec", message),
    }
    status = {
        "phase": "Failed",
        "observedGeneration": observed.generation,
        "conditions": _conditions(observed, states),
    }
    return status, (Event("Warning", "InvalidSpec", message),)


def failed_status(
    previous: Mapping[str, Any], generation: int, now: dt.datetime, error: str
) -> dict[str, Any]:
    """The status fields of a resource whose reconcile raised ``error`` (its type: message).

    Ready turns False and Degraded True, both with reason ``ReconcileError`` and the error;
    the rest of the status stays as the last good reconcile wrote it, and a resource that
    never had one gets phase ``Failed``. The next reconcile that succeeds writes it all anew.
    """
    conditions = previous.get("conditions", [])
    message = f"reconcile failed: {error}"[:1024]
    kept = [c for c in conditions if c.get("type") not in ("Ready", "Degraded")]
    states = {
        "Ready": ConditionState(False, "ReconcileError", message),
        "Degraded": ConditionState(True, "ReconcileError", message),
    }
    status: dict[str, Any] = {
        "observedGeneration": generation,
        "conditions": [
            *(condition(conditions, t, state, generation, now) for t, state in states.items()),
            *kept,
        ],
    }
    if not previous.get("phase"):
        status["phase"] = "Failed"
    return status


class _Counts(NamedTuple):
    """Replicas ready and desired, and the phase they make."""

    ready: int
    desired: int
    phase: str


def _counts(survey: Survey, plan: ReplicaSetPlan, held: Custody) -> _Counts:
    ready = sum(1 for r in survey.replicas if r.node in plan.wanted and r.phase == "Ready")
    desired = max(survey.count, len(plan.wanted))  # consumers' copies count once planned
    if held.kept:
        phase = "Degraded"  # acknowledged writes are out of reach, whatever serves meanwhile
    elif ready >= desired:
        phase = "Ready"
    elif survey.short and not plan.adds:
        phase = "Degraded"
    elif survey.replicas:
        phase = "Progressing"
    else:
        phase = "Pending"
    return _Counts(ready, desired, phase)


def _degraded(survey: Survey, held: Custody, kept: Sequence[str] = ()) -> ConditionState:
    """The Degraded condition: lost copies with unmerged writes first, then too few nodes.

    ``kept``: copies on nodes that take none, kept since nothing can replace them
    (:func:`~statecast.core.replica_set.keep_unreplaced`): reason ``NoReplacement``.
    """
    if held.kept:
        return ConditionState(True, custody_reason(held), custody_message(survey, held))
    if kept:
        return ConditionState(True, "NoReplacement", _kept_message(survey, kept))
    if survey.short:
        return ConditionState(True, "NotEnoughNodes", _degraded_message(survey))
    return ConditionState(False, "AsExpected", _degraded_message(survey))


def _why_leaving(survey: Survey, node: str) -> str:
    """Why a node takes no copy of the resource, in a few words."""
    if node in survey.lost:
        return "lost: its node or agent is down"
    if node in survey.storage_failed:
        return "its files cannot be written"
    return "its node is cordoned or no longer eligible"


def _kept_message(survey: Survey, kept: Sequence[str]) -> str:
    """What the Degraded condition says while copies stay that nothing can replace."""
    copies = ", ".join(f"{node} ({_why_leaving(survey, node)})" for node in kept)
    said = "the copy on {} is kept" if len(kept) == 1 else "the copies on {} are kept"
    return (
        f"{_degraded_message(survey)}: {said.format(copies)} until a copy placed on"
        " another node is Ready"
    )


def _degraded_message(survey: Survey) -> str:
    if survey.short:
        return f"only {len(survey.candidates)} eligible nodes for {survey.count} replicas"
    return "replicas placed"


def _replica_rows(survey: Survey, held: Custody, plan: ReplicaSetPlan) -> list[dict[str, Any]]:
    """One row per Replica as the reconcile leaves them.

    The survey's, without the copies it removes, with the copies it creates (Pending,
    as the next reconcile reads them). The rows used to be the survey's alone: every
    copy added or removed took one more status PATCH, at the resource's next reconcile,
    to show it (session 9).
    """
    removed = {c.node for c in plan.removes}
    role = "learner" if survey.spec.consistency == "strong" else "peer"  # as it is created
    added = [
        {
            "node": c.node,
            "zone": survey.zones.get(c.node, ""),
            "role": role,
            "phase": "Pending",
            "reason": c.reason,
            **({"standInFor": list(c.stand_in_for)} if c.stand_in_for else {}),
        }
        for c in plan.adds
    ]
    kept = [
        {
            "node": r.node,
            "zone": survey.zones.get(r.node, ""),
            "role": r.role,
            # An agent on a node that is gone or NotReady, or an agent whose Lease
            # expired, cannot report: its copy is Lost, whatever it said last.
            "phase": r.phase if r.node in survey.ready else "Lost",
            "reason": r.reason,
            **({"lagSeconds": r.lag_seconds} if r.lag_seconds is not None else {}),
            **({"standInFor": list(r.stand_in_for)} if r.stand_in_for else {}),
            **({"unmerged": True} if r.node in held.kept else {}),
        }
        for r in survey.replicas
        if r.node not in removed
    ]
    held_nodes = {row["node"] for row in kept}
    rows = kept + [row for row in added if row["node"] not in held_nodes]
    return sorted(rows, key=lambda row: str(row["node"]))


def _condition_states(
    survey: Survey,
    decided: PolicyPlan,
    plan: ReplicaSetPlan,
    counts: _Counts,
    held: Custody,
    kept: Sequence[str] = (),
) -> dict[str, ConditionState]:
    """Ready, Progressing, Degraded and the policy's ForecastReady, in that order.

    ForecastReady's message ends with the spec's settings that have no effect
    (:func:`~statecast.core.reconcile.ignored.ignored_settings`).
    """
    phase = counts.phase
    degraded = _degraded(survey, held, kept)
    ready_msg = f"{counts.ready}/{counts.desired} replicas ready"
    if held.kept:
        ready_msg = f"{ready_msg}; {degraded.reason}"
    # A removal is done once applied: Progressing for it alone flipped back at the next
    # reconcile, a second status PATCH per removal (session 10, docs/scale-history.md)
    progressing = bool(plan.adds) or phase == "Progressing"
    forecast = decided.forecast
    return {
        "Ready": ConditionState(phase == "Ready", phase, ready_msg),
        "Progressing": ConditionState(
            progressing, "Reconciling" if progressing else "Stable", ready_msg
        ),
        "Degraded": degraded,
        "ForecastReady": ConditionState(
            forecast.holds,
            forecast.reason,
            "; ".join((forecast.message, *decided.notes, *ignored_settings(survey.spec))),
        ),
    }


def build_status(
    observed: Observed,
    survey: Survey,
    decided: PolicyPlan,
    plan: ReplicaSetPlan,
    held: Custody | None = None,
    kept: Sequence[str] = (),
) -> dict[str, Any]:
    """The resource's whole ``status`` after a reconcile.

    Args:
        observed: what the reconcile read.
        survey: its view of the cluster.
        decided: the placement policy's answer.
        plan: the changes the hand-off decided.
        held: what custody decided of its lost copies (None: nothing lost holds writes).
        kept: copies kept on nodes that take none, since nothing can replace them.
    """
    held = held or Custody()
    counts = _counts(survey, plan, held)
    states = _condition_states(survey, decided, plan, counts, held, kept)
    if survey.spec.consistency == "strong":  # Ready copies do not say writes are taken
        states["Writable"] = writable(observed.previous_status, survey.replicas, survey.ready)
    status: dict[str, Any] = {
        "phase": counts.phase,
        "observedGeneration": observed.generation,
        "readyReplicas": counts.ready,
        "desiredReplicas": counts.desired,
        "ready": f"{counts.ready}/{counts.desired}",
        "replicas": _replica_rows(survey, held, plan),
        "conditions": _conditions(observed, states),
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
    removals = recent_removals(
        observed.previous_status,
        [c.node for c in plan.removes],
        observed.now,
        horizon(survey.spec, demand.warm_retention_s),
        lost=[c.node for c in plan.removes if c.reason == "failover"],
    )
    if removals or observed.previous_status.get("recentRemovals"):
        status["recentRemovals"] = removals
    if demand.tuning is not None:
        status["tuning"] = demand.tuning.status()
    elif observed.previous_status.get("tuning") is not None and not tuning_enabled(survey.spec):
        status["tuning"] = None  # tuning turned off: the spec's knobs hold again
    return status


def lost_replicas(survey: Survey) -> tuple[LostReplica, ...]:
    """The Replicas to mark Lost: on a node that is NotReady or gone, or whose agent is down."""
    return tuple(
        LostReplica(r.name, r.node, r.node in survey.node_ready)
        for r in survey.replicas
        if r.node not in survey.ready and r.phase != "Lost"
    )


def resource_events(
    observed: Observed,
    survey: Survey,
    lost: Sequence[LostReplica],
    held: Custody | None = None,
    kept: Sequence[str] = (),
) -> tuple[Event, ...]:
    """The Events about the resource's state: copies lost, too few nodes, knobs tuned.

    A Warning is posted when the Degraded condition starts or changes its reason
    (``LastCopyLost``, ``UnmergedCopyLost``, ``NoReplacement``, ``NotEnoughNodes``), not
    on every resync; a ``SettingsIgnored`` one when a new spec generation holds settings
    that have no effect (:func:`ignored_events`). ``kept``: as :func:`build_status`'s.
    """
    held = held or Custody()
    events = tuple(Event("Warning", "ReplicaLost", f"{r.name}: {r.message}") for r in lost)
    conditions = observed.previous_status.get("conditions", [])
    was: Mapping[str, Any] = next((c for c in conditions if c.get("type") == "Degraded"), {})
    degraded = _degraded(survey, held, kept)
    was_same = was.get("status") == "True" and was.get("reason") == degraded.reason
    if degraded.holds and not was_same:
        events += (Event("Warning", degraded.reason, degraded.message),)
    events += tuple(Event(*event) for event in custody_events(survey, held))
    events += tuple(
        Event(
            "Warning",
            STORAGE_UNAVAILABLE,
            f"{r.name}: its agent on {r.node} cannot write its files (since"
            f" {r.storage_failing_since:%H:%M:%S}); "
            + (
                "no other node can take a copy: it stays, serving reads, until one can or"
                " its files can be written again"
                if r.node in kept
                else "a copy is placed on another node and this one goes once it is Ready"
            ),
        )
        for r in survey.replicas
        if r.node in survey.storage_failed and r.storage_failing_since is not None
    )
    tuning = observed.demand.tuning
    if tuning is not None and tuning.changed:
        events += (Event("Normal", "Tuned", tuning.state.explanation),)
    return events + ignored_events(observed, survey)


def ignored_events(observed: Observed, survey: Survey) -> tuple[Event, ...]:
    """A ``SettingsIgnored`` Warning naming the spec's settings that have no effect.

    Posted once per spec generation (its first reconcile: ``observedGeneration`` differs),
    not on every resync; ForecastReady's message says the same while they stay.
    """
    notes = ignored_settings(survey.spec)
    if not notes or observed.previous_status.get("observedGeneration") == observed.generation:
        return ()
    return (Event("Warning", IGNORED_REASON, "; ".join(notes)),)
