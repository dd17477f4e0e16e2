"""Gathering what one reconcile reads: kopf's indexes and the services into an Observed.

:func:`observe` is the first step of every SharedResource handler: the nodes, the
resource's Replicas and its namespace's pods from kopf's indexes, the agents whose
Lease expired, the bytes other resources hold per node, and what the services know of
the resource's demand (:func:`demand_view`: hit ratio, forecast, heat, tuning).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import kopf
from pydantic import ValidationError

from statecast.api.shared_resource import SharedResourceSpec
from statecast.api.types import Ref
from statecast.api.units import parse_duration
from statecast.controller.history_keeper import Owner
from statecast.controller.services import Services, index_items
from statecast.core.reconcile import DemandView, Observed
from statecast.core.reconcile.removals import horizon, lost_removals, recently_removed
from statecast.core.reconcile.tuning import tuning_enabled
from statecast.core.reconcile.views import NodeView, PodView, ReplicaView, consumer_pods

__all__ = [
    "HIT_WINDOW_SECONDS",
    "Indexes",
    "consumers_lately",
    "demand_view",
    "heat_window_s",
    "observe",
]

#: The window over which status.localHitRatio is computed.
HIT_WINDOW_SECONDS = 300.0
#: How long the agents keep a removed copy's files (``STATECAST_AGENT_WARM_RETENTION``, the
#: chart's ``agent.warmRetention``; unset: 0, every copy priced in full): removals are
#: remembered that long, and a copy back within it is priced at the writes it missed.
WARM_RETENTION_S = parse_duration(
    os.environ.get("STATECAST_AGENT_WARM_RETENTION") or "0s"
).total_seconds()


@dataclass(frozen=True)
class Indexes:
    """What a reconcile reads: kopf's indexes (the handlers' ``@kopf.index``), the Replicas."""

    nodes: kopf.Index[str, NodeView]
    replicas: Mapping[Ref, Collection[ReplicaView]]
    pods: kopf.Index[str, PodView] | None = None

    @classmethod
    def of(
        cls, kwargs: dict[str, Any], replicas: Mapping[Ref, Collection[ReplicaView]] | None = None
    ) -> Indexes:
        """The indexes among a handler's keyword arguments, with the Replicas' ``replicas``.

        The Replicas are watched outside kopf (:mod:`statecast.controller.replica_watch`);
        a ``replica_index`` among ``kwargs`` (a test's, an embedding operator's) is read
        instead.
        """
        given = kwargs.get("replica_index", replicas)
        if given is None:
            raise LookupError("no Replicas to read: no replica_index, no ReplicaStore")
        return cls(kwargs["node_index"], given, kwargs.get("pod_index"))

    def bytes_elsewhere(self, ref: Ref) -> dict[str, int]:
        """Node -> bytes its agent holds for resources other than ``ref``."""
        elsewhere: dict[str, int] = {}
        for other, store in index_items(self.replicas):
            if other != ref:
                for view in store:
                    elsewhere[view.node] = elsewhere.get(view.node, 0) + view.bytes
        return elsewhere


def _valid_spec(body: kopf.Body) -> SharedResourceSpec | None:
    try:
        return SharedResourceSpec.model_validate(body.get("spec", {}))
    except ValidationError:
        return None  # the reconcile validates again and reports why


def observe(
    services: Services,
    body: kopf.Body,
    indexes: Indexes,
    now: dt.datetime,
    *,
    quick: bool = False,
) -> Observed:
    """Everything the reconcile of ``body`` reads, as of ``now``.

    ``quick``: with the last forecast made for the resource, not brought up to date
    (:meth:`DemandForecaster.demand`'s ``latest``: a lapse's wave).

    Marks the operator as acting and loads the resource's saved demand history the
    first time it is seen (:class:`~statecast.controller.history_keeper.HistoryKeeper`).
    """
    namespace, name = body.metadata.namespace or "", body.metadata.name or ""
    ref = (namespace, name)
    nodes = [view for store in indexes.nodes.values() for view in store]
    replicas = list(indexes.replicas.get(ref, []))
    pods = list(indexes.pods.get(namespace, [])) if indexes.pods is not None else []
    hit_ratio = services.sampler.local_hit_ratio(ref, HIT_WINDOW_SECONDS, now.timestamp())
    spec = _valid_spec(body)
    demand, elsewhere = DemandView(), {}
    if spec is not None:
        interval = parse_duration(spec.prediction.interval).total_seconds()
        reconciled = bool(body.get("status"))  # a first reconcile: nothing saved to read
        owner = Owner(namespace, name, body.metadata.uid or "", reconciled)
        services.keeper.observe(owner, interval)
        demand = demand_view(services, body, spec, nodes, replicas, pods, now, quick=quick)
        if spec.placement.max_bytes_per_node is not None:  # only when a limit asks for it
            elsewhere = indexes.bytes_elsewhere(ref)
    return Observed(
        body,
        nodes,
        replicas,
        now,
        pods=pods,
        agents_down=services.liveness.down(now),
        bytes_elsewhere=elsewhere,
        demand=replace(demand, local_hit_ratio=hit_ratio),
        spec=spec,
        node_load=services.load.of(ref, indexes.replicas, services.sampler.node_rates(), now),
    )


def demand_view(
    services: Services,
    body: kopf.Body,
    spec: SharedResourceSpec,
    nodes: Sequence[NodeView],
    replicas: Sequence[ReplicaView],
    pods: Sequence[PodView],
    now: dt.datetime,
    *,
    quick: bool = False,
) -> DemandView:
    """What the services know of the resource's demand, as its policy needs it.

    A predictive resource gets its forecast (the consumer pods per node are recorded as
    its leading signal), its recent removals, its heat and its shadow of the reactive
    rule (when each node was last hot: reactive's count is its budget), a reactive one
    its heat and when each node was last hot; the
    self-tuner decides where tuning is on, and forgets where off. The local hit ratio
    is left to the caller.
    """
    ref = (body.metadata.namespace or "", body.metadata.name or "")
    policy = spec.replication.policy
    forecast, removed, lost = None, {}, frozenset[str]()
    if policy == "predictive":
        consumers = consumer_pods(pods, ref[1], spec.consumers.selector)
        names = [n.name for n in nodes]
        forecast = services.forecaster.demand(ref, spec, names, now, consumers, latest=quick)
        remembered = services.forecaster.recently_removed(ref, spec, now, WARM_RETENTION_S)
        keep = horizon(spec, WARM_RETENTION_S)
        kept = recently_removed(body.get("status") or {}, now, keep)  # restarts too
        removed = {n: min(remembered.get(n, age), age) for n, age in {**remembered, **kept}.items()}
        status = body.get("status") or {}
        lost = services.forecaster.recently_lost(ref) | lost_removals(status, now, keep)
    heat, last_hot = None, {}
    # a predictive resource's default prices take reactive's threshold and count
    if policy == "reactive" or forecast is not None:
        heat = services.heat.heat(
            ref, now, heat_window_s(services, spec), spec.replication.heat.k_sigma
        )
        last_hot = services.heat.last_hot(ref)
    tuning = None
    if tuning_enabled(spec) and forecast is not None:
        saved = (body.get("status") or {}).get("tuning")
        tuning = services.tuner.decide(ref, spec, saved, replicas, now)
    elif not tuning_enabled(spec):
        services.tuner.forget(ref)
    latency = None
    if forecast is not None and services.latency is not None:
        latency = services.latency.model(nodes, spec.placement.spread_across, now.timestamp())
    lately = consumers_lately(services, ref, spec, nodes, now) if forecast else frozenset()
    return DemandView(
        None, forecast, removed, heat, last_hot, tuning, latency, WARM_RETENTION_S, lost, lately
    )


def consumers_lately(
    services: Services,
    ref: Ref,
    spec: SharedResourceSpec,
    nodes: Sequence[NodeView],
    now: dt.datetime,
) -> frozenset[str]:
    """Nodes a consumer pod of ``ref`` ran on within reactive's window and grace before now.

    From the demand history's pod counts (the forecaster records them each reconcile):
    what ``replication.planner.releasePodCopies`` reads (``PlanInput.consumers_left``, the
    nodes among them with no consumer now); empty when that knob is off.
    """
    if not spec.replication.planner.release_pod_copies:
        return frozenset()
    span = heat_window_s(services, spec) + parse_duration(spec.replication.cooldown).total_seconds()
    names = [n.name for n in nodes]
    ran = services.sampler.pod_matrix(ref, names, span, now.timestamp(), 1)
    return frozenset(name for name, pods in zip(names, ran[:, 0], strict=True) if pods > 0)


def heat_window_s(services: Services, spec: SharedResourceSpec) -> float:
    """The reactive rule's window: ``replication.heat.window``, else the tracker's."""
    window = spec.replication.heat.window
    return services.heat.window_s if window is None else parse_duration(window).total_seconds()
