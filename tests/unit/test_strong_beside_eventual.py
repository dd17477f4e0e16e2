"""A strong replica's directory beside an eventual copy of the same name, and the sweeps.

A strong replica lives in ``<ns>/<name>/strong``, inside the directory an eventual copy
of a resource of the same name uses (a resource deleted, then made anew as strong while
its old eventual copy waits here, retired, for a hand-off or its retention). Until
session 11:

- deleting that eventual copy (merged into a peer, or past its retention) removed the
  whole ``<ns>/<name>`` tree, the strong replica's promise, log and snapshot with it,
  whatever ``retired.strong_fate`` had decided for them (kept: this node is a voter);
- ``Retirement._in_use`` did not count an open strong replica as using the directory;
- opening a strong replica waited for the retirement lock, which an eventual copy's
  hand-off holds for as long as it talks to its peers (20 s and more).

The agent's real edge (``ReplicaReconciler``, its ``Retirement``) over real files; the
API server is the in-memory ``FakeGateway`` (as in test_strong_files_swept).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from statecast.agent.config import ResourceSpec
from statecast.agent.persistence import ReplicaFiles
from statecast.agent.retired import mark_retired
from statecast.agent.store import ReplicaStore
from tests.unit.test_strong_files_swept import REF, RETENTION, Edge, mine


async def eventual_copy_left(edge: Edge, uid: str = "uid-old") -> Path:
    """A retired eventual copy of an earlier ``apps/ledger`` (resource ``uid``), a day old."""
    directory = edge.directory.parent
    store = ReplicaStore(ResourceSpec(namespace=REF[0], name=REF[1]), "n1", ReplicaFiles(directory))
    store.open()
    await store.put("old", b"1")
    store.close()
    mark_retired(REF, directory, uid, time.time() - 2 * RETENTION)
    return directory


async def test_deleting_an_eventual_copy_keeps_the_strong_replicas_files_beside_it(
    tmp_path: Path,
) -> None:
    edge = Edge(tmp_path)
    await edge.lead_and_write("k")
    await eventual_copy_left(edge)
    edge.moved_to_n2(voters=("n1", "n2"))  # n1's Replica moved away; n1 is still a voter
    await edge.reconciler.reconcile()  # the strong replica closes, its files are kept
    assert REF not in edge.agent.strong
    await edge.reconciler.retirement.sweep(time.time() + 2 * RETENTION)
    # the eventual copy (past its retention, its resource gone) is deleted ...
    assert not (edge.directory.parent / "snapshot").exists()
    assert not any(p.name.startswith("log") for p in edge.directory.parent.iterdir())
    # ... the strong files of a voter are not (before: the whole tree was removed)
    assert edge.directory.exists()
    await edge.agent.stop()


async def test_an_open_strong_replica_keeps_its_directory_in_use(tmp_path: Path) -> None:
    edge = Edge(tmp_path)
    await edge.lead_and_write("k")
    eventual = await eventual_copy_left(edge)
    retirement = edge.reconciler.retirement
    retirement.held = frozenset()  # (as between two passes of the reconciler)
    assert retirement._in_use(REF, eventual)  # before: False while it was open
    await edge.agent.stop()


async def test_opening_a_strong_replica_does_not_wait_for_an_eventual_hand_off(
    tmp_path: Path,
) -> None:
    edge = Edge(tmp_path)
    edge.gateway.replicas = [mine("n1", 1, ("n1",), "leader", "uid-1")]
    edge.gateway.resource_status[REF] = {"epoch": 1, "leader": "n1", "voters": ["n1"]}
    retirement = edge.reconciler.retirement
    async with retirement.lock:  # an eventual copy's hand-off under way, talking to peers
        await asyncio.wait_for(edge.reconciler.reconcile(), timeout=10)  # before: blocked
        assert REF in edge.agent.strong
    await edge.agent.stop()
