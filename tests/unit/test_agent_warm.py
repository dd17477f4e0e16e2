"""Warm copies: a handed-off copy's files kept a while, reopened by a returning Replica.

Issue 11 (bytes): a copy removed from a node and placed there again within the hour was a
full copy each time, because the agent deleted a retired copy's files once a live replica
had merged them. Now they stay (``--warm-retention``) and a returning Replica catches up
by a delta of what it missed - real agents over real HTTP, bytes read off the agents'
sync counters.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from prometheus_client import generate_latest

from statecast.agent.kube import ReplicaReconciler
from statecast.agent.retired import (
    IDENTITY,
    MARKER,
    RETIRED_DIR,
    RetiredCopy,
    adopt,
    find_retired,
    mark_warm,
    warm_evictions,
    warm_expired,
)
from statecast.agent.runtime import Agent
from tests.unit._agents import REF, URLS
from tests.unit.test_agent_kube import FakeGateway, record

HOUR = 3600.0
KEYS, VALUE = 400, b'"' + b"v" * 1000 + b'"'  # ~400 KiB of state
#: The warm budget of these agents: stated, not the default's tenth of the filesystem,
#: which on a machine with less than a tenth of its disk free evicts every warm copy
#: (the rule :func:`warm_evictions` tests below) and made these tests the host's.
BUDGET = 64 * 2**20


def received(agent: Agent, mode: str) -> int:
    """Bytes of ``mode`` sync answers ``agent`` received for REF."""
    return sum(
        n
        for key, n in agent.sync_log.bytes.items()
        if key[:2] == REF and key[3] == mode and key[4] == "in"
    )


def phases(gateway: FakeGateway, node: str) -> list[str]:
    return [status["phase"] for name, status in gateway.patches if name == f"flags-{node}"]


async def cluster(agents, *nodes: str, **warm: float):  # type: ignore[no-untyped-def]
    """Agents ``nodes``; the first one's Replicas reconciled, the others' replicas open.

    The reconciler's warm budget is :data:`BUDGET` unless ``warm_budget`` is given.
    """
    warm.setdefault("warm_budget", BUDGET)
    made = await agents(*nodes)
    gateway = FakeGateway()
    gateway.specs[REF] = {}
    gateway.replicas = [record(n, owner_uid="uid-1") for n in nodes]
    reconciler = ReplicaReconciler(gateway, made[0], **warm)
    for other in made[1:]:
        other.open_replica(other.specs[REF])
        other.locations[REF] = tuple(nodes)
    return made, gateway, reconciler


def place(gateway: FakeGateway, agents: list[Agent], nodes: tuple[str, ...]) -> None:
    """The operator's placement of REF: Replicas on ``nodes``."""
    gateway.replicas = [record(n, owner_uid="uid-1") for n in nodes]
    for agent in agents[1:]:
        agent.locations[REF] = nodes


async def fill(agent: Agent) -> None:
    store = agent.stores[REF]
    for i in range(KEYS):
        await store.put(f"k{i:04d}", VALUE)


async def away_and_back(
    agents, retention: float = HOUR, *, expire: bool = False, budget: float = BUDGET
):  # type: ignore[no-untyped-def]
    """a copies b's state, is removed, misses a few writes, comes back; bytes of each copy."""
    (a, b), gateway, reconciler = await cluster(
        agents, "a", "b", warm_retention=retention, warm_budget=budget
    )
    await fill(b)
    await reconciler.reconcile()
    first_copy = received(a, "full")
    assert first_copy > KEYS * len(VALUE)  # the first copy is a full one
    place(gateway, [a, b], ("b",))
    await reconciler.reconcile()  # removed: closed, handed off to b
    await reconciler.retirement.close()
    directory = a.config.data_dir / "apps" / "flags"
    # what a misses: 10 new keys, 5 overwritten, 3 deleted
    store = b.stores[REF]
    for i in range(10):
        await store.put(f"new{i}", b'"new"')
    for i in range(5):
        await store.put(f"k{i:04d}", b'"changed"')
    for i in range(5, 8):
        await store.delete(f"k{i:04d}")
    await reconciler.retirement.sweep(time.time() + (2 * retention if expire else 0.0))
    place(gateway, [a, b], ("a", "b"))
    before = received(a, "full"), received(a, "delta")
    await reconciler.reconcile()  # back: reopened warm, or a new copy
    again = received(a, "full") - before[0], received(a, "delta") - before[1]
    return (a, b), gateway, reconciler, directory, first_copy, again


