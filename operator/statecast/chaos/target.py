"""The cluster a chaos run acts on, and the faults it can inject there.

:func:`connect` looks at the current kubeconfig: when its API server is a dev cluster
of this machine (``statecast dev-cluster up --with-agents --with-operator``), the
target is a :class:`DevTarget`, which kills and restarts the agent and operator
processes, stops node heartbeats, mounts a tmpfs, skews an agent's clock and cuts the
network proxy; on any other cluster it is a :class:`KubeTarget`, which deletes agent and
operator pods and cordons nodes, and offers only the scenarios those make possible.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import yaml
from kubernetes import client, config

from statecast.api.lease import AGENT_LEASE_PREFIX as LEASE_PREFIX
from statecast.api.lease import ENDPOINT_ANNOTATION, ZONE_ANNOTATION, agent_lease_name
from statecast.devcluster import DevCluster, netproxy, processes
from statecast.devcluster.cluster import default_home
from statecast.devcluster.system import INSTALL_NAMESPACE, System, acting_peer

__all__ = ["DevTarget", "KubeTarget", "Target", "TargetError", "connect"]


class TargetError(RuntimeError):
    """The cluster cannot do what a scenario needs (bad input: exit 2)."""


class Target(Protocol):
    """What a scenario may do to the cluster."""

    api: client.ApiClient
    capabilities: frozenset[str]

    def agents(self) -> dict[str, str]:
        """Node -> URL of its agent, from the agents' Leases."""
        ...

    def zones(self) -> dict[str, str]:
        """Node -> zone."""
        ...

    def agent_renewed(self, node: str) -> datetime | None:
        """When the agent of ``node`` last renewed its Lease (None: no Lease, no renewal)."""
        ...

    def kill_agent(self, node: str) -> None:
        """Kill the agent of ``node`` at once (SIGKILL, or delete its pod)."""
        ...

    def start_agent(
        self, node: str, *, env: Mapping[str, str] | None = None, data_dir: Path | None = None
    ) -> None:
        """Start the agent of ``node`` again (as it was, or with ``env``/``data_dir``)."""
        ...

    def stop_agent(self, node: str) -> None:
        """Stop the agent of ``node`` gracefully (SIGTERM, as an eviction would)."""
        ...

    def set_heartbeat(self, node: str, *, running: bool) -> None:
        """Stop or restart ``node``'s heartbeat."""
        ...

    def pause_agent(self, node: str, *, paused: bool) -> None:
        """Stop (SIGSTOP) or resume (SIGCONT) the agent of ``node``: a frozen process."""
        ...

    def operators(self) -> list[str]:
        """The operator processes or pods."""
        ...

    def acting_operator(self) -> str | None:
        """The operator that acts now (from the peering object)."""
        ...

    def kill_operator(self, name: str) -> None:
        """Kill an operator at once."""
        ...

    def start_operator(self, name: str) -> None:
        """Start a killed operator again (a Deployment would)."""
        ...

    def cordon(self, node: str, *, on: bool) -> None:
        """Cordon or uncordon ``node``."""
        ...

    def agent_data_dir(self, node: str) -> Path | None:
        """The data directory of the agent of ``node`` (None when not on this machine)."""
        ...

    def partition(self, zones: set[str], *, cut: bool) -> int:
        """Cut (or heal) the network between the agents of ``zones`` and the others."""
        ...

    def isolate(self, nodes: set[str], *, cut: bool) -> int:
        """Cut (or heal) the network between the agents of ``nodes`` and the others."""
        ...


def _lease_agents(api: client.ApiClient, namespace: str) -> tuple[dict[str, str], dict[str, str]]:
    leases: list[Any] = client.CoordinationV1Api(api).list_namespaced_lease(namespace).items
    urls, zones = {}, {}
    for lease in leases:
        name = str(lease.metadata.name)
        if not name.startswith(LEASE_PREFIX):
            continue
        node = str(lease.spec.holder_identity or name.removeprefix(LEASE_PREFIX))
        notes = lease.metadata.annotations or {}
        if ENDPOINT_ANNOTATION in notes:
            urls[node] = notes[ENDPOINT_ANNOTATION]
            zones[node] = notes.get(ZONE_ANNOTATION, "")
    return urls, zones


def _renewed(api: client.ApiClient, namespace: str, node: str) -> datetime | None:
    """The ``renewTime`` of ``node``'s agent Lease (None: no such Lease or no renewal)."""
    try:
        lease: Any = client.CoordinationV1Api(api).read_namespaced_lease(
            agent_lease_name(node), namespace
        )
    except client.ApiException as err:
        if err.status == 404:
            return None
        raise
    renewed = lease.spec.renew_time if lease.spec is not None else None
    return renewed if isinstance(renewed, datetime) else None


