"""Cordoned and full-disk copies on the dev cluster, with the real operator and agents.

A copy on a node that is cordoned (the first step of a drain) leaves only once a copy
elsewhere is Ready, and stays, the resource saying why, where no other node can take
one. Before: ``min = max`` = the nodes, one cordoned, and the operator deleted that copy
(nothing could replace it; the copies wanted were all Ready); at ``replicas.max`` with a
spare node it deleted the cordoned copy first and added the new one after, so the
resource held a copy fewer while that one synced; a copy whose agent could not write its
files (a full disk) was removed 5 s after it said so, nothing replacing it. The Replicas
are followed with a watch, so every creation and deletion is seen in the order the API
server made them.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from kubernetes import client, watch

from statecast.api.types import GROUP, VERSION
from statecast.chaos.disk import fill_file_system, mount_tmpfs, unmount
from statecast.chaos.target import TargetError
from statecast.devcluster.system import INSTALL_NAMESPACE, System
from tests.integration.conftest import create_resource, status_of, wait_for
from tests.integration.live import AgentFleet, agent_fleet, condition, replicas_of


class ReplicaLog:
    """Every change to a namespace's Replicas: (type, node, phase), in the API's order.

    The watch is resumed from the last version seen when the server ends it; a watch
    that breaks while the block runs is an error (a deletion could have been missed).
    """

    def __init__(self, custom: client.CustomObjectsApi, namespace: str) -> None:
        self.events: list[tuple[str, str, str | None]] = []
        self.error: BaseException | None = None
        self._watch = watch.Watch()
        self._custom = custom
        self._namespace = namespace
        self._started = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._follow, daemon=True)

    def _follow(self) -> None:
        try:
            listed = self._custom.list_namespaced_custom_object(
                GROUP, VERSION, self._namespace, "replicas"
            )
            version = listed["metadata"]["resourceVersion"]
            self._started.set()
            while not self._stopping.is_set():
                for event in self._watch.stream(
                    self._custom.list_namespaced_custom_object,
                    GROUP,
                    VERSION,
                    self._namespace,
                    "replicas",
                    resource_version=version,
                    timeout_seconds=20,
                ):
                    obj = event["object"]
                    version = obj["metadata"]["resourceVersion"]
                    phase = (obj.get("status") or {}).get("phase")
                    self.events.append((event["type"], obj["spec"]["nodeName"], phase))
        except Exception as error:  # noqa: BLE001 - reported by following()
            if not self._stopping.is_set():
                self.error = error
        finally:
            self._started.set()

    @contextlib.contextmanager
    def following(self) -> Iterator[ReplicaLog]:
        """Follow the Replicas for the block's length; fail if the watch broke meanwhile."""
        self._thread.start()
        self._started.wait(30)
        try:
            yield self
        finally:
            self._stopping.set()
            self._watch.stop()
        assert self.error is None, f"the Replica watch broke: {self.error!r}"

    def deleted(self) -> list[str]:
        """The nodes whose Replica was deleted, in order."""
        return [node for kind, node, _ in self.events if kind == "DELETED"]


@contextlib.contextmanager
def cordoned(api_client: client.ApiClient, node: str) -> Iterator[None]:
    """``node`` cordoned for the block's length (the dev cluster is shared: always undone)."""
    core = client.CoreV1Api(api_client)
    core.patch_node(node, {"spec": {"unschedulable": True}})
    try:
        yield
    finally:
        core.patch_node(node, {"spec": {"unschedulable": False}})


#: A value whose log record cannot fit on a full file system: a small record may still go
#: into the room left in the log file's last page (a tmpfs is full to the page), so a
#: one-byte write could be taken for a while after the fill - the final CI of session 17
#: waited 120 s for a full leader to refuse one.
UNLOGGABLE = "x" * (64 << 10)


def phases(custom: client.CustomObjectsApi, namespace: str, name: str) -> dict[str, Any]:
    """Node -> the phase its Replica reports."""
    found = replicas_of(custom, namespace, name)
    return {n: (r.get("status") or {}).get("phase") for n, r in found.items()}


def kept_unreplaced(custom: client.CustomObjectsApi, namespace: str, name: str) -> dict[str, Any]:
    """Wait until ``name`` is Degraded with reason ``NoReplacement``; the condition."""
    degraded = wait_for(
        lambda: (
            (found := condition(status_of(custom, namespace, name), "Degraded"))
            .get("status") == "True"
            and found
        ),
        timeout=90,
        what=f"{name} Degraded for the cordon",
    )  # fmt: skip
    assert degraded["reason"] == "NoReplacement", degraded
    return dict(degraded)


