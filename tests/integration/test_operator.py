"""The operator against the real API server: spread replicas, Ready status, GC, columns,
spec changes, and failover when a node's heartbeat or an agent's Lease stops."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from statecast.devcluster import DevCluster
from tests.integration.conftest import create_resource, status_of, wait_for

GROUP, VERSION = "statecast.io", "v1alpha1"
AGENT_NAMESPACE = "statecast-system"  # where the operator looks for agent Leases (default)
ZONE = "topology.kubernetes.io/zone"
Kubectl = Callable[..., subprocess.CompletedProcess[str]]


def replicas_of(
    custom: client.CustomObjectsApi, namespace: str, resource: str
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = custom.list_namespaced_custom_object(
        GROUP, VERSION, namespace, "replicas", label_selector=f"statecast.io/resource={resource}"
    )["items"]
    return items


def wait_for_replicas(
    custom: client.CustomObjectsApi, namespace: str, resource: str, count: int
) -> list[dict[str, Any]]:
    return wait_for(
        lambda: (r := replicas_of(custom, namespace, resource)) and len(r) == count and r,
        what=f"{count} replicas of {resource}",
    )


def wait_for_failover(
    custom: client.CustomObjectsApi, namespace: str, resource: str
) -> dict[str, Any]:
    """The first Replica of ``resource`` made with reason ``failover``."""
    return wait_for(
        lambda: next(
            (
                r
                for r in replicas_of(custom, namespace, resource)
                if r["spec"]["reason"] == "failover"
            ),
            None,
        ),
        what=f"a failover replica of {resource}",
    )


def ready_resource(
    custom: client.CustomObjectsApi, namespace: str, name: str
) -> list[dict[str, Any]]:
    """Create a resource of two replicas, report them Ready as agents would, wait for Ready."""
    create_resource(custom, namespace, name, {"replicas": {"min": 2}})
    replicas = wait_for_replicas(custom, namespace, name, 2)
    act_as_agents(custom, namespace, replicas)
    wait_for(lambda: status_of(custom, namespace, name).get("phase") == "Ready", what="Ready")
    return replicas


def wait_for_lost_copy(
    custom: client.CustomObjectsApi, namespace: str, resource: str, node: str
) -> None:
    """Wait until the resource's status reports its copy on ``node`` Lost (the status is
    patched just after the replacement is created)."""
    wait_for(
        lambda: (
            {r["node"]: r["phase"] for r in status_of(custom, namespace, resource)["replicas"]}.get(
                node
            )
            == "Lost"
        ),
        what=f"the copy on {node} reported Lost",
    )


def act_as_agents(
    custom: client.CustomObjectsApi, namespace: str, replicas: list[dict[str, Any]]
) -> None:
    """Report each replica Ready, as the node agents do (they have their own tests)."""
    for item in replicas:
        custom.patch_namespaced_custom_object_status(
            GROUP,
            VERSION,
            namespace,
            "replicas",
            item["metadata"]["name"],
            {"status": {"phase": "Ready", "bytes": 0, "versionVector": {}}},
        )


def test_shared_resource_gets_spread_replicas_ready_status_and_gc(
    api_client: client.ApiClient, namespace: str, operator: Path, kubectl: Kubectl
) -> None:
    custom = client.CustomObjectsApi(api_client)
    core = client.CoreV1Api(api_client)
    create_resource(custom, namespace, "flags", {"replicas": {"min": 2}})
    replicas = wait_for_replicas(custom, namespace, "flags", 2)
    zones = {core.read_node(r["spec"]["nodeName"]).metadata.labels[ZONE] for r in replicas}
    assert len(zones) == 2, "replicas are spread across zones"
    owner = replicas[0]["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["controller"]) == ("SharedResource", "flags", True)
    wait_for(lambda: status_of(custom, namespace, "flags").get("ready") == "0/2", what="0/2")

    act_as_agents(custom, namespace, replicas)
    status = wait_for(
        lambda: (s := status_of(custom, namespace, "flags")).get("phase") == "Ready" and s,
        what="phase Ready",
    )
    assert status["readyReplicas"] == 2
    assert status["observedGeneration"] == 1
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "True"

    table = kubectl("get", "sr", "-n", namespace).stdout.splitlines()
    assert table[0].split() == ["NAME", "CONSISTENCY", "READY", "HIT%", "LEADER", "AGE"]
    assert table[1].split()[:3] == ["flags", "eventual", "2/2"]

    events = core.list_namespaced_event(namespace, field_selector="involvedObject.name=flags")
    added = [e for e in events.items if e.reason == "ReplicaAdded"]
    assert added == [], "a new resource's first copies for its minimum post no Event (0874a48)"
    decision = status["lastDecision"]  # the status reports them instead
    assert (decision["action"], decision["reason"]) == ("add", "minimum"), decision
    assert decision["message"] == "2 to add, 0 to remove", decision

    custom.delete_namespaced_custom_object(
        GROUP, VERSION, namespace, "sharedresources", "flags", propagation_policy="Background"
    )
    wait_for(lambda: not replicas_of(custom, namespace, "flags"), what="garbage collection")


def test_raising_min_adds_replicas_and_invalid_update_is_refused(
    api_client: client.ApiClient, namespace: str, operator: Path
) -> None:
    custom = client.CustomObjectsApi(api_client)
    create_resource(custom, namespace, "sessions", {"replicas": {"min": 1}})
    wait_for_replicas(custom, namespace, "sessions", 1)
    custom.patch_namespaced_custom_object(
        GROUP, VERSION, namespace, "sharedresources", "sessions", {"spec": {"replicas": {"min": 3}}}
    )
    replicas = wait_for_replicas(custom, namespace, "sessions", 3)
    assert len({r["spec"]["nodeName"] for r in replicas}) == 3
    status = wait_for(
        lambda: (
            (s := status_of(custom, namespace, "sessions")).get("observedGeneration") == 2 and s
        ),
        what="observedGeneration 2",
    )
    assert status["desiredReplicas"] == 3

    with pytest.raises(ApiException) as err:
        custom.patch_namespaced_custom_object(
            GROUP,
            VERSION,
            namespace,
            "sharedresources",
            "sessions",
            {"spec": {"replicas": {"min": 5, "max": 2}}},
        )
    assert err.value.status == 422
    assert "replicas.min must be less than or equal" in json.loads(err.value.body)["message"]
    spec = custom.get_namespaced_custom_object(
        GROUP, VERSION, namespace, "sharedresources", "sessions"
    )["spec"]
    assert spec["replicas"] == {"min": 3}, "a refused update changes nothing"


def test_replica_on_a_lost_node_is_replaced_before_it_is_removed(
    api_client: client.ApiClient,
    namespace: str,
    operator: Path,
    dev_cluster: DevCluster | None,
) -> None:
    if dev_cluster is None:
        pytest.skip("stopping a node's heartbeat needs the dev cluster")
    custom = client.CustomObjectsApi(api_client)
    core = client.CoreV1Api(api_client)
    replicas = ready_resource(custom, namespace, "cache")
    lost = replicas[0]["spec"]["nodeName"]
    lost_zone = core.read_node(lost).metadata.labels[ZONE]
    dev_cluster.set_heartbeat(lost, running=False)
    try:
        wait_for(
            lambda: any(
                c.type == "Ready" and c.status != "True"
                for c in core.read_node(lost).status.conditions
            ),
            timeout=90,
            what=f"{lost} NotReady",
        )
        replacement = wait_for_failover(custom, namespace, "cache")
        wait_for_lost_copy(custom, namespace, "cache", lost)
        assert replacement["spec"]["nodeName"] != lost
        assert core.read_node(replacement["spec"]["nodeName"]).metadata.labels[ZONE] == lost_zone
        # the lost copy stays until its replacement is Ready
        assert lost in {r["spec"]["nodeName"] for r in replicas_of(custom, namespace, "cache")}
        act_as_agents(custom, namespace, [replacement])
        wait_for(
            lambda: (
                lost not in {r["spec"]["nodeName"] for r in replicas_of(custom, namespace, "cache")}
            ),
            what="removal of the lost replica",
        )
        wait_for(
            lambda: status_of(custom, namespace, "cache").get("phase") == "Ready", what="Ready"
        )
    finally:
        dev_cluster.set_heartbeat(lost, running=True)
        wait_for(
            lambda: any(
                c.type == "Ready" and c.status == "True"
                for c in core.read_node(lost).status.conditions
            ),
            timeout=90,
            what=f"{lost} Ready again",
        )


def test_replicas_of_an_agent_that_stops_renewing_its_lease_fail_over(
    api_client: client.ApiClient, namespace: str, operator: Path
) -> None:
    """The node stays Ready; only the agent's heartbeat (its Lease) stops."""
    custom = client.CustomObjectsApi(api_client)
    coordination = client.CoordinationV1Api(api_client)
    replicas = ready_resource(custom, namespace, "sessions")
    silent = replicas[0]["spec"]["nodeName"]
    lease_name = f"statecast-agent-{silent}"
    last_renewal = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=60)
    coordination.create_namespaced_lease(
        AGENT_NAMESPACE,
        {
            "metadata": {"name": lease_name},
            "spec": {
                "holderIdentity": silent,
                "leaseDurationSeconds": 6,
                "renewTime": last_renewal.isoformat().replace("+00:00", "Z"),
            },
        },
    )
    try:
        replacement = wait_for_failover(custom, namespace, "sessions")
        assert replacement["spec"]["nodeName"] != silent
        wait_for_lost_copy(custom, namespace, "sessions", silent)
        lost_replica = next(
            r["metadata"]["name"]
            for r in replicas_of(custom, namespace, "sessions")
            if r["spec"]["nodeName"] == silent
        )
        wait_for(
            lambda: (
                custom.get_namespaced_custom_object_status(
                    GROUP, VERSION, namespace, "replicas", lost_replica
                )
                .get("status", {})
                .get("phase")
                == "Lost"
            ),
            what=f"Replica {lost_replica} marked Lost",
        )
        act_as_agents(custom, namespace, [replacement])
        wait_for(
            lambda: (
                silent
                not in {r["spec"]["nodeName"] for r in replicas_of(custom, namespace, "sessions")}
            ),
            what="removal of the silent agent's replica",
        )
    finally:
        coordination.delete_namespaced_lease(lease_name, AGENT_NAMESPACE)


