"""SharedResources for the benchmarks that run a dev cluster: create one, wait for Ready.

The fault, soak and live-policy benchmarks each create resources through the API server
and wait until the operator says they are Ready before they measure anything.
"""

from __future__ import annotations

import time
from typing import Any

from kubernetes import client

GROUP, VERSION, PLURAL = "statecast.io", "v1alpha1", "sharedresources"


def static_resource(name: str) -> dict[str, Any]:
    """A SharedResource body: two copies, static placement, 5 s prediction interval."""
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "SharedResource",
        "metadata": {"name": name},
        "spec": {
            "replicas": {"min": 2},
            "prediction": {"interval": "5s", "horizon": "15s"},
            "replication": {"policy": "static"},
            "source": {"inline": {"seeded": True}},
        },
    }


def wait_ready(custom: client.CustomObjectsApi, namespace: str, name: str, timeout: float) -> None:
    """Wait until the resource's ``status.phase`` is Ready; RuntimeError after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        obj: Any = custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
        if (obj.get("status") or {}).get("phase") == "Ready":
            return
        time.sleep(0.5)
    raise RuntimeError(f"{name} not Ready after {timeout:.0f} s")


def create_static_ready(api: client.ApiClient, namespace: str, name: str, timeout: float) -> None:
    """Create :func:`static_resource` ``name`` in ``namespace`` and wait until it is Ready."""
    custom = client.CustomObjectsApi(api)
    custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, static_resource(name))
    wait_ready(custom, namespace, name, timeout)
