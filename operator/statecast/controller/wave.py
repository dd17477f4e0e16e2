"""One reconcile in two halves, and a lapse's urgent resources reconciled as one wave.

A reconcile is :func:`plan` (observe and decide: CPU only, no request) then
:func:`finish` (the writes: Replicas, Lost marks, Events, the status).
:func:`reconcile_one` runs both for one resource, its writes one after the other.
:func:`reconcile_wave` runs them for the resources an agent's lapse left short
(:func:`statecast.core.reconcile.lapse.lapse_wave`): it plans them one after the other
on one load per node (each plan sees the copies the earlier ones placed:
:func:`~statecast.core.reconcile.lapse.load_after`), sends the creations that take
each out of risk to a bounded pool of writers as soon as its plan is made (the plan's
copies for demand wait: :func:`~statecast.core.reconcile.lapse.creations_ahead`), and
then finishes every resource in that pool. At 1,000 resources, with eight workers each writing a
resource's creations, Lost marks, Events and status one after the other, the last of
43 replacements came 29.5 s after the Lease lapsed (docs/scale.md).

Every resource is reconciled under its lock (:meth:`Wakeups.lock`), held from its plan
to its finish; the decisions are a single reconcile's, made with each resource's last
forecast as it is (not brought up to the last interval: at 1,000 resources a forecast
update or rebuild took 0.1-0.3 s, and nearly every plan of a wave had one). Each is
queued for an up-to-date reconcile after the wave. While the wave plans, the workers
start no other reconcile (:meth:`Wakeups.held`): theirs took the interpreter from the
wave's plans. An operator that stops acting mid-wave (kopf's peering: another acts now)
plans and writes nothing more; what it left is queued for its workers, which run only
while it acts.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field, replace
from typing import cast

import kopf

from statecast.api.types import Ref
from statecast.controller.apply import apply, apply_change, report, report_failure
from statecast.controller.observe import Indexes, observe
from statecast.controller.services import Services
from statecast.core.reconcile import ReconcileResult, reconcile
from statecast.core.reconcile.lapse import copies_left, creations_ahead, load_after
from statecast.core.reconcile.superseded import plan_superseded
from statecast.core.replica_set import ReplicaChange

__all__ = ["Plan", "finish", "plan", "reconcile_one", "reconcile_wave", "write_status"]

log = logging.getLogger(__name__)


@dataclass
class Plan:
    """One resource's decision, made and not yet written (see :func:`plan`)."""

    ref: Ref
    body: kopf.Body
    now: dt.datetime
    started: float
    """``time.perf_counter()`` when the reconcile started (its duration's metric)."""
    result: ReconcileResult | None = None
    error: Exception | None = None
    """Why no decision was made (reported by :func:`finish`)."""
    policy: str = "invalid"
    size: int = 0
    creations: list[tuple[ReplicaChange, Future[bool]]] = field(default_factory=list)
    """The creations sent ahead to a wave's writers (:func:`finish` makes the others)."""
    cpu: float = 0.0
    """CPU seconds the plan took (its thread's)."""
    superseded: bool = False
    """The resource's spec changed while it was planned: nothing is written (see
    :mod:`statecast.core.reconcile.superseded`)."""


