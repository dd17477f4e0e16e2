"""A strong replica on a full disk: 503 with the reason, never a stopped agent or a torn log.

Found for issue 13: a strong replica's agent whose data directory filled up stopped
altogether. Leading a new epoch there wrote its promise and opening entry to a log that
could not take them, the ``PersistenceError`` left the agent's Replica pass (which
survives API errors only), and an edge that fails stops the agent: its Lease ran out
and its other resources went with it. Writes meanwhile answered 500 ``persistence``,
which does not say whether the write may apply, and a ``write(2)`` cut short by the full
disk was taken as written: the log ended in a torn record that later records followed.

Each test mounts a small tmpfs (root only) and fills it, as the disk-full scenario does.
"""

from __future__ import annotations

import asyncio
import errno
import os
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from statecast.agent.config import AgentConfig, ResourceSpec
from statecast.agent.errors import UnavailableError
from statecast.agent.kube import ReplicaReconciler
from statecast.agent.kube_api import ReplicaRecord
from statecast.agent.runtime import Agent
from statecast.agent.strong import StrongReplica, StrongTimings
from statecast.agent.strong_files import StrongFiles
from statecast.core.strong.log import LogEntry, Operation
from statecast.core.strong.messages import Append, AppendReply, AppendRequest
from tests.unit.test_agent_kube import FakeGateway, record

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs."""
    point = tmp_path / "disk"
    point.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(point)],
        capture_output=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    yield point
    subprocess.run(["umount", "-l", str(point)], capture_output=True, check=False)


def fill(disk: Path) -> Path:
    """Fill ``disk`` to the last byte the filler can take; return the filler."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        for size in (1 << 16, 1 << 12, 1 << 8, 1):
            while _wrote(fd, size):
                pass
    finally:
        os.close(fd)
    return filler


def _wrote(fd: int, size: int) -> bool:
    try:
        return os.write(fd, b"\0" * size) == size
    except OSError as err:
        if err.errno != errno.ENOSPC:
            raise
        return False


def put(key: str, size: int = 40) -> Operation:
    return Operation("put", key, value=b'"' + b"x" * size + b'"')


async def test_a_write_cut_short_by_a_full_disk_leaves_no_torn_record(disk: Path) -> None:
    files = StrongFiles(disk / "strong")
    files.recover()
    entries = [LogEntry(1, i, put(f"k{i}", 3000)) for i in range(1, 4)]
    files.write([Append(tuple(entries[:1]))])
    await files.durable()
    filler = fill(disk)
    files.write([Append(tuple(entries[1:2]))])  # room for part of it only
    with pytest.raises(Exception, match="No space left"):
        await files.durable()  # before: a short write(2) taken as done, a torn record
    assert files.failure is not None
    filler.unlink()
    files.write([Append(tuple(entries[2:]))])
    await files.durable()  # the failed record first, then the new one
    assert files.failure is None
    files.close()
    found = StrongFiles(disk / "strong").recover()  # before: corrupt log, line 2
    assert [e.index for e in found.entries] == [1, 2, 3]


class Unreachable:
    """Peers that never answer (a single-voter leader needs none)."""

    async def append(
        self, peer: str, ref: tuple[str, str], request: AppendRequest
    ) -> AppendReply | None:
        await asyncio.sleep(0.05)
        return None


async def test_a_leader_on_a_full_disk_refuses_writes_with_503_and_writes_again_later(
    disk: Path,
) -> None:
    spec = ResourceSpec(namespace="apps", name="ledger", consistency="strong")
    replica = StrongReplica(spec, "a", disk / "a", Unreachable(), StrongTimings(0.05, 1.0, 0.3))
    replica.open()
    await replica.fence(1)
    await replica.lead(1, ("a",), ())
    acknowledged = 0
    try:
        filler = fill(disk)
        codes = []
        for i in range(200):  # until the log's last page is full too
            try:
                await replica.propose(put(f"k{i}"))
                acknowledged += 1
            except UnavailableError as err:
                codes.append((err.status, err.code))
        # the write whose record failed may still commit elsewhere; later ones were refused
        assert codes[0] == (503, "outcome_unknown")
        assert set(codes[1:]) == {(503, "storage_unavailable")}
        filler.unlink()
        await replica.propose(put("after"))  # room again: the failed record, then this one
    finally:
        await replica.close()
    again = StrongReplica(spec, "a", disk / "a", Unreachable())
    again.open()
    # every acknowledged write, the one of unknown outcome, and the one after, in order
    keys = [e.operation.key for e in again.core.entries if e.operation.kind == "put"]
    assert keys == [*(f"k{i}" for i in range(acknowledged + 1)), "after"]