def same_state(a: Agent, b: Agent) -> None:
    mine, theirs = a.stores[REF], b.stores[REF]
    assert dict(mine.state.items()) == dict(theirs.state.items())
    assert mine.get("new9") == b'"new"'
    assert mine.get("k0000") == b'"changed"'
    assert mine.get("k0005") is None  # deleted while a was away: not back
    assert mine.get("k0300") == VALUE


async def test_a_copy_back_within_the_retention_receives_only_what_it_missed(agents):
    (a, b), gateway, _, directory, first_copy, (full, delta) = await away_and_back(agents)
    same_state(a, b)
    assert full == 0  # no second full copy
    assert 0 < delta < first_copy / 20  # 18 writes of ~400 keys
    assert phases(gateway, "a")[-1] == "Ready"
    assert a.sync_log.warm == {"kept": 1, "reopened": 1, "caught_up": 1}
    assert a.sync_log.warm_saved_bytes > 0.9 * KEYS * len(VALUE)  # an estimate, below the truth
    assert not (directory / MARKER).exists()  # in use again: no longer retired
    metrics = generate_latest(a.registry).decode()
    assert "statecast_agent_warm_bytes_saved_total" in metrics
    assert 'statecast_agent_warm_copies_total{outcome="caught_up"} 1.0' in metrics
    print(f"\nfull copy {first_copy} B, warm catch-up {delta} B")


async def test_without_a_retention_the_copy_back_is_a_full_copy(agents):
    (a, b), _, _, _, first_copy, (full, _) = await away_and_back(agents, 0.0)
    same_state(a, b)
    assert full >= first_copy * 0.95  # the old behaviour: files deleted at the hand-off
    assert a.sync_log.warm["kept"] == 0


async def test_a_copy_back_after_the_retention_is_a_full_copy(agents):
    (a, b), _, _, _, first_copy, (full, _) = await away_and_back(agents, expire=True)
    same_state(a, b)
    assert full >= first_copy * 0.95
    assert a.sync_log.warm["expired"] == 1


async def test_a_copy_evicted_for_the_disk_budget_comes_back_as_a_full_copy(agents):
    (a, b), _, _, _, first_copy, (full, _) = await away_and_back(agents, budget=1.0)
    same_state(a, b)
    assert full >= first_copy * 0.95
    assert a.sync_log.warm["evicted"] == 1


async def test_a_warm_copy_is_not_ready_before_a_caught_up_peer_answered_it(agents):
    (a, b), gateway, reconciler = await cluster(agents, "a", "b", warm_retention=HOUR)
    await fill(b)
    await reconciler.reconcile()
    place(gateway, [a, b], ("b",))
    await reconciler.reconcile()
    await reconciler.retirement.close()
    await b.stores[REF].put("while-away", b'"x"')
    a.directory.remove("b")  # b cannot be reached when a comes back
    place(gateway, [a, b], ("a", "b"))
    gateway.patches.clear()
    await reconciler.reconcile()
    await reconciler.reconcile()
    # before session 11 a copy with state of its own and no reachable peer was Ready at
    # once: a warm copy is an hour behind, it waits
    assert "Ready" not in phases(gateway, "a")
    assert not a.stores[REF].serving
    a.directory.set("b", URLS["b"])
    # until it has caught up it sends nothing: a new copy pulling from it would take
    # whatever stale key it holds
    assert await b.replication.sync_with(b.stores[REF], "a") is None
    await a.replication.anti_entropy_round()
    assert await b.replication.sync_with(b.stores[REF], "a") == "delta"
    await reconciler.reconcile()
    assert phases(gateway, "a")[-1] == "Ready"
    assert a.stores[REF].get("while-away") == b'"x"'


async def test_a_key_whose_deletion_was_collected_meanwhile_does_not_come_back(agents):
    (a, b, c), gateway, reconciler = await cluster(agents, "a", "b", "c", warm_retention=HOUR)
    await fill(b)
    for _ in range(2):
        await c.replication.anti_entropy_round()
    await reconciler.reconcile()
    assert a.stores[REF].get("k0001") == VALUE
    place(gateway, [a, b, c], ("b", "c"))
    await reconciler.reconcile()
    await reconciler.retirement.close()
    await b.stores[REF].delete("k0001")  # while a is away ...
    for _ in range(3):  # ... b and c see the deletion and collect its tombstone
        await c.replication.anti_entropy_round()
        await b.replication.anti_entropy_round()
    assert b.stores[REF].state.entry("k0001") is None
    assert c.stores[REF].state.entry("k0001") is None
    place(gateway, [a, b, c], ("a", "b", "c"))
    before = received(a, "full")
    await reconciler.reconcile()
    # a's files still hold k0001 and no answer carries its deletion any more: both peers
    # refuse a delta, and a takes a fresh copy
    assert a.stores[REF].get("k0001") is None
    assert received(a, "full") - before > KEYS * len(VALUE)
    assert a.sync_log.warm["refreshed"] == 1
    assert phases(gateway, "a")[-1] == "Ready"
    assert dict(a.stores[REF].state.items()) == dict(b.stores[REF].state.items())


