"""Dev cluster pieces that need no binaries: PKI, process bookkeeping, build cache keys."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from cryptography import x509

from statecast.devcluster import build, components, pki, processes
from statecast.devcluster.cluster import DevCluster, node_ip, zone_name


def test_pki_issues_certificates_signed_by_the_ca(tmp_path: Path) -> None:
    pki.generate(tmp_path)
    ca = x509.load_pem_x509_certificate((tmp_path / "ca.crt").read_bytes())
    serving = x509.load_pem_x509_certificate((tmp_path / "apiserver.crt").read_bytes())
    serving.verify_directly_issued_by(ca)
    sans = serving.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "kubernetes.default.svc" in sans.get_values_for_type(x509.DNSName)
    admin = x509.load_pem_x509_certificate((tmp_path / "admin.crt").read_bytes())
    admin.verify_directly_issued_by(ca)
    orgs = [a.value for a in admin.subject.get_attributes_for_oid(x509.NameOID.ORGANIZATION_NAME)]
    assert orgs == ["system:masters"]
    assert (tmp_path / "sa.key").stat().st_mode & 0o777 == 0o600


def test_pki_is_kept_across_restarts(tmp_path: Path) -> None:
    pki.generate(tmp_path)
    first = (tmp_path / "ca.crt").read_bytes()
    pki.generate(tmp_path)
    assert (tmp_path / "ca.crt").read_bytes() == first


def test_kubeconfig_points_at_the_server_with_client_certs(tmp_path: Path) -> None:
    pki.generate(tmp_path)
    path = tmp_path / "kc"
    pki.write_kubeconfig(path, server="https://127.0.0.1:6443", pki_dir=tmp_path, identity="admin")
    config = yaml.safe_load(path.read_text())
    assert config["clusters"][0]["cluster"]["server"] == "https://127.0.0.1:6443"
    assert config["users"][0]["user"]["client-certificate"].endswith("admin.crt")


def test_processes_start_find_and_stop(tmp_path: Path) -> None:
    argv = [sys.executable, "-c", "import time, sys; time.sleep(60)", f"{tmp_path}/x"]
    pid = processes.start(tmp_path, "sleeper", argv)
    assert processes.running_pid(tmp_path, "sleeper") == pid
    assert processes.recorded(tmp_path) == ["sleeper"]
    assert processes.stop(tmp_path, "sleeper", timeout=5)
    assert processes.running_pid(tmp_path, "sleeper") is None
    assert not processes.stop(tmp_path, "sleeper")


def test_a_recycled_pid_is_not_ours(tmp_path: Path) -> None:
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (tmp_path / "pids").mkdir()
        (tmp_path / "pids" / "impostor.pid").write_text(f"{other.pid} 12345")
        assert processes.running_pid(tmp_path, "impostor") is None
        assert not processes.stop(tmp_path, "impostor")
        assert other.poll() is None, "a process that is not ours was signalled"
    finally:
        other.kill()
        other.wait()


def test_a_cluster_never_claims_a_process_of_a_cluster_with_a_longer_name(tmp_path: Path) -> None:
    longer = tmp_path.with_name(tmp_path.name + "-test")
    longer.mkdir()
    argv = [sys.executable, "-c", "import time; time.sleep(60)", f"{longer}/x"]
    pid = processes.start(longer, "etcd", argv)
    try:
        (tmp_path / "pids").mkdir()
        (tmp_path / "pids" / "etcd.pid").write_text("bogus")
        assert processes.running_pid(tmp_path, "etcd") is None
        assert processes.running_pid(longer, "etcd") == pid
    finally:
        processes.stop(longer, "etcd", timeout=5)


def test_cache_key_names_module_version_and_hash() -> None:
    key = build.KUBERNETES.cache_key()
    assert key.startswith("kubernetes-v1.")
    assert build.KWOK.version().startswith("v0.")
    assert build.binary("kwok").parent == build.bin_dir(build.KWOK)
    with pytest.raises(KeyError):
        build.binary("kubelet")


def test_go_module_replaces_every_staging_module() -> None:
    gomod = (build.KUBERNETES.path / "go.mod").read_text()
    version = build.KUBERNETES.version().replace("v1.", "v0.")
    for module in ("k8s.io/api", "k8s.io/apiserver", "k8s.io/kubectl", "k8s.io/kube-scheduler"):
        assert f"{module} => {module} {version}" in gomod


def test_cache_dir_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("STATECAST_CACHE_DIR", str(tmp_path))
    assert build.bin_dir(build.KWOK).parent == tmp_path / "bin"


def test_kwok_configuration_has_node_and_pod_stages() -> None:
    docs = list(yaml.safe_load_all((Path(build.__file__).parent / "kwok.yaml").read_text()))
    stages = {
        d["metadata"]["name"]: d["spec"]["resourceRef"]["kind"]
        for d in docs
        if d["kind"] == "Stage"
    }
    assert stages == {
        "node-ready": "Node",
        "node-heartbeat": "Node",
        "pod-ready": "Pod",
        "pod-delete": "Pod",
    }


def test_nodes_get_loopback_addresses_and_round_robin_zones() -> None:
    assert [node_ip(i) for i in (1, 2)] == ["127.0.1.1", "127.0.1.2"]
    assert [zone_name(i, 2) for i in (1, 2, 3, 4)] == ["zone-a", "zone-b", "zone-a", "zone-b"]


def test_status_of_a_cluster_never_started(tmp_path: Path) -> None:
    status = DevCluster("nothing", home=tmp_path).status()
    assert not status.healthy
    assert all(p.pid is None for p in status.processes)
    assert DevCluster("nothing", home=tmp_path).down() == []


def test_component_command_lines(tmp_path: Path) -> None:
    layout = components.Layout(tmp_path)
    ports = {"etcd": 1, "etcd_peer": 2, "apiserver": 3}
    apiserver = components.kube_apiserver(layout, ports)
    assert "--authorization-mode=RBAC" in apiserver
    assert "--enable-admission-plugins=OwnerReferencesPermissionEnforcement" in apiserver
    assert "--etcd-servers=http://127.0.0.1:1" in apiserver
    assert f"--client-ca-file={tmp_path / 'pki' / 'ca.crt'}" in apiserver
    audited = components.kube_apiserver(layout, ports, tmp_path / "policy.yaml")
    # the default (0) rotates at 100 MB: a 1,000-resource scale run lost its first part
    assert f"--audit-log-maxsize={components.AUDIT_LOG_MAX_MB}" in audited
    assert f"--audit-log-path={tmp_path / 'audit.log'}" in audited
    manager = components.kube_controller_manager(layout)
    assert f"--node-monitor-grace-period={components.NODE_MONITOR_GRACE}" in manager
    first, second = components.kwok(layout, 1), components.kwok(layout, 2)
    assert "--manage-single-node=node-1" in first
    cidrs = {a for a in first + second if a.startswith("--cidr=")}
    assert len(cidrs) == 2, "each node's pods get addresses of their own"
