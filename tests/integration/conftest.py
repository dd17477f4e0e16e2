"""Fixtures for tests against a real Kubernetes control plane.

The cluster is the dev cluster (``statecast.devcluster``, started once per session and
stopped at the end unless it was already running), or any cluster whose kubeconfig is
in ``STATECAST_TEST_KUBECONFIG`` (a kind cluster from ``kind-config.yaml``, say). The
CRDs are applied by server-side apply; each test gets a fresh namespace. The operator
and the agents are started by :class:`statecast.devcluster.system.System`, as
``statecast dev-cluster up --with-agents --with-operator`` starts them, with the
ServiceAccounts and ClusterRoles of the install manifests (a token for each, by the
TokenRequest API), so a missing permission fails a test. Agents started for one test
form a group of their own (free ports, Leases in a namespace of the test's choosing).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from kubernetes import client, config

from statecast.agent.launcher import free_port
from statecast.api.types import GROUP, VERSION
from statecast.devcluster import DevCluster
from statecast.devcluster.system import INSTALL_NAMESPACE, System, kubectl_binary
from tests.integration.live import AgentFleet, agent_fleet

__all__ = ["INSTALL_NAMESPACE", "agent_processes", "create_resource", "kubectl_binary",
           "kubectl_runner", "status_of", "wait_for"]  # fmt: skip

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")


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
def system(
    dev_cluster: DevCluster | None, kubeconfig: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[System]:
    """statecast's processes beside the test cluster; every one still running is stopped
    at the end of the session."""
    state = dev_cluster.state_dir if dev_cluster is not None else tmp_path_factory.mktemp("sys")
    running = System(state, kubeconfig, field_manager="statecast-tests")
    yield running
    running.stop_all()


def kubectl_runner(
    kubeconfig: Path, timeout: float = 60
) -> Callable[..., subprocess.CompletedProcess[str]]:
    """A function that runs kubectl against ``kubeconfig``; it raises when kubectl fails
    (unless called with ``check=False``) and returns the completed process."""

    def run(
        *args: str, check: bool = True, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [kubectl_binary(), f"--kubeconfig={kubeconfig}", *args],
            capture_output=True,
            text=True,
            input=input,
            check=False,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {result.stderr}")
        return result

    return run


@pytest.fixture(scope="session")
def kubectl(kubeconfig: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run kubectl against the test cluster; returns the completed process."""
    return kubectl_runner(kubeconfig)


@pytest.fixture(scope="session")
def api_client(kubeconfig: Path) -> client.ApiClient:
    """A kubernetes ApiClient for the test cluster."""
    return config.new_client_from_config(config_file=str(kubeconfig))


@pytest.fixture(scope="session")
def crds(system: System) -> None:
    """Every CRD of the rendered install manifests, applied server-side and Established,
    and the peering object the operator uses."""
    system.install_crds()


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


@pytest.fixture(scope="session")
def install_rbac(system: System, crds: None) -> None:
    """The namespace, ServiceAccounts and (Cluster)Roles of the rendered install manifests."""
    system.install_rbac()


@pytest.fixture(scope="session")
def service_account_kubeconfig(system: System, install_rbac: None) -> Callable[[str], Path]:
    """A kubeconfig that authenticates as one of the install manifests' ServiceAccounts."""
    made: dict[str, Path] = {}

    def make(account: str) -> Path:
        if account not in made:
            made[account] = system.token_kubeconfig(account, hours=6)
        return made[account]

    return make


#: The operator's settings in the tests: resync and sample every second, save the demand
#: history every 3 s.
TEST_OPERATOR_ENV = {
    "STATECAST_RESYNC_SECONDS": "1",
    "STATECAST_SAMPLE_SECONDS": "1",
    "STATECAST_HISTORY_SAVE_SECONDS": "3",
}


@pytest.fixture(scope="session")
def operator_metrics_address() -> str:
    """``HOST:PORT`` the session's operator serves ``/metrics`` on (a port of its own:
    test sessions side by side must not scrape each other's operator)."""
    return f"127.0.0.1:{free_port('127.0.0.1')}"


@pytest.fixture(scope="session")
def operator(
    system: System,
    service_account_kubeconfig: Callable[[str], Path],
    operator_metrics_address: str,
) -> Iterator[Path]:
    """The real operator (``statecast operator``) against the test cluster, as its own
    ServiceAccount with the install manifests' ClusterRole; yields its log."""
    (name,) = system.start_operators(
        1,
        kubeconfig=service_account_kubeconfig("statecast-operator"),
        env={**TEST_OPERATOR_ENV, "STATECAST_METRICS_ADDRESS": operator_metrics_address},
        prefix=f"test-operator-{os.getpid()}",
    )
    try:
        yield system.log_path(name)
    finally:
        if system.pid(name) is None:  # it died during the session
            print(system.log_path(name).read_text()[-5000:], file=sys.stderr)
        system.stop([name])


@pytest.fixture
def fleet(
    system: System,
    service_account_kubeconfig: Callable[[str], Path],
    operator: Path,
    tmp_path: Path,
) -> Iterator[AgentFleet]:
    """An agent per node (killable) under the agents' ServiceAccount, the operator running."""
    kubeconfig = service_account_kubeconfig("statecast-agent")
    with agent_fleet(system, INSTALL_NAMESPACE, kubeconfig, tmp_path) as agents:
        yield agents


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


@contextlib.contextmanager
def agent_processes(
    system: System, lease_namespace: str, kubeconfig: Path, workdir: Path
) -> Iterator[dict[str, str]]:
    """Run ``statecast agent`` once per node, on the node's InternalIP with a free port,
    until the block ends; yield node -> URL. The agents form a group of their own; their
    Leases (in ``lease_namespace``) are deleted afterwards, so stopped agents do not look
    dead to an operator that outlives them."""
    group = f"test-agents-{uuid.uuid4().hex[:8]}"
    urls: dict[str, str] = {}
    try:
        urls = system.start_agents(
            group=group,
            lease_namespace=lease_namespace,
            port=None,
            lease_seconds=2,  # a 6 s Lease: a loaded machine must not expire a live agent's
            kubeconfig=kubeconfig,
            data_root=workdir,
        )
        yield urls
    finally:
        for worker in system.agents(group):
            if worker.pid is None:  # it died during the test
                print(system.log_path(worker.name).read_text()[-3000:], file=sys.stderr)
        system.stop_group(group)
        api = client.CoordinationV1Api(config.new_client_from_config(str(system.kubeconfig)))
        for name in urls:
            with contextlib.suppress(client.ApiException):
                api.delete_namespaced_lease(f"statecast-agent-{name}", lease_namespace)


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
