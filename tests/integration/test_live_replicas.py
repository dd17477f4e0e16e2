"""The operator and real agents on the dev cluster, with agents killed and replicas added
under load (issue 19): no acknowledged write is lost when the only copy's agent dies
and comes back, and a new replica never answers "not found" for keys that exist."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
from kubernetes import client

from statecast.api.types import GROUP, VERSION
from tests.integration.conftest import create_resource, status_of, wait_for
from tests.integration.live import AgentFleet, condition, replicas_of


def value(url: str) -> Any:
    """The value at ``url`` (None when the agent answers anything but 200)."""
    try:
        reply = httpx.get(url, timeout=5)
    except httpx.HTTPError:
        return None
    return reply.json() if reply.status_code == 200 else None


def test_a_sole_copy_lost_after_acknowledged_writes_is_merged_back_not_replaced_by_the_seed(
    api_client: client.ApiClient,
    namespace: str,
    fleet: AgentFleet,
    kubectl: Callable[..., Any],
) -> None:
    custom = client.CustomObjectsApi(api_client)
    spec = {
        "replicas": {"min": 1, "max": 1},
        "replication": {"policy": "static"},
        "source": {"inline": {"seeded": "yes"}},
    }
    create_resource(custom, namespace, "sole", spec)
    status = wait_for(
        lambda: (
            (s := status_of(custom, namespace, "sole")).get("phase") == "Ready"
            and len(s["replicas"]) == 1
            and s
        ),
        what="sole Ready on one replica",
    )
    (holder,) = [r["node"] for r in status["replicas"]]
    base = f"/v1/{namespace}/sole"
    acked = {f"written-{i}": i for i in range(5)}
    with httpx.Client(timeout=5) as http:
        for key, number in acked.items():
            http.put(f"{fleet.urls[holder]}{base}/{key}", json=number).raise_for_status()

    fleet.kill(holder)  # kill -9: the only copy of the writes is in its files

    def stand_in_placed() -> dict[str, Any] | None:
        found = status_of(custom, namespace, "sole")
        degraded = condition(found, "Degraded")
        standing = [r for r in found.get("replicas", []) if r.get("standInFor")]
        ready = [r for r in standing if r["phase"] == "Ready"]
        return found if degraded.get("reason") == "LastCopyLost" and ready else None

    status = wait_for(stand_in_placed, timeout=60, what="a Ready stand-in, LastCopyLost")
    assert status["phase"] == "Degraded"
    assert f"the copy on {holder}" in condition(status, "Degraded")["message"]
    (stand_in,) = [r["node"] for r in status["replicas"] if r.get("standInFor")]
    replicas = replicas_of(custom, namespace, "sole")
    assert replicas[holder]["status"]["phase"] == "Lost"  # kept, not removed by the hand-off
    assert replicas[stand_in]["spec"]["standInFor"] == [holder]
    assert condition(replicas[stand_in]["status"], "StandIn")["status"] == "True"
    listing = kubectl("get", "replicas", "-n", namespace).stdout
    assert "STANDS-IN-FOR" in listing and holder in listing.split(stand_in, 1)[1]
    assert value(f"{fleet.urls[stand_in]}{base}/seeded") == "yes"  # the seed, said to be one

    fleet.start(holder)  # its agent returns with its files: the writes are merged

    def merged() -> bool:
        found = {k: value(f"{fleet.urls[stand_in]}{base}/{k}") for k in acked}
        return found == acked

    wait_for(merged, timeout=60, what=f"the writes acknowledged on {holder} merged")

    def settled() -> dict[str, Any] | None:
        found = status_of(custom, namespace, "sole")
        kept = replicas_of(custom, namespace, "sole")
        clean = not any(r.get("standInFor") for r in found.get("replicas", []))
        return found if found.get("phase") == "Ready" and len(kept) == 1 and clean else None

    status = wait_for(settled, timeout=60, what="one replica again, Ready, no stand-in")
    assert condition(status, "Degraded")["status"] == "False"
    for node, url in fleet.urls.items():  # every node reads every acknowledged write
        for key, number in {**acked, "seeded": "yes"}.items():
            assert value(f"{url}{base}/{key}") == number, (node, key)


def test_new_replicas_opened_under_reads_never_answer_not_found_for_existing_keys(
    api_client: client.ApiClient, namespace: str, fleet: AgentFleet
) -> None:
    custom = client.CustomObjectsApi(api_client)
    spec = {
        "replicas": {"min": 1},
        "replication": {"policy": "static"},
        "source": {"inline": {"k0": 0, "k1": 1}},
    }
    create_resource(custom, namespace, "hot", spec)
    status = wait_for(
        lambda: (s := status_of(custom, namespace, "hot")).get("phase") == "Ready" and s,
        what="hot Ready",
    )
    holders = {r["node"] for r in status["replicas"]}
    readers = [n for n in sorted(fleet.urls) if n not in holders]
    answers: Counter[tuple[str, int]] = Counter()
    stop = threading.Event()

    def read(node: str) -> None:  # 20 reads/s on a node that will get a replica
        with httpx.Client(timeout=5) as http:
            while not stop.is_set():
                for key in ("k0", "k1"):
                    reply = http.get(f"{fleet.urls[node]}/v1/{namespace}/hot/{key}")
                    error = reply.json()["error"]["code"] if reply.status_code != 200 else "ok"
                    answers[error, reply.status_code] += 1
                time.sleep(0.1)

    threads = [threading.Thread(target=read, args=(n,), daemon=True) for n in readers]
    for thread in threads:
        thread.start()
    time.sleep(1)
    custom.patch_namespaced_custom_object(
        GROUP, VERSION, namespace, "sharedresources", "hot",
        {"spec": {"replicas": {"min": len(fleet.urls)}}},
    )  # fmt: skip
    wait_for(
        lambda: status_of(custom, namespace, "hot").get("readyReplicas") == len(fleet.urls),
        timeout=60,
        what="a replica Ready on every node",
    )
    time.sleep(1)
    stop.set()
    for thread in threads:
        thread.join(timeout=10)
    assert answers[("ok", 200)] > 0
    assert {k: n for k, n in answers.items() if k[1] == 404} == {}, answers


def test_a_frozen_agent_keeps_its_copy_where_no_other_node_can_take_one(
    api_client: client.ApiClient, namespace: str, fleet: AgentFleet
) -> None:
    """A copy on every node (``min = max`` = the nodes); one agent frozen past its Lease,
    as a CPU-starved agent renews late (session 14's CI run B): its copy is marked Lost
    and kept, never deleted and synced again from scratch; when the agent runs again the
    same Replica is Ready. Before, the reconcile that found it lost deleted it (no node
    was left for a replacement, so every copy wanted was Ready)."""
    custom = client.CustomObjectsApi(api_client)
    nodes = sorted(fleet.urls)
    spec = {"replicas": {"min": len(nodes), "max": len(nodes)}, "replication": {"policy": "static"}}
    create_resource(custom, namespace, "everywhere", spec)

    def phases() -> dict[str, str | None]:
        found = replicas_of(custom, namespace, "everywhere")
        return {n: (r.get("status") or {}).get("phase") for n, r in found.items()}

    def uids() -> dict[str, str]:
        found = replicas_of(custom, namespace, "everywhere")
        return {n: r["metadata"]["uid"] for n, r in found.items()}

    every_copy_ready = dict.fromkeys(nodes, "Ready")
    wait_for(lambda: phases() == every_copy_ready, timeout=120, what="a Ready copy each")
    placed = uids()
    frozen = nodes[-1]
    fleet.freeze(frozen)
    try:
        # marked Lost (its Lease lapsed) - or, before, deleted in the same reconcile
        after = wait_for(
            lambda: (p := phases()).get(frozen) != "Ready" and p,
            timeout=90,
            what=f"the copy on {frozen} no longer Ready",
        )
        assert after.get(frozen) == "Lost", f"the copy on {frozen} was removed: {after}"

        def reported() -> bool:
            found = status_of(custom, namespace, "everywhere")
            rows = {r["node"]: r["phase"] for r in found.get("replicas", [])}
            return rows.get(frozen) == "Lost" and found.get("phase") == "Degraded"

        wait_for(reported, timeout=60, what="the resource Degraded, the copy Lost in its status")
        assert uids() == placed, "no Replica removed or created while the agent is frozen"
    finally:
        fleet.freeze(frozen, frozen=False)
    wait_for(lambda: phases() == every_copy_ready, timeout=90, what=f"{frozen} Ready again")
    assert uids() == placed, "the same Replicas"
