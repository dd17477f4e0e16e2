"""The agent's Kubernetes edge against a fake gateway; the phase decision as a table."""

from __future__ import annotations

import asyncio
import json
import socket
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from kubernetes.client.exceptions import ApiException

from statecast.agent import kube
from statecast.agent.config import AgentConfig
from statecast.agent.kube import LeaseKeeper, PeerWatcher, ReplicaReconciler
from statecast.agent.kube_api import LeaseRecord, ReplicaRecord
from statecast.agent.main import run_agent
from statecast.agent.replica_status import ReplicaFacts, caught_up, decide_phase
from statecast.agent.runtime import Agent
from statecast.agent.server import build_server
from statecast.api.lease import ENDPOINT_ANNOTATION, ZONE_ANNOTATION
from statecast.core.crdt.seed import seed_origin


class FakeGateway:
    """An in-memory API server with just what the agent's edge uses."""

    def __init__(self) -> None:
        self.leases: dict[tuple[str, str], LeaseRecord] = {}
        self.replicas: list[ReplicaRecord] = []
        self.specs: dict[tuple[str, str], dict[str, Any]] = {}
        self.patches: list[tuple[str, dict[str, Any]]] = []
        self.resource_status: dict[tuple[str, str], dict[str, Any]] = {}
        self.sources: dict[tuple[str, str, str], dict[str, bytes]] = {}
        self.events: list[tuple[str, str, str]] = []
        self.uids: dict[tuple[str, str], str] = {}
        self._version = 0

    async def get_lease(self, namespace: str, name: str) -> LeaseRecord | None:
        return self.leases.get((namespace, name))

    async def put_lease(self, namespace: str, lease: LeaseRecord) -> LeaseRecord:
        current = self.leases.get((namespace, lease.name))
        if (current.resource_version if current else None) != lease.resource_version:
            raise ApiException(status=409, reason="Conflict")  # as the API server answers
        self._version += 1
        stored = replace(lease, resource_version=str(self._version))
        self.leases[namespace, lease.name] = stored
        return stored

    async def list_leases(self, namespace: str) -> list[LeaseRecord]:
        return [lease for (ns, _), lease in self.leases.items() if ns == namespace]

    async def list_replicas(self) -> list[ReplicaRecord]:
        return list(self.replicas)

    async def get_resource(self, namespace: str, name: str) -> dict[str, Any] | None:
        spec = self.specs.get((namespace, name))
        if spec is None:
            return None
        return {
            "metadata": {"uid": self.uids.get((namespace, name), "uid-1")},
            "spec": spec,
            "status": self.resource_status.get((namespace, name), {}),
        }

    async def get_source_data(
        self, namespace: str, kind: str, name: str
    ) -> dict[str, bytes] | None:
        return self.sources.get((namespace, kind, name))

    async def post_event(
        self, record: ReplicaRecord, reason: str, message: str, *, warning: bool
    ) -> None:
        self.events.append((record.name, reason, message))

    async def patch_replica_status(self, namespace: str, name: str, status: dict[str, Any]) -> None:
        self.patches.append((name, status))


@pytest.fixture
async def agent(tmp_path: Path):
    node = Agent(AgentConfig(node="n1", data_dir=tmp_path))
    yield node
    await node.stop()


