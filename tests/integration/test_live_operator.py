"""The operator restarted while demand holds predicted replicas on busy nodes (issue 19,
item 3): the restarted operator must not act on the history it loaded before its own
sampling has caught up, nor drop copies the planner placed for demand (the spread it
falls back to without a forecast kept only ``replicas.min`` and removed them)."""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from kubernetes import client

from statecast.api.types import GROUP, VERSION
from statecast.devcluster.system import System
from tests.integration.conftest import create_resource, status_of, wait_for
from tests.integration.live import AgentFleet, replicas_of


class Load:
    """Pods on some nodes reading a resource through their node's agent, 20 reads/s each."""

    def __init__(self, urls: list[str]) -> None:
        self.urls, self.stop = urls, threading.Event()
        self.threads = [threading.Thread(target=self._read, args=(u,), daemon=True) for u in urls]

    def _read(self, url: str) -> None:
        with httpx.Client(timeout=5) as http:
            while not self.stop.is_set():
                with contextlib.suppress(httpx.HTTPError):
                    http.get(url)
                time.sleep(0.05)

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=10)


def test_a_restarted_operator_keeps_the_copies_placed_on_busy_nodes(
    api_client: client.ApiClient,
    namespace: str,
    fleet: AgentFleet,
    system: System,
    operator: Path,
) -> None:
    custom = client.CustomObjectsApi(api_client)
    spec = {
        "replicas": {"min": 1, "max": 3},
        "prediction": {"interval": "5s", "horizon": "15s"},
        "source": {"inline": {"price": 10}},
    }
    create_resource(custom, namespace, "prices", spec)
    status = wait_for(
        lambda: (s := status_of(custom, namespace, "prices")).get("phase") == "Ready" and s,
        what="prices Ready",
    )
    holders = {r["node"] for r in status["replicas"]}
    # One busy node: the default prices hold a copy where a node reads more than the
    # hot threshold (mean + sigma of the nodes' demand); two equally busy nodes of four
    # are both at it, and one copy in their zone serves the other from the same zone.
    busy = [n for n in sorted(fleet.urls) if n not in holders][:1]
    urls = [f"{fleet.urls[n]}/v1/{namespace}/prices/price" for n in busy]
    with Load(urls):

        def predicted_on_busy_nodes() -> dict[str, dict[str, Any]] | None:
            found = replicas_of(custom, namespace, "prices")
            placed = {n: found[n] for n in busy if n in found}
            ready = all(r.get("status", {}).get("phase") == "Ready" for r in placed.values())
            return placed if len(placed) == len(busy) and ready else None

        placed = wait_for(
            predicted_on_busy_nodes, timeout=180, what=f"predicted replicas on {busy}"
        )
        uids = {n: r["metadata"]["uid"] for n, r in placed.items()}
        name = operator.stem  # the session's operator process
        system.kill(name, signal.SIGTERM)  # a clean restart: it saves the history first
        wait_for(lambda: system.pid(name) is None, timeout=30, what="the operator stopped")
        system.restart(name)
        restarted = time.monotonic()
        while time.monotonic() - restarted < 30:  # its first reconciles, under the same load
            found = replicas_of(custom, namespace, "prices")
            now = {n: found[n]["metadata"]["uid"] for n in busy if n in found}
            assert now == uids, f"a busy node's copy was removed after the restart: {now}"
            time.sleep(0.5)


def replica_counts(custom: client.CustomObjectsApi, nodes: list[str]) -> dict[str, int]:
    """Node -> Replicas on it in every namespace; empty while one is being deleted."""
    held = dict.fromkeys(nodes, 0)
    for item in custom.list_cluster_custom_object(GROUP, VERSION, "replicas")["items"]:
        if item["metadata"].get("deletionTimestamp"):
            return {}
        node = item["spec"]["nodeName"]
        held[node] = held.get(node, 0) + 1
    return held


def settled_counts(custom: client.CustomObjectsApi, nodes: list[str]) -> dict[str, int]:
    """The Replica counts once no Replica is being deleted and two listings 1.5 s apart
    agree: the operator sums its index at most once a second, so it holds the same counts
    (an earlier test's namespace may still be going away)."""

    def settled() -> dict[str, int] | None:
        first = replica_counts(custom, nodes)
        time.sleep(1.5)
        return first if first and first == replica_counts(custom, nodes) else None

    return wait_for(settled, timeout=120, what="Replica counts that stay put")


def test_the_first_copies_of_resources_go_to_the_least_loaded_nodes(
    api_client: client.ApiClient, namespace: str, operator: Path
) -> None:
    """Each new copy goes to a node holding the fewest replicas of any resource (other
    tests' replicas included: the cluster is shared), not to the node that sorts first."""
    custom = client.CustomObjectsApi(api_client)
    nodes = [n.metadata.name for n in client.CoreV1Api(api_client).list_node().items]
    spec = {"replicas": {"min": 1}, "replication": {"policy": "static"}}
    for name in ("first", "second", "third"):
        held = settled_counts(custom, nodes)
        create_resource(custom, namespace, name, spec)
        (placed,) = wait_for(
            lambda n=name: list(replicas_of(custom, namespace, n)),
            what=f"the replica of {name}",
        )
        assert held[placed] == min(held.values()), f"{name} placed on {placed}; held: {held}"
        # the operator counts what each node holds from its Replica index, summed at most
        # once a second: once its status of this resource lists the copy, its index holds
        # it, and a count made a second later does too, however slow the machine is
        wait_for(
            lambda n=name: status_of(custom, namespace, n).get("replicas"),
            what=f"{name}'s copy in the operator's status",
        )
        time.sleep(1.5)
