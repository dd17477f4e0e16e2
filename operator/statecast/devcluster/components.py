"""Command lines of the dev cluster's processes, as pure functions of its layout.

Flags follow envtest's start-up of kube-apiserver and etcd, with what a full cluster
adds: a controller-manager (garbage collection, node lifecycle, service accounts), a
scheduler, and one KWOK per simulated node.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path

from statecast.devcluster import build

NODE_LEASE_SECONDS = 8
#: The audit log's size before kube-apiserver would rotate it (MB): never, in practice.
AUDIT_LOG_MAX_MB = 100_000
NODE_MONITOR_GRACE = "16s"


@dataclass(frozen=True)
class Layout:
    """Where one cluster keeps its state and certificates."""

    state_dir: Path

    @property
    def pki_dir(self) -> Path:
        """Certificates, keys and the CA."""
        return self.state_dir / "pki"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def node_name(index: int) -> str:
    """Name of the dev cluster's node ``index`` (1-based)."""
    return f"node-{index}"


def etcd(layout: Layout, ports: dict[str, int]) -> list[str]:
    """Etcd on loopback, data in the cluster's state directory."""
    client = f"http://127.0.0.1:{ports['etcd']}"
    peer = f"http://127.0.0.1:{ports['etcd_peer']}"
    return [
        str(build.binary("etcd")),
        "--name=dev",
        f"--data-dir={layout.state_dir / 'etcd'}",
        f"--listen-client-urls={client}",
        f"--advertise-client-urls={client}",
        f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster=dev={peer}",
        "--unsafe-no-fsync",
        "--log-level=warn",
    ]


def kube_apiserver(
    layout: Layout, ports: dict[str, int], audit_policy: Path | None = None
) -> list[str]:
    """kube-apiserver: client certificates, RBAC, service-account keys, owner-ref checks.

    With ``audit_policy`` (an audit Policy file), the requests it selects are logged as
    JSON lines to ``audit.log`` in the state directory, with the server's own
    timestamps (the scale benchmark times the operator's writes from them), in one file
    of up to :data:`AUDIT_LOG_MAX_MB`.
    """
    p = layout.pki_dir
    audit = []
    if audit_policy is not None:
        audit = [
            f"--audit-policy-file={audit_policy}",
            f"--audit-log-path={layout.state_dir / 'audit.log'}",
            "--audit-log-format=json",
            "--audit-log-maxbackup=0",
            # never rotated: 0 (the default) means 100 MB, which every request of a
            # 1,000-resource run fills in ten minutes (session 9: its first part lost)
            f"--audit-log-maxsize={AUDIT_LOG_MAX_MB}",
        ]
    return [
        str(build.binary("kube-apiserver")),
        f"--etcd-servers=http://127.0.0.1:{ports['etcd']}",
        f"--secure-port={ports['apiserver']}",
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        f"--cert-dir={p}",
        f"--tls-cert-file={p / 'apiserver.crt'}",
        f"--tls-private-key-file={p / 'apiserver.key'}",
        f"--client-ca-file={p / 'ca.crt'}",
        f"--service-account-key-file={p / 'sa.pub'}",
        f"--service-account-signing-key-file={p / 'sa.key'}",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        "--authorization-mode=RBAC",
        "--enable-admission-plugins=OwnerReferencesPermissionEnforcement",
        "--service-cluster-ip-range=10.0.0.0/24",
        "--endpoint-reconciler-type=none",
        "--allow-privileged=true",
        *audit,
        "--v=1",
    ]


def kube_controller_manager(layout: Layout) -> list[str]:
    """kube-controller-manager with a short node-monitor grace period (node loss in seconds)."""
    p = layout.pki_dir
    kubeconfig = layout.state_dir / "controller-manager.kubeconfig"
    return [
        str(build.binary("kube-controller-manager")),
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        "--bind-address=127.0.0.1",
        "--secure-port=0",
        "--leader-elect=false",
        "--use-service-account-credentials=true",
        f"--service-account-private-key-file={p / 'sa.key'}",
        f"--root-ca-file={p / 'ca.crt'}",
        f"--cluster-signing-cert-file={p / 'ca.crt'}",
        f"--cluster-signing-key-file={p / 'ca.key'}",
        f"--node-monitor-grace-period={NODE_MONITOR_GRACE}",
        "--node-monitor-period=2s",
        "--v=1",
    ]


def kube_scheduler(layout: Layout) -> list[str]:
    """kube-scheduler, which places pods on the KWOK nodes."""
    kubeconfig = layout.state_dir / "scheduler.kubeconfig"
    return [
        str(build.binary("kube-scheduler")),
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        "--bind-address=127.0.0.1",
        "--secure-port=0",
        "--leader-elect=false",
        "--v=1",
    ]


def kwok(layout: Layout, index: int) -> list[str]:
    """KWOK managing node ``index`` alone: its Lease, status and pods."""
    # One KWOK per node, like one kubelet per node: stopping it stops that node's
    # Lease renewals and status updates and nothing else.
    return [
        str(build.binary("kwok")),
        f"--kubeconfig={layout.state_dir / 'kwok.kubeconfig'}",
        f"--config={Path(__file__).parent / 'kwok.yaml'}",
        f"--manage-single-node={node_name(index)}",
        f"--node-lease-duration-seconds={NODE_LEASE_SECONDS}",
        f"--server-address=127.0.0.1:{free_port()}",
        f"--cidr=10.244.{index % 256}.0/24",
    ]
