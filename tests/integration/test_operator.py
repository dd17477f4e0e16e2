"""The operator against the real API server: spread replicas, Ready status, GC, columns."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kubernetes import client

from tests.integration.conftest import wait_for

GROUP, VERSION = "statecast.io", "v1alpha1"
ZONE = "topology.kubernetes.io/zone"
Kubectl = Callable[..., subprocess.CompletedProcess[str]]


def replicas_of(
    custom: client.CustomObjectsApi, namespace: str, resource: str
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = custom.list_namespaced_custom_object(
        GROUP, VERSION, namespace, "replicas", label_selector=f"statecast.io/resource={resource}"
    )["items"]
    return items


def act_as_agents(
    custom: client.CustomObjectsApi, namespace: str, replicas: list[dict[str, Any]]
) -> None:
    """Report each replica Ready, as the node agents do (they are tested on their own)."""
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
    custom.create_namespaced_custom_object(
        GROUP,
        VERSION,
        namespace,
        "sharedresources",
        {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "SharedResource",
            "metadata": {"name": "flags"},
            "spec": {"replicas": {"min": 2}},
        },
    )
    replicas = wait_for(
        lambda: (r := replicas_of(custom, namespace, "flags")) and len(r) == 2 and r,
        what="2 replicas",
    )
    zones = {core.read_node(r["spec"]["nodeName"]).metadata.labels[ZONE] for r in replicas}
    assert len(zones) == 2, "replicas are spread across zones"
    owner = replicas[0]["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["controller"]) == ("SharedResource", "flags", True)

    progressing = wait_for(
        lambda: (
            custom.get_namespaced_custom_object(
                GROUP, VERSION, namespace, "sharedresources", "flags"
            )
            .get("status", {})
            .get("ready")
            == "0/2"
            or None
        ),
        what="status 0/2",
    )
    assert progressing

    act_as_agents(custom, namespace, replicas)
    status = wait_for(
        lambda: (
            (
                s := custom.get_namespaced_custom_object(
                    GROUP, VERSION, namespace, "sharedresources", "flags"
                ).get("status", {})
            ).get("phase")
            == "Ready"
            and s
        ),
        what="phase Ready",
    )
    assert status["readyReplicas"] == 2
    assert status["observedGeneration"] == 1
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "True"

    table = kubectl("get", "sr", "-n", namespace).stdout.splitlines()
    assert table[0].split() == ["NAME", "CONSISTENCY", "READY", "HIT%", "LEADER", "AGE"]
    assert table[1].split()[:3] == ["flags", "eventual", "2/2"]

    events = core.list_namespaced_event(namespace, field_selector="involvedObject.name=flags").items
    assert any(e.reason == "ReplicaAdded" for e in events)

    custom.delete_namespaced_custom_object(
        GROUP, VERSION, namespace, "sharedresources", "flags", propagation_policy="Background"
    )
    wait_for(
        lambda: not replicas_of(custom, namespace, "flags"), what="garbage collection of replicas"
    )


def test_raising_min_adds_replicas_and_invalid_update_is_refused(
    api_client: client.ApiClient, namespace: str, operator: Path
) -> None:
    custom = client.CustomObjectsApi(api_client)
    custom.create_namespaced_custom_object(
        GROUP,
        VERSION,
        namespace,
        "sharedresources",
        {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "SharedResource",
            "metadata": {"name": "sessions"},
            "spec": {"replicas": {"min": 1}},
        },
    )
    wait_for(lambda: len(replicas_of(custom, namespace, "sessions")) == 1, what="1 replica")
    custom.patch_namespaced_custom_object(
        GROUP, VERSION, namespace, "sharedresources", "sessions", {"spec": {"replicas": {"min": 3}}}
    )
    replicas = wait_for(
        lambda: (r := replicas_of(custom, namespace, "sessions")) and len(r) == 3 and r,
        what="3 replicas",
    )
    assert len({r["spec"]["nodeName"] for r in replicas}) == 3
    status = wait_for(
        lambda: (
            (
                s := custom.get_namespaced_custom_object(
                    GROUP, VERSION, namespace, "sharedresources", "sessions"
                ).get("status", {})
            ).get("observedGeneration")
            == 2
            and s
        ),
        what="observedGeneration 2",
    )
    assert status["desiredReplicas"] == 3
