"""kopf handlers: observe, call the pure reconcile, apply, report.

Nodes and pods are kept in kopf indexes, SharedResources' bodies by their event
handler (:mod:`statecast.controller.resource_bodies`), the Replicas by a watch of
their own outside kopf (:mod:`statecast.controller.replica_watch`), the agents' Leases
are listed once a second (an agent that stopped renewing is treated like a NotReady
node: its copies are Lost and replaced). Every SharedResource is reconciled when it is
listed (the operator starts or resumes), added, or its spec changes (its generation
moved past the observed one: :func:`statecast.core.reconcile.due.event_due`), and when
something it depends on changes: one of its Replicas, a node, a consumer pod of its
namespace, the Lease of an agent holding a copy. All reconciles run in the woken
reconciles' threads (:mod:`statecast.controller.wakeups`, run by
:mod:`statecast.controller.woken`), off kopf's event loop and its workers; a safety
resync (``STATECAST_RESYNC_SECONDS``, 60 s by default) queues every resource once a
period, behind the woken ones, and also picks up new forecasts.

No kopf changing handler or timer is registered for SharedResources: kopf would PATCH
every resource for its own bookkeeping (a finalizer for a timer, the last-handled
configuration for create/update handlers), two writes per resource in a first pass over
a thousand resources that the reconcile did not need.

What the handlers share (gateway, sampler, forecaster, ...) is one
:class:`~statecast.controller.services.Services`, built by :func:`start_services` at
startup and kept in kopf's operator memo: every handler reaches it as ``memo.services``.
An embedding operator or a test may put its own there first.
"""

from __future__ import annotations

import asyncio
import contextvars
import datetime as dt
import logging
import os
import time
from concurrent.futures import Executor
from typing import Any, cast

import kopf
from prometheus_client import start_http_server

from statecast.api.types import GROUP, VERSION
from statecast.controller.kopf_diffbase import UnbuiltDiffBase
from statecast.controller.kopf_pause import KopfPause
from statecast.controller.observe import Indexes
from statecast.controller.replica_watch import ReplicaSource, ReplicaStore, ReplicaWatch
from statecast.controller.resource_bodies import ResourceBodies
from statecast.controller.services import Services
from statecast.controller.strong import lead
from statecast.controller.strong_standby import StandbyElections, StrongLister
from statecast.controller.urgent import UrgentChanges
from statecast.controller.warmup import WarmUp
from statecast.controller.wave import finish, plan, reconcile_wave
from statecast.controller.woken import WokenReconciles
from statecast.core.reconcile.due import event_due, spec_changed
from statecast.core.reconcile.views import NodeView, PodView, node_view, pod_view

