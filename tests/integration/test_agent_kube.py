"""Node agents against the real API server: one agent per KWOK node, Leases renewed,
Replica objects materialised and reported Ready with their true status."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from kubernetes import client

from statecast.agent.launcher import free_port
from statecast.controller.builders import build_replica
from tests.integration.conftest import wait_for

GROUP, VERSION = "statecast.io", "v1alpha1"
ZONE = "topology.kubernetes.io/zone"


def node_addresses(core: client.CoreV1Api) -> list[tuple[str, str, str]]:
    """(name, InternalIP, zone) of every node, by name."""
    found = []
    for node in core.list_node().items:
        ip = next(a.address for a in node.status.addresses if a.type == "InternalIP")
        found.append((node.metadata.name, ip, (node.metadata.labels or {}).get(ZONE, "")))
    return sorted(found)


@pytest.fixture
def agents(
    api_client: client.ApiClient,
    namespace: str,
    service_account_kubeconfig: Callable[[str], Path],
    tmp_path: Path,
) -> Iterator[dict[str, str]]:
    """An agent process per node (on the node's loopback InternalIP), each as the install
    manifests' agent ServiceAccount; node -> URL."""
    kubeconfig = service_account_kubeconfig("statecast-agent")
    core = client.CoreV1Api(api_client)
    urls: dict[str, str] = {}
    processes: list[tuple[subprocess.Popen[bytes], Path]] = []
    for name, ip, zone in node_addresses(core):
        port = free_port(ip)
        url = f"http://{ip}:{port}"
        log = tmp_path / f"{name}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [
                    sys.executable, "-m", "statecast.agent",
                    "--node", name, "--listen", f"{ip}:{port}", "--advertise", url,
                    "--zone", zone, "--data-dir", str(tmp_path / name),
                    "--lease-namespace", namespace, "--lease-seconds", "1",
                    "--kubeconfig", str(kubeconfig),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )  # fmt: skip
        processes.append((process, log))
        urls[name] = url
    try:
        for (process, log), url in zip(processes, urls.values(), strict=True):
            wait_for(
                lambda p=process, u=url: p.poll() is None and healthy(u),
                what=f"agent at {url} ({log})",
            )
        yield urls
    finally:
        for process, log in processes:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
            if process.returncode not in (0, -15):
                print(log.read_text()[-3000:], file=sys.stderr)


def healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def place(
    custom: client.CustomObjectsApi,
    namespace: str,
    name: str,
    spec: dict[str, Any],
    nodes: list[str],
) -> list[str]:
    """Create a SharedResource and its Replicas on ``nodes`` (as the operator would);
    return the Replicas' names."""
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "SharedResource",
        "metadata": {"name": name},
        "spec": spec,
    }
    resource = custom.create_namespaced_custom_object(
        GROUP, VERSION, namespace, "sharedresources", body
    )
    names = []
    for node in nodes:
        replica = build_replica(resource, node, reason="minimum")
        custom.create_namespaced_custom_object(GROUP, VERSION, namespace, "replicas", replica)
        names.append(replica["metadata"]["name"])
    return names


def replica_status(custom: client.CustomObjectsApi, namespace: str, name: str) -> dict[str, Any]:
    obj = custom.get_namespaced_custom_object(GROUP, VERSION, namespace, "replicas", name)
    status: dict[str, Any] = obj.get("status") or {}
    return status


def test_agents_renew_leases_and_make_their_replicas_ready(
    api_client: client.ApiClient, namespace: str, agents: dict[str, str]
) -> None:
    coordination = client.CoordinationV1Api(api_client)
    custom = client.CustomObjectsApi(api_client)
    nodes = sorted(agents)
    assert len(nodes) >= 3, "the dev cluster has at least three nodes"

    leases = {
        node: wait_for(
            lambda n=node: _read_lease(coordination, namespace, f"statecast-agent-{n}"),
            what=f"Lease of {node}",
        )
        for node in nodes
    }
    for node, lease in leases.items():
        assert lease.spec.holder_identity == node
        assert lease.metadata.annotations["statecast.io/endpoint"] == agents[node]
    first = leases[nodes[0]].spec.renew_time
    wait_for(
        lambda: (
            _read_lease(coordination, namespace, f"statecast-agent-{nodes[0]}").spec.renew_time
            > first
        ),
        what="a Lease renewal",
    )

    holders = nodes[:2]
    names = place(custom, namespace, "flags", {"replicas": {"min": 2}}, holders)

    for name in names:
        status = wait_for(
            lambda n=name: (
                (s := replica_status(custom, namespace, n)).get("phase") == "Ready" and s
            ),
            what=f"{name} Ready",
        )
        assert status["consistency"] == "eventual"
        assert status["conditions"][0]["status"] == "True"

    reply = httpx.put(f"{agents[holders[0]]}/v1/{namespace}/flags/beta", json={"on": True})
    assert reply.status_code == 200
    for name in names:
        status = wait_for(
            lambda n=name: (
                (s := replica_status(custom, namespace, n)).get("versionVector") == {holders[0]: 1}
                and s
            ),
            what=f"{name} reports the write in its version vector",
        )
        assert status["bytes"] == len("beta") + len(reply.request.content)
        assert status["phase"] == "Ready"
        assert datetime.fromisoformat(status["lastModified"].replace("Z", "+00:00"))

    outsider = nodes[2]
    reply = wait_for(
        lambda: (
            (r := httpx.get(f"{agents[outsider]}/v1/{namespace}/flags/beta", timeout=5)).status_code
            == 200
            and r
        ),
        what="a read forwarded from a node without a replica",
    )
    assert reply.json() == {"on": True}
    assert reply.headers["Statecast-Served"] == "remote"


def _read_lease(api: client.CoordinationV1Api, namespace: str, name: str) -> Any:
    try:
        return api.read_namespaced_lease(name, namespace)
    except client.ApiException as err:
        if err.status == 404:
            return None
        raise


def test_a_new_resource_is_seeded_from_its_configmap_on_every_first_replica(
    api_client: client.ApiClient, namespace: str, agents: dict[str, str]
) -> None:
    core = client.CoreV1Api(api_client)
    custom = client.CustomObjectsApi(api_client)
    core.create_namespaced_config_map(
        namespace, {"metadata": {"name": "defaults"}, "data": {"colour": "blue", "size": "L"}}
    )
    holders = sorted(agents)[:2]
    spec = {"replicas": {"min": 2}, "source": {"configMapRef": {"name": "defaults"}}}
    place(custom, namespace, "settings", spec, holders)
    for node in holders:
        reply = wait_for(
            lambda n=node: (
                (r := httpx.get(f"{agents[n]}/v1/{namespace}/settings", timeout=5)).status_code
                == 200
                and r.json()
                and r
            ),
            what=f"the seeded map on {node}",
        )
        assert reply.json() == {"colour": "blue", "size": "L"}
        assert reply.headers["Statecast-Served"] == "local"
    events = wait_for(
        lambda: [e for e in core.list_namespaced_event(namespace).items if e.reason == "Seeded"],
        what="Seeded events",
    )
    assert {e.involved_object.kind for e in events} == {"Replica"}