def _cordon(api: client.ApiClient, node: str, on: bool) -> None:
    client.CoreV1Api(api).patch_node(node, {"spec": {"unschedulable": on}})


def _acting(api: client.ApiClient) -> str | None:
    with contextlib.suppress(client.ApiException):
        peering: Any = client.CustomObjectsApi(api).get_cluster_custom_object(
            "kopf.dev", "v1", "clusterkopfpeerings", "statecast"
        )
        return acting_peer(peering.get("status") or {}, datetime.now(UTC))
    return None


@dataclass
class DevTarget:
    """A dev cluster of this machine with statecast's processes (see ``System``)."""

    cluster: DevCluster
    system: System
    api: client.ApiClient
    agent_namespace: str = INSTALL_NAMESPACE
    capabilities: frozenset[str] = frozenset(
        {"agent-process", "heartbeat", "operator-process", "cordon", "tmpfs", "clock", "proxy"}
    )

    def _worker(self, node: str) -> str:
        for worker in self.system.workers():
            if worker.role == "agent" and worker.node == node and worker.group == "agent":
                return worker.name
        raise TargetError(f"no agent of node {node} was started by `dev-cluster up --with-agents`")

    def agents(self) -> dict[str, str]:
        """See :class:`Target`."""
        return _lease_agents(self.api, self.agent_namespace)[0]

    def zones(self) -> dict[str, str]:
        """See :class:`Target`."""
        return {n.name: n.zone for n in self.system.nodes()}

    def agent_renewed(self, node: str) -> datetime | None:
        """See :class:`Target`."""
        return _renewed(self.api, self.agent_namespace, node)

    def kill_agent(self, node: str) -> None:
        """See :class:`Target`."""
        self.system.kill(self._worker(node))

    def stop_agent(self, node: str) -> None:
        """See :class:`Target`."""
        self.system.stop([self._worker(node)])

    def start_agent(
        self, node: str, *, env: Mapping[str, str] | None = None, data_dir: Path | None = None
    ) -> None:
        """See :class:`Target`."""
        args = {"--data-dir": str(data_dir)} if data_dir is not None else None
        self.system.restart(self._worker(node), env=env, set_args=args)

    def set_heartbeat(self, node: str, *, running: bool) -> None:
        """See :class:`Target`."""
        self.cluster.set_heartbeat(node, running=running)

    def pause_agent(self, node: str, *, paused: bool) -> None:
        """See :class:`Target`."""
        self.system.kill(self._worker(node), signal.SIGSTOP if paused else signal.SIGCONT)

    def operators(self) -> list[str]:
        """See :class:`Target`."""
        return sorted(w.name for w in self.system.workers() if w.role == "operator")

    def acting_operator(self) -> str | None:
        """See :class:`Target`."""
        return _acting(self.api)

    def kill_operator(self, name: str) -> None:
        """See :class:`Target`."""
        self.system.kill(name)

    def start_operator(self, name: str) -> None:
        """See :class:`Target`."""
        self.system.restart(name)

    def cordon(self, node: str, *, on: bool) -> None:
        """See :class:`Target`."""
        _cordon(self.api, node, on)

    def agent_data_dir(self, node: str) -> Path | None:
        """See :class:`Target`."""
        worker = self._worker(node)
        return self.system.worker_arg(worker, "--data-dir")

    def partition(self, zones: set[str], *, cut: bool) -> int:
        """See :class:`Target`."""
        if self.system.pid(netproxy.PROCESS) is None:
            raise TargetError(
                "the agents talk directly: start them with "
                "`statecast dev-cluster up --with-agents --with-network-proxy`"
            )
        return netproxy.NetworkProxy(self.system).partition(self.system.nodes(), zones, cut=cut)

    def isolate(self, nodes: set[str], *, cut: bool) -> int:
        """See :class:`Target`."""
        if self.system.pid(netproxy.PROCESS) is None:
            raise TargetError(
                "the agents talk directly: start them with "
                "`statecast dev-cluster up --with-agents --with-network-proxy`"
            )
        return netproxy.NetworkProxy(self.system).isolate(self.system.nodes(), nodes, cut=cut)