log = logging.getLogger(__name__)
#: Seconds between two safety-net reconciles of a resource (changes wake it sooner).
RESYNC_SECONDS = float(os.environ.get("STATECAST_RESYNC_SECONDS", "60"))
#: Worker threads for every reconcile. 32 bought a first pass 15% more writes a second
#: from a saturated API server, each answered four times slower, and a woken resource
#: shares the process's CPU with every thread in a CPU phase: the queue's order (a spec
#: change first) holds only with few threads (docs/scale-history.md, session 7).
RECONCILE_THREADS = int(os.environ.get("STATECAST_RECONCILE_THREADS", "8"))
#: Workers that plan (observe and decide: the forecast's CPU) at once; the others wait
#: for a slot with the interpreter free for kopf's event loop. As many as the workers
#: by default: 2 showed no gain beyond the runs' noise at 1,000 resources, and a plan
#: may read a saved history (a GET) after a restart (docs/scale-history.md, session 8).
PLAN_SLOTS = int(os.environ.get("STATECAST_PLAN_SLOTS", str(RECONCILE_THREADS)))
#: Threads that create a reconcile's Replicas at once, and that read saved histories
#: (0: in the reconcile). Off by default: at 1,000 resources on a loaded API server the
#: extra concurrent requests met 429s and did not shorten the first pass (docs/scale.md).
IO_THREADS = int(os.environ.get("STATECAST_IO_THREADS", "0"))
#: Requests in flight at once for a batch of spec changes (:mod:`statecast.controller.urgent`).
URGENT_WRITES = int(os.environ.get("STATECAST_URGENT_WRITES", "4"))
#: Requests in flight at once for the resources an agent's lapse left short (their
#: Replica creations first, then their other writes: :mod:`statecast.controller.wave`).
WAVE_WRITES = int(os.environ.get("STATECAST_WAVE_WRITES", "16"))
SAMPLE_SECONDS = float(os.environ.get("STATECAST_SAMPLE_SECONDS", "10"))
#: The memo key of the (host, port) to serve ``/metrics`` on (None or absent: none).
METRICS_ADDRESS = "metrics_address"
#: The memo key of the :class:`~statecast.controller.sampling.CounterReader` to read the
#: agents' counters with (None or absent: their ``/v1/stats``).
COUNTER_READER = "counter_reader"
#: memo key: the certificates' settings when the agents speak mutual TLS (None: they do not).
TLS = "tls"
#: memo key: ``fixed`` or ``measured``, the latency between zones placement uses (absent: fixed).
LATENCY_SOURCE = "latency_source"
#: memo key: seconds a peer's record in the peering lives without a renewal.
PEERING_LIFETIME = "peering_lifetime"
#: memo key: the :class:`~statecast.controller.kopf_pause.KopfPause` of this process
#: (None or absent: kopf never pauses it, the operator always acts).
PAUSE = "kopf_pause"
#: memo key: the :class:`StandbyElections` of this process (failovers while kopf is paused).
STANDBY = "strong_standby"
#: memo key: the :class:`~statecast.controller.warmup.WarmUp` of this process.
WARM_UP = "warm_up"
#: memo key: the :class:`~statecast.controller.resource_bodies.ResourceBodies` of this process.
RESOURCE_BODIES = "resource_bodies"
#: memo key: the :class:`~statecast.controller.replica_watch.ReplicaStore` of this process.
REPLICAS = "replicas"
#: memo key: the :class:`~statecast.controller.replica_watch.ReplicaWatch` of this process.
REPLICA_WATCH = "replica_watch"
#: memo key: the namespaces this operator serves, as kopf was given them (absent: all).
NAMESPACES = "namespaces"
#: kopf's default is 60 s: a standby waited up to a minute for a killed operator's
#: record to lapse (a strong resource's failover waits for an operator that acts).
DEFAULT_PEERING_LIFETIME = 10
#: Seconds between the configuration master's passes over a strong resource: how soon a
#: leader whose agent's Lease lapsed is replaced (see statecast.controller.strong).
STRONG_SECONDS = 1.0


def services_of(memo: kopf.Memo) -> Services:
    """The services in a handler's memo.

    Raises:
        LookupError: none is there (the startup handler has not run).
    """
    services = memo.get("services")
    if not isinstance(services, Services):
        raise LookupError("memo.services is missing: statecast's startup handler did not run")
    return services


def standby_elections(
    services: Services, lister: StrongLister, memo: kopf.Memo
) -> StandbyElections:
    """This process's :class:`StandbyElections`: aside while kopf's peering lets it act.

    ``memo``'s :class:`KopfPause` says so (none there: kopf acts, standalone).
    """
    pause = memo.get(PAUSE)
    acting = pause.acting if isinstance(pause, KopfPause) else lambda: True
    return StandbyElections(services, lister, interval=STRONG_SECONDS, acting=acting)


@kopf.on.startup()
def start_services(memo: kopf.Memo, **kwargs: Any) -> None:
    """Build the services (unless the memo brings its own), start them, serve metrics."""
    if memo.get("services") is None:
        memo["services"] = Services.build(
            sample_seconds=SAMPLE_SECONDS,
            acting_window=max(15.0, 5 * RESYNC_SECONDS),
            reader=memo.get(COUNTER_READER),
            tls=memo.get(TLS),
            io_threads=IO_THREADS,
            latency_source=memo.get(LATENCY_SOURCE) or "fixed",
        )
    services = services_of(memo)
    services.start()
    _start_woken(services, memo, kwargs)
    _start_warm_up(services, memo)
    if memo.get(STANDBY) is None and isinstance(services.gateway, StrongLister):
        memo[STANDBY] = standby_elections(services, services.gateway, memo)
        memo[STANDBY].start()
    address = memo.get(METRICS_ADDRESS)
    if address is not None:
        host, port = address
        try:
            start_http_server(port, addr=host, registry=services.metrics.registry)
        except OSError as err:  # taken (a second operator on this host): run without
            log.warning("event=metrics-not-served address=%s:%d error=%s", host, port, err)
        else:
            log.info("event=metrics-served address=%s:%d", host, port)