@pytest.mark.parametrize(
    ("facts", "phase"),
    [
        # alone and caught up: nothing to copy from, so the replica is as good as it gets
        (ReplicaFacts(0, True, None, 0.0), "Ready"),
        # alone but not caught up: an empty copy while the holders are unreachable
        (ReplicaFacts(0, False, None, 0.0), "Syncing"),
        # peers alive but no sync done since the replica was opened
        (ReplicaFacts(2, False, None, 0.0), "Syncing"),
        # synced recently and nothing arrived late
        (ReplicaFacts(2, True, 1.0, 0.0), "Ready"),
        # the last successful sync is older than the staleness bound
        (ReplicaFacts(2, True, 30.0, 0.0), "Stale"),
        # the last sync brought in changes older than the bound: it had fallen behind
        (ReplicaFacts(2, True, 1.0, 45.0), "Stale"),
        # to be seeded from a source that cannot be read yet: not Ready, even alone
        (ReplicaFacts(0, True, None, 0.0, awaiting_seed=True), "Syncing"),
        # Ready alone, then a peer appeared 2 s ago: its first sync is due, not late
        (ReplicaFacts(1, True, None, 0.0, seconds_with_peers=2.0), "Ready"),
        # ... but a peer there for longer than the bound and still no sync: Stale
        (ReplicaFacts(1, True, None, 0.0, seconds_with_peers=30.0), "Stale"),
        # never synced and nothing known of when its peers came: Stale, as before
        (ReplicaFacts(1, True, None, 0.0), "Stale"),
    ],
)
def test_the_phase_follows_from_what_the_agent_observes(facts, phase):
    assert decide_phase(facts, stale_after=10.0) == phase


@pytest.mark.parametrize(
    ("peers", "pulled", "others_held", "holds_state", "expected"),
    [
        # a new resource: alone, or every other new copy answered
        ((), {}, False, False, True),
        (("b", "c"), {"b": (5.0, False), "c": (5.0, False)}, False, False, True),
        # one copy has not answered yet
        (("b", "c"), {"b": (5.0, False)}, False, False, False),
        # a caught-up peer answered: it held everything
        (("b", "c"), {"b": (5.0, True)}, True, False, True),
        # a pull from before the replica was opened does not count
        (("b",), {"b": (0.5, True)}, True, False, False),
        # empty, holders elsewhere, but none of them reachable or caught up: wait
        ((), {}, True, False, False),
        (("b",), {"b": (5.0, False)}, True, False, False),
        # ... unless it holds state itself (recovered from disk, seeded) or stands in
        ((), {}, True, True, True),
        (("b",), {"b": (5.0, False)}, True, True, True),
    ],
)
def test_when_a_replica_has_caught_up(peers, pulled, others_held, holds_state, expected):
    found = caught_up(1.0, peers, pulled, others_held=others_held, holds_state=holds_state)
    assert found is expected


async def test_the_lease_is_created_then_renewed_with_endpoint_and_zone():
    gateway = FakeGateway()
    keeper = LeaseKeeper(gateway, "statecast-system", "n1", "http://10.0.0.1:7070", "zone-a", 2.0)
    first = await keeper.renew()
    second = await keeper.renew()
    assert first.name == "statecast-agent-n1"
    assert second.holder == "n1"
    assert second.duration_seconds == 6
    assert second.annotations == {
        ENDPOINT_ANNOTATION: "http://10.0.0.1:7070",
        ZONE_ANNOTATION: "zone-a",
    }
    assert second.renew_time >= first.renew_time
    assert second.resource_version != first.resource_version


async def test_fresh_leases_make_peers_and_expired_ones_remove_them(agent):
    gateway = FakeGateway()
    now = datetime.now(UTC)

    def lease(node: str, age: float) -> LeaseRecord:
        return LeaseRecord(
            name=f"statecast-agent-{node}",
            holder=node,
            renew_time=now - timedelta(seconds=age),
            duration_seconds=6,
            annotations={ENDPOINT_ANNOTATION: f"http://{node}:7070", ZONE_ANNOTATION: "z"},
        )

    clock = [100.0]
    watcher = PeerWatcher(gateway, "ns", agent, clock=lambda: clock[0])
    gateway.leases = {("ns", "a"): lease("n2", 1), ("ns", "b"): lease("n3", 60)}
    await watcher.refresh()  # first seen: both count as renewed now, on this agent's clock
    assert set(agent.directory.peers) == {"n2", "n3"}
    clock[0] += 7.0  # n2 renewed meanwhile, n3 did not: silent longer than its Lease
    gateway.leases["ns", "a"] = lease("n2", 0)
    await watcher.refresh()
    assert set(agent.directory.peers) == {"n2"}
    assert agent.directory.peers["n2"].zone == "z"


