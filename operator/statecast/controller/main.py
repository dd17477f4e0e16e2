"""Run the operator: kopf in module mode with peering, plus a metrics endpoint.

kopf pauses an operator while a peer of higher priority lives, and pauses *every*
operator when two share a priority; so each process takes a priority of its own from
its start time (:func:`peering_priority`): the oldest acts, the others stand by, and a
restarted pod does not take over from one that has been acting.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import kopf

from statecast.controller import handlers, readiness
from statecast.controller.heap import HeapTrimmer, limit_arenas
from statecast.controller.heap_profile import start_heap_profile
from statecast.controller.kopf_pause import KopfPause
from statecast.controller.sampling import CounterReader
from statecast.core.pki import PkiSettings

PEERING_NAME = "statecast"


def peering_priority(started: float) -> int:
    """The peering priority of an operator started at ``started`` (seconds since the epoch).

    Earlier starts get higher priorities (microseconds, so two pods never tie).
    """
    return -round(started * 1_000_000)


def run(
    *,
    namespaces: Sequence[str] = (),
    peering: str | None = PEERING_NAME,
    metrics_address: tuple[str, int] | None = None,
    liveness_endpoint: str | None = None,
    readiness_endpoint: str | None = None,
    priority: int | None = None,
    counter_reader: CounterReader | None = None,
    peering_lifetime: int = handlers.DEFAULT_PEERING_LIFETIME,
    tls: PkiSettings | None = None,
    latency_source: str = "fixed",
) -> None:
    """Run the operator until it is stopped (SIGINT/SIGTERM).

    Args:
        namespaces: namespaces to serve; empty means the whole cluster.
        peering: name of the ClusterKopfPeering (KopfPeering when namespaced) that the
            operator's replicas use to let only one of them act; None runs standalone.
        metrics_address: serve Prometheus metrics on this (host, port) when given.
        liveness_endpoint: kopf's liveness probe URL, e.g. ``http://0.0.0.0:8081/healthz``.
        readiness_endpoint: our readiness URL, e.g. ``http://0.0.0.0:8082/readyz``
            (:mod:`statecast.controller.readiness`).
        priority: peering priority (default: :func:`peering_priority` of now).
        counter_reader: where to read the agents' access counters (default: each
            agent's ``/v1/stats``; ``--metrics-source prometheus`` passes a
            :class:`~statecast.controller.prometheus_source.PrometheusReader`).
        peering_lifetime: seconds a peer's record lives without renewal: the longest a
            standby waits after the acting operator died without a goodbye.
        tls: issue the agents' certificates with these lifetimes and call the agents
            over mutual TLS (None: plain HTTP).
        latency_source: ``fixed`` or ``measured``: the latency between zones that
            placement is planned with (:mod:`statecast.controller.latency_source`).
    """
    assert handlers and readiness  # the handlers register themselves with kopf on import
    if priority is None:
        priority = peering_priority(time.time())
    # The startup handler builds the services into this memo and serves the metrics
    # of the operator it built on the port.
    memo = kopf.Memo(
        {
            handlers.METRICS_ADDRESS: metrics_address,
            handlers.COUNTER_READER: counter_reader,
            handlers.PEERING_LIFETIME: peering_lifetime,
            handlers.TLS: tls,
            handlers.LATENCY_SOURCE: latency_source,
            handlers.NAMESPACES: list(namespaces),
            # kopf starts an operator in a peering paused, until its first look at the peers
            handlers.PAUSE: KopfPause(paused=peering is not None).install(),
        }
    )
    if readiness_endpoint is not None:
        memo["readiness"] = readiness.Readiness(
            readiness_endpoint, priority, _peering_reader(peering, namespaces)
        )
    logging.basicConfig(
        level=logging.INFO,
        format="time=%(asctime)s level=%(levelname)s logger=%(name)s %(message)s",
    )
    # kopf logs every successful timer run at INFO; keep its warnings and errors.
    logging.getLogger("kopf.objects").setLevel(logging.WARNING)
    # httpx logs every request at INFO: the agents' /v1/stats every few seconds made most
    # of the operator's log. The sampler logs what matters (failures) itself.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    start_heap_profile()  # only with STATECAST_HEAP_PROFILE (profiling runs)
    limit_arenas()  # before kopf starts its threads (statecast.controller.heap)
    trimmer = HeapTrimmer()
    trimmer.start()
    try:
        asyncio.run(
            kopf.operator(
                clusterwide=not namespaces,
                namespaces=list(namespaces),
                standalone=peering is None,
                peering_name=peering,
                priority=priority,
                liveness_endpoint=liveness_endpoint,
                memo=memo,
            )
        )
    finally:
        trimmer.stop()


def _peering_reader(
    peering: str | None, namespaces: Sequence[str]
) -> Callable[[], Mapping[str, Any] | None]:
    """Reads the ``status`` of the peering object (the peers kopf records); None standalone."""
    if peering is None:
        return lambda: None
    from kubernetes import client, config

    try:
        config.load_incluster_config()
    except config.ConfigException:
        config.load_kube_config()
    api = client.CustomObjectsApi()

    def read() -> Mapping[str, Any] | None:
        if namespaces:
            body = api.get_namespaced_custom_object(
                "kopf.dev", "v1", namespaces[0], "kopfpeerings", peering
            )
        else:
            body = api.get_cluster_custom_object("kopf.dev", "v1", "clusterkopfpeerings", peering)
        status = body.get("status") if isinstance(body, Mapping) else None
        return status if isinstance(status, Mapping) else {}

    return read
