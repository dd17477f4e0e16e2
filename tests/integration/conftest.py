"""Fixtures for tests against a real Kubernetes control plane.

The cluster is the dev cluster (``statecast.devcluster``, started once per session and
stopped at the end unless it was already running), or any cluster whose kubeconfig is
in ``STATECAST_TEST_KUBECONFIG`` (a kind cluster from ``kind-config.yaml``, say). The
CRDs are applied by server-side apply; each test gets a fresh namespace. The operator
and the agents run with the ServiceAccounts and ClusterRoles of the install manifests
(a token for each, by the TokenRequest API), so a missing permission fails a test.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import yaml
from kubernetes import client, config

from statecast.agent.launcher import free_port
from statecast.api.types import GROUP, VERSION
from statecast.devcluster import DevCluster, build

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")


def kubectl_binary() -> str:
    """The kubectl the tests use: the dev cluster's build, else the one on PATH."""
    cached = build.binary("kubectl")
    if cached.exists():
        return str(cached)
    found = shutil.which("kubectl")
    if not found:
        pytest.fail("no kubectl: run `statecast dev-cluster build` or install kubectl")
    return found


@pytest.fixture(scope="session")
def dev_cluster() -> Iterator[DevCluster | None]:
    """The dev cluster the tests run on, or None when given another cluster's kubeconfig."""
    if os.environ.get("STATECAST_TEST_KUBECONFIG"):
        yield None
        return
    # A cluster of this session's own, so that test runs side by side never share one;
    # STATECAST_TEST_CLUSTER names a cluster to reuse (and keep) instead.
    name = os.environ.get("STATECAST_TEST_CLUSTER") or f"statecast-test-{os.getpid()}"
    cluster = DevCluster(name)
    cluster.up(nodes=4, zones=2)
    yield cluster
    if not os.environ.get("STATECAST_TEST_CLUSTER"):
        cluster.down(purge=True)


@pytest.fixture(scope="session")
def kubeconfig(dev_cluster: DevCluster | None) -> Path:
    """Path of a kubeconfig for a running cluster."""
    if dev_cluster is None:
        return Path(os.environ["STATECAST_TEST_KUBECONFIG"])
    return dev_cluster.kubeconfig