async def test_a_peer_whose_clock_is_behind_stays_a_peer_while_it_renews(agent):
    """Its renewTime is 9 s in the past by our clock at every renewal (Lease of 6 s)."""
    gateway = FakeGateway()
    clock = [100.0]
    watcher = PeerWatcher(gateway, "ns", agent, clock=lambda: clock[0])
    for step in range(5):
        renewed = datetime.now(UTC) - timedelta(seconds=9 - step * 0.001)
        gateway.leases = {
            ("ns", "a"): LeaseRecord(
                name="statecast-agent-n2",
                holder="n2",
                renew_time=renewed,
                duration_seconds=6,
                annotations={ENDPOINT_ANNOTATION: "http://n2:7070"},
            )
        }
        await watcher.refresh()
        assert set(agent.directory.peers) == {"n2"}
        clock[0] += 2.0


def record(node: str, name: str | None = None, **kw: Any) -> ReplicaRecord:
    return ReplicaRecord(
        namespace="apps",
        name=name or f"flags-{node}",
        resource="flags",
        node=node,
        generation=1,
        deleting=False,
        **kw,
    )


async def test_a_replica_is_materialised_and_reports_true_status(agent):
    gateway = FakeGateway()
    gateway.specs["apps", "flags"] = {"merge": "lww", "consistency": "eventual"}
    gateway.replicas = [record("n1"), record("n2")]  # n2's agent is not alive
    reconciler = ReplicaReconciler(gateway, agent)
    await reconciler.reconcile()
    assert ("apps", "flags") in agent.stores
    assert agent.locations["apps", "flags"] == ("n1", "n2")
    phases = [status["phase"] for name, status in gateway.patches if name == "flags-n1"]
    assert phases == ["Pending", "Syncing", "Ready"]
    await agent.stores["apps", "flags"].put("k", json.dumps("v").encode())
    await reconciler.reconcile()
    name, status = gateway.patches[-1]
    assert name == "flags-n1"
    assert status["versionVector"] == {agent.stores["apps", "flags"].replica: 1}
    assert status["bytes"] == len("k") + len('"v"')
    assert status["consistency"] == "eventual"
    assert status["conditions"][0]["type"] == "Ready"
    assert status["conditions"][0]["status"] == "True"
    assert "lastModified" in status


async def test_a_deleted_replica_is_closed(agent):
    gateway = FakeGateway()
    gateway.specs["apps", "flags"] = {}
    gateway.replicas = [record("n1")]
    reconciler = ReplicaReconciler(gateway, agent)
    await reconciler.reconcile()
    gateway.replicas = [replace(record("n1"), deleting=True)]
    await reconciler.reconcile()
    assert agent.stores == {}


async def test_a_replica_of_an_unknown_resource_waits(agent):
    gateway = FakeGateway()
    gateway.replicas = [record("n1")]
    await ReplicaReconciler(gateway, agent).reconcile()
    assert agent.stores == {}
    assert gateway.patches == []


async def test_a_new_resource_is_seeded_from_its_inline_source(agent):
    gateway = FakeGateway()
    gateway.specs["apps", "flags"] = {"source": {"inline": {"beta": True, "limit": 5}}}
    gateway.replicas = [record("n1")]
    await ReplicaReconciler(gateway, agent).reconcile()
    store = agent.stores["apps", "flags"]
    assert (store.get("beta"), store.get("limit")) == (b"true", b"5")
    origin = seed_origin({"beta": b"true", "limit": b"5"})
    assert store.version_vector.entries == {origin: 2}
    assert [reason for _, reason, _ in gateway.events] == ["Seeded"]


