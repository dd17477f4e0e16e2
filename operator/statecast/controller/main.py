"""Run the operator: kopf in module mode with peering, plus a metrics endpoint."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import kopf
from prometheus_client import start_http_server

from statecast.controller import handlers, metrics

PEERING_NAME = "statecast"


def run(
    *,
    namespaces: Sequence[str] = (),
    peering: str | None = PEERING_NAME,
    metrics_port: int | None = None,
    liveness_endpoint: str | None = None,
) -> None:
    """Run the operator until it is stopped (SIGINT/SIGTERM).

    Args:
        namespaces: namespaces to serve; empty means the whole cluster.
        peering: name of the ClusterKopfPeering (KopfPeering when namespaced) that the
            operator's replicas use to let only one of them act; None runs standalone.
        metrics_port: serve Prometheus metrics on this port when given.
        liveness_endpoint: kopf's liveness probe URL, e.g. ``http://0.0.0.0:8081/healthz``.
    """
    assert handlers  # the handlers register themselves with kopf on import
    if metrics_port is not None:
        start_http_server(metrics_port, registry=metrics.REGISTRY)
    logging.basicConfig(
        level=logging.INFO,
        format="time=%(asctime)s level=%(levelname)s logger=%(name)s %(message)s",
    )
    # kopf logs every successful timer run at INFO; keep its warnings and errors.
    logging.getLogger("kopf.objects").setLevel(logging.WARNING)
    asyncio.run(
        kopf.operator(
            clusterwide=not namespaces,
            namespaces=list(namespaces),
            standalone=peering is None,
            peering_name=peering,
            liveness_endpoint=liveness_endpoint,
        )
    )