async def test_a_resource_made_anew_does_not_open_the_warm_copy_of_the_one_before(agents):
    (a, b), gateway, reconciler = await cluster(agents, "a", "b", warm_retention=HOUR)
    await fill(b)
    await reconciler.reconcile()
    place(gateway, [a, b], ("b",))
    await reconciler.reconcile()
    await reconciler.retirement.close()
    # the resource is deleted and made anew under the same name (another uid), empty
    await b.close_replica(REF)
    for path in sorted((b.config.data_dir / "apps" / "flags").glob("*")):
        path.unlink()
    b.open_replica(b.specs[REF])
    gateway.uids[REF] = "uid-2"
    gateway.replicas = [record(n, owner_uid="uid-2") for n in ("a", "b")]
    await reconciler.reconcile()
    assert len(a.stores[REF].state) == 0
    assert a.sync_log.warm["reopened"] == 0
    assert (a.config.data_dir / RETIRED_DIR / "apps" / "flags.uid-1").is_dir()


def test_adopt_says_whether_it_reopened_a_warm_copy(tmp_path: Path):
    directory = tmp_path / "apps" / "flags"
    directory.mkdir(parents=True)
    (directory / "snapshot.bin").write_bytes(b"x")
    (directory / IDENTITY).write_text(json.dumps({"uid": "uid-1"}))
    copy = RetiredCopy(REF, directory, 100.0, "uid-1")
    (directory / MARKER).write_text(json.dumps({"since": 100.0, "uid": "uid-1"}))
    assert adopt(directory, "uid-1", tmp_path) == "unmerged"  # retired, not handed off
    assert adopt(directory, "uid-1", tmp_path) == ""  # a replica's own files (a restart)
    assert adopt(directory, "uid-1", tmp_path, handing=True) == "unmerged"  # hand-off running
    mark_warm(copy, 200.0)
    assert find_retired(REF, directory) == RetiredCopy(REF, directory, 100.0, "uid-1", 200.0)
    assert adopt(directory, "uid-1", tmp_path) == "warm"
    mark_warm(copy, 300.0)
    assert adopt(directory, "uid-2", tmp_path) == ""  # another resource's: set aside
    assert not (directory / "snapshot.bin").exists()


@pytest.mark.parametrize(
    ("handed_off", "now", "retention", "expired"),
    [
        (None, 10_000.0, HOUR, False),  # not handed off: the ledger's, kept
        (1000.0, 1000.0 + HOUR - 1, HOUR, False),
        (1000.0, 1000.0 + HOUR, HOUR, True),
        (1000.0, 1000.0, 0.0, True),  # retention 0: a copy left by a run with one goes
    ],
)
def test_warm_expired(handed_off: float | None, now: float, retention: float, expired: bool):
    copy = RetiredCopy(REF, Path("/d"), 0.0, "u", handed_off)
    assert warm_expired(copy, now, retention) is expired


@pytest.mark.parametrize(
    ("sizes", "budget", "free", "evicted"),
    [
        ({"old": 10, "mid": 10, "new": 10}, 100, 500, []),  # within the budget
        ({"old": 10, "mid": 10, "new": 10}, 25, 500, ["old"]),  # oldest first
        ({"old": 10, "mid": 10, "new": 10}, 5, 500, ["old", "mid", "new"]),
        ({"old": 10, "mid": 10, "new": 10}, 100, 85, ["old", "mid"]),  # leave 100 free
        ({"old": 10, "mid": 10, "new": 10}, 100, 50, ["old", "mid", "new"]),  # not enough
        ({}, 0, 0, []),
    ],
)
def test_warm_evictions(sizes: dict[str, int], budget: float, free: float, evicted: list[str]):
    order = {"old": 1.0, "mid": 2.0, "new": 3.0}
    rows = [(Path(name), order[name], n) for name, n in sizes.items()][::-1]
    assert warm_evictions(rows, budget=budget, free=free) == [Path(n) for n in evicted]