async def test_a_configmap_source_gives_string_values_and_a_missing_one_is_retried(
    agent, monkeypatch
):
    monkeypatch.setattr(kube, "SEED_RETRY_FIRST", 0.0)  # no waiting between attempts here
    gateway = FakeGateway()
    gateway.specs["apps", "flags"] = {"source": {"configMapRef": {"name": "defaults"}}}
    gateway.replicas = [record("n1")]
    reconciler = ReplicaReconciler(gateway, agent)
    await reconciler.reconcile()
    await reconciler.reconcile()
    assert len(agent.stores["apps", "flags"].state) == 0
    assert [(r, m) for _, r, m in gateway.events] == [
        ("SeedFailed", "ConfigMap/defaults not found in namespace apps")
    ]  # reported once, not on every pass
    _, status = gateway.patches[-1]
    assert status["phase"] == "Syncing"  # not Ready with an empty map: it is not seeded
    assert status["conditions"][0]["reason"] == "AwaitingSource"
    assert "ConfigMap/defaults not found" in status["conditions"][0]["message"]
    assert agent.stores["apps", "flags"].serving is False
    gateway.sources["apps", "ConfigMap", "defaults"] = {"colour": b"blue"}
    await reconciler.reconcile()
    assert agent.stores["apps", "flags"].get("colour") == b'"blue"'
    assert gateway.patches[-1][1]["phase"] == "Ready"


async def test_seeding_from_a_source_that_cannot_be_read_is_retried_with_a_growing_delay(agent):
    gateway = FakeGateway()
    gateway.specs["apps", "flags"] = {"source": {"configMapRef": {"name": "defaults"}}}
    gateway.replicas = [record("n1")]
    reconciler = ReplicaReconciler(gateway, agent)
    delays = []
    for _ in range(7):
        await reconciler.reconcile()
        held = reconciler.held["apps", "flags"]
        delays.append(held.seed_retry_delay)
        held.seed_retry_at = 0.0  # as if the delay had passed
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]


async def test_the_first_replicas_of_a_resource_wait_for_a_missing_source_together(agent):
    gateway = FakeGateway()
    gateway.specs["apps", "flags"] = {"source": {"configMapRef": {"name": "defaults"}}}
    # n2's agent reports no state either: nothing was seeded anywhere yet
    gateway.replicas = [record("n1"), record("n2", status={"phase": "Syncing"})]
    await ReplicaReconciler(gateway, agent).reconcile()
    assert gateway.patches[-1][1]["phase"] == "Syncing"
    assert [r for _, r, _ in gateway.events] == ["SeedFailed"]


async def test_a_source_over_the_limits_seeds_nothing_and_says_why(agent):
    gateway = FakeGateway()
    big = "x" * (agent.config.limits.max_value_bytes + 1)
    gateway.specs["apps", "flags"] = {"source": {"inline": {"ok": 1, "big": big}}}
    gateway.replicas = [record("n1")]
    await ReplicaReconciler(gateway, agent).reconcile()
    assert len(agent.stores["apps", "flags"].state) == 0
    ((_, reason, message),) = gateway.events
    assert reason == "SeedFailed" and "'big'" in message and "larger than" in message


async def test_a_replica_added_to_a_living_resource_does_not_seed(agent):
    gateway = FakeGateway()
    gateway.specs["apps", "flags"] = {"source": {"inline": {"beta": True}}}
    holder = record("n2", status={"phase": "Ready", "versionVector": {"n2": 3}})
    gateway.replicas = [record("n1"), holder]
    await ReplicaReconciler(gateway, agent).reconcile()
    assert len(agent.stores["apps", "flags"].state) == 0
    assert gateway.events == []


