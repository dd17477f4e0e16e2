"""A copy on a filling disk says so before a write fails (session 18).

Before, an agent reported ``StorageAvailable=False`` only once a write to a copy's log
had failed: a copy nobody wrote to - an idle strong leader - sat on a full disk, Ready,
and the operator left it there until a client's write was refused. Now the agent looks
at the room left on its data directory's file system and a copy with less than its next
snapshot and a floor says so, and says so no more once the room is back with a margin.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from statecast.agent.config import AgentConfig
from statecast.agent.disk_space import DiskSpace
from statecast.agent.kube import ReplicaReconciler
from statecast.agent.runtime import Agent
from statecast.core.storage import MIN_FREE_BYTES, space_shortfall
from tests.unit.test_agent_kube import FakeGateway
from tests.unit.test_strong_full_disk import disk, fill, led_here

MIB = 1 << 20
__all__ = ["disk"]  # the tmpfs fixture, used below


@pytest.mark.parametrize(
    ("free", "snapshot", "floor", "short_before", "short"),
    [
        (10 * MIB, 1 * MIB, 4 * MIB, False, False),  # room for the snapshot and the floor
        (5 * MIB, 1 * MIB, 4 * MIB, False, False),  # exactly enough
        (5 * MIB - 1, 1 * MIB, 4 * MIB, False, True),  # a byte short
        (3 * MIB, 0, 4 * MIB, False, True),  # an empty copy still needs the floor
        (6 * MIB, 3 * MIB, 4 * MIB, False, True),  # a big copy needs more room
        (8 * MIB, 1 * MIB, 4 * MIB, True, True),  # short before: the floor again to clear
        (9 * MIB, 1 * MIB, 4 * MIB, True, False),  # the margin is back
        (0, 1 * MIB, 0, False, False),  # floor 0: the look is off
        (0, 1 * MIB, 0, True, False),
    ],
)
def test_a_copy_is_short_of_room_below_its_snapshot_and_the_floor(
    free: int, snapshot: int, floor: int, short_before: bool, short: bool
) -> None:
    reason = space_shortfall(free, snapshot, floor, short_before)
    assert (reason is not None) == short
    if reason is not None:
        assert "free on its file system" in reason, reason


def test_the_default_floor_is_a_few_mebibytes() -> None:
    assert MIN_FREE_BYTES == 4 * MIB
    assert AgentConfig(node="n1").min_free_bytes == MIN_FREE_BYTES
    with pytest.raises(ValueError, match="greater than or equal to 0"):
        AgentConfig(node="n1", min_free_bytes=-1)


class Readings:
    """Free bytes the test sets, and a clock it moves; counts the reads."""

    def __init__(self, free: int) -> None:
        self.free, self.now, self.reads = free, 0.0, 0

    def read(self, _directory: Path) -> int:
        self.reads += 1
        if self.free < 0:
            raise FileNotFoundError("gone")
        return self.free

    def clock(self) -> float:
        return self.now


def space(readings: Readings, floor: int = 4 * MIB) -> DiskSpace:
    return DiskSpace(Path("/data"), floor, 1.0, readings.read, readings.clock)


def test_a_reading_is_reused_for_a_second() -> None:
    readings = Readings(100 * MIB)
    disk_space = space(readings)
    assert disk_space.free() == 100 * MIB
    readings.free, readings.now = 1 * MIB, 0.5
    assert disk_space.free() == 100 * MIB and readings.reads == 1
    readings.now = 1.0
    assert disk_space.free() == 1 * MIB and readings.reads == 2


def test_each_copy_keeps_its_own_margin_until_forgotten() -> None:
    readings = Readings(6 * MIB)
    disk_space = space(readings)
    assert disk_space.shortfall(("apps", "big"), 3 * MIB) is not None
    assert disk_space.shortfall(("apps", "small"), 1 * MIB) is None
    readings.free, readings.now = 8 * MIB, 1.0  # enough for big once, not with the margin
    assert disk_space.shortfall(("apps", "big"), 3 * MIB) is not None
    assert disk_space.shortfall(("apps", "new"), 3 * MIB) is None
    disk_space.forget(("apps", "big"))
    assert disk_space.shortfall(("apps", "big"), 3 * MIB) is None


def test_an_unreadable_file_system_says_nothing_and_floor_zero_never_looks() -> None:
    readings = Readings(-1)
    assert space(readings).shortfall(("apps", "a"), 0) is None
    readings = Readings(0)
    assert space(readings, floor=0).shortfall(("apps", "a"), 0) is None
    assert readings.reads == 0


def statuses(gateway: FakeGateway, name: str) -> list[dict[str, object]]:
    last = [status for replica, status in gateway.patches if replica == name][-1]
    return [c for c in last["conditions"] if c["type"] == "StorageAvailable"]


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")
async def test_idle_copies_on_a_filled_disk_say_so_without_a_write(disk: Path) -> None:
    """An eventual copy and a strong leader, neither written to after the disk filled."""
    agent = Agent(AgentConfig(node="n1", data_dir=disk / "data", min_free_bytes=128 << 10))
    agent.disk.every = 0.0  # read the room at every look (a second's reuse otherwise)
    gateway, _ = led_here()
    reconciler = ReplicaReconciler(gateway, agent)
    try:
        await reconciler.reconcile()
        await agent.strong["apps", "ledger"].fence(1)
        await reconciler.reconcile()
        await agent.stores["apps", "flags"].put("a", b'"1"')
        await reconciler.reconcile()
        assert statuses(gateway, "flags-n1") == [] and statuses(gateway, "ledger-n1") == []
        filler = fill(disk)
        await reconciler.reconcile()  # no write since the fill
        for name in ("flags-n1", "ledger-n1"):
            [said] = statuses(gateway, name)
            assert (said["status"], said["reason"]) == ("False", "StorageUnavailable")
            assert "free on its file system" in str(said["message"]), said
        filler.unlink()
        await reconciler.reconcile()
        assert statuses(gateway, "flags-n1") == [] and statuses(gateway, "ledger-n1") == []
    finally:
        await agent.stop()
