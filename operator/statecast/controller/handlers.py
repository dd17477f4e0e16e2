"""kopf handlers: observe, call the pure reconcile, apply, report.

Nodes and Replicas are kept in kopf indexes, the agents' Leases are listed at most once
a second (an agent that stopped renewing is treated like a NotReady node: its copies
are Lost and replaced); every SharedResource is reconciled
when it is created, when its spec changes, when the operator resumes, and on a short
timer so that replica status reported by agents and node changes reach it quickly.
Handlers are synchronous, so kopf runs them in its thread pool, off the event loop.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import time
from typing import Any

import kopf
from pydantic import ValidationError

from statecast.api.shared_resource import SharedResourceSpec
from statecast.api.types import GROUP, VERSION
from statecast.api.units import parse_duration
from statecast.controller import metrics
from statecast.controller.builders import build_replica, replica_name
from statecast.controller.forecasting import DemandForecaster
from statecast.controller.gateway import Gateway, KubeGateway
from statecast.controller.heat import HeatTracker
from statecast.controller.history_keeper import Activity, HistoryKeeper, Owner
from statecast.controller.observed import (
    AgentLease,
    NodeView,
    PodView,
    ReplicaView,
    agents_down,
    consumer_pods,
    node_view,
    pod_view,
    replica_view,
)
from statecast.controller.reconcile import change_event, reconcile
from statecast.controller.sampling import DemandSampler
from statecast.controller.selftuning import SelfTuner, tuning_enabled

log = logging.getLogger(__name__)
RESYNC_SECONDS = float(os.environ.get("STATECAST_RESYNC_SECONDS", "3"))
SAMPLE_SECONDS = float(os.environ.get("STATECAST_SAMPLE_SECONDS", "10"))
#: The window over which status.localHitRatio is computed.
HIT_WINDOW_SECONDS = 300.0
_gateway: Gateway | None = None


def gateway() -> Gateway:
    """The gateway in use (the real one unless :func:`use_gateway` set another)."""
    global _gateway
    if _gateway is None:
        _gateway = KubeGateway()
    return _gateway


def use_gateway(value: Gateway) -> None:
    """Make the handlers write through ``value`` (a test seam)."""
    global _gateway
    _gateway = value
    _liveness.forget()


class _AgentLiveness:
    """The agents' Leases, listed at most once a second for all handler threads."""

    def __init__(self, ttl: float = 1.0) -> None:
        self.ttl = ttl
        self._lock = threading.Lock()
        self._leases: list[AgentLease] = []
        self._fetched = float("-inf")

    def forget(self) -> None:
        with self._lock:
            self._leases, self._fetched = [], float("-inf")

    def current(self) -> list[AgentLease]:
        """The agents' Leases, listed again if the last list is older than ``ttl``."""
        with self._lock:
            if time.monotonic() - self._fetched >= self.ttl:
                try:
                    self._leases = gateway().agent_leases()
                except Exception as err:  # noqa: BLE001 - any API failure: keep what we knew
                    log.warning("event=agent-leases-unavailable error=%s", err)
                self._fetched = time.monotonic()
            return list(self._leases)

    def down(self, now: dt.datetime) -> frozenset[str]:
        """Nodes whose agent's Lease has expired (none known if the list fails)."""
        return agents_down(self.current(), now)


_liveness = _AgentLiveness()
#: Acting (not a paused peering standby) while reconciles keep coming.
_activity = Activity(window=max(15.0, 5 * RESYNC_SECONDS))
_sampler = DemandSampler(_liveness.current, period=SAMPLE_SECONDS, active=_activity.active)
_keeper = HistoryKeeper(_sampler, gateway, _activity)
_forecaster = DemandForecaster(_sampler)
_tuner = SelfTuner(_sampler)
_heat = HeatTracker(_sampler)


@kopf.on.startup()
def start_sampling(**_: Any) -> None:
    """Start reading the agents' access counters and saving the history in the background."""
    _sampler.start()
    _keeper.start()


@kopf.on.cleanup()
def stop_sampling(**_: Any) -> None:
    """Stop the sampler thread and save the demand history (while acting)."""
    _sampler.stop()
    _keeper.stop()  # saves the demand history once more


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    """Keep kopf's bookkeeping in annotations and make watches robust."""
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
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


@kopf.index("v1", "nodes")
def node_index(body: kopf.Body, **_: Any) -> dict[str, NodeView]:
    """Nodes by name."""
    view = node_view(body)
    return {view.name: view}


@kopf.index(GROUP, VERSION, "replicas")
def replica_index(body: kopf.Body, **_: Any) -> dict[tuple[str, str], ReplicaView]:
    """Replicas by (namespace, resource)."""
    view = replica_view(body)
    return {(view.namespace, view.resource): view}


@kopf.index("v1", "pods")
def pod_index(body: kopf.Body, **_: Any) -> dict[str, PodView] | None:
    """Bound, unfinished pods by namespace: the possible consumers of resources."""
    view = pod_view(body)
    return {view.namespace: view} if view is not None else None