async def test_a_replica_standing_in_for_lost_copies_seeds_and_says_so(agent):
    gateway = FakeGateway()
    gateway.specs["apps", "flags"] = {"source": {"inline": {"seeded": "yes"}}}
    lost = record("n4", status={"phase": "Lost", "versionVector": {"n4": 1}})
    gateway.replicas = [record("n1", stand_in_for=("n4",)), lost]
    reconciler = ReplicaReconciler(gateway, agent)
    await reconciler.reconcile()
    assert agent.stores["apps", "flags"].get("seeded") == b'"yes"'
    assert [(r, m) for _, r, m in gateway.events] == [
        ("Seeded", "initial state: 1 keys from the source (a stand-in for n4)")
    ]
    _, status = gateway.patches[-1]
    assert status["phase"] == "Ready"
    stand_in = next(c for c in status["conditions"] if c["type"] == "StandIn")
    assert stand_in["status"] == "True" and "lost copies on n4" in stand_in["message"]
    gateway.replicas = [record("n1"), lost]  # merged: the operator clears the mark
    await reconciler.reconcile()
    _, status = gateway.patches[-1]
    assert [c["type"] for c in status["conditions"]] == ["Ready"]
    assert status["phase"] == "Ready"


class FlakyGateway(FakeGateway):
    """Fails its first Lease reads with ``error``."""

    def __init__(self, error: Exception, failures: int = 1) -> None:
        super().__init__()
        self.error, self.failures = error, failures
        self.renewed = asyncio.Event()

    async def get_lease(self, namespace: str, name: str) -> LeaseRecord | None:
        if self.failures > 0:
            self.failures -= 1
            raise self.error
        return await super().get_lease(namespace, name)

    async def put_lease(self, namespace: str, lease: LeaseRecord) -> LeaseRecord:
        written = await super().put_lease(namespace, lease)
        self.renewed.set()
        return written


async def test_the_lease_keeper_retries_api_errors_but_not_bugs() -> None:
    unreachable = FlakyGateway(ConnectionRefusedError("the API server is restarting"))
    keeper = LeaseKeeper(unreachable, "ns", "n1", "http://n1:7420", "z", period=0.01)
    running = asyncio.create_task(keeper.run())
    await asyncio.wait_for(unreachable.renewed.wait(), 5)  # renewed after the failure
    running.cancel()
    buggy = LeaseKeeper(FlakyGateway(ValueError("a bug")), "ns", "n1", "http://n1:7420", "z", 0.01)
    with pytest.raises(ValueError, match="a bug"):
        await asyncio.wait_for(buggy.run(), 5)


async def test_an_edge_that_fails_stops_the_agent_and_says_why(tmp_path: Path) -> None:
    async def broken_edge(agent: Agent) -> None:
        raise TypeError("a bug in the edge")

    config = AgentConfig(node="n1", data_dir=tmp_path, listen="127.0.0.1:0")
    with pytest.raises(TypeError, match="a bug in the edge"):
        await asyncio.wait_for(run_agent(config, broken_edge), 30)


async def test_an_agent_whose_edge_has_not_started_answers_not_ready_not_unknown(
    tmp_path: Path,
) -> None:
    """A restarted agent listens before its Kubernetes edge has read a Replica (building
    the API client takes seconds under load): it must not say a resource is unknown."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    answers: list[tuple[int, str]] = []

    async def edge_still_starting(agent: Agent) -> None:
        url = f"http://127.0.0.1:{port}/v1/apps/flags/k"
        async with aiohttp.ClientSession() as session, session.get(url) as reply:
            answers.append((reply.status, (await reply.json())["error"]["code"]))

    config = AgentConfig(node="n1", data_dir=tmp_path, listen=f"127.0.0.1:{port}")
    await asyncio.wait_for(run_agent(config, edge_still_starting), 30)
    assert answers == [(503, "not_ready")]


async def test_an_agent_whose_edge_has_not_started_does_not_say_it_holds_no_retired_copy(
    tmp_path: Path,
) -> None:
    """CI session 6 (clock-skew): a restarted agent's empty list of retired copies, before
    its edge had looked at the data directory, was taken for "none left"."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    answers: list[tuple[list[object], bool]] = []

    async def edge_still_starting(agent: Agent) -> None:
        url = f"http://127.0.0.1:{port}/v1/stats"
        async with aiohttp.ClientSession() as session, session.get(url) as reply:
            stats = await reply.json()
            answers.append((stats["retired"], stats["retiredComplete"]))

    config = AgentConfig(node="n1", data_dir=tmp_path, listen=f"127.0.0.1:{port}")
    await asyncio.wait_for(run_agent(config, edge_still_starting), 30)
    assert answers == [([], False)]


