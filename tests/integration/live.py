"""Helpers to run the whole system live on a test cluster and break parts of it.

The agents and the operator run as real processes (``statecast agent``,
``statecast operator``, started by :class:`statecast.devcluster.system.System`) with
the install manifests' ServiceAccounts; these helpers kill an agent with ``SIGKILL`` and
start it again on the same port and data directory, as a node's agent would be
restarted. They are shared by the integration tests of failures (``test_live_*.py``).
"""

from __future__ import annotations

import contextlib
import signal
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from kubernetes import client, config

from statecast.api.lease import agent_lease_name
from statecast.api.types import GROUP, VERSION
from statecast.devcluster.system import System


def healthy(url: str) -> bool:
    """Whether the agent at ``url`` answers ``/healthz``."""
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@dataclass
class AgentFleet:
    """An agent per node of the cluster, each of which can be killed and started again.

    Args:
        system: The processes beside the test cluster.
        lease_namespace: Where the agents keep their Leases.
        kubeconfig: The agents' credentials (the chart's ServiceAccount).
        workdir: Their data directories.
        lease_seconds: The agents' Lease renewal period (the Lease lasts three): 2 s, the
            agents' default.
    """

    system: System
    lease_namespace: str
    kubeconfig: Path
    workdir: Path
    lease_seconds: float = 2.0
    group: str = field(default_factory=lambda: f"live-agents-{uuid.uuid4().hex[:8]}")
    urls: dict[str, str] = field(default_factory=dict)

    def start_all(self) -> dict[str, str]:
        """Start an agent on every node (on the node's InternalIP); wait for all."""
        self.urls = self.system.start_agents(
            group=self.group,
            lease_namespace=self.lease_namespace,
            port=None,
            lease_seconds=self.lease_seconds,
            kubeconfig=self.kubeconfig,
            data_root=self.workdir,
        )
        return self.urls

    def kill(self, node: str) -> None:
        """``kill -9`` the agent of ``node`` (its files stay, its Lease expires)."""
        self.system.kill(f"{self.group}-{node}")
        deadline = time.monotonic() + 10
        while self.system.pid(f"{self.group}-{node}") is not None:
            if time.monotonic() > deadline:
                raise AssertionError(f"the agent of {node} outlived SIGKILL")
            time.sleep(0.1)

    def freeze(self, node: str, frozen: bool = True) -> None:
        """Stop (``SIGSTOP``) or resume (``SIGCONT``) the agent of ``node``: a process
        that gets no CPU, as on a starved machine (it renews nothing, answers nothing)."""
        self.system.kill(f"{self.group}-{node}", signal.SIGSTOP if frozen else signal.SIGCONT)

    def start(self, node: str, timeout: float = 60.0) -> None:
        """Start ``node``'s agent again: same port, same data directory."""
        self.system.restart(f"{self.group}-{node}")
        deadline = time.monotonic() + timeout
        while not healthy(self.urls[node]):
            if time.monotonic() > deadline:
                log = self.system.log_path(f"{self.group}-{node}")
                raise AssertionError(f"agent {node} not healthy ({log})")
            time.sleep(0.2)

    def stop_all(self) -> None:
        """Stop every agent and delete their Leases (an operator that outlives them must
        not see dead agents)."""
        self.system.stop_group(self.group)
        api = config.new_client_from_config(config_file=str(self.system.kubeconfig))
        coordination = client.CoordinationV1Api(api)
        for node in self.urls:
            with contextlib.suppress(client.ApiException):
                coordination.delete_namespaced_lease(agent_lease_name(node), self.lease_namespace)


@contextlib.contextmanager
def agent_fleet(
    system: System, lease_namespace: str, kubeconfig: Path, workdir: Path
) -> Iterator[AgentFleet]:
    """An :class:`AgentFleet` started on every node, stopped when the block ends."""
    fleet = AgentFleet(system, lease_namespace, kubeconfig, workdir)
    try:
        fleet.start_all()
        yield fleet
    finally:
        fleet.stop_all()


def replicas_of(
    custom: client.CustomObjectsApi, namespace: str, resource: str
) -> dict[str, dict[str, Any]]:
    """Node -> the Replica object of ``resource`` there."""
    found = custom.list_namespaced_custom_object(
        GROUP, VERSION, namespace, "replicas", label_selector=f"statecast.io/resource={resource}"
    )
    return {item["spec"]["nodeName"]: item for item in found.get("items", [])}


def condition(status: dict[str, Any], type_: str) -> dict[str, Any]:
    """A condition of a status by type (empty if absent)."""
    return next((c for c in status.get("conditions") or [] if c.get("type") == type_), {})