def plan(
    services: Services,
    body: kopf.Body,
    indexes: Indexes,
    *,
    added: dict[str, tuple[int, int]] | None = None,
    writes: Executor | None = None,
    quick: bool = False,
) -> Plan:
    """Observe and decide for ``body`` (the caller holds its lock).

    ``body``'s status is read with this operator's own writes that it does not show yet
    (:class:`~statecast.controller.status_writes.StatusWrites`).

    Args:
        services: the operator's services.
        body: the resource, as kopf's index holds it.
        indexes: kopf's indexes.
        added: node -> (copies, bytes) the plans of the same wave placed there: the
            load this plan sees includes them, and its own are added. Without (a plan
            of its own), its copies count in the operator's node load at once
            (:meth:`NodeLoad.added <statecast.controller.services.NodeLoad.added>`).
        writes: where the creations that take the resource out of risk are sent at
            once (:func:`~statecast.core.reconcile.lapse.creations_ahead`); the plan's
            other creations are made by :func:`finish` (None: all of them).
        quick: with the resource's last forecast as it is (:func:`observe`).
    """
    ref = (body.metadata.namespace or "", body.metadata.name or "")
    services.wakeups.reconciled(ref)
    status = services.statuses.current(ref, body.get("status") or {})
    body = kopf.Body(cast(kopf.RawBody, {**body, "status": status}))
    now = dt.datetime.now(dt.UTC)
    planned, cpu = Plan(ref, body, now, time.perf_counter()), time.thread_time()
    try:
        observed = observe(services, body, indexes, now, quick=quick)
        if observed.spec is not None:
            planned.policy = observed.spec.replication.policy
        if added:
            observed = replace(observed, node_load=load_after(observed.node_load, added))
        planned.result = reconcile(observed)
        planned.size = max((r.bytes for r in observed.replicas), default=0)
    except Exception as err:  # noqa: BLE001 - reported by finish, as a reconcile's failure
        planned.error = err
        return planned
    latest, uid = services.wakeups.generation(ref), services.wakeups.uid(ref)
    if plan_superseded(body.metadata.get("generation"), latest, body.metadata.get("uid"), uid):
        log.info(
            "event=plan-superseded resource=%s/%s generation=%s latest=%s uid=%s latest_uid=%s",
            *ref, body.metadata.get("generation"), latest, body.metadata.get("uid"), uid,
        )  # fmt: skip
        planned.result, planned.superseded = None, True
        return planned
    adds = [c for c in planned.result.changes if c.action == "add"]
    for change in adds:
        if added is None:  # the next plans see it before the index does
            services.load.added(ref, change.node)
        else:
            count, size = added.get(change.node, (0, 0))
            added[change.node] = (count + 1, size + planned.size)
    if writes is not None and observed.spec is not None:
        gone = observed.agents_down | {n.name for n in observed.nodes if not n.ready}
        left = copies_left((r.node for r in observed.replicas), gone)
        ahead = creations_ahead(adds, left, observed.spec.replicas.min)
        context = contextvars.copy_context
        planned.creations = [
            (c, writes.submit(context().run, apply_change, services, body, c, observed.now))
            for c in ahead
        ]
    planned.cpu = time.thread_time() - cpu
    return planned


def finish(services: Services, planned: Plan) -> None:
    """Write ``planned``'s decision, report it, write the status.

    Creations sent ahead are waited for first. A failure anywhere is reported and the
    resource tried again soon.
    """
    ref, body = planned.ref, planned.body
    patch = kopf.Patch()
    try:
        if planned.superseded:  # its newer spec's event woke it: it runs again on that
            services.wakeups.wake([ref], first=True)
            return
        if planned.error is not None:
            raise planned.error
        assert planned.result is not None
        created = None
        if planned.creations:  # the plan's other creations now, then the rest of its writes
            sent = [c for c, _ in planned.creations]
            later = [c for c in planned.result.changes if c.action == "add" and c not in sent]
            created = [(c, f.result()) for c, f in planned.creations] + [
                (c, apply_change(services, body, c, planned.now)) for c in later
            ]
        apply(services, body, planned.result, planned.now, size=planned.size, created=created)
        adds = any(c.action == "add" for c in planned.result.changes)
        report(services, body, patch, planned.result, planned.now, created=adds)
        write_status(services, ref, patch)
        services.wakeups.succeeded(ref)
    except Exception as err:  # noqa: BLE001 - any failure is reported, never a traceback loop
        patch = kopf.Patch()
        report_failure(services, body, patch, err, planned.now)
        services.wakeups.failed(ref)  # tried again soon, not at the next safety resync
        write_status(services, ref, patch, quiet=True)
    finally:
        elapsed = time.perf_counter() - planned.started
        services.metrics.reconcile_seconds.labels(policy=planned.policy).observe(elapsed)