async def test_a_resource_made_after_the_last_replica_pass_is_not_answered_unknown(agent):
    """ch13's chaos runs: a non-holder's clients got 404 unknown_resource for a fresh
    resource already Ready (its agent had not listed the new Replicas yet). "Unknown" is
    said only from a pass over the Replicas that began after the question."""
    gateway = FakeGateway()
    reconciler = ReplicaReconciler(gateway, agent)
    await reconciler.reconcile()  # no resource yet
    asked_for_a_pass: list[bool] = []
    agent.learn_resources = lambda: asked_for_a_pass.append(True)
    gateway.specs["apps", "flags"] = {"merge": "lww", "consistency": "eventual"}
    gateway.replicas = [record("n2")]  # made (and Ready on n2) since that pass
    server = build_server(agent)
    await server.start("127.0.0.1", 0)
    try:
        async with aiohttp.ClientSession() as session:

            async def answer(resource: str) -> tuple[int, str]:
                url = f"http://127.0.0.1:{server.port}/v1/apps/{resource}/k"
                async with session.get(url) as reply:
                    return reply.status, (await reply.json())["error"]["code"]

            assert await answer("flags") == (503, "not_ready")  # was 404 unknown_resource
            assert await answer("nothing") == (503, "not_ready")
            assert asked_for_a_pass
            await reconciler.reconcile()  # a pass that began after both questions
            assert agent.locations["apps", "flags"] == ("n2",)  # known now: forwarded
            assert await answer("nothing") == (404, "unknown_resource")
    finally:
        await server.close()


async def test_a_deleted_resource_is_forgotten_with_its_counters(agent):
    gateway = FakeGateway()
    gateway.specs["apps", "flags"] = {}
    gateway.specs["apps", "other"] = {}
    gateway.replicas = [record("n1"), replace(record("n2"), resource="other", name="other-n2")]
    reconciler = ReplicaReconciler(gateway, agent)
    await reconciler.reconcile()
    agent.access.count("apps", "flags", "get", "local")
    agent.access.count("apps", "other", "get", "remote")
    agent.sync_log.record(("apps", "flags", "n2", "push", "out"), 10)
    agent.requests.forward_failed("apps", "other", "unreachable")
    agent.requests.syncing("apps", "flags")
    # the resource is deleted: its Replica goes first, then the SharedResource
    gateway.replicas = [replace(record("n2"), resource="other", name="other-n2")]
    del gateway.specs["apps", "flags"]
    await reconciler.reconcile()
    assert ("apps", "flags") not in agent.stores
    assert ("apps", "flags") not in agent.specs and ("apps", "flags") not in agent.locations
    assert [row["resource"] for row in agent.access.snapshot()] == ["other"]
    assert agent.sync_log.snapshot() == []
    assert dict(agent.requests.syncing_answers) == {}
    assert list(agent.requests.forward_failures) == [("apps", "other", "unreachable")]


async def test_a_resource_between_placements_is_not_forgotten(agent):
    gateway = FakeGateway()
    gateway.specs["apps", "flags"] = {}
    gateway.replicas = [replace(record("n2"))]
    reconciler = ReplicaReconciler(gateway, agent)
    await reconciler.reconcile()
    agent.access.count("apps", "flags", "get", "remote")
    gateway.replicas = []  # no Replica for a moment, the SharedResource is still there
    await reconciler.reconcile()
    assert agent.specs["apps", "flags"].name == "flags"
    assert agent.locations["apps", "flags"] == ()
    assert agent.access.snapshot()[0]["count"] == 1


