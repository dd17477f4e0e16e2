"""The dev cluster: etcd, kube-apiserver, controllers, scheduler and KWOK on loopback.

``DevCluster(name).up(nodes=4, zones=2)`` starts (or finds running) every process,
writes an admin kubeconfig to ``<home>/<name>/kubeconfig`` and creates KWOK nodes
labelled with ``topology.kubernetes.io/zone``. ``down()`` stops everything it started.
Node ``i`` (1-based) gets the InternalIP ``127.0.1.i`` so that a node agent simulated
on this machine can listen on its node's address.

Errors: :class:`ClusterError` (from :mod:`statecast.devcluster`) when a process does
not come up in time; the message carries the tail of its log.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import ssl
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from statecast.devcluster import build, components, mounts, pki, processes
from statecast.devcluster.components import free_port, node_name
from statecast.devcluster.errors import ClusterError
from statecast.devcluster.system import System

ZONE_LABEL = "topology.kubernetes.io/zone"
KWOK_ANNOTATION = "kwok.x-k8s.io/node"
KWOK_MANAGED = "fake"
#: Control plane processes in start order; ``down`` stops them in reverse, last.
CONTROL_PLANE = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")
#: Without these the cluster's data and ports are gone and ``up`` starts afresh.
CORE = ("etcd", "kube-apiserver")


def _kwok_process(node: str) -> str:
    return f"kwok-{node}"


def default_home() -> Path:
    """Where clusters keep their state: ``$STATECAST_HOME/dev-cluster`` or ``~/.statecast/...``."""
    base = os.environ.get("STATECAST_HOME") or str(Path.home() / ".statecast")
    return Path(base) / "dev-cluster"


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def node_ip(index: int) -> str:
    """Loopback InternalIP of node ``index`` (1-based)."""
    return f"127.0.1.{index}"


def zone_name(index: int, zones: int) -> str:
    """Zone of node ``index`` (1-based) when nodes are dealt round-robin over ``zones``."""
    return f"zone-{chr(ord('a') + (index - 1) % zones)}"


@dataclass(frozen=True)
class ProcessStatus:
    """Whether one of the cluster's processes runs, and what it is.

    ``role`` is ``control-plane``, ``node-heartbeat`` (a node's KWOK), ``agent``,
    ``operator`` or ``proxy``; ``detail`` says more (an agent's node and URL, whether
    an operator acts or stands by).
    """

    name: str
    pid: int | None
    role: str = ""
    detail: str = ""


@dataclass(frozen=True)
class NodeStatus:
    """A node as the API server reports it."""

    name: str
    zone: str
    ready: str
    heartbeat: bool
    """Whether the node's KWOK (its simulated kubelet) runs."""


@dataclass(frozen=True)
class ClusterStatus:
    """What runs of a dev cluster."""

    name: str
    kubeconfig: Path
    server: str | None
    healthy: bool
    processes: tuple[ProcessStatus, ...]
    nodes: tuple[NodeStatus, ...]


class DevCluster:
    """A local control plane with simulated nodes, kept in ``<home>/<name>``."""

    def __init__(self, name: str = "statecast", home: Path | None = None) -> None:
        self.name = name
        self.state_dir = (home or default_home()) / name
        self.layout = components.Layout(self.state_dir)
        self.pki_dir = self.layout.pki_dir

    @property
    def kubeconfig(self) -> Path:
        """The admin kubeconfig (written by :meth:`up`)."""
        return self.state_dir / "kubeconfig"

    def system(self) -> System:
        """The agents and operators of statecast that run beside this cluster."""
        return System(self.state_dir, self.kubeconfig)

    # -- state ---------------------------------------------------------------------------

    def _config_file(self) -> Path:
        return self.state_dir / "cluster.json"

    def _load_config(self) -> dict[str, Any]:
        try:
            loaded: dict[str, Any] = json.loads(self._config_file().read_text())
            return loaded
        except (OSError, ValueError):
            return {}

    def _save_config(self, config: dict[str, Any]) -> None:
        self._config_file().write_text(json.dumps(config, indent=2))

    def server(self) -> str | None:
        """URL of the API server, once the cluster has been started."""
        port = self._load_config().get("ports", {}).get("apiserver")
        return f"https://127.0.0.1:{port}" if port else None

    # -- up ------------------------------------------------------------------------------

    def up(
        self,
        *,
        nodes: int = 3,
        zones: int = 2,
        timeout: float = 120.0,
        audit_policy: Path | None = None,
    ) -> None:
        """Start every process that is not running and make sure ``nodes`` nodes exist.

        A running cluster is kept (same ports, same data); nodes whose heartbeat was
        stopped with :meth:`set_heartbeat` stay stopped. ``audit_policy``: the API
        server, when started here, logs the requests it selects to ``audit.log`` in the
        state directory.
        """
        if nodes < 1 or zones < 1:
            raise ClusterError("need at least one node and one zone")
        build.build_all()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        pki.generate(self.pki_dir)
        config = self._load_config()
        core_running = all(processes.running_pid(self.state_dir, p) for p in CORE)
        if not core_running:
            self._stop_all()
            saved: dict[str, int] = config.get("ports", {})
            if saved and all(_port_is_free(p) for p in saved.values()):
                ports = saved
            else:
                # etcd's membership names its peer URL: new ports need a new data dir.
                shutil.rmtree(self.state_dir / "etcd", ignore_errors=True)
                ports = {k: free_port() for k in ("etcd", "etcd_peer", "apiserver")}
            config = {"ports": ports, "stopped": [], "nodes": config.get("nodes", 0)}
        config["nodes"] = max(nodes, int(config.get("nodes", 0)))
        config["zones"] = zones
        self._save_config(config)
        ports = config["ports"]
        server = f"https://127.0.0.1:{ports['apiserver']}"
        for identity in pki.IDENTITIES:
            pki.write_kubeconfig(
                self.state_dir / f"{identity.file_stem}.kubeconfig",
                server=server,
                pki_dir=self.pki_dir,
                identity=identity.file_stem,
            )
        shutil.copyfile(self.state_dir / "admin.kubeconfig", self.kubeconfig)
        self.kubeconfig.chmod(0o600)
        deadline = time.monotonic() + timeout
        self._start("etcd", components.etcd(self.layout, ports))
        self._wait_http("etcd", f"http://127.0.0.1:{ports['etcd']}/health", deadline)
        self._start("kube-apiserver", components.kube_apiserver(self.layout, ports, audit_policy))
        self._wait_http("kube-apiserver", f"{server}/readyz", deadline)
        self._start("kube-controller-manager", components.kube_controller_manager(self.layout))
        self._start("kube-scheduler", components.kube_scheduler(self.layout))
        for index in range(1, config["nodes"] + 1):
            if node_name(index) not in config["stopped"]:
                self._start(_kwok_process(node_name(index)), components.kwok(self.layout, index))
        self._ensure_nodes(config["nodes"], zones, set(config["stopped"]), deadline)

    def _start(self, name: str, argv: list[str]) -> None:
        if processes.running_pid(self.state_dir, name) is None:
            processes.start(self.state_dir, name, argv)

    def _ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.pki_dir / "ca.crt"))
        context.load_cert_chain(self.pki_dir / "admin.crt", self.pki_dir / "admin.key")
        return context

    def _get(self, url: str, timeout: float = 3.0) -> int:
        context = self._ssl_context() if url.startswith("https") else None
        try:
            with urllib.request.urlopen(url, timeout=timeout, context=context) as response:
                status: int = response.status
                return status
        except urllib.error.HTTPError as err:
            return err.code
        except (urllib.error.URLError, OSError):
            return 0

    def _wait_http(self, name: str, url: str, deadline: float) -> None:
        while time.monotonic() < deadline:
            if self._get(url) == 200:
                return
            if processes.running_pid(self.state_dir, name) is None:
                raise ClusterError(f"{name} exited:\n{processes.log_tail(self.state_dir, name)}")
            time.sleep(0.25)
        raise ClusterError(f"{name} not ready in time:\n{processes.log_tail(self.state_dir, name)}")

    # -- nodes ---------------------------------------------------------------------------

    def _core_api(self) -> Any:
        from kubernetes import client, config

        api_client = config.new_client_from_config(config_file=str(self.kubeconfig))
        return client.CoreV1Api(api_client)

    def _ensure_nodes(self, nodes: int, zones: int, stopped: set[str], deadline: float) -> None:
        from kubernetes.client.exceptions import ApiException

        core = self._core_api()
        for index in range(1, nodes + 1):
            body = {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {
                    "name": node_name(index),
                    "annotations": {KWOK_ANNOTATION: KWOK_MANAGED},
                    "labels": {
                        "kubernetes.io/hostname": node_name(index),
                        "kubernetes.io/os": "linux",
                        "kubernetes.io/arch": "amd64",
                        "type": "kwok",
                        ZONE_LABEL: zone_name(index, zones),
                        "topology.kubernetes.io/region": "local",
                    },
                },
                "status": {
                    "addresses": [
                        {"type": "InternalIP", "address": node_ip(index)},
                        {"type": "Hostname", "address": node_name(index)},
                    ]
                },
            }
            try:
                core.create_node(body)
            except ApiException as err:
                if err.status != 409:
                    raise
        while time.monotonic() < deadline:
            ready = {n.name for n in self.nodes() if n.ready == "True"}
            wanted = {node_name(i) for i in range(1, nodes + 1)} - stopped
            if wanted <= ready:
                return
            kwok = _kwok_process(node_name(1))
            if processes.running_pid(self.state_dir, kwok) is None:
                raise ClusterError(f"kwok exited:\n{processes.log_tail(self.state_dir, kwok)}")
            time.sleep(0.25)
        log_tail = processes.log_tail(self.state_dir, _kwok_process(node_name(1)))
        raise ClusterError(f"nodes not Ready in time:\n{log_tail}")

    def nodes(self) -> list[NodeStatus]:
        """The cluster's nodes with their zone and Ready condition."""
        result = []
        for node in self._core_api().list_node().items:
            conditions = {c.type: c.status for c in (node.status.conditions or [])}
            result.append(
                NodeStatus(
                    name=node.metadata.name,
                    zone=(node.metadata.labels or {}).get(ZONE_LABEL, ""),
                    ready=conditions.get("Ready", "Unknown"),
                    heartbeat=processes.running_pid(
                        self.state_dir, _kwok_process(node.metadata.name)
                    )
                    is not None,
                )
            )
        return sorted(result, key=lambda n: n.name)

    def set_heartbeat(self, node: str, *, running: bool) -> None:
        """Stop or restart a node's heartbeat (its KWOK: Lease renewals, status, pods).

        A stopped node's Lease expires and the node controller marks it NotReady after
        the node-monitor grace period, as it would for a lost machine.

        Raises:
            ClusterError: when the cluster has no such node.
        """
        config = self._load_config()
        names = [node_name(i) for i in range(1, int(config.get("nodes", 0)) + 1)]
        if node not in names:
            raise ClusterError(f"no node {node!r} in cluster {self.name!r} (nodes: {names})")
        stopped = set(config.get("stopped", []))
        if running:
            stopped.discard(node)
            self._start(_kwok_process(node), components.kwok(self.layout, names.index(node) + 1))
        else:
            stopped.add(node)
            processes.stop(self.state_dir, _kwok_process(node))
        config["stopped"] = sorted(stopped)
        self._save_config(config)

    # -- down / status -------------------------------------------------------------------

    def _stop_all(self) -> list[str]:
        """Stop what runs on the cluster (agents, operator, KWOK), then the control plane."""
        workers = [p for p in processes.recorded(self.state_dir) if p not in CONTROL_PLANE]
        return [
            name
            for name in [*workers, *reversed(CONTROL_PLANE)]
            if processes.stop(self.state_dir, name)
        ]

    def down(self, *, purge: bool = False) -> list[str]:
        """Stop every process of the cluster; with ``purge`` also delete its state.

        File systems mounted inside the state directory (a ``disk-full`` chaos run's
        tmpfs, left by an interrupted run) are unmounted before it is deleted.
        """
        stopped = self._stop_all()
        shutil.rmtree(self.state_dir / "workers", ignore_errors=True)
        if purge and self.state_dir.exists():
            mounts.unmount_under(self.state_dir)
            shutil.rmtree(self.state_dir)
        return stopped

    def status(self) -> ClusterStatus:
        """What runs, whether the API server is healthy, and the nodes."""
        server = self.server()
        healthy = bool(server and self.kubeconfig.exists() and self._get(f"{server}/readyz") == 200)
        procs = [
            ProcessStatus(name, processes.running_pid(self.state_dir, name), "control-plane")
            for name in CONTROL_PLANE
        ]
        workers = {w.name: w for w in self.system().workers()} if healthy else {}
        for name in sorted(set(processes.recorded(self.state_dir)) | set(workers)):
            if name in CONTROL_PLANE:
                continue
            pid = processes.running_pid(self.state_dir, name)
            worker = workers.get(name)
            if name.startswith("kwok-"):
                procs.append(ProcessStatus(name, pid, "node-heartbeat", name.removeprefix("kwok-")))
            elif worker is not None:
                where = " ".join(x for x in (worker.node, worker.zone, worker.url) if x)
                procs.append(ProcessStatus(name, pid, worker.role, worker.detail or where))
            else:
                procs.append(ProcessStatus(name, pid))
        return ClusterStatus(
            name=self.name,
            kubeconfig=self.kubeconfig,
            server=server,
            healthy=healthy,
            processes=tuple(procs),
            nodes=tuple(self.nodes()) if healthy else (),
        )
