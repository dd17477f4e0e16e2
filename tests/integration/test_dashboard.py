"""Every panel of the Grafana dashboard shows data from a real system.

The session's operator and an agent per node of the dev cluster run under load (reads
from three nodes of a predictive resource, writes to a static one); a real Prometheus scrapes
them every second; one holder's agent is killed so that a failover happens. Every
query of every panel of ``manifests/grafana/statecast.json`` must be valid PromQL, and
every panel must show data (a panel of two queries, such as failover copies and strong
leader elections, shows data when one of them has some).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from kubernetes import client

from statecast.devcluster.prometheus import LocalPrometheus, ScrapeJob
from statecast.devcluster.system import System
from tests.integration.conftest import create_resource, status_of, wait_for
from tests.integration.live import AgentFleet

pytestmark = pytest.mark.integration

DASHBOARD = Path(__file__).resolve().parents[2] / "manifests" / "grafana" / "statecast.json"


def panel_queries() -> list[tuple[str, str]]:
    """(panel title, PromQL) of every target, Grafana's ``$__rate_interval`` replaced."""
    board = json.loads(DASHBOARD.read_text())
    found = []
    for panel in board["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"].replace("$__rate_interval", "30s")
            found.append((panel["title"], expr))
    return found


def test_the_dashboard_uses_its_datasource_variable_everywhere() -> None:
    board = json.loads(DASHBOARD.read_text())
    (variable,) = board["templating"]["list"]
    assert (variable["name"], variable["type"], variable["query"]) == (
        "datasource", "datasource", "prometheus",
    )  # fmt: skip
    for panel in board["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
            assert all(t["datasource"]["uid"] == "${datasource}" for t in panel["targets"])


class Load:
    """Readers on some nodes and a writer on one, through their node's agent."""

    def __init__(self, reads: list[str], writes: list[str]) -> None:
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(u, "GET"), daemon=True)
                        for u in reads]  # fmt: skip
        self.threads += [threading.Thread(target=self._run, args=(u, "PUT"), daemon=True)
                         for u in writes]  # fmt: skip

    def _run(self, url: str, method: str) -> None:
        with httpx.Client(timeout=5) as http:
            n = 0
            while not self.stop.is_set():
                with contextlib.suppress(httpx.HTTPError):
                    http.request(method, url, json=n if method == "PUT" else None)
                n += 1
                time.sleep(0.05)

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=10)


def no_data(prometheus: LocalPrometheus, queries: list[tuple[str, str]]) -> list[str]:
    """The panels none of whose queries answers a number (a query Prometheus rejects
    raises)."""
    answered: dict[str, bool] = {}
    for title, expr in queries:
        rows = prometheus.query(expr)
        some = any(row["value"][1] not in ("NaN", "+Inf", "-Inf") for row in rows)
        answered[title] = answered.get(title, False) or some
    return [title for title, some in answered.items() if not some]


@pytest.mark.timeout(900)
def test_every_panel_of_the_dashboard_has_data(
    api_client: client.ApiClient,
    namespace: str,
    fleet: AgentFleet,
    system: System,
    operator_metrics_address: str,
    tmp_path: Path,
) -> None:
    targets = [url.removeprefix("http://") for url in fleet.urls.values()]
    prometheus = LocalPrometheus(
        tmp_path / "prometheus",
        [
            ScrapeJob("statecast-operator", [operator_metrics_address]),
            ScrapeJob("statecast-agent", targets),
        ],
        scrape_interval=1.0,
    )
    prometheus.start()
    custom = client.CustomObjectsApi(api_client)
    predictive = {
        "replicas": {"min": 1, "max": 3},
        "prediction": {"interval": "2s", "horizon": "6s"},
        "source": {"inline": {"price": 10}},
    }
    static = {"replicas": {"min": 2}, "replication": {"policy": "static"}}
    try:
        create_resource(custom, namespace, "prices", predictive)
        create_resource(custom, namespace, "flags", static)
        ready = {
            name: wait_for(
                lambda name=name: (
                    (s := status_of(custom, namespace, name)).get("phase") == "Ready" and s
                ),
                timeout=120,
                what=f"{name} Ready",
            )
            for name in ("prices", "flags")
        }
        holders = sorted(r["node"] for r in ready["flags"]["replicas"])
        nodes = sorted(fleet.urls)
        reads = [f"{fleet.urls[n]}/v1/{namespace}/prices/price" for n in nodes[:3]]
        writes = [f"{fleet.urls[holders[0]]}/v1/{namespace}/flags/counter"]
        queries = panel_queries()
        with Load(reads, writes):
            time.sleep(20)  # history for the forecasts, reads served local and remote
            # flags keeps 2 copies: its Lease lapses, the operator fails its copy over
            fleet.kill(holders[-1])
            wait_for(
                lambda: not no_data(prometheus, [q for q in queries if "failover" in q[1]]),
                timeout=180,
                interval=2,
                what="a failover copy",
            )
            fleet.start(holders[-1])
            deadline = time.monotonic() + 240
            while (missing := no_data(prometheus, queries)) and time.monotonic() < deadline:
                time.sleep(3)
        assert not missing, "panels without data:\n" + "\n".join(missing)
    finally:
        prometheus.stop()