async def test_an_edge_that_fails_before_the_tls_material_came_says_why(tmp_path: Path) -> None:
    """Waiting for its certificate, the agent must still report its edge's failure (it
    used to return from the wait and stop without a word: test_tls's silent stops)."""

    async def broken_edge(agent: Agent) -> None:
        raise TypeError("a bug in the edge")

    config = AgentConfig(
        node="n1", data_dir=tmp_path, listen="127.0.0.1:0", tls=True, peer_listen="127.0.0.1:0"
    )
    with pytest.raises(TypeError, match="a bug in the edge"):
        await asyncio.wait_for(run_agent(config, broken_edge), 30)


async def test_a_replica_whose_files_cannot_be_opened_waits_pending_and_the_agent_goes_on(
    agent, monkeypatch
):
    """A full disk stopped the whole agent: the edge raised, its Lease ran out (disk-full)."""
    from statecast.agent.errors import PersistenceError

    gateway = FakeGateway()
    gateway.specs["apps", "flags"] = {}
    gateway.specs["apps", "other"] = {}
    gateway.replicas = [record("n1"), replace(record("n1", name="other-n1"), resource="other")]
    opened = agent.open_replica

    def full_disk(spec, **kw):
        if spec.name == "flags":
            raise PersistenceError("cannot use /data/apps/flags: [Errno 28] No space left")
        return opened(spec, **kw)

    monkeypatch.setattr(agent, "open_replica", full_disk)
    reconciler = ReplicaReconciler(gateway, agent)
    await reconciler.reconcile()  # does not raise: the edge (and the Lease) go on
    assert ("apps", "other") in agent.stores
    assert ("apps", "flags") not in agent.stores
    mine = [status for name, status in gateway.patches if name == "flags-n1"]
    assert [s["phase"] for s in mine] == ["Pending", "Pending"]
    assert mine[-1]["conditions"][0]["reason"] == "StorageUnavailable"
    assert "No space left" in mine[-1]["conditions"][0]["message"]
    assert [e[1] for e in gateway.events if e[0] == "flags-n1"] == ["StorageUnavailable"]
    await reconciler.reconcile()  # too soon: not tried again, nothing written again
    assert len([n for n, _ in gateway.patches if n == "flags-n1"]) == 2
    reconciler.open_failures["apps", "flags"].retry_at = 0.0  # the delay has passed
    await reconciler.reconcile()  # the same error: no new Event, a longer delay
    assert reconciler.open_failures["apps", "flags"].delay == 2.0
    assert len(gateway.events) == 1
    monkeypatch.setattr(agent, "open_replica", opened)  # room again
    reconciler.open_failures["apps", "flags"].retry_at = 0.0
    await reconciler.reconcile()
    assert ("apps", "flags") in agent.stores
    assert reconciler.open_failures == {}
    assert [s["phase"] for n, s in gateway.patches if n == "flags-n1"][-1] in ("Syncing", "Ready")


async def test_a_failover_copy_of_state_held_elsewhere_reads_no_source(agent):
    """Each API round trip of a new copy's first pass is failover time (issue 13: a
    replacement took 0.3-2.7 s from added to Ready at load); its seed step read the
    SharedResource again only to learn that the state lives in the other copies."""
    gateway = FakeGateway()
    gateway.specs["apps", "flags"] = {"source": {"inline": {"a": 1}}}
    reads: list[tuple[str, str]] = []
    get_resource = gateway.get_resource

    async def counted(namespace: str, name: str) -> dict[str, Any] | None:
        reads.append((namespace, name))
        return await get_resource(namespace, name)

    gateway.get_resource = counted  # type: ignore[method-assign]
    holder = record("n2", status={"phase": "Ready", "versionVector": {"n2": 3}})
    gateway.replicas = [record("n1"), holder]
    await ReplicaReconciler(gateway, agent).reconcile()
    assert reads == [("apps", "flags")]  # its spec, once; no second read for the source
    assert ("apps", "flags") in agent.stores
