"""The operator and real node agents together on the dev cluster: replicas made Ready by
the agents, seeded from the resource's source, and the Hit% the operator samples."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from kubernetes import client

from statecast.core.demand_codec import decode
from statecast.core.demand_series import DemandSnapshot
from statecast.devcluster.system import INSTALL_NAMESPACE, System
from tests.integration.conftest import (
    agent_processes,
    create_resource,
    status_of,
    wait_for,
)

GROUP, VERSION = "statecast.io", "v1alpha1"


@pytest.fixture
def cluster_agents(
    system: System,
    service_account_kubeconfig: Callable[[str], Path],
    operator: Path,
    tmp_path: Path,
) -> Iterator[dict[str, str]]:
    """An agent per node with its Lease where the operator looks (the install namespace)."""
    kubeconfig = service_account_kubeconfig("statecast-agent")
    with agent_processes(system, INSTALL_NAMESPACE, kubeconfig, tmp_path) as urls:
        yield urls


def test_agents_make_the_operators_replicas_ready_and_report_local_hits(
    api_client: client.ApiClient, namespace: str, cluster_agents: dict[str, str]
) -> None:
    custom = client.CustomObjectsApi(api_client)
    spec = {"replicas": {"min": 2}, "source": {"inline": {"beta": True}}}
    create_resource(custom, namespace, "flags", spec)
    status = wait_for(
        lambda: (s := status_of(custom, namespace, "flags")).get("phase") == "Ready" and s,
        what="flags Ready, its replicas made Ready by the agents",
    )
    holders = [r["node"] for r in status["replicas"]]
    outsider = next((n for n in sorted(cluster_agents) if n not in holders), None)
    assert outsider is not None, status  # 2 replicas of 4 nodes, unless an agent looked dead
    with httpx.Client(timeout=5) as http:
        for _ in range(4):  # 4 local reads on a holder, 1 forwarded from the outsider
            reply = http.get(f"{cluster_agents[holders[0]]}/v1/{namespace}/flags/beta")
            assert (reply.status_code, reply.json()) == (200, True)
        # An agent learns where a resource's copies are from the Replicas it watches; until
        # it has, it answers 503 (retryable), as clients are told to retry - never a 404.
        reply = wait_for(
            lambda: (
                (r := http.get(f"{cluster_agents[outsider]}/v1/{namespace}/flags/beta")).status_code
                != 503
                and r
            ),
            timeout=30,
            what="a read forwarded by an agent without a copy",
        )
        assert reply.status_code == 200, reply.text
        assert (reply.json(), reply.headers["Statecast-Served"]) == (True, "remote")
    status = wait_for(
        lambda: (s := status_of(custom, namespace, "flags")).get("hitPercent") == 80 and s,
        what="Hit% sampled from the agents",
    )
    assert status["localHitRatio"] == 0.8


def test_forecast_demand_on_a_node_brings_a_replica_there(
    api_client: client.ApiClient, namespace: str, cluster_agents: dict[str, str]
) -> None:
    custom = client.CustomObjectsApi(api_client)
    spec = {
        "replicas": {"min": 2},
        "prediction": {"interval": "5s", "horizon": "15s"},
        "source": {"inline": {"price": 10}},
    }
    create_resource(custom, namespace, "prices", spec)
    status = wait_for(
        lambda: (s := status_of(custom, namespace, "prices")).get("phase") == "Ready" and s,
        what="prices Ready",
    )
    holders = {r["node"] for r in status["replicas"]}
    busy = next(n for n in sorted(cluster_agents) if n not in holders)
    url = f"{cluster_agents[busy]}/v1/{namespace}/prices/price"
    wait_for(  # the seed reaches every replica by anti-entropy within a sync or two
        lambda: httpx.get(url, timeout=5).status_code == 200, what="the seeded price"
    )

    def predicted_on_busy_node() -> dict[str, Any] | None:
        with httpx.Client(timeout=5) as http:
            for _ in range(40):  # pods on the busy node keep reading, through forwarding
                http.get(url).raise_for_status()
        found = status_of(custom, namespace, "prices")
        replicas = {r["node"]: r for r in found.get("replicas", [])}
        placed = replicas.get(busy)
        return found if placed is not None and placed["reason"] == "predicted" else None

    status = wait_for(predicted_on_busy_node, timeout=120, what=f"a predicted replica on {busy}")
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["ForecastReady"]["status"] == "True"
    assert status["forecast"]["nodes"][0]["node"] == busy
    # the self-tuner starts its first window with the planner (weight 1, the spec's threshold)
    assert (status["tuning"]["costWeight"], status["tuning"]["deviationThreshold"]) == (1, 0.5)
    assert "windowStart" in status["tuning"]
    # the acting operator saves the demand history it sampled (every 3 s in these tests)
    history = wait_for(
        lambda: saved_history(api_client, namespace, "prices"), what="the saved demand history"
    )
    assert history.interval == 5.0
    assert busy in history.total.nodes


def saved_history(
    api_client: client.ApiClient, namespace: str, resource: str
) -> DemandSnapshot | None:
    """The demand history the operator saved for ``resource`` (None: not yet)."""
    try:
        found = client.CoreV1Api(api_client).read_namespaced_config_map(
            f"statecast-history-{resource}", namespace
        )
    except client.ApiException as err:
        if err.status == 404:
            return None
        raise
    return decode(base64.b64decode(found.binary_data["demand"]))
