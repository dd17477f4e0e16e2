"""The gateway saves a demand history ConfigMap in one request, first save or later."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from statecast.controller.gateway import KubeGateway
from statecast.controller.history_keeper import history_name


class Core:
    """CoreV1Api's ConfigMap calls on a dict, each call recorded."""

    def __init__(self) -> None:
        self.maps: dict[tuple[str, str], Any] = {}
        self.calls: list[str] = []

    def read_namespaced_config_map(self, name: str, namespace: str) -> Any:
        self.calls.append("read")
        if (namespace, name) not in self.maps:
            raise ApiException(status=404)
        return client.V1ConfigMap(metadata=client.V1ObjectMeta(owner_references=[]))

    def create_namespaced_config_map(self, namespace: str, body: Any, **_: Any) -> None:
        self.calls.append("create")
        key = (namespace, body["metadata"]["name"])
        if key in self.maps:
            raise ApiException(status=409)
        self.maps[key] = body

    def replace_namespaced_config_map(self, name: str, namespace: str, body: Any, **_: Any) -> None:
        self.calls.append("replace")
        if (namespace, name) not in self.maps:
            raise ApiException(status=404)
        self.maps[(namespace, name)] = body


def config_map(name: str) -> dict[str, Any]:
    return {"metadata": {"name": history_name(name), "namespace": "ns"}, "binaryData": {}}


@pytest.fixture
def gateway() -> tuple[KubeGateway, Core]:
    gateway = KubeGateway(client.ApiClient())
    core = Core()
    gateway.core = core  # type: ignore[assignment]
    return gateway, core


def test_a_first_save_creates_and_later_saves_replace_one_request_each(
    gateway: tuple[KubeGateway, Core],
) -> None:
    kube, core = gateway
    assert kube.read_history("ns", "flags", "") is None
    kube.write_history(config_map("flags"))
    kube.write_history(config_map("flags"))
    assert core.calls == ["read", "create", "replace"]


def test_a_history_read_at_start_is_replaced_and_a_surprise_costs_one_retry(
    gateway: tuple[KubeGateway, Core],
) -> None:
    kube, core = gateway
    core.maps[("ns", history_name("flags"))] = config_map("flags")
    core.maps[("ns", history_name("other"))] = config_map("other")  # not read: unknown
    kube.read_history("ns", "flags", "")
    kube.write_history(config_map("flags"))
    kube.write_history(config_map("other"))
    assert core.calls == ["read", "replace", "create", "replace"]
    del core.maps[("ns", history_name("flags"))]  # gone meanwhile (the resource was re-made)
    core.calls.clear()
    kube.write_history(config_map("flags"))
    assert core.calls == ["replace", "create"]


def test_the_core_api_is_loaded_on_first_use_not_at_start() -> None:
    """CoreV1Api's module loads ~250 model modules: half a second of CPU at start-up."""
    script = (
        "import sys\n"
        "from kubernetes import client\n"
        "from statecast.controller.gateway import KubeGateway\n"
        "gateway = KubeGateway(client.ApiClient())\n"
        "loaded = 'kubernetes.client.api.core_v1_api' in sys.modules\n"
        "gateway.core\n"
        "print(loaded, 'kubernetes.client.api.core_v1_api' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]