def _reconcile(
    body: kopf.Body,
    patch: kopf.Patch,
    node_index: kopf.Index[str, NodeView],
    replica_index: kopf.Index[tuple[str, str], ReplicaView],
    pod_index: kopf.Index[str, PodView] | None = None,
) -> None:
    namespace, name = body.metadata.namespace or "", body.metadata.name or ""
    nodes = [view for store in node_index.values() for view in store]
    replicas = list(replica_index.get((namespace, name), []))
    pods = list(pod_index.get(namespace, [])) if pod_index is not None else []
    now = dt.datetime.now(dt.UTC)
    ref = (namespace, name)
    hit_ratio = _sampler.local_hit_ratio(ref, HIT_WINDOW_SECONDS, now.timestamp())
    demand, removed = None, None
    try:
        spec = SharedResourceSpec.model_validate(body.get("spec", {}))
    except ValidationError:
        spec = None  # the reconcile validates again and reports why
    if spec is not None:  # marks this operator acting; loads the history when first seen
        interval = parse_duration(spec.prediction.interval).total_seconds()
        _keeper.observe(Owner(namespace, name, body.metadata.uid or ""), interval)
    if spec is not None and spec.replication.policy == "predictive":
        consumers = consumer_pods(pods, name, spec.consumers.selector)
        demand = _forecaster.demand(ref, spec, [n.name for n in nodes], now, consumers)
        removed = _forecaster.recently_removed(ref, spec, now)
    heat, last_hot = None, None
    if spec is not None and spec.replication.policy == "reactive":
        heat, last_hot = _heat.heat(ref, now), _heat.last_hot(ref)
    tuning = None
    if spec is not None and tuning_enabled(spec) and demand is not None:
        tuning = _tuner.decide(ref, spec, (body.get("status") or {}).get("tuning"), replicas, now)
    elif spec is not None and not tuning_enabled(spec):
        _tuner.forget(ref)
    elsewhere: dict[str, int] = {}
    if spec is not None and spec.placement.max_bytes_per_node is not None:
        for other, store in replica_index.items():  # only when a limit asks for it
            if other != ref:
                for view in store:
                    elsewhere[view.node] = elsewhere.get(view.node, 0) + view.bytes
    result = reconcile(
        body,
        nodes,
        replicas,
        now=now,
        agents_down=_liveness.down(now),
        pods=pods,
        local_hit_ratio=hit_ratio,
        demand=demand,
        recently_removed=removed,
        bytes_elsewhere=elsewhere,
        spec=spec,
        tuning=tuning,
        heat=heat,
        last_hot=last_hot,
    )
    if result.last_hot is not None:
        _heat.remember(ref, result.last_hot)
    else:
        _heat.forget(ref)  # not reactive, or no window of demand yet
    for change in result.changes:
        if change.action == "add":
            applied = gateway().create_replica(
                build_replica(body, change.node, reason=change.reason)
            )
        else:
            applied = gateway().delete_replica(namespace, replica_name(name, change.node))
            if applied:
                _forecaster.removed(ref, change.node, now)
        if not applied:  # the index had not seen our own earlier write yet
            continue
        metrics.REPLICA_ACTIONS.labels(action=change.action, reason=change.reason).inc()
        log.info(
            "event=replica-%s resource=%s/%s node=%s reason=%s",
            change.action,
            namespace,
            name,
            change.node,
            change.reason,
        )
        event = change_event(change)
        gateway().post_event(body, event.type, event.reason, event.message)
    for lost in result.lost:
        gateway().mark_replica_lost(namespace, lost.name, lost.reason, lost.message)
    for event in result.events:
        gateway().post_event(body, event.type, event.reason, event.message)
    current = dict(body.get("status", {}))
    changed = {k: v for k, v in result.status.items() if current.get(k) != v}
    if changed:
        patch.status.update(changed)
    metrics.RESOURCE_PHASE.labels(namespace=namespace, resource=name).state(result.status["phase"])


@kopf.on.create(GROUP, VERSION, "sharedresources")
@kopf.on.update(GROUP, VERSION, "sharedresources", field="spec")
@kopf.on.resume(GROUP, VERSION, "sharedresources")
def on_change(
    body: kopf.Body,
    patch: kopf.Patch,
    **kwargs: Any,
) -> None:
    """Reconcile at once when a resource appears or its spec changes."""
    _reconcile(body, patch, kwargs["node_index"], kwargs["replica_index"], kwargs.get("pod_index"))


@kopf.on.delete(GROUP, VERSION, "sharedresources", optional=True)
def on_delete(body: kopf.Body, **_: Any) -> None:
    """Forget a deleted resource's demand history, forecasts and tuning (Replicas go by GC)."""
    _forecaster.forget((body.metadata.namespace or "", body.metadata.name or ""))
    _keeper.forget((body.metadata.namespace or "", body.metadata.name or ""))
    _tuner.forget((body.metadata.namespace or "", body.metadata.name or ""))
    _heat.forget((body.metadata.namespace or "", body.metadata.name or ""))


@kopf.timer(GROUP, VERSION, "sharedresources", interval=RESYNC_SECONDS, sharp=False)
def resync(
    body: kopf.Body,
    patch: kopf.Patch,
    **kwargs: Any,
) -> None:
    """Reconcile periodically: replica status and nodes change without touching the resource."""
    _reconcile(body, patch, kwargs["node_index"], kwargs["replica_index"], kwargs.get("pod_index"))