def led_here() -> tuple[FakeGateway, ReplicaRecord]:
    """A gateway with two Replicas on n1: ``ledger`` (strong, its leader for epoch 1) and
    ``flags`` (eventual); returns it and the leader's record."""
    gateway = FakeGateway()
    gateway.specs["apps", "ledger"] = {"consistency": "strong"}
    gateway.specs["apps", "flags"] = {}
    leader = replace(
        record("n1", name="ledger-n1"), resource="ledger", role="leader", epoch=1, voters=("n1",)
    )
    gateway.replicas = [leader, record("n1")]
    return gateway, leader


async def test_an_agent_whose_strong_replica_fills_its_disk_goes_on(disk: Path) -> None:
    """Leading a new epoch on a full disk raised out of the Replica pass: the agent stopped."""
    # the write path alone (no look at the room left: test_agent_disk_space.py)
    agent = Agent(AgentConfig(node="n1", data_dir=disk / "data", min_free_bytes=0))
    gateway, leader = led_here()
    reconciler = ReplicaReconciler(gateway, agent)
    try:
        await reconciler.reconcile()
        ledger = agent.strong["apps", "ledger"]
        await ledger.fence(1)
        await reconciler.reconcile()  # leads epoch 1
        await ledger.propose(put("before"))
        fill(disk)
        for i in range(200):
            try:
                await ledger.propose(put(f"k{i}"))
            except UnavailableError:
                break
        else:
            pytest.fail("the full disk never refused a write")
        with pytest.raises(UnavailableError) as refused:
            await ledger.fence(2)  # the operator's election (before: 500 persistence)
        assert refused.value.code == "storage_unavailable"
        gateway.replicas = [replace(leader, epoch=2), record("n1")]
        await reconciler.reconcile()  # before: PersistenceError, the edge and the agent ended
        await reconciler.reconcile()
        assert ("apps", "flags") in agent.stores  # the other resource is still served
        assert agent.stores["apps", "flags"].state is not None
        mine = [status for name, status in gateway.patches if name == "ledger-n1"]
        storage = [c for c in mine[-1]["conditions"] if c["type"] == "StorageAvailable"]
        assert storage and storage[0]["status"] == "False"
        assert storage[0]["reason"] == "StorageUnavailable"
        assert "No space left" in storage[0]["message"]
    finally:
        await agent.stop()


async def test_an_eventual_replica_on_a_full_disk_says_so_in_its_status_until_it_writes_again(
    disk: Path,
) -> None:
    """The operator replaces a copy whose files cannot be written (core.storage): the
    agent must say so. Before, the copy stayed Ready with nothing about its disk."""
    # the write path alone (no look at the room left: test_agent_disk_space.py)
    agent = Agent(AgentConfig(node="n1", data_dir=disk / "data", min_free_bytes=0))
    gateway = FakeGateway()
    gateway.specs["apps", "flags"] = {}
    gateway.replicas = [record("n1")]
    reconciler = ReplicaReconciler(gateway, agent)

    def storage() -> list[dict[str, object]]:
        last = [status for name, status in gateway.patches if name == "flags-n1"][-1]
        return [c for c in last["conditions"] if c["type"] == "StorageAvailable"]

    try:
        await reconciler.reconcile()
        store = agent.stores["apps", "flags"]
        await store.put("a", b'"1"')
        await reconciler.reconcile()
        assert storage() == []
        filler = fill(disk)
        refused = None
        for i in range(1000):
            try:
                await store.put(f"k{i}", b'"' + b"x" * 200 + b'"')
            except UnavailableError as err:  # joined, not logged: outcome_unknown
                refused = err
                break
        assert refused is not None and "No space left" in str(refused)
        assert refused.code == "outcome_unknown"
        await reconciler.reconcile()
        [condition] = storage()
        assert (condition["status"], condition["reason"]) == ("False", "StorageUnavailable")
        since = condition["lastTransitionTime"]
        await reconciler.reconcile()
        assert storage()[0]["lastTransitionTime"] == since  # since the trouble began
        filler.unlink()
        await store.put("b", b'"2"')
        await reconciler.reconcile()
        assert storage() == []
    finally:
        await agent.stop()