@kopf.on.cleanup()
def stop_services(memo: kopf.Memo, **_: Any) -> None:
    """Stop the woken reconciles, the standby elections, the sampler; save the history."""
    urgent = memo.get("urgent")
    if isinstance(urgent, UrgentChanges):
        urgent.stop()
    woken = memo.get("woken")
    if isinstance(woken, WokenReconciles):
        woken.stop()
    watch = memo.get(REPLICA_WATCH)
    if isinstance(watch, ReplicaWatch):
        watch.stop()
    standby = memo.get(STANDBY)
    if isinstance(standby, StandbyElections):
        standby.stop()
    warm_up = memo.get(WARM_UP)
    if isinstance(warm_up, WarmUp):
        warm_up.stop()
    services_of(memo).stop()


def _start_warm_up(services: Services, memo: kopf.Memo) -> None:
    """Build what is costly and built on first use anyway, once ready and the first pass is over.

    (:mod:`statecast.controller.warmup`.) The acting operator is ready at kopf's first
    Node event (:func:`node_changed`), a standby once kopf paused it for a peer.
    """
    steps = services.warm_up_steps()
    if not steps or memo.get(WARM_UP) is not None:
        return
    pause = memo.get(PAUSE)
    warm_up = WarmUp(
        steps,
        ready=(lambda: pause.standing_by) if isinstance(pause, KopfPause) else (lambda: False),
        busy=services.wakeups.busy,
    )
    memo[WARM_UP] = warm_up
    warm_up.start()


def resource_bodies(memo: kopf.Memo) -> ResourceBodies:
    """The SharedResources' bodies :func:`resource_seen` keeps (made on first use)."""
    bodies = memo.get(RESOURCE_BODIES)
    if not isinstance(bodies, ResourceBodies):
        bodies = memo[RESOURCE_BODIES] = ResourceBodies()
    return bodies


def replica_store(memo: kopf.Memo) -> ReplicaStore:
    """The Replicas' :class:`ReplicaStore` of this process (made on first use)."""
    store = memo.get(REPLICAS)
    if not isinstance(store, ReplicaStore):
        store = memo[REPLICAS] = ReplicaStore()
    return store


def _start_replica_watch(services: Services, memo: kopf.Memo) -> ReplicaStore:
    """Watch the Replicas into :func:`replica_store`, once, when the gateway can list them."""
    store = replica_store(memo)
    gateway = services.gateway
    if memo.get(REPLICA_WATCH) is None and hasattr(gateway, "watch_replicas"):
        watch = ReplicaWatch(
            cast(ReplicaSource, gateway), store, services.wakeups, memo.get(NAMESPACES) or ()
        )
        memo[REPLICA_WATCH] = watch
        watch.start()
    return store