@pytest.fixture(scope="session")
def kubectl(kubeconfig: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run kubectl against the test cluster; returns the completed process."""

    def run(
        *args: str, check: bool = True, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [kubectl_binary(), f"--kubeconfig={kubeconfig}", *args],
            capture_output=True,
            text=True,
            input=input,
            check=False,
            timeout=60,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {result.stderr}")
        return result

    return run


@pytest.fixture(scope="session")
def api_client(kubeconfig: Path) -> client.ApiClient:
    """A kubernetes ApiClient for the test cluster."""
    return config.new_client_from_config(config_file=str(kubeconfig))


PEERING = """
apiVersion: kopf.dev/v1
kind: ClusterKopfPeering
metadata:
  name: statecast
"""


@pytest.fixture(scope="session")
def crds(kubectl: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    """Every CRD of the rendered install manifests, applied server-side and Established,
    and the peering object the operator uses."""
    apply = ("apply", "--server-side", "--field-manager=statecast-tests")
    kubectl(*apply, "-f", str(ROOT / "manifests" / "install" / "crds.yaml"))
    kubectl(
        "wait",
        "--for=condition=Established",
        "--timeout=60s",
        "crd/sharedresources.statecast.io",
        "crd/replicas.statecast.io",
        "crd/clusterkopfpeerings.kopf.dev",
    )
    kubectl(*apply, "-f", "-", input=PEERING)


@pytest.fixture
def namespace(
    api_client: client.ApiClient, crds: None, request: pytest.FixtureRequest
) -> Iterator[str]:
    """A fresh namespace for one test, deleted afterwards."""
    name = f"t-{request.node.name[:40].lower().replace('_', '-').strip('-')}-{uuid.uuid4().hex[:6]}"
    name = "".join(ch for ch in name if ch.isalnum() or ch == "-")
    core = client.CoreV1Api(api_client)
    core.create_namespace({"metadata": {"name": name, "labels": {"statecast.io/test": "true"}}})
    yield name
    core.delete_namespace(name)


RBAC_KINDS = {
    "Namespace",
    "ServiceAccount",
    "ClusterRole",
    "ClusterRoleBinding",
    "Role",
    "RoleBinding",
}
INSTALL_NAMESPACE = "statecast-system"


@pytest.fixture(scope="session")
def install_rbac(kubectl: Callable[..., subprocess.CompletedProcess[str]], crds: None) -> None:
    """The namespace, ServiceAccounts and (Cluster)Roles of the rendered install manifests."""
    docs = yaml.safe_load_all((ROOT / "manifests" / "install" / "statecast.yaml").read_text())
    wanted = [d for d in docs if isinstance(d, dict) and d.get("kind") in RBAC_KINDS]
    kubectl(
        "apply", "--server-side", "--field-manager=statecast-tests", "-f", "-",
        input=yaml.safe_dump_all(wanted),
    )  # fmt: skip


@pytest.fixture(scope="session")
def service_account_kubeconfig(
    kubectl: Callable[..., subprocess.CompletedProcess[str]],
    kubeconfig: Path,
    install_rbac: None,
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[[str], Path]:
    """A kubeconfig that authenticates as one of the install manifests' ServiceAccounts."""
    made: dict[str, Path] = {}

    def make(account: str) -> Path:
        if account in made:
            return made[account]
        token = kubectl(
            "create", "token", account, "-n", INSTALL_NAMESPACE, "--duration=6h"
        ).stdout.strip()
        admin = yaml.safe_load(kubeconfig.read_text())
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
        path = tmp_path_factory.mktemp("sa") / f"{account}.kubeconfig"
        path.write_text(yaml.safe_dump(own))
        made[account] = path
        return path

    return make


@pytest.fixture(scope="session")
def operator(
    service_account_kubeconfig: Callable[[str], Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    """The real operator (``statecast operator``) against the test cluster, as its own
    ServiceAccount with the install manifests' ClusterRole."""
    log = tmp_path_factory.mktemp("operator") / "operator.log"
    operator_kubeconfig = service_account_kubeconfig("statecast-operator")
    env = {
        **os.environ,
        "KUBECONFIG": str(operator_kubeconfig),
        "STATECAST_RESYNC_SECONDS": "1",
        "STATECAST_SAMPLE_SECONDS": "1",
        "STATECAST_HISTORY_SAVE_SECONDS": "3",
    }
    with open(log, "w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "statecast.cli", "operator"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        time.sleep(2)
        if process.poll() is not None:
            pytest.fail(f"the operator exited at start:\n{log.read_text()[-5000:]}")
        yield log
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        if process.returncode not in (0, -15, None):
            print(log.read_text()[-5000:], file=sys.stderr)


def wait_for(
    check: Callable[[], T | None],
    *,
    timeout: float = 60.0,
    interval: float = 0.25,
    what: str = "condition",
) -> T:
    """Poll ``check`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")


ZONE_LABEL = "topology.kubernetes.io/zone"


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@contextlib.contextmanager
def agent_processes(
    api_client: client.ApiClient, lease_namespace: str, kubeconfig: Path, workdir: Path
) -> Iterator[dict[str, str]]:
    """Run ``statecast agent`` once per node, on the node's loopback InternalIP, until the
    block ends; yield node -> URL. Their Leases (in ``lease_namespace``) are deleted
    afterwards, so stopped agents do not look dead to an operator that outlives them."""
    core = client.CoreV1Api(api_client)
    urls: dict[str, str] = {}
    started: list[tuple[subprocess.Popen[bytes], Path]] = []
    try:
        for node in sorted(core.list_node().items, key=lambda n: n.metadata.name):
            name = node.metadata.name
            ip = next(a.address for a in node.status.addresses if a.type == "InternalIP")
            zone = (node.metadata.labels or {}).get(ZONE_LABEL, "")
            port = free_port(ip)
            url = f"http://{ip}:{port}"
            log = workdir / f"{name}.log"
            with log.open("wb") as out:
                process = subprocess.Popen(
                    [
                        sys.executable, "-m", "statecast.agent",
                        "--node", name, "--listen", f"{ip}:{port}", "--advertise", url,
                        "--zone", zone, "--data-dir", str(workdir / name),
                        "--lease-namespace", lease_namespace, "--lease-seconds", "1",
                        "--kubeconfig", str(kubeconfig),
                    ],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env={**os.environ, "PYTHONUNBUFFERED": "1"},
                )  # fmt: skip
            started.append((process, log))
            urls[name] = url
        for (process, log), url in zip(started, urls.values(), strict=True):
            wait_for(
                lambda p=process, u=url: p.poll() is None and _healthy(u),
                what=f"agent at {url} ({log})",
            )
        yield urls
    finally:
        for process, log in started:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
            if process.returncode not in (0, -15):
                print(log.read_text()[-3000:], file=sys.stderr)
        coordination = client.CoordinationV1Api(api_client)
        for name in urls:
            with contextlib.suppress(client.ApiException):
                coordination.delete_namespaced_lease(f"statecast-agent-{name}", lease_namespace)


def create_resource(
    custom: client.CustomObjectsApi, namespace: str, name: str, spec: dict[str, Any]
) -> None:
    """Create a SharedResource with ``spec``."""
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "SharedResource",
        "metadata": {"name": name},
        "spec": spec,
    }
    custom.create_namespaced_custom_object(GROUP, VERSION, namespace, "sharedresources", body)


def status_of(custom: client.CustomObjectsApi, namespace: str, name: str) -> dict[str, Any]:
    """A SharedResource's status (empty before the operator wrote one)."""
    obj = custom.get_namespaced_custom_object(GROUP, VERSION, namespace, "sharedresources", name)
    status: dict[str, Any] = obj.get("status") or {}
    return status
