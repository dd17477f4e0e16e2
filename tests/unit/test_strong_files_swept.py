"""The files of a closed strong replica are deleted once nothing can need them, never before.

Until session 10 a strong replica whose Replica was removed (the resource deleted, or
its copy moved to another node) was closed and its directory (``<ns>/<name>/strong/``:
promise, log, snapshot) left on disk for ever: the sweep of retired copies looked at
eventual copies only. Now it is marked retired when it closes, and the sweep deletes it
by ``retired.strong_fate``: never while it is open or its Replica is back, never while
this node is a voter of the resource's newest configuration, after the grace for a
resource that exists, after the retention for one that is gone. A resource made anew
under the same name no longer opens the promise and log of the one before (before: it
did, and read the old entries as its own).

The agent's real edge (``ReplicaReconciler``, its ``Retirement``) over real files; the
API server is the in-memory ``FakeGateway``.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from statecast.agent.config import AgentConfig
from statecast.agent.kube import ReplicaReconciler
from statecast.agent.kube_api import ReplicaRecord
from statecast.agent.retired import (
    STRONG_GRACE,
    VOTER_RECHECK,
    RetiredCopy,
    find_retired,
    strong_fate,
)
from statecast.agent.runtime import Agent
from statecast.core.strong.log import Operation
from tests.unit.test_agent_kube import FakeGateway
from tests.unit.test_strong_replica_removed import ledger

REF = ("apps", "ledger")
RETENTION = 86400.0


def mine(node: str, epoch: int, voters: tuple[str, ...], role: str, uid: str) -> ReplicaRecord:
    return replace(ledger(node, epoch, voters, role), owner_uid=uid)


class Edge:
    """An agent ``n1`` with its Replica reconciler, and the API server it reads."""

    def __init__(self, root: Path) -> None:
        self.agent = Agent(AgentConfig(node="n1", data_dir=root / "data"))
        self.gateway = FakeGateway()
        self.gateway.specs[REF] = {"consistency": "strong"}
        self.gateway.uids[REF] = "uid-1"
        self.reconciler = ReplicaReconciler(self.gateway, self.agent, retired_retention=RETENTION)
        self.directory = root / "data" / "apps" / "ledger" / "strong"

    async def lead_and_write(self, key: str, uid: str = "uid-1") -> None:
        """n1 leads epoch 1 of the resource ``uid`` alone and commits a put of ``key``."""
        self.gateway.replicas = [mine("n1", 1, ("n1",), "leader", uid)]
        self.gateway.resource_status[REF] = {"epoch": 1, "leader": "n1", "voters": ["n1"]}
        await self.reconciler.reconcile()
        held = self.agent.strong[REF]
        await held.fence(1)
        await self.reconciler.reconcile()
        await held.propose(Operation("put", key, b"1"))

    def moved_to_n2(self, voters: tuple[str, ...] = ("n2",)) -> None:
        """n1's Replica removed: n2 leads epoch 2 with ``voters``."""
        self.gateway.replicas = [mine("n2", 2, ("n2",), "leader", "uid-1")]
        self.gateway.resource_status[REF] = {"epoch": 2, "leader": "n2", "voters": list(voters)}

    async def sweep_at(self, seconds: float) -> bool:
        """Sweep ``seconds`` from now; whether the strong directory is still there."""
        await self.reconciler.retirement.sweep(time.time() + seconds)
        return self.directory.exists()


@pytest.fixture
async def edge(tmp_path: Path) -> AsyncIterator[Edge]:
    made = Edge(tmp_path)
    yield made
    await made.agent.stop()


async def test_a_moved_strong_copy_is_deleted_after_its_grace(edge: Edge) -> None:
    await edge.lead_and_write("k")
    edge.moved_to_n2()
    await edge.reconciler.reconcile()
    assert REF not in edge.agent.strong
    assert find_retired(REF, edge.directory) is not None  # marked when it closed
    assert await edge.sweep_at(STRONG_GRACE - 60)  # within its grace: it may come back
    assert not await edge.sweep_at(STRONG_GRACE + 1)  # before: kept for ever


async def test_a_voters_files_are_never_deleted(edge: Edge) -> None:
    await edge.lead_and_write("k")
    edge.moved_to_n2(voters=("n2", "n1"))  # n1 still a voter of the newest configuration
    await edge.reconciler.reconcile()
    assert REF not in edge.agent.strong
    assert await edge.sweep_at(STRONG_GRACE + 1)
    assert await edge.sweep_at(RETENTION + 1)


