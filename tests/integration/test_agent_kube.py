"""Node agents against the real API server: one agent per KWOK node, Leases renewed,
Replica objects materialised and reported Ready with their true status."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from kubernetes import client

from statecast.controller.builders import build_replica
from statecast.core.crdt.replica_id import node_of
from statecast.devcluster.system import System
from tests.integration.conftest import agent_processes, wait_for

GROUP, VERSION = "statecast.io", "v1alpha1"


#: The session's operator (tests/integration/conftest.py's ``operator`` fixture), if an
#: earlier test file started it.
SESSION_OPERATOR = f"test-operator-{os.getpid()}-1"
#: A peer of kopf's peering that outranks it while these tests place Replicas themselves.
STAND_IN_PEER = "test-agent-kube"


def _peer(custom: client.CustomObjectsApi, record: dict[str, Any] | None) -> None:
    custom.patch_cluster_custom_object(
        "kopf.dev", "v1", "clusterkopfpeerings", "statecast", {"status": {STAND_IN_PEER: record}}
    )


@pytest.fixture
def no_operator_acts(api_client: client.ApiClient, system: System) -> Iterator[None]:
    """The session's operator, if it runs, stands by meanwhile (a peer of higher priority
    in its peering): these tests place the Replicas as an operator would, and one acting
    made the same Replicas first (409 AlreadyExists) when a test file that starts it ran
    before this one in the session."""
    if system.pid(SESSION_OPERATOR) is None:
        yield
        return
    custom = client.CustomObjectsApi(api_client)
    log = system.log_path(SESSION_OPERATOR)
    paused = log.read_text().count("Pausing operations in favour of")
    now = datetime.now(UTC).isoformat()
    _peer(custom, {"priority": 1_000_000, "lifetime": 900, "lastseen": now})
    try:
        wait_for(
            lambda: log.read_text().count("Pausing operations in favour of") > paused,
            timeout=60,
            what=f"the session's operator to stand by ({log})",
        )
        time.sleep(3)  # a reconcile under way finishes (controller/kopf_pause)
        yield
    finally:
        resumed = log.read_text().count("Resuming operations after the pause")
        _peer(custom, None)
        wait_for(
            lambda: log.read_text().count("Resuming operations after the pause") > resumed,
            timeout=60,
            what=f"the session's operator to act again ({log})",
        )


@pytest.fixture
def agents(
    system: System,
    namespace: str,
    service_account_kubeconfig: Callable[[str], Path],
    tmp_path: Path,
    no_operator_acts: None,
) -> Iterator[dict[str, str]]:
    """An agent process per node, as the agent ServiceAccount, Leases in the test's
    namespace; node -> URL. No operator acts meanwhile."""
    kubeconfig = service_account_kubeconfig("statecast-agent")
    with agent_processes(system, namespace, kubeconfig, tmp_path) as urls:
        yield urls


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
                _by_node((s := replica_status(custom, namespace, n)).get("versionVector"))
                == {holders[0]: 1}
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
                and r.headers["Statecast-Served"] == "local"  # once the replica is Ready
                and r
            ),
            what=f"the seeded map served by {node}'s own replica",
        )
        assert reply.json() == {"colour": "blue", "size": "L"}
    events = wait_for(
        lambda: [e for e in core.list_namespaced_event(namespace).items if e.reason == "Seeded"],
        what="Seeded events",
    )
    assert {e.involved_object.kind for e in events} == {"Replica"}


def test_agents_of_two_groups_on_the_same_nodes_only_see_their_own_group(
    api_client: client.ApiClient,
    namespace: str,
    system: System,
    service_account_kubeconfig: Callable[[str], Path],
    agents: dict[str, str],
    tmp_path: Path,
) -> None:
    """The fixtures' isolation: agents started for a test keep their Leases in the
    test's namespace, so a second group on the same nodes (other ports, another
    namespace) never takes them for peers, nor they it."""
    other_namespace = f"{namespace[:50]}-b"
    core = client.CoreV1Api(api_client)
    core.create_namespace({"metadata": {"name": other_namespace}})
    kubeconfig = service_account_kubeconfig("statecast-agent")
    try:
        with agent_processes(system, other_namespace, kubeconfig, tmp_path / "b") as others:
            assert set(others) == set(agents)
            assert not set(others.values()) & set(agents.values())
            for group in (agents, others):
                for node, url in group.items():
                    expected = {u for n, u in group.items() if n != node}
                    wait_for(
                        lambda u=url, e=expected: _peer_urls(u) == e,
                        what=f"{url} to know exactly the other agents of its group",
                    )
    finally:
        core.delete_namespace(other_namespace)


def _peer_urls(url: str) -> set[str]:
    reply = httpx.get(f"{url}/v1/agents", timeout=5).json()
    return {p["url"] for p in reply.get("peers", [])}


def _by_node(vector: dict[str, int] | None) -> dict[str, int]:
    """A version vector by node: a copy's events are its replica id's, ``<node>#<token>``."""
    return {node_of(origin): seq for origin, seq in (vector or {}).items()}