def degraded_cleared(custom: client.CustomObjectsApi, namespace: str, name: str) -> None:
    """Wait until ``name``'s Degraded condition is False again (the cordon lifted)."""
    wait_for(
        lambda: condition(status_of(custom, namespace, name), "Degraded").get("status") == "False",
        timeout=90,
        what=f"{name}'s Degraded cleared once uncordoned",
    )


def test_a_cordoned_copy_stays_where_no_other_node_can_take_one(
    api_client: client.ApiClient, namespace: str, fleet: AgentFleet
) -> None:
    custom = client.CustomObjectsApi(api_client)
    nodes = sorted(fleet.urls)
    spec = {"replicas": {"min": len(nodes), "max": len(nodes)}, "replication": {"policy": "static"}}
    create_resource(custom, namespace, "everywhere", spec)
    every_copy_ready = dict.fromkeys(nodes, "Ready")
    wait_for(
        lambda: phases(custom, namespace, "everywhere") == every_copy_ready,
        timeout=120,
        what="a Ready copy on each node",
    )
    victim = nodes[-1]
    with ReplicaLog(custom, namespace).following() as log:
        with cordoned(api_client, victim):
            degraded = kept_unreplaced(custom, namespace, "everywhere")
            assert victim in degraded["message"], degraded
            events = client.CoreV1Api(api_client).list_namespaced_event(
                namespace, field_selector="involvedObject.name=everywhere"
            )
            assert "NoReplacement" in {e.reason for e in events.items}
            assert phases(custom, namespace, "everywhere").get(victim) == "Ready"
        degraded_cleared(custom, namespace, "everywhere")
    assert log.deleted() == [], f"a copy was deleted: {log.events}"


def test_a_cordoned_copy_at_max_goes_only_once_its_replacement_is_ready(
    api_client: client.ApiClient, namespace: str, fleet: AgentFleet
) -> None:
    custom = client.CustomObjectsApi(api_client)
    nodes = sorted(fleet.urls)
    count = len(nodes) - 1  # one spare node
    spec = {"replicas": {"min": count, "max": count}, "replication": {"policy": "static"}}
    create_resource(custom, namespace, "moved", spec)
    placed = wait_for(
        lambda: (
            (p := phases(custom, namespace, "moved"))
            and len(p) == count
            and set(p.values()) == {"Ready"}
            and p
        ),
        timeout=120,
        what=f"{count} Ready copies",
    )
    victim = sorted(placed)[0]
    (spare,) = set(nodes) - set(placed)
    with ReplicaLog(custom, namespace).following() as log, cordoned(api_client, victim):
        wait_for(
            lambda: (
                (p := phases(custom, namespace, "moved")).get(spare) == "Ready" and victim not in p
            ),
            timeout=120,
            what=f"the copy moved from {victim} to {spare}",
        )
    on_victim = [i for i, (kind, node, _) in enumerate(log.events) if node == victim]
    deleted_at = next(i for i in on_victim if log.events[i][0] == "DELETED")
    before = [(kind, phase) for kind, node, phase in log.events[:deleted_at] if node == spare]
    assert before and before[0][0] == "ADDED", f"removed before its replacement: {log.events}"
    assert before[-1][1] == "Ready", f"removed before its replacement was Ready: {log.events}"


@contextlib.contextmanager
def small_disks(
    system: System, root: Path, service_account_kubeconfig: Callable[[str], Path], on: list[str]
) -> Iterator[AgentFleet]:
    """An agent per node, the data directories of ``on`` on 16 MiB tmpfs of their own.

    Skips the test where a tmpfs cannot be mounted (it needs root, as the ``disk-full``
    chaos scenario does).
    """
    mounted: list[Path] = []
    try:
        for node in on:
            home = root / node
            home.mkdir(parents=True)
            try:
                mount_tmpfs(home, 16 << 20)
            except TargetError as error:
                pytest.skip(str(error))
            mounted.append(home)
        kubeconfig = service_account_kubeconfig("statecast-agent")
        with agent_fleet(system, INSTALL_NAMESPACE, kubeconfig, root) as fleet:
            yield fleet
    finally:
        for home in mounted:
            unmount(home)


@pytest.fixture
def small_disk_fleet(
    system: System,
    service_account_kubeconfig: Callable[[str], Path],
    operator: Path,
    tmp_path: Path,
) -> Iterator[tuple[AgentFleet, str, Path]]:
    """An agent per node, the last node's data directory on a 16 MiB tmpfs of its own.

    Yields the fleet, that node and its data directory.
    """
    victim = sorted(n.name for n in system.nodes())[-1]
    root = tmp_path / "agents"
    with small_disks(system, root, service_account_kubeconfig, [victim]) as fleet:
        yield fleet, victim, root / victim