async def test_a_copy_placed_back_within_its_grace_opens_its_log(edge: Edge) -> None:
    await edge.lead_and_write("k")
    edge.moved_to_n2()
    await edge.reconciler.reconcile()
    back = mine("n1", 3, ("n2", "n1"), "follower", "uid-1")
    edge.gateway.replicas = [*edge.gateway.replicas, back]
    await edge.reconciler.reconcile()
    again = edge.agent.strong[REF]
    assert [e.operation.key for e in again.core.entries if e.operation.kind == "put"] == ["k"]
    assert find_retired(REF, edge.directory) is None  # taken back into use
    assert await edge.sweep_at(RETENTION + 1)  # open here: never deleted


async def test_the_copy_of_a_deleted_resource_is_kept_for_the_retention(edge: Edge) -> None:
    await edge.lead_and_write("k")
    edge.gateway.replicas = []
    del edge.gateway.specs[REF]  # the SharedResource is gone
    await edge.reconciler.reconcile()
    assert REF not in edge.agent.strong
    assert await edge.sweep_at(STRONG_GRACE + 1)  # kept as an eventual copy would be
    assert not await edge.sweep_at(RETENTION + 1)


async def test_a_resource_made_anew_does_not_open_the_log_of_the_one_before(edge: Edge) -> None:
    await edge.lead_and_write("old")
    edge.gateway.replicas = []
    await edge.reconciler.reconcile()  # deleted: its Replica went first
    edge.gateway.uids[REF] = "uid-2"  # made anew under the same name
    await edge.lead_and_write("new", uid="uid-2")
    keys = [e.operation.key for e in edge.agent.strong[REF].core.entries if e.operation.key]
    assert keys == ["new"]  # before: ["old", "new"] (the old resource's entry read as its own)
    aside = edge.directory.with_name("strong.uid-1")
    assert find_retired(REF, aside) is not None
    await edge.reconciler.retirement.sweep(time.time() + STRONG_GRACE + 1)
    assert aside.exists()  # another uid's copy: the retention, as for a gone resource
    await edge.reconciler.retirement.sweep(time.time() + RETENTION + 1)
    assert not aside.exists()
    assert edge.directory.exists()  # the new resource's own, open, files stay


SINCE = 1_000_000.0
COPY = RetiredCopy(REF, Path("/data/apps/ledger/strong"), SINCE, "uid-1")


@pytest.mark.parametrize(
    ("sentence", "uid", "voters", "after", "fate"),
    [
        ("a copy of a resource that exists: kept for its grace", "uid-1", (), 10.0,
         ("keep", SINCE + STRONG_GRACE)),
        ("then deleted", "uid-1", (), STRONG_GRACE, ("delete", SINCE + STRONG_GRACE)),
        ("a voter's: kept, looked at again a minute later", "uid-1", ("n1", "n2"),
         RETENTION * 2, ("keep", SINCE + RETENTION * 2 + VOTER_RECHECK)),
        ("a gone resource's: kept for the retention", None, (), STRONG_GRACE,
         ("keep", SINCE + RETENTION)),
        ("then deleted", None, (), RETENTION, ("delete", SINCE + RETENTION)),
        ("a resource made anew: as a gone one", "uid-2", ("n1",), STRONG_GRACE,
         ("keep", SINCE + RETENTION)),
    ],
)  # fmt: skip
def test_the_fate_of_a_retired_strong_copy(
    sentence: str, uid: str | None, voters: tuple[str, ...], after: float, fate: Any
) -> None:
    got = strong_fate(
        COPY, resource_uid=uid, voters=voters, node="n1", now=SINCE + after, retention=RETENTION
    )
    assert got == fate, sentence


async def test_a_kept_copy_is_not_looked_up_at_every_sweep(edge: Edge) -> None:
    await edge.lead_and_write("k")
    edge.gateway.replicas = []
    del edge.gateway.specs[REF]
    await edge.reconciler.reconcile()
    asked: list[tuple[str, str]] = []
    lookup = edge.gateway.get_resource

    async def counted(namespace: str, name: str) -> dict[str, Any] | None:
        asked.append((namespace, name))
        return await lookup(namespace, name)

    edge.gateway.get_resource = counted  # type: ignore[method-assign]
    for minutes in range(1, 60):  # a sweep every minute for an hour of its day
        assert await edge.sweep_at(60.0 * minutes)
    assert len(asked) == 1  # kept for the retention: read once, not at every sweep
    assert not await edge.sweep_at(RETENTION + 1)