def _start_woken(services: Services, memo: kopf.Memo, kwargs: dict[str, Any]) -> None:
    """Run the woken reconciles and safety resyncs (kopf's indexes are live from startup on).

    They read each resource's body from :func:`resource_bodies` (kept by
    :func:`resource_seen`), the Replicas from :func:`replica_store` (once listed), the
    other objects from kopf's indexes.
    """
    if "node_index" not in kwargs or memo.get("woken") is not None:
        return
    store = _start_replica_watch(services, memo)
    indexes, resources = Indexes.of(kwargs, store), resource_bodies(memo)
    services.wakeups.plan_slots(PLAN_SLOTS)

    def listed() -> bool:  # a reconcile that saw none of the Replicas would place them again
        return "replica_index" in kwargs or store.wait_listed()

    def run(ref: tuple[str, str]) -> None:
        raw = resources.get(ref)
        if raw is None or not listed():
            return  # deleted meanwhile
        _reconcile_body(services, kopf.Body(cast(kopf.RawBody, raw)), indexes)

    def run_wave(refs: list[tuple[str, str]], writes: Executor, event: str) -> None:
        listed()
        raws = [resources.get(ref) for ref in refs]
        bodies = [  # deleted meanwhile: none
            kopf.Body(cast(kopf.RawBody, raw)) for raw in raws if raw is not None
        ]
        reconcile_wave(services, bodies, indexes, writes, woken.acting, event=event)

    def run_in_kopf_context(ref: tuple[str, str]) -> None:
        # kopf.event needs the context of kopf's resource handling (not the startup's).
        if woken.context is not None:
            woken.context.copy().run(run, ref)

    def wave_in_kopf_context(
        refs: list[tuple[str, str]], writes: Executor, event: str = "lapse-wave"
    ) -> None:
        if woken.context is not None:
            woken.context.copy().run(run_wave, refs, writes, event)
        else:
            for ref in refs:  # no kopf context yet: each with the workers, first
                services.wakeups.wake([ref], first=True)

    def batch_in_kopf_context(refs: list[tuple[str, str]], writes: Executor) -> None:
        wave_in_kopf_context(refs, writes, "spec-change-batch")

    pause = memo.get(PAUSE)
    woken = WokenReconciles(
        services.wakeups,
        services.liveness,
        run_in_kopf_context,
        acting=pause.acting if isinstance(pause, KopfPause) else lambda: True,
        resync_period=RESYNC_SECONDS,
        threads=RECONCILE_THREADS,
        run_wave=wave_in_kopf_context,
        wave_writes=WAVE_WRITES,
    )
    memo["woken"] = woken
    woken.start()
    urgent = UrgentChanges(
        services.wakeups, batch_in_kopf_context, acting=woken.acting, writes=URGENT_WRITES
    )
    memo["urgent"] = urgent
    urgent.start()


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    """Keep kopf's bookkeeping in annotations and make watches robust.

    The peering lifetime (``memo[PEERING_LIFETIME]``, default 10 s) bounds how long a
    standby waits after the acting operator died without a goodbye: kopf renews a
    record every lifetime minus 5-10 s (here every 1-5 s) and the standby resumes
    when the record's lifetime ran out.
    """
    settings.peering.lifetime = int(memo.get(PEERING_LIFETIME, DEFAULT_PEERING_LIFETIME))
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    # no changing handler reads kopf's diff base: none is built (a deep copy per event)
    settings.persistence.diffbase_storage = UnbuiltDiffBase(
        prefix=GROUP, key="last-handled-configuration"
    )
    settings.persistence.finalizer = f"{GROUP}/finalizer"
    # Events are posted explicitly (kopf.event) with reasons; kopf's own per-handler
    # messages would post one Event per timer run.
    settings.posting.level = logging.WARNING
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.networking.request_timeout = 30
    settings.execution.max_workers = 8


# The index and event handlers below are coroutines: kopf runs a plain function in its
# executor threads (a task, a thread hop and a future per call), for every event of
# every object - at 1,000 resources some 5,000 events in a first pass. They do no I/O
# and hold the Wakeups' lock for microseconds; what may wait on a lock held through a
# forecast (forgetting a deleted resource) goes to the executor.


@kopf.index("v1", "nodes")
async def node_index(body: kopf.Body, **_: Any) -> dict[str, NodeView]:
    """Nodes by name."""
    view = node_view(body)
    return {view.name: view}


@kopf.index("v1", "pods")
async def pod_index(body: kopf.Body, **_: Any) -> dict[str, PodView] | None:
    """Bound, unfinished pods by namespace: the possible consumers of resources."""
    view = pod_view(body)
    return {view.namespace: view} if view is not None else None


@kopf.on.event(GROUP, VERSION, "sharedresources")
async def resource_seen(body: kopf.Body, type: str | None, memo: kopf.Memo, **_: Any) -> None:
    """Know every resource; queue its reconcile when listed, added or its spec changed.

    Its body is kept first (:func:`resource_bodies`: what its reconciles read; not a
    kopf index, :mod:`statecast.controller.resource_bodies` says why). A spec change is
    reconciled at once in its own lane, ahead of every queued resource
    (:mod:`statecast.controller.urgent`). A deleted resource's demand
    history, forecasts and tuning are forgotten (its Replicas go by garbage collection).
    """
    services = services_of(memo)
    _adopt_context(memo)
    ref = (body.metadata.namespace or "", body.metadata.name or "")
    if type == "DELETED":
        resource_bodies(memo).gone(ref)
        await asyncio.get_running_loop().run_in_executor(None, services.forget, ref)
        return
    resource_bodies(memo).seen(body)
    services.wakeups.known(
        ref, _minimum(body), body.metadata.get("generation"), body.metadata.get("uid")
    )
    status = services.statuses.current(ref, body.get("status") or {})
    if not event_due(type, body.metadata, status):
        return
    urgent = memo.get("urgent")
    if type == "MODIFIED" and spec_changed(body.metadata, status):
        log.info(
            "event=spec-seen resource=%s/%s generation=%s",
            *ref, body.metadata.get("generation"),
        )  # fmt: skip
        if isinstance(urgent, UrgentChanges):
            urgent.changed(ref)  # at once, in the spec-change lane
            return
    services.wakeups.wake([ref], first=type == "MODIFIED")