def test_a_copy_on_a_full_disk_stays_where_no_other_node_can_take_one(
    api_client: client.ApiClient,
    namespace: str,
    small_disk_fleet: tuple[AgentFleet, str, Path],
) -> None:
    """Its agent refuses the copy's writes and reports ``StorageAvailable=False``; with no
    node for a replacement the copy stays, serving reads, the resource Degraded
    (``NoReplacement``) and the Warning saying it stays. Before: removed 5 s later."""
    fleet, victim, home = small_disk_fleet
    custom = client.CustomObjectsApi(api_client)
    nodes = sorted(fleet.urls)
    spec = {
        "replicas": {"min": len(nodes), "max": len(nodes)},
        "replication": {"policy": "static"},
        "source": {"inline": {"seeded": "yes"}},
    }
    create_resource(custom, namespace, "full", spec)
    wait_for(
        lambda: phases(custom, namespace, "full") == dict.fromkeys(nodes, "Ready"),
        timeout=120,
        what="a Ready copy on each node",
    )
    url = f"{fleet.urls[victim]}/v1/{namespace}/full"
    with ReplicaLog(custom, namespace).following() as log, httpx.Client(timeout=5) as http:
        fill_file_system(home / "filler")
        try:

            def refused_and_said() -> dict[str, Any] | None:
                http.put(f"{url}/after-full", json=UNLOGGABLE)
                if victim not in phases(custom, namespace, "full"):
                    pytest.fail(f"the copy on {victim} was removed: {log.events}")
                found = condition(status_of(custom, namespace, "full"), "Degraded")
                return found if found.get("reason") == "NoReplacement" else None

            degraded = wait_for(refused_and_said, timeout=90, interval=1.0,
                                what="the resource Degraded for the full disk")  # fmt: skip
            assert victim in degraded["message"], degraded
            assert "files cannot be written" in degraded["message"], degraded
            events = client.CoreV1Api(api_client).list_namespaced_event(
                namespace, field_selector="involvedObject.name=full"
            )
            storage = [e.message for e in events.items if e.reason == "StorageUnavailable"]
            assert storage and all("no other node can take" in m for m in storage), storage
            assert http.get(f"{url}/seeded").status_code == 200, "it still serves reads"
            assert phases(custom, namespace, "full").get(victim) is not None
        finally:
            (home / "filler").unlink(missing_ok=True)
    assert log.deleted() == [], f"a copy was deleted: {log.events}"


@pytest.fixture
def small_disks_fleet(
    system: System,
    service_account_kubeconfig: Callable[[str], Path],
    operator: Path,
    tmp_path: Path,
) -> Iterator[tuple[AgentFleet, dict[str, Path]]]:
    """An agent per node, each data directory on a 16 MiB tmpfs of its own.

    Yields the fleet and node -> its data directory.
    """
    nodes = sorted(n.name for n in system.nodes())
    root = tmp_path / "agents"
    with small_disks(system, root, service_account_kubeconfig, nodes) as fleet:
        yield fleet, {node: root / node for node in nodes}


def led_strong_resource(custom: client.CustomObjectsApi, namespace: str, name: str) -> str:
    """Create a strong resource with a voter on each of three nodes; its leader once Ready."""
    spec = {
        "consistency": "strong",
        "replicas": {"min": 3, "max": 3},
        "replication": {"policy": "static"},
        "source": {"inline": {"seeded": "yes"}},
    }
    create_resource(custom, namespace, name, spec)
    status = wait_for(
        lambda: (
            (s := status_of(custom, namespace, name)).get("leader")
            and s.get("phase") == "Ready"
            and s
        ),
        timeout=120,
        what=f"{name} led and Ready",
    )
    return str(status["leader"])


def test_a_strong_leader_on_a_full_disk_hands_over_and_its_voter_is_replaced(
    api_client: client.ApiClient,
    namespace: str,
    small_disks_fleet: tuple[AgentFleet, dict[str, Path]],
) -> None:
    """A leader whose log cannot be written refuses every write (``storage_unavailable``).
    The operator moves the lead to a voter that can write (a ``transfer`` election), and
    a learner on the spare node joins in the full voter's place. Before: the leader and
    its voter stayed for as long as the disk was full, and no write was taken."""
    fleet, homes = small_disks_fleet
    custom = client.CustomObjectsApi(api_client)
    leader = led_strong_resource(custom, namespace, "ledger")
    filler = homes[leader] / "filler"
    with httpx.Client(timeout=10) as http:
        fill_file_system(filler)
        try:

            def written_elsewhere() -> dict[str, Any] | None:
                found = status_of(custom, namespace, "ledger")
                new = found.get("leader")
                if not new or new == leader:  # the full leader is asked, it refuses
                    http.put(f"{fleet.urls[leader]}/v1/{namespace}/ledger/k", json=UNLOGGABLE)
                    return None
                reply = http.put(f"{fleet.urls[new]}/v1/{namespace}/ledger/k", json=2)
                return found if reply.status_code == 200 else None

            led = wait_for(written_elsewhere, timeout=120, interval=1.0,
                           what="the lead moved off the full disk and a write taken")  # fmt: skip
            assert led["leader"] != leader
            wait_for(
                lambda: (
                    leader not in (v := status_of(custom, namespace, "ledger").get("voters", []))
                    and len(v) == 3
                ),
                timeout=120,
                what=f"three voters without {leader}",
            )
        finally:
            filler.unlink(missing_ok=True)