def test_a_pod_that_uses_a_resource_gets_a_replica_on_its_node_while_it_runs(
    api_client: client.ApiClient, namespace: str, operator: Path
) -> None:
    custom = client.CustomObjectsApi(api_client)
    core = client.CoreV1Api(api_client)
    create_resource(custom, namespace, "catalog", {"replicas": {"min": 1}})
    (first,) = wait_for_replicas(custom, namespace, "catalog", 1)
    act_as_agents(custom, namespace, [first])
    home = first["spec"]["nodeName"]
    elsewhere = sorted(n.metadata.name for n in core.list_node().items if n.metadata.name != home)[
        -1
    ]
    core.create_namespaced_pod(
        namespace,
        {
            "metadata": {"name": "web", "annotations": {"statecast.io/uses": "catalog"}},
            "spec": {
                "nodeName": elsewhere,  # bound, as the scheduler would
                "containers": [{"name": "web", "image": "registry.invalid/web:1"}],
            },
        },
    )
    replicas = wait_for_replicas(custom, namespace, "catalog", 2)
    local = next(r for r in replicas if r["spec"]["nodeName"] == elsewhere)
    assert local["spec"]["reason"] == "consumer"
    act_as_agents(custom, namespace, [local])
    core.delete_namespaced_pod("web", namespace, grace_period_seconds=0)
    remaining = wait_for_replicas(custom, namespace, "catalog", 1)
    assert remaining[0]["spec"]["nodeName"] == home
