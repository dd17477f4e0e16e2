"""`kubectl statecast` against the built-in cluster: found by kubectl as a plugin, reading
what the real operator and agents wrote."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from kubernetes import client

from statecast.devcluster.system import System
from tests.integration.conftest import (
    INSTALL_NAMESPACE,
    agent_processes,
    create_resource,
    kubectl_binary,
    status_of,
    wait_for,
)

VENV_BIN = str(Path(sys.executable).parent)


@pytest.fixture
def agents(
    system: System,
    service_account_kubeconfig: Callable[[str], Path],
    operator: Path,
    tmp_path: Path,
) -> Iterator[dict[str, str]]:
    kubeconfig = service_account_kubeconfig("statecast-agent")
    with agent_processes(system, INSTALL_NAMESPACE, kubeconfig, tmp_path) as urls:
        yield urls


def plugin(kubeconfig: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``kubectl statecast ARGS``: kubectl finds ``kubectl-statecast`` on PATH."""
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("KUBECONFIG", None)
    return subprocess.run(
        [kubectl_binary(), "statecast", "--kubeconfig", str(kubeconfig), *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
    )


def test_status_forecast_and_explain_of_a_resource_with_demand(
    api_client: client.ApiClient,
    kubeconfig: Path,
    namespace: str,
    agents: dict[str, str],
    tmp_path: Path,
) -> None:
    custom = client.CustomObjectsApi(api_client)
    spec = {
        "replicas": {"min": 2},
        "prediction": {"interval": "2s", "horizon": "6s"},
        "source": {"inline": {"price": 10}},
    }
    create_resource(custom, namespace, "prices", spec)
    wait_for(lambda: status_of(custom, namespace, "prices").get("phase") == "Ready", what="Ready")
    reader = sorted(agents)[-1]
    with httpx.Client(timeout=15) as http:  # a loaded machine can be slow

        def read_and_check() -> dict[str, object] | None:
            for _ in range(20):
                http.get(f"{agents[reader]}/v1/{namespace}/prices/price")
            status = status_of(custom, namespace, "prices")
            return (
                status if status.get("forecast") and status.get("hitPercent") is not None else None
            )

        wait_for(read_and_check, timeout=90, interval=0.5, what="a forecast and Hit% in status")

    status = plugin(kubeconfig, "status", "prices", "-n", namespace)
    assert status.returncode == 0, status.stderr
    assert "Name:           prices\n" in status.stdout
    assert "Policy:         predictive (interval 2s, horizon 6s, level 0.9)\n" in status.stdout
    assert "Forecast (model " in status.stdout
    assert f"  {reader}   " in status.stdout  # the busy node is in the forecast
    # its first copies for the minimum post no Event (0874a48): its last decision says them
    assert "Last decision:" in status.stdout
    assert "Recent decisions (Events):\n" in status.stdout

    as_json = json.loads(
        plugin(kubeconfig, "status", "prices", "-n", namespace, "-o", "json").stdout
    )
    assert as_json["name"] == "prices"
    listed = {r["node"] for r in status_of(custom, namespace, "prices")["replicas"]}
    assert listed <= {r["node"] for r in as_json["replicas"]}
    assert as_json["forecast"][0]["node"] == reader

    listing = plugin(kubeconfig, "-n", namespace, "status")
    assert listing.returncode == 0, listing.stderr
    assert listing.stdout.splitlines()[0].split()[:3] == ["NAME", "POLICY", "PHASE"]
    assert listing.stdout.splitlines()[1].startswith("prices ")

    # The operator of the tests saves its history every 3 s.
    picture = tmp_path / "prices.png"
    forecast = wait_for(
        lambda: (
            (
                f := plugin(
                    kubeconfig, "forecast", "prices", "-n", namespace, "--plot", str(picture)
                )
            ).returncode
            == 0
            and "ConfigMap statecast-history-prices" in f.stdout
            and f
        ),
        timeout=30,
        interval=1,
        what="kubectl statecast forecast with the saved history",
    )
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    busy = next(line for line in forecast.stdout.splitlines() if line.startswith(f"  {reader} "))
    assert busy.split()[2] != "<none>"  # its demand was sampled (it may have gone quiet)
    as_json = json.loads(
        plugin(kubeconfig, "forecast", "prices", "-n", namespace, "-o", "json").stdout
    )
    assert any(n["node"] == reader and n["recent"] is not None for n in as_json["nodes"])

    explained = plugin(kubeconfig, "explain", "prices", "-n", namespace)
    assert explained.returncode == 0, explained.stderr
    assert explained.stdout.startswith(f"{namespace}/prices: policy predictive")
    assert "Nodes without a replica:" in explained.stdout or len(agents) <= 2


def test_a_missing_resource_is_reported_as_kubectl_does(kubeconfig: Path, namespace: str) -> None:
    result = plugin(kubeconfig, "status", "nothing", "-n", namespace)
    assert result.returncode == 1
    assert result.stderr.startswith("error: Error from server (NotFound): ")
    assert '"nothing" not found' in result.stderr