@dataclass
class KubeTarget:
    """Any cluster with the chart installed: faults through the Kubernetes API."""

    api: client.ApiClient
    namespace: str = INSTALL_NAMESPACE
    capabilities: frozenset[str] = frozenset({"agent-pod", "operator-pod", "cordon"})

    def agents(self) -> dict[str, str]:
        """See :class:`Target`."""
        return _lease_agents(self.api, self.namespace)[0]

    def zones(self) -> dict[str, str]:
        """See :class:`Target`."""
        return _lease_agents(self.api, self.namespace)[1]

    def agent_renewed(self, node: str) -> datetime | None:
        """See :class:`Target`."""
        return _renewed(self.api, self.namespace, node)

    def _pods(self, app: str, node: str | None = None) -> list[Any]:
        selector = f"spec.nodeName={node}" if node else None
        return list(
            client.CoreV1Api(self.api)
            .list_namespaced_pod(
                self.namespace,
                label_selector=f"app.kubernetes.io/name={app}",
                field_selector=selector,
            )
            .items
        )

    def kill_agent(self, node: str) -> None:
        """See :class:`Target`."""
        for pod in self._pods("statecast-agent", node):
            client.CoreV1Api(self.api).delete_namespaced_pod(
                pod.metadata.name, self.namespace, grace_period_seconds=0
            )

    def stop_agent(self, node: str) -> None:
        """See :class:`Target`."""
        for pod in self._pods("statecast-agent", node):
            client.CoreV1Api(self.api).delete_namespaced_pod(pod.metadata.name, self.namespace)

    def start_agent(
        self, node: str, *, env: Mapping[str, str] | None = None, data_dir: Path | None = None
    ) -> None:
        """Nothing to do: the DaemonSet starts a new pod by itself."""

    def set_heartbeat(self, node: str, *, running: bool) -> None:
        """See :class:`Target`."""
        raise TargetError("stopping a node's heartbeat needs the dev cluster")

    def pause_agent(self, node: str, *, paused: bool) -> None:
        """See :class:`Target`."""
        raise TargetError("pausing an agent needs the dev cluster's agent processes")

    def operators(self) -> list[str]:
        """See :class:`Target`."""
        return sorted(p.metadata.name for p in self._pods("statecast-operator"))

    def acting_operator(self) -> str | None:
        """See :class:`Target`."""
        return _acting(self.api)

    def kill_operator(self, name: str) -> None:
        """See :class:`Target`."""
        client.CoreV1Api(self.api).delete_namespaced_pod(
            name, self.namespace, grace_period_seconds=0
        )

    def start_operator(self, name: str) -> None:
        """See :class:`Target`."""
        pass  # the Deployment starts a new pod by itself

    def cordon(self, node: str, *, on: bool) -> None:
        """See :class:`Target`."""
        _cordon(self.api, node, on)

    def agent_data_dir(self, node: str) -> Path | None:
        """See :class:`Target`."""
        return None

    def partition(self, zones: set[str], *, cut: bool) -> int:
        """See :class:`Target`."""
        raise TargetError("cutting the network between zones needs the dev cluster's proxy")

    def isolate(self, nodes: set[str], *, cut: bool) -> int:
        """See :class:`Target`."""
        raise TargetError("cutting the network between agents needs the dev cluster's proxy")


def _server_of(kubeconfig: Path) -> str | None:
    try:
        loaded = yaml.safe_load(kubeconfig.read_text())
        context = next(c for c in loaded["contexts"] if c["name"] == loaded["current-context"])
        cluster = next(c for c in loaded["clusters"] if c["name"] == context["context"]["cluster"])
        return str(cluster["cluster"]["server"]).rstrip("/")
    except (OSError, KeyError, StopIteration, TypeError, yaml.YAMLError):
        return None


def _dev_cluster_serving(server: str | None, home: Path | None = None) -> DevCluster | None:
    """The dev cluster whose running API server is ``server``.

    A stopped cluster keeps its ``cluster.json`` (and so its old ports) until it is
    purged, and a port it used may since have gone to another cluster: only a state
    directory whose ``kube-apiserver`` process runs can be the one serving.
    """
    home = home or default_home()
    if server is None or not home.is_dir():
        return None
    for state in sorted(home.iterdir()):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            ports = json.loads((state / "cluster.json").read_text()).get("ports", {})
            if not ports.get("apiserver") or server != f"https://127.0.0.1:{ports['apiserver']}":
                continue
            if processes.running_pid(state, "kube-apiserver") is not None:
                return DevCluster(state.name, home=home)
    return None


def connect(kubeconfig: Path | None = None) -> Target:
    """The target for ``kubeconfig`` (default: ``$KUBECONFIG`` or ``~/.kube/config``)."""
    path = kubeconfig or Path(os.environ.get("KUBECONFIG", str(Path.home() / ".kube" / "config")))
    if not path.exists():
        raise TargetError(f"no kubeconfig at {path}: set KUBECONFIG")
    api = config.new_client_from_config(config_file=str(path))
    cluster = _dev_cluster_serving(_server_of(path))
    if cluster is not None:
        system = cluster.system()
        if any(w.role == "agent" and w.pid for w in system.workers()):
            return DevTarget(cluster, system, api)
    return KubeTarget(api)
