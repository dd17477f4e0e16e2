"""Fixtures for end-to-end tests of a deployed install (``make kind-up kind-load deploy
e2e-kind``): the chart's operator and agents run as pods, from the image.

They need ``STATECAST_E2E_KUBECONFIG`` (the kind cluster's kubeconfig) and are skipped
without it; ``make test`` never runs them (marker ``e2e``; CI has no Docker).
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import kubectl_runner

Kubectl = Callable[..., subprocess.CompletedProcess[str]]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def e2e_kubeconfig() -> Path:
    value = os.environ.get("STATECAST_E2E_KUBECONFIG")
    if not value:
        pytest.skip("STATECAST_E2E_KUBECONFIG is not set (make e2e-kind sets it)")
    return Path(value)


@pytest.fixture(scope="session")
def image() -> str:
    return os.environ.get("STATECAST_E2E_IMAGE", "statecast:0.1.0")


@pytest.fixture(scope="session")
def kubectl(e2e_kubeconfig: Path) -> Kubectl:
    return kubectl_runner(e2e_kubeconfig, timeout=300)


@pytest.fixture
def namespace(kubectl: Kubectl) -> Iterator[str]:
    name = f"e2e-{uuid.uuid4().hex[:8]}"
    kubectl("create", "namespace", name)
    yield name
    kubectl("delete", "namespace", name, "--wait=false")
