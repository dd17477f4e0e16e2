"""Helpers to run the whole system live on a test cluster and break parts of it.

The agents and the operator run as real processes (``statecast agent``,
``statecast operator``) with the install manifests' ServiceAccounts; these helpers start
them, kill them with ``SIGKILL`` and start them again on the same port and data
directory, as a node's agent or the operator's pod would be restarted. They are shared
by the integration tests of failures (``test_live_*.py``) and meant for fault scenarios
built on top of them.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from kubernetes import client

from statecast.agent.launcher import free_port
from statecast.api.types import GROUP, VERSION

ZONE_LABEL = "topology.kubernetes.io/zone"


def healthy(url: str) -> bool:
    """Whether the agent at ``url`` answers ``/healthz``."""
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@dataclass
class AgentProcess:
    """One node's agent: its address, data directory and process (None while down)."""

    node: str
    ip: str
    port: int
    zone: str
    data_dir: Path
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The agent's URL."""
        return f"http://{self.ip}:{self.port}"


@dataclass
class AgentFleet:
    """An agent per node of the cluster, each of which can be killed and started again.

    Args:
        api_client: The test cluster.
        lease_namespace: Where the agents keep their Leases.
        kubeconfig: The agents' credentials (the chart's ServiceAccount).
        workdir: Data directories and logs.
        lease_seconds: The agents' Lease renewal period (the Lease lasts three): 2 s, the
            agents' default, so that a loaded test machine does not fail agents over.
    """

    api_client: client.ApiClient
    lease_namespace: str
    kubeconfig: Path
    workdir: Path
    lease_seconds: float = 2.0
    agents: dict[str, AgentProcess] = field(default_factory=dict)

    @property
    def urls(self) -> dict[str, str]:
        """Node -> agent URL."""
        return {node: agent.url for node, agent in self.agents.items()}

    def start_all(self) -> dict[str, str]:
        """Start an agent on every node (on the node's loopback InternalIP); wait for all."""
        core = client.CoreV1Api(self.api_client)
        for node in sorted(core.list_node().items, key=lambda n: n.metadata.name):
            name = node.metadata.name
            ip = next(a.address for a in node.status.addresses if a.type == "InternalIP")
            self.agents[name] = AgentProcess(
                node=name,
                ip=ip,
                port=free_port(ip),
                zone=(node.metadata.labels or {}).get(ZONE_LABEL, ""),
                data_dir=self.workdir / name,
                log=self.workdir / f"{name}.log",
            )
            self._spawn(self.agents[name])
        for agent in self.agents.values():
            self.wait_healthy(agent.node)
        return self.urls

    def _spawn(self, agent: AgentProcess) -> None:
        with agent.log.open("ab") as out:
            agent.process = subprocess.Popen(
                [
                    sys.executable, "-m", "statecast.agent",
                    "--node", agent.node, "--listen", f"{agent.ip}:{agent.port}",
                    "--advertise", agent.url, "--zone", agent.zone,
                    "--data-dir", str(agent.data_dir),
                    "--lease-namespace", self.lease_namespace,
                    "--lease-seconds", str(self.lease_seconds),
                    "--kubeconfig", str(self.kubeconfig),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )  # fmt: skip

    def wait_healthy(self, node: str, timeout: float = 60.0) -> None:
        """Wait until ``node``'s agent answers; fail if it exited."""
        agent = self.agents[node]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if agent.process is not None and agent.process.poll() is not None:
                raise AssertionError(f"agent {node} exited:\n{agent.log.read_text()[-3000:]}")
            if healthy(agent.url):
                return
            time.sleep(0.2)
        raise AssertionError(f"agent {node} not healthy after {timeout}s ({agent.log})")

    def kill(self, node: str) -> None:
        """``kill -9`` the agent of ``node`` (its files stay, its Lease expires)."""
        agent = self.agents[node]
        if agent.process is not None and agent.process.poll() is None:
            agent.process.send_signal(signal.SIGKILL)
            agent.process.wait(timeout=10)
        agent.process = None

    def start(self, node: str) -> None:
        """Start ``node``'s agent again: same port, same data directory."""
        self._spawn(self.agents[node])
        self.wait_healthy(node)

    def stop_all(self) -> None:
        """Stop every agent and delete their Leases (so an operator that outlives them
        does not see dead agents)."""
        for agent in self.agents.values():
            process = agent.process
            if process is None:
                continue
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
            if process.returncode not in (0, -15):
                print(agent.log.read_text()[-3000:], file=sys.stderr)
        coordination = client.CoordinationV1Api(self.api_client)
        for name in self.agents:
            with contextlib.suppress(client.ApiException):
                lease = f"statecast-agent-{name}"
                coordination.delete_namespaced_lease(lease, self.lease_namespace)


@contextlib.contextmanager
def agent_fleet(
    api_client: client.ApiClient, lease_namespace: str, kubeconfig: Path, workdir: Path
) -> Iterator[AgentFleet]:
    """An :class:`AgentFleet` started on every node, stopped when the block ends."""
    fleet = AgentFleet(api_client, lease_namespace, kubeconfig, workdir)
    try:
        fleet.start_all()
        yield fleet
    finally:
        fleet.stop_all()


@dataclass
class OperatorProcess:
    """The operator (``statecast operator``), which can be killed and started again.

    Args:
        kubeconfig: Its credentials (the chart's ServiceAccount).
        log: Its log file (appended to across restarts).
        env: Extra environment (e.g. shorter resync and sampling periods).
        args: Extra arguments of ``statecast operator``.
    """

    kubeconfig: Path
    log: Path
    env: dict[str, str] = field(default_factory=dict)
    args: tuple[str, ...] = ()
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    def start(self) -> None:
        """Start it; fail if it exits at once."""
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig), **self.env}
        with self.log.open("ab") as out:
            out.write(f"--- start {self.starts + 1} ---\n".encode())
            out.flush()
            self.process = subprocess.Popen(
                [sys.executable, "-m", "statecast.cli", "operator", *self.args],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )
        self.starts += 1
        time.sleep(2)
        if self.process.poll() is not None:
            raise AssertionError(f"the operator exited at start:\n{self.log.read_text()[-5000:]}")

    def kill(self) -> None:
        """``kill -9`` it (no clean shutdown: its last history save is the periodic one)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
        self.process = None

    def stop(self) -> None:
        """Stop it cleanly (SIGTERM: it saves the demand history first)."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.process = None

    def text(self) -> str:
        """Its log so far."""
        return self.log.read_text() if self.log.exists() else ""


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
