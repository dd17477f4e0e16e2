"""The whole statecast system on a cluster, as local processes: install, agents, operators.

``System(state_dir, kubeconfig)`` runs statecast next to a cluster the way the chart
does inside one, so that the demo, the tests and ``statecast chaos`` all drive the same
thing:

- :meth:`System.install`: the agents' namespace, every CRD of
  ``manifests/install/crds.yaml`` (ours and kopf's peering CRDs) Established, the
  ``ClusterKopfPeering`` the operator uses, and the chart's ServiceAccounts,
  ClusterRoles and bindings;
- :meth:`System.token_kubeconfig`: a kubeconfig carrying a TokenRequest token of one
  of the chart's ServiceAccounts, so a permission the chart lacks fails here too;
- :meth:`System.start_agents`: one ``statecast agent`` per node, listening on the
  node's InternalIP (the dev cluster gives node ``i`` the address ``127.0.1.i``);
- :meth:`System.start_operators`: ``statecast operator`` processes in one peering;
  each gets ``POD_ID=<its name>``, kopf's identity, so the peering object tells which
  one acts;
- :meth:`System.workers`: every process with its pid and role; :meth:`System.kill`,
  :meth:`System.restart` and :meth:`System.stop` for the fault-injection harness.

The processes are recorded in ``<state_dir>/pids`` like the dev cluster's own (see
:mod:`statecast.devcluster.processes`), so ``DevCluster.down`` stops them as well;
what is needed to start one again is kept in ``<state_dir>/workers/<name>.json``.

Errors: :class:`~statecast.devcluster.errors.ClusterError` when kubectl fails or a
process does not come up in time (the message carries the tail of its log).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from statecast.devcluster import build, processes
from statecast.devcluster.errors import ClusterError

ROOT = Path(__file__).resolve().parents[3]
MANIFESTS = ROOT / "manifests" / "install"
#: The namespace of the chart: its ServiceAccounts and the agents' Leases live there.
INSTALL_NAMESPACE = "statecast-system"
PEERING_NAME = "statecast"
AGENT_PORT = 7420
ZONE_LABEL = "topology.kubernetes.io/zone"
OPERATOR_ACCOUNT = "statecast-operator"
AGENT_ACCOUNT = "statecast-agent"
#: The operator's settings on the dev cluster: resync every second, sample every two.
OPERATOR_ENV = {"STATECAST_RESYNC_SECONDS": "1", "STATECAST_SAMPLE_SECONDS": "2"}
_RBAC_KINDS = {
    "Namespace",
    "ServiceAccount",
    "ClusterRole",
    "ClusterRoleBinding",
    "Role",
    "RoleBinding",
}
_CRDS = (
    "crd/sharedresources.statecast.io",
    "crd/replicas.statecast.io",
    "crd/clusterkopfpeerings.kopf.dev",
    "crd/kopfpeerings.kopf.dev",
)


def not_established(listing: str, names: Sequence[str]) -> list[str]:
    """Which of the CRDs ``names`` are not ``Established`` in ``kubectl get -o json``'s output.

    A CRD missing from ``listing`` (not created yet, or kubectl answered nothing that
    parses), or whose conditions are absent or null, counts as not Established.
    """
    try:
        doc = json.loads(listing) if listing.strip() else {}
    except json.JSONDecodeError:
        doc = {}
    items = doc.get("items", [doc]) if isinstance(doc, dict) else []
    ready = set()
    for item in items:
        if not isinstance(item, dict):
            continue
        conditions = (item.get("status") or {}).get("conditions") or []
        if any(
            isinstance(c, dict) and c.get("type") == "Established" and c.get("status") == "True"
            for c in conditions
        ):
            ready.add((item.get("metadata") or {}).get("name"))
    return [name for name in names if name not in ready]


def kubectl_binary() -> str:
    """The dev cluster's kubectl when built, else the one on ``PATH``.

    Raises:
        ClusterError: There is neither.
    """
    cached = build.binary("kubectl")
    if cached.exists():
        return str(cached)
    found = shutil.which("kubectl")
    if not found:
        raise ClusterError("no kubectl: run `statecast dev-cluster build` or install kubectl")
    return found


@dataclass(frozen=True)
class NodeAddress:
    """Where a node's agent listens: the node's name, InternalIP and zone."""

    name: str
    ip: str
    zone: str


@dataclass(frozen=True)
class Worker:
    """One process of the system.

    Attributes:
        name: Process name (``agent-node-1``, ``operator-2``, ...).
        role: ``agent``, ``operator`` or ``proxy``.
        pid: Its pid while it runs, else None.
        node: The node of an agent.
        url: An agent's URL.
        zone: An agent's zone.
        group: Agents started together share a group (the process-name prefix).
        detail: More about its state (``acting``/``standby`` for an operator).
    """

    name: str
    role: str
    pid: int | None
    node: str | None = None
    url: str | None = None
    zone: str | None = None
    group: str | None = None
    detail: str = ""


@dataclass(frozen=True)
class _Record:
    """What starting a worker again needs (kept as JSON beside the pid files)."""

    role: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    node: str | None = None
    url: str | None = None
    zone: str | None = None
    group: str | None = None


def free_port(host: str) -> int:
    """A TCP port free on ``host`` right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def tls_agent_args(urls: Mapping[str, str], reload_seconds: float = 2.0) -> dict[str, list[str]]:
    """``statecast agent`` arguments for mutual TLS, per node.

    A peer listener on a free port of the node's address (for
    :meth:`System.start_agents`'s ``extra_args``).
    """
    found = {}
    for node, url in urls.items():
        host = url.rsplit("//", 1)[-1].rsplit(":", 1)[0]
        port = free_port(host)
        found[node] = [
            "--tls", "--peer-listen", f"{host}:{port}", "--peer-advertise",
            f"https://{host}:{port}", "--tls-reload-seconds", f"{reload_seconds:g}",
        ]  # fmt: skip
    return found