def reconcile_one(services: Services, body: kopf.Body, indexes: Indexes) -> None:
    """Observe, reconcile, apply, report: one resource, never two at once."""
    ref = (body.metadata.namespace or "", body.metadata.name or "")
    with services.wakeups.lock(ref):
        finish(services, plan(services, body, indexes))


def reconcile_wave(
    services: Services,
    bodies: Sequence[kopf.Body],
    indexes: Indexes,
    writes: Executor,
    acting: Callable[[], bool] = lambda: True,
    *,
    event: str = "lapse-wave",
) -> None:
    """Reconcile ``bodies`` as one wave (see the module doc), in the order given.

    ``event``: the name its log line goes by (``lapse-wave``: an agent's lapse;
    ``spec-change-batch``: the spec-change lane's, :mod:`statecast.controller.urgent`).

    ``acting``: whether this operator still acts (kopf's peering). Asked before each
    plan and each finish: once another operator acts, nothing more is planned or
    written (creations sent already go on); those left are queued first, for the
    workers, which run only while this operator acts. Returns once every resource's
    writes are done (their locks held until then).
    """
    started, cpu = time.perf_counter(), 0.0
    plans: list[Plan] = []
    left: list[Ref] = []
    with contextlib.ExitStack() as held:
        added: dict[str, tuple[int, int]] = {}
        with services.wakeups.held():  # the workers start nothing while the wave plans
            for body in bodies:
                ref = (body.metadata.namespace or "", body.metadata.name or "")
                if not acting():
                    left.append(ref)
                    continue
                held.enter_context(services.wakeups.lock(ref))
                plans.append(plan(services, body, indexes, added=added, writes=writes, quick=True))
                cpu += plans[-1].cpu
        planned = time.perf_counter() - started
        finishing = [
            (p, writes.submit(contextvars.copy_context().run, _finish_if, services, p, acting))
            for p in plans
        ]
        left += [p.ref for p, future in finishing if not future.result()]
    services.wakeups.wake(left, first=True)
    services.wakeups.wake([p.ref for p in plans])  # again, with their forecasts up to date
    log.info(
        "event=%s resources=%d planned=%d left=%d creations-ahead=%d copies-placed=%d "
        "plan-seconds=%.3f plan-cpu-seconds=%.3f seconds=%.3f",
        event, len(bodies), len(plans), len(left), sum(len(p.creations) for p in plans),
        sum(count for count, _ in added.values()), planned, cpu, time.perf_counter() - started,
    )  # fmt: skip


def _finish_if(services: Services, planned: Plan, acting: Callable[[], bool]) -> bool:
    """:func:`finish` ``planned`` if this operator still acts; whether it did."""
    if not acting():
        for _, future in planned.creations:  # sent already: wait, so the lock covers them
            future.exception()
        return False
    finish(services, planned)
    return True


def write_status(services: Services, ref: Ref, patch: kopf.Patch, *, quiet: bool = False) -> None:
    """Patch the status fields ``patch`` holds (none: no request); note them as written.

    The status is written here, under the resource's lock, and never left in kopf's
    patch: kopf applies a handler's patch after the handler returned, outside the lock,
    so a woken reconcile's newer status could land first and be overwritten by the
    handler's older one. ``quiet``: a failure to write is logged, not raised (a failed
    reconcile's report).
    """
    status = patch.get("status")
    if not status:
        return
    try:
        services.gateway.patch_status(ref[0], ref[1], dict(status))
    except Exception as err:  # the retry of the failed reconcile writes it
        if not quiet:
            raise
        log.warning("event=status-not-written resource=%s/%s error=%s", *ref, err)
        return
    services.statuses.wrote(ref, status)
    if not quiet:  # a reconcile's whole status: the fields it held are in it
        services.held.release(ref)
