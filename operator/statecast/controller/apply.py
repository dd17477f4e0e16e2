"""Making a reconcile's decision true: Replica writes, Lost marks, Events, status, metrics.

:func:`apply` writes what :func:`statecast.core.reconcile.reconcile` decided through the
services' gateway; :func:`report` patches the status fields that changed and sets the
phase metric. Neither decides anything.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import logging
import os
from collections.abc import Sequence
from typing import Any

import kopf

from statecast.controller.builders import build_replica, replica_name
from statecast.controller.services import Services
from statecast.core.reconcile import ReconcileResult, changes_events, first_placement
from statecast.core.reconcile.lapse import marks_due
from statecast.core.reconcile.status import failed_status
from statecast.core.reconcile.status_hold import plan_status_write
from statecast.core.replica_set import ReplicaChange

__all__ = ["apply", "apply_change", "report", "report_failure"]

log = logging.getLogger(__name__)
#: Seconds a status's forecast may age while nothing else in the status changes (see
#: :func:`statecast.core.reconcile.status_diff.forecast_due`).
FORECAST_STATUS_SECONDS = float(os.environ.get("STATECAST_FORECAST_STATUS_SECONDS", "300"))
#: Seconds a status write may wait for the report of a copy the reconcile created (its
#: agent's Ready), to be written once with it (:mod:`statecast.core.reconcile.status_hold`).
STATUS_HOLD_SECONDS = float(os.environ.get("STATECAST_STATUS_HOLD_SECONDS", "5"))
#: Post an Event for the placement policies' routine moves too (``predicted``, ``hedge``,
#: ``cost``, ``rebalance``): off by default (:func:`statecast.core.reconcile.changes_events`).
ROUTINE_EVENTS = os.environ.get("STATECAST_ROUTINE_EVENTS", "0").lower() in ("1", "true", "yes")


def apply(
    services: Services,
    body: kopf.Body,
    result: ReconcileResult,
    now: dt.datetime,
    *,
    size: int = 0,
    created: Sequence[tuple[ReplicaChange, bool]] | None = None,
) -> None:
    """Create and delete the Replicas, mark lost ones, post the Events, keep the heat.

    ``size`` is the resource's size in bytes (its largest replica): what each new
    Replica has to copy (``statecast_bytes_moved_total``). ``created``: the result's
    creations were made already (:func:`apply_change`, by a lapse's wave), each with
    whether it was written; only the rest is applied here.
    """
    ref = (body.metadata.namespace or "", body.metadata.name or "")
    if result.last_hot is not None:
        services.heat.remember(ref, result.last_hot)
    else:
        services.heat.forget(ref)  # not reactive, or no window of demand yet
    if created is None:
        changes = _apply_changes(services, body, result.changes, now)
    else:
        rest = [c for c in result.changes if c.action != "add"]
        changes = [*created, *_apply_changes(services, body, rest, now)]
    applied = [c for c, done in changes if done]
    for change in applied:
        if change.action == "add":
            services.metrics.bytes_moved.labels(reason=change.reason).inc(size)
    gateway = services.gateway
    first = first_placement(body.get("status") or {})  # a new resource's floor: no Event
    for event in changes_events(applied, routine=ROUTINE_EVENTS, first=first):  # one per action
        gateway.post_event(body, event.type, event.reason, event.message)
    removed = {c.node for c in applied if c.action == "remove"}
    for lost in marks_due(result.lost, removed):  # not a copy deleted just now
        gateway.mark_replica_lost(ref[0], lost.name, lost.reason, lost.message)
    for stand_in in result.stand_ins:
        gateway.set_stand_in(ref[0], stand_in.name, stand_in.stand_in_for)
    for event in result.events:  # about the resource's state: once per cause
        if services.events.due(ref, event.type, event.reason, event.message, now.timestamp()):
            gateway.post_event(body, event.type, event.reason, event.message)
    if result.recheck_after is not None:  # a grace passes then, with nothing else to wake it
        services.wakeups.later(ref, result.recheck_after)


def _apply_changes(
    services: Services, body: kopf.Body, changes: Sequence[ReplicaChange], now: dt.datetime
) -> list[tuple[ReplicaChange, bool]]:
    """Apply ``changes``: several creations at once, in ``services.writes``'s threads.

    Deletions (and creations without those threads) are applied one after the other.

    Returns:
        Each change with whether it was written.
    """
    adds = [c for c in changes if c.action == "add"]
    done: list[tuple[ReplicaChange, bool]] = []
    if services.writes is not None and len(adds) > 1:
        # kopf.event needs the context of kopf's handling (its Event queue): each task
        # runs in a copy of this thread's
        futures = [
            services.writes.submit(
                contextvars.copy_context().run, apply_change, services, body, change, now
            )
            for change in adds
        ]
        done += [(change, future.result()) for change, future in zip(adds, futures, strict=True)]
        changes = [c for c in changes if c.action != "add"]
    done += [(change, apply_change(services, body, change, now)) for change in changes]
    return done


def apply_change(
    services: Services, body: kopf.Body, change: ReplicaChange, now: dt.datetime
) -> bool:
    """One Replica created or deleted, counted and logged (the caller posts the Events).

    Returns:
        Whether it was written (False: the index had not seen an earlier write yet).
    """
    namespace, name = body.metadata.namespace or "", body.metadata.name or ""
    gateway = services.gateway
    if change.action == "add":
        role: dict[str, Any] = {}
        if (body.get("spec") or {}).get("consistency") == "strong":  # a learner until it votes
            role = {"role": "learner", "epoch": int((body.get("status") or {}).get("epoch") or 0)}
        replica = build_replica(
            body, change.node, reason=change.reason, stand_in_for=change.stand_in_for, **role
        )
        applied = gateway.create_replica(replica)
    else:
        applied = gateway.delete_replica(namespace, replica_name(name, change.node))
        if applied:
            lost = change.reason == "failover"  # lost with its node: no files kept
            services.forecaster.removed((namespace, name), change.node, now, lost)
    if not applied:  # the index had not seen our own earlier write yet
        return False
    services.metrics.replica_actions.labels(action=change.action, reason=change.reason).inc()
    log.info(
        "event=replica-%s resource=%s/%s node=%s reason=%s",
        change.action, namespace, name, change.node, change.reason,
    )  # fmt: skip
    return True


def report(
    services: Services,
    body: kopf.Body,
    patch: kopf.Patch,
    result: ReconcileResult,
    now: dt.datetime | None = None,
    *,
    created: bool = False,
) -> None:
    """Patch the status fields that changed; set the resource's metrics from its status.

    A new forecast alone is written only when due (``STATECAST_FORECAST_STATUS_SECONDS``:
    :func:`~statecast.core.reconcile.status_diff.forecast_due`). A status that waits for
    the report of a copy the reconcile ``created`` is held (``STATECAST_STATUS_HOLD_SECONDS``:
    :func:`~statecast.core.reconcile.status_hold.plan_status_write`): the resource is
    queued for the hold's deadline, and the next reconcile writes the held fields with
    its own (:func:`statecast.controller.wave.write_status` releases them once written).
    """
    now = now or dt.datetime.now(dt.UTC)
    ref = (body.metadata.namespace or "", body.metadata.name or "")
    held, until = services.held.get(ref)
    decision = plan_status_write(
        body.get("status") or {},
        result.status,
        held=held,
        held_until=until,
        created=created,
        clock=services.held.clock(),
        hold_s=STATUS_HOLD_SECONDS,
        now=now,
        forecast_refresh_s=FORECAST_STATUS_SECONDS,
    )
    if decision.fields:
        patch.status.update(decision.fields)
    if decision.until is not None:
        services.held.hold(ref, decision.held, decision.until)
        services.wakeups.later(ref, max(0.0, decision.until - services.held.clock()))
    elif not decision.fields:
        services.held.release(ref)  # what was held is what the API server holds now
    predictive = ((body.get("spec") or {}).get("replication") or {}).get("policy") == "predictive"
    score = services.forecaster.score(ref) if predictive else None
    services.metrics.resource_seen(*ref, result.status, score)


def report_failure(
    services: Services, body: kopf.Body, patch: kopf.Patch, error: Exception, now: dt.datetime
) -> None:
    """Report a reconcile that raised: a condition, one Event per cause, a metric, one log.

    The traceback is logged the first time a cause is seen (then it is an Event and a
    counter, not a traceback every resync); the resync timer tries again.
    """
    namespace, name = body.metadata.namespace or "", body.metadata.name or ""
    what = f"{type(error).__name__}: {error}"
    services.metrics.reconcile_errors.labels(namespace=namespace, resource=name).inc()
    if services.events.due((namespace, name), "Warning", "ReconcileFailed", what, now.timestamp()):
        log.error(
            "event=reconcile-failed resource=%s/%s error=%s", namespace, name, what, exc_info=error
        )
        services.gateway.post_event(body, "Warning", "ReconcileFailed", what)
    else:
        log.debug("event=reconcile-failed resource=%s/%s error=%s", namespace, name, what)
    status = failed_status(
        body.get("status") or {}, int(body.metadata.get("generation") or 0), now, what
    )
    patch.status.update(status)