def _port_is_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=1) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


class System:
    """statecast's agents and operators as local processes beside one cluster.

    Args:
        state_dir: Where pids, logs, worker records, tokens and agent data go (the dev
            cluster's state directory, or any directory for another cluster).
        kubeconfig: An admin kubeconfig of the cluster.
        field_manager: The server-side apply field manager of :meth:`install`.
    """

    def __init__(
        self, state_dir: Path, kubeconfig: Path, *, field_manager: str = "statecast"
    ) -> None:
        self.state_dir = state_dir
        self.kubeconfig = kubeconfig
        self.field_manager = field_manager

    # -- kubectl -------------------------------------------------------------------------

    def kubectl(self, *args: str, stdin: str | None = None, check: bool = True) -> str:
        """Run kubectl against the cluster as admin; return its output.

        Raises:
            ClusterError: kubectl failed (with ``check``).
        """
        result = subprocess.run(
            [kubectl_binary(), f"--kubeconfig={self.kubeconfig}", *args],
            capture_output=True,
            text=True,
            input=stdin,
            check=False,
            timeout=120,
        )
        if check and result.returncode != 0:
            raise ClusterError(f"kubectl {' '.join(args)}: {result.stderr.strip()}")
        return result.stdout

    # -- install -------------------------------------------------------------------------

    def install_crds(self) -> None:
        """Every CRD of the install manifests, Established, and the peering object."""
        apply = (
            "apply",
            "--server-side",
            "--force-conflicts",
            f"--field-manager={self.field_manager}",
        )
        self.kubectl(*apply, "-f", str(MANIFESTS / "crds.yaml"))
        self.wait_established(_CRDS)
        peering = {
            "apiVersion": "kopf.dev/v1",
            "kind": "ClusterKopfPeering",
            "metadata": {"name": PEERING_NAME},
        }
        self.kubectl(*apply, "-f", "-", stdin=yaml.safe_dump(peering))

    def wait_established(self, crds: Sequence[str], timeout_s: float = 60.0) -> None:
        """Wait until every CRD of ``crds`` (``crd/<name>``) is ``Established``.

        Polled here rather than with ``kubectl wait --for=condition=Established``: for a
        CRD read before the API server wrote its first conditions (``status.conditions``
        null), kubectl fails at once (".status.conditions accessor error") instead of
        waiting - a fresh-clone CI run lost every integration test to it once.

        Raises:
            ClusterError: one is not Established after ``timeout_s`` seconds.
        """
        names = [crd.removeprefix("crd/") for crd in crds]
        deadline = time.monotonic() + timeout_s
        while True:
            out = self.kubectl("get", "crd", *names, "-o", "json", check=False)
            pending = not_established(out, names)
            if not pending:
                return
            if time.monotonic() >= deadline:
                raise ClusterError(
                    f"CRDs not Established after {timeout_s:g} s: {', '.join(pending)}"
                )
            time.sleep(0.2)

    def install_rbac(self) -> None:
        """The namespace, ServiceAccounts and (Cluster)Roles of the install manifests."""
        docs = yaml.safe_load_all((MANIFESTS / "statecast.yaml").read_text())
        wanted = [d for d in docs if isinstance(d, dict) and d.get("kind") in _RBAC_KINDS]
        self.kubectl(
            "apply", "--server-side", "--force-conflicts", f"--field-manager={self.field_manager}",
            "-f", "-", stdin=yaml.safe_dump_all(wanted),
        )  # fmt: skip

    def install(self) -> None:
        """CRDs, the peering object, the agents' namespace and the chart's RBAC."""
        self.install_crds()
        self.install_rbac()

    def token_kubeconfig(
        self, account: str, *, hours: int = 24, bound_pod: str = "", file_name: str = ""
    ) -> Path:
        """A kubeconfig authenticating as ServiceAccount ``account`` of the chart.

        The token comes from the TokenRequest API (``kubectl create token``), valid for
        ``hours`` (and, with ``bound_pod``, while that Pod of the install namespace
        exists); the file (``file_name``, default the account) is written again on
        every call.
        """
        bound = ["--bound-object-kind=Pod", f"--bound-object-name={bound_pod}"] if bound_pod else []
        token = self.kubectl(
            "create", "token", account, "-n", INSTALL_NAMESPACE, f"--duration={hours}h", *bound
        ).strip()
        admin = yaml.safe_load(self.kubeconfig.read_text())
        context = next(c for c in admin["contexts"] if c["name"] == admin["current-context"])
        cluster = next(c for c in admin["clusters"] if c["name"] == context["context"]["cluster"])
        own = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [cluster],
            "users": [{"name": account, "user": {"token": token}}],
            "contexts": [
                {"name": account, "context": {"cluster": cluster["name"], "user": account}}
            ],
            "current-context": account,
        }
        path = self.state_dir / "tokens" / f"{file_name or account}.kubeconfig"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(own))
        path.chmod(0o600)
        return path

    def node_token_kubeconfigs(
        self, account: str, nodes: Iterable[str], *, hours: int = 24
    ) -> dict[str, Path]:
        """Per node, a kubeconfig with a token of ``account`` bound to a Pod on that node.

        As a DaemonSet's pod gets: the API server puts the Pod's node into what it knows
        of the token's user (``authentication.kubernetes.io/node-name``), which is how
        the operator tells which node an agent's certificate request comes from. The
        Pod, ``<account>-<node>`` in the install namespace, is made here when missing
        (KWOK runs it); the token lasts ``hours`` or until the Pod is deleted.
        """
        made: dict[str, Path] = {}
        for node in nodes:
            pod = f"{account}-{node}"
            manifest = {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": pod,
                    "namespace": INSTALL_NAMESPACE,
                    "labels": {"app.kubernetes.io/name": "statecast-token-holder"},
                },
                "spec": {
                    "nodeName": node,
                    "serviceAccountName": account,
                    "automountServiceAccountToken": False,
                    "tolerations": [{"operator": "Exists"}],
                    "containers": [{"name": "agent", "image": "statecast:dev"}],
                },
            }
            self.kubectl("apply", "-f", "-", stdin=json.dumps(manifest))
            made[node] = self.token_kubeconfig(
                account, hours=hours, bound_pod=pod, file_name=f"{account}-{node}"
            )
        return made

    # -- nodes ---------------------------------------------------------------------------

    def nodes(self) -> list[NodeAddress]:
        """Every node with its InternalIP and zone, by name."""
        out = json.loads(self.kubectl("get", "nodes", "-o", "json"))
        found = []
        for node in out["items"]:
            addresses = node.get("status", {}).get("addresses", [])
            ip = next((a["address"] for a in addresses if a["type"] == "InternalIP"), None)
            if ip is None:
                continue
            zone = (node["metadata"].get("labels") or {}).get(ZONE_LABEL, "")
            found.append(NodeAddress(node["metadata"]["name"], ip, zone))
        return sorted(found, key=lambda n: n.name)

    # -- workers -------------------------------------------------------------------------

    def _record_file(self, name: str) -> Path:
        return self.state_dir / "workers" / f"{name}.json"

    def _record(self, name: str) -> _Record | None:
        try:
            return _Record(**json.loads(self._record_file(name).read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def _launch(self, name: str, record: _Record) -> int:
        path = self._record_file(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(record.__dict__, indent=2))
        env = {"PYTHONUNBUFFERED": "1", **record.env}
        return processes.start(self.state_dir, name, record.argv, env=env)

    def pid(self, name: str) -> int | None:
        """The pid of worker ``name`` while it runs."""
        return processes.running_pid(self.state_dir, name)

    def log_path(self, name: str) -> Path:
        """Worker ``name``'s log file."""
        return self.state_dir / "logs" / f"{name}.log"

    def start_agents(
        self,
        *,
        group: str = "agent",
        lease_namespace: str = INSTALL_NAMESPACE,
        port: int | None = AGENT_PORT,
        lease_seconds: float = 2.0,
        kubeconfig: Path | Mapping[str, Path] | None = None,
        data_root: Path | None = None,
        extra_args: Mapping[str, Sequence[str]]
        | Callable[[dict[str, str]], Mapping[str, Sequence[str]]]
        | None = None,
        nodes: Iterable[NodeAddress] | None = None,
        timeout: float = 60.0,
    ) -> dict[str, str]:
        """Run one agent per node on its InternalIP; wait until each is healthy.

        An agent of the group that already runs is kept.

        Args:
            group: Process-name prefix (``<group>-<node>``); separate groups can run
                side by side (other ports, other Lease namespaces).
            lease_namespace: Where the agents keep their Leases (the operator reads
                ``statecast-system``; a test namespace hides them from it).
            port: The port on each node's address; when it is taken there (or None),
                a free one.
            lease_seconds: Lease renewal period.
            kubeconfig: The agents' credentials, one for all or one per node name
                (default: a token of the chart's ``statecast-agent`` ServiceAccount).
            data_root: Data directories go to ``<data_root>/<node>``.
            extra_args: More ``statecast agent`` arguments per node name, or a function
                of every agent's URL (node -> URL) that returns them (peer routes through
                a proxy need the URLs first).
            nodes: The nodes (default: every node of the cluster).
            timeout: Seconds to wait for every agent to answer ``/healthz``.

        Returns:
            Node name -> agent URL.
        """
        credentials = kubeconfig or self.token_kubeconfig(AGENT_ACCOUNT)
        data = data_root or self.state_dir / "agents"
        urls: dict[str, str] = {}
        planned: list[tuple[NodeAddress, str, int]] = []
        for node in nodes if nodes is not None else self.nodes():
            name = f"{group}-{node.name}"
            record = self._record(name)
            if self.pid(name) is not None and record is not None and record.url:
                urls[node.name] = record.url
                continue
            # a restarted agent keeps its port (as a DaemonSet's hostPort stays), so the
            # other agents' routes to it hold
            if record is not None and record.url:
                port_before = int(record.url.rsplit(":", 1)[1])
                if _port_is_free(node.ip, port_before):
                    urls[node.name] = record.url
                    planned.append((node, name, port_before))
                    continue
            chosen = port if port and _port_is_free(node.ip, port) else free_port(node.ip)
            urls[node.name] = f"http://{node.ip}:{chosen}"
            planned.append((node, name, chosen))
        more = extra_args(dict(urls)) if callable(extra_args) else (extra_args or {})
        for node, name, chosen in planned:
            url = urls[node.name]
            argv = [
                sys.executable, "-m", "statecast.cli", "agent",
                "--node", node.name, "--listen", f"{node.ip}:{chosen}", "--advertise", url,
                "--zone", node.zone, "--data-dir", str(data / node.name),
                "--lease-namespace", lease_namespace, "--lease-seconds", f"{lease_seconds:g}",
                "--kubeconfig", str(
                    credentials[node.name] if isinstance(credentials, Mapping) else credentials
                ), *more.get(node.name, ()),
            ]  # fmt: skip
            self._launch(
                name,
                _Record("agent", argv, node=node.name, url=url, zone=node.zone, group=group),
            )
        deadline = time.monotonic() + timeout
        for node_name, url in urls.items():
            self._wait_healthy(f"{group}-{node_name}", url, deadline)
        return urls

    def _wait_healthy(self, name: str, url: str, deadline: float) -> None:
        while time.monotonic() < deadline:
            if _healthy(url):
                return
            if self.pid(name) is None:
                tail = processes.log_tail(self.state_dir, name)
                raise ClusterError(f"{name} exited:\n{tail}")
            time.sleep(0.1)
        tail = processes.log_tail(self.state_dir, name)
        raise ClusterError(f"{name} not healthy in time:\n{tail}")

    def start_operators(
        self,
        count: int = 1,
        *,
        kubeconfig: Path | None = None,
        env: Mapping[str, str] | None = None,
        args: Sequence[str] = (),
        prefix: str = "operator",
    ) -> list[str]:
        """Run ``count`` operators in the peering (``<prefix>-1`` acts: it starts first).

        An operator of that name that already runs is kept.

        Args:
            count: How many processes (the chart runs two).
            kubeconfig: Their credentials (default: a token of the chart's
                ``statecast-operator`` ServiceAccount).
            env: Their environment on top of this one (default :data:`OPERATOR_ENV`).
            args: More ``statecast operator`` arguments.
            prefix: Process-name prefix.

        Returns:
            The process names.
        """
        credentials = kubeconfig or self.token_kubeconfig(OPERATOR_ACCOUNT)
        names = []
        for index in range(1, count + 1):
            name = f"{prefix}-{index}"
            names.append(name)
            if self.pid(name) is not None:
                continue
            settings = {
                **(OPERATOR_ENV if env is None else env),
                "KUBECONFIG": str(credentials),
                "POD_ID": name,
            }
            argv = [sys.executable, "-m", "statecast.cli", "operator", *args]
            self._launch(name, _Record("operator", argv, env=dict(settings)))
            time.sleep(0.05)  # distinct start times: distinct peering priorities
        time.sleep(1.0)
        for name in names:
            if self.pid(name) is None:
                raise ClusterError(f"{name} exited:\n{processes.log_tail(self.state_dir, name)}")
        return names

    def start_process(self, name: str, role: str, argv: Sequence[str]) -> int:
        """Run another worker (a network proxy, say) recorded like the agents."""
        if (pid := self.pid(name)) is not None:
            return pid
        return self._launch(name, _Record(role, list(argv)))

    def kill(self, name: str, sig: int = signal.SIGKILL) -> bool:
        """Send ``sig`` to worker ``name`` (and its process group); True if it ran."""
        return processes.signal_process(self.state_dir, name, sig)

    def restart(
        self,
        name: str,
        *,
        env: Mapping[str, str] | None = None,
        set_args: Mapping[str, str] | None = None,
    ) -> int:
        """Start worker ``name`` again as it was started (after :meth:`kill`).

        ``env`` (more environment) and ``set_args`` (option -> new value, e.g. another
        ``--data-dir``) change this start only: a later plain restart is as before.

        Raises:
            ClusterError: No record of such a worker.
        """
        record = self._record(name)
        if record is None:
            raise ClusterError(f"no worker {name!r} was started here")
        if (pid := self.pid(name)) is not None:
            return pid
        argv = list(record.argv)
        for option, value in (set_args or {}).items():
            argv[argv.index(option) + 1] = value
        now = _Record(**{**record.__dict__, "argv": argv, "env": {**record.env, **(env or {})}})
        pid = self._launch(name, now)
        self._record_file(name).write_text(json.dumps(record.__dict__, indent=2))
        return pid

    def worker_arg(self, name: str, option: str) -> Path | None:
        """The value of ``option`` on worker ``name``'s command line, as a path."""
        record = self._record(name)
        if record is None or option not in record.argv:
            return None
        return Path(record.argv[record.argv.index(option) + 1])

    def stop(self, names: Iterable[str]) -> list[str]:
        """Stop the named workers (SIGTERM, then SIGKILL); return those that ran."""
        return [name for name in names if processes.stop(self.state_dir, name)]

    def stop_group(self, group: str) -> list[str]:
        """Stop the agents of ``group`` and forget them."""
        members = [w.name for w in self.workers() if w.group == group]
        stopped = self.stop(members)
        for name in members:
            self._record_file(name).unlink(missing_ok=True)
        return stopped

    def stop_all(self) -> list[str]:
        """Stop every worker (agents, operators, proxies) and forget them."""
        stopped = self.stop(w.name for w in self.workers())
        for worker in self.workers():
            self._record_file(worker.name).unlink(missing_ok=True)
        return stopped

    def workers(self) -> list[Worker]:
        """Every worker started here (running or not), with its pid while it runs."""
        acting = self._acting_operator()
        found = []
        folder = self.state_dir / "workers"
        named = {p.stem for p in folder.glob("*.json")} if folder.is_dir() else set()
        for name in sorted(named | set(processes.recorded(self.state_dir))):
            record = self._record(name)
            if record is None:
                continue
            detail = ""
            if record.role == "operator":
                detail = "acting" if name == acting else "standby"
            found.append(
                Worker(
                    name=name,
                    role=record.role,
                    pid=self.pid(name),
                    node=record.node,
                    url=record.url,
                    zone=record.zone,
                    group=record.group,
                    detail=detail,
                )
            )
        return found

    def agents(self, group: str = "agent") -> list[Worker]:
        """The agents of ``group``, by node."""
        return sorted(
            (w for w in self.workers() if w.role == "agent" and w.group == group),
            key=lambda w: w.node or "",
        )

    def _acting_operator(self) -> str | None:
        """The peer of highest priority among the fresh ones of the peering, if any."""
        if not self.kubeconfig.exists():
            return None
        try:
            out = self.kubectl("get", "clusterkopfpeering", PEERING_NAME, "-o", "json", check=False)
            peers: dict[str, Any] = json.loads(out).get("status") or {} if out else {}
        except (ValueError, ClusterError, OSError, subprocess.SubprocessError):
            return None
        return acting_peer(peers, datetime.now(UTC))


def acting_peer(peers: Mapping[str, Any], now: datetime) -> str | None:
    """Which peer of a kopf peering status acts: the fresh one of highest priority.

    ``peers`` is the peering object's ``status``: peer id -> ``{priority, lastseen,
    lifetime}``; a peer is fresh while ``lastseen + lifetime`` is ahead of ``now``.
    """
    fresh = []
    for peer, info in peers.items():
        if not isinstance(info, dict):
            continue
        with contextlib.suppress(KeyError, ValueError, TypeError):
            seen = datetime.fromisoformat(str(info["lastseen"]).replace("Z", "+00:00"))
            if seen.tzinfo is None:
                seen = seen.replace(tzinfo=UTC)
            if (now - seen).total_seconds() <= float(info.get("lifetime", 60)):
                fresh.append((int(info.get("priority", 0)), peer))
    if not fresh:
        return None
    best = max(fresh)
    return best[1] if sum(1 for p, _ in fresh if p == best[0]) == 1 else None