def test_an_idle_strong_leader_on_a_filled_disk_is_moved_before_a_write_is_refused(
    api_client: client.ApiClient,
    namespace: str,
    small_disks_fleet: tuple[AgentFleet, dict[str, Path]],
) -> None:
    """No write reaches the leader after its disk filled; its agent says the copy is short
    of room (``StorageAvailable=False``) and the lead moves, its voter replaced. Before
    (session 17): a disk was found full only by a write it refused, so an idle leader
    stayed on it until a client's write failed."""
    fleet, homes = small_disks_fleet
    custom = client.CustomObjectsApi(api_client)
    leader = led_strong_resource(custom, namespace, "idle")
    filler = homes[leader] / "filler"
    fill_file_system(filler)
    try:
        moved = wait_for(
            lambda: (
                (s := status_of(custom, namespace, "idle")).get("leader") not in (None, leader)
                and leader not in s.get("voters", [])
                and len(s.get("voters", [])) == 3
                and s
            ),
            timeout=120,
            what=f"the lead and a voter moved off {leader} with no write",
        )
        url = f"{fleet.urls[moved['leader']]}/v1/{namespace}/idle/k"
        with httpx.Client(timeout=10) as http:  # 503 epoch_opening until its epoch is open
            wait_for(lambda: http.put(url, json=1).status_code == 200, timeout=60,
                     interval=0.5, what="a write taken by the new leader")  # fmt: skip
    finally:
        filler.unlink(missing_ok=True)


def test_a_cordoned_strong_leader_stays_a_voter_where_no_other_node_can_take_one(
    api_client: client.ApiClient, namespace: str, fleet: AgentFleet
) -> None:
    """A strong resource's three voters; every other node and the leader's are cordoned.
    No node can take the leader's place, so no voter goes (a voter removed without a
    replacement would shrink the quorum the acknowledged writes rely on); the resource
    says why, keeps taking writes, and recovers once the nodes are uncordoned. The lead
    moves to a voter on a node that takes copies (a ``transfer``: the node's shutdown at
    the end of a drain then costs a follower, not a failover); before, it stayed."""
    custom = client.CustomObjectsApi(api_client)
    led = led_strong_resource(custom, namespace, "quorum")
    voters = sorted(status_of(custom, namespace, "quorum").get("voters", []))
    spare = [n for n in sorted(fleet.urls) if n not in voters]

    def written(value: int) -> Callable[[], bool]:
        def attempt() -> bool:  # the leader named now; 503s (an epoch opening) are retried
            leader = status_of(custom, namespace, "quorum").get("leader")
            if not leader:
                return False
            url = f"{fleet.urls[leader]}/v1/{namespace}/quorum/k"
            return http.put(url, json=value).status_code == 200

        return attempt

    with httpx.Client(timeout=10) as http, ReplicaLog(custom, namespace).following() as log:
        with contextlib.ExitStack() as cordons:
            for node in [*spare, led]:
                cordons.enter_context(cordoned(api_client, node))
            degraded = kept_unreplaced(custom, namespace, "quorum")
            assert led in degraded["message"], degraded
            wait_for(
                lambda: status_of(custom, namespace, "quorum").get("leader") not in (None, led),
                timeout=60,
                what=f"the lead moved off the cordoned {led}",
            )
            wait_for(written(1), timeout=60, interval=0.5, what="a write taken while cordoned")
            assert sorted(status_of(custom, namespace, "quorum").get("voters", [])) == voters
        degraded_cleared(custom, namespace, "quorum")
        wait_for(written(2), timeout=60, interval=0.5, what="a write taken after the cordon")
    assert log.deleted() == [], f"a voter was deleted: {log.events}"
    url = f"{fleet.urls[led]}/v1/{namespace}/quorum/k"  # read on the node that was cordoned
    reply = wait_for(
        lambda: (r := httpx.get(url, timeout=10)).status_code == 200 and r,
        timeout=30,
        interval=0.5,
        what="the last write read on the node that was cordoned",
    )
    assert reply.json() == 2, reply.text