def _minimum(body: kopf.Body) -> int:
    """The resource's ``replicas.min`` as its body says (the default, 2, if it says none)."""
    value = ((body.get("spec") or {}).get("replicas") or {}).get("min", 2)
    return value if isinstance(value, int) else 2


@kopf.on.event("v1", "nodes")
async def node_changed(body: kopf.Body, type: str | None, memo: kopf.Memo, **_: Any) -> None:
    """Wake every resource when a node changes as placement sees it (not on heartbeats)."""
    warm_up = memo.get(WARM_UP)
    if isinstance(warm_up, WarmUp):
        warm_up.ready()  # kopf delivers events once its indexes are populated
    wakeups = services_of(memo).wakeups
    view = None if type == "DELETED" else node_view(body)
    if wakeups.changed(("node", body.metadata.name), view):
        wakeups.wake_all()


@kopf.on.event("v1", "pods")
async def pod_changed(body: kopf.Body, type: str | None, memo: kopf.Memo, **_: Any) -> None:
    """Wake a namespace's resources when a possible consumer appears, moves or goes."""
    wakeups = services_of(memo).wakeups
    view = None if type == "DELETED" else pod_view(body)
    namespace = body.metadata.namespace or ""
    if wakeups.changed(("pod", namespace, body.metadata.name), view):
        wakeups.wake_namespace(namespace)


def _adopt_context(memo: kopf.Memo) -> None:
    """Give the woken reconciles the context kopf handles resources in, once."""
    woken = memo.get("woken")
    if isinstance(woken, WokenReconciles) and woken.context is None:
        woken.context = contextvars.copy_context()


def reconcile_resource(body: kopf.Body, memo: kopf.Memo, **kwargs: Any) -> None:
    """Reconcile one resource now, in the caller's thread (tests; an embedding operator).

    ``kwargs`` holds kopf's indexes as a handler receives them (``node_index``,
    optionally ``pod_index``), and a ``replica_index`` unless the memo's
    :func:`replica_store` is to be read.
    """
    services = services_of(memo)
    _adopt_context(memo)
    _reconcile_body(services, body, Indexes.of(kwargs, replica_store(memo)))


def _reconcile_body(services: Services, body: kopf.Body, indexes: Indexes) -> None:
    """Observe, reconcile, apply, report: one resource, never two at once.

    See :func:`statecast.controller.wave.reconcile_one`; a spec change's reconcile logs
    where its time went (``event=spec-reconcile``: waiting for the resource's lock,
    planning, writing; ``bench.change_anatomy`` joins it with the audit log).
    """
    ref = (body.metadata.namespace or "", body.metadata.name or "")
    asked = time.perf_counter()
    with services.wakeups.lock(ref):
        with services.wakeups.planning():  # a worker's CPU phase, a few at a time
            planned = plan(services, body, indexes)
        decided = time.perf_counter()
        finish(services, planned)
    if spec_changed(planned.body.metadata, planned.body.get("status") or {}):
        adds = planned.result.changes if planned.result is not None else ()
        log.info(
            "event=spec-reconcile resource=%s/%s generation=%s lock_s=%.3f plan_s=%.3f "
            "finish_s=%.3f adds=%d",
            *ref, body.metadata.get("generation"), planned.started - asked,
            decided - planned.started, time.perf_counter() - decided,
            sum(1 for c in adds if c.action == "add"),
        )  # fmt: skip


def _strong(spec: kopf.Spec, **_: Any) -> bool:
    return spec.get("consistency") == "strong"


@kopf.timer(GROUP, VERSION, "sharedresources", interval=STRONG_SECONDS, sharp=False, when=_strong)
def strong_leader(body: kopf.Body, memo: kopf.Memo, **kwargs: Any) -> None:
    """Keep a strong resource led: elect on leader loss or a membership step, fix roles."""
    standby = memo.get(STANDBY)
    if isinstance(standby, StandbyElections):
        standby.kopf_pass()  # kopf acts here: this process's standby thread stands aside
    store = replica_store(memo)
    if "replica_index" not in kwargs and not store.wait_listed(0):
        return  # the Replicas are not listed yet: the next run leads
    lead(services_of(memo), body, Indexes.of(kwargs, store), dt.datetime.now(dt.UTC))
