"""The replica store with its write-ahead log and snapshots, on a real directory."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from statecast.agent import logfile, persistence, snapshotfile
from statecast.agent.config import ResourceSpec
from statecast.agent.errors import (
    ConflictError,
    NotFoundError,
    PersistenceError,
    UnavailableError,
)
from statecast.agent.persistence import FsyncPolicy, ReplicaFiles, SnapshotWriter
from statecast.agent.store import ReplicaStore
from statecast.core.clock import Stamp
from statecast.core.crdt import KeyState, PnCounter, encode_entry, lww

SPEC = ResourceSpec(namespace="default", name="flags")


def open_store(
    path: Path,
    fsync: FsyncPolicy = "interval",
    spec: ResourceSpec = SPEC,
    writer: SnapshotWriter = "process",
) -> ReplicaStore:
    store = ReplicaStore(spec, "node-a", ReplicaFiles(path, fsync, snapshot_writer=writer))
    store.open()
    return store


def v(x: object) -> bytes:
    return json.dumps(x).encode()


@pytest.mark.parametrize("fsync", ["always", "interval", "never"])
async def test_state_and_version_vector_survive_a_restart(tmp_path: Path, fsync: FsyncPolicy):
    store = open_store(tmp_path, fsync)
    await store.put("a", v(1))
    await store.put("b", v({"x": [1, 2]}))
    await store.increment("hits", 3)
    await store.delete("a")
    store.close()
    again = open_store(tmp_path, fsync)
    assert again.get("a") is None
    assert again.get("b") == v({"x": [1, 2]})
    assert again.get("hits") == 3
    assert again.version_vector.to_json() == {"node-a": 4}
    result = await again.put("c", v(0))
    assert result.seq == 5


@pytest.mark.parametrize("writer", ["process", "thread"])
async def test_a_snapshot_folds_the_log_and_later_writes_still_replay(
    tmp_path: Path, writer: SnapshotWriter
):
    store = open_store(tmp_path, writer=writer)
    for i in range(50):
        await store.put(f"k{i}", v(i))
    await store.snapshot()
    await store.put("k0", v("after"))
    store.close()
    assert sorted(os.listdir(tmp_path)) == ["log-2.bin", "snapshot.bin"]
    again = open_store(tmp_path)
    assert again.get("k0") == v("after")
    assert again.get("k49") == v(49)
    assert len(again.state) == 50


@pytest.mark.parametrize(
    "tail",
    [
        pytest.param(lambda record: record[: len(record) // 2], id="a record cut short"),
        pytest.param(lambda record: record[:5], id="a record head cut short"),
        pytest.param(lambda record: record[:-1] + b"!", id="the last record damaged"),
        pytest.param(lambda record: bytes(4096), id="zeros (pages never written)"),
    ],
)
async def test_a_torn_tail_of_the_log_is_skipped(tmp_path: Path, tail):
    store = open_store(tmp_path)
    await store.put("k", v(1))
    store.close()
    record = logfile.encode_push("node-a", 2, 2, {"k": lww.pack(9, 0, "node-a", 2, v(2))})
    with (tmp_path / "log-1.bin").open("ab") as handle:
        handle.write(tail(record))
    again = open_store(tmp_path)
    assert again.get("k") == v(1)
    assert again.version_vector.to_json() == {"node-a": 1}


@pytest.mark.parametrize("head", [b"", logfile.MAGIC[:3]], ids=["empty", "header cut short"])
async def test_a_segment_cut_before_its_header_was_written_is_empty_not_an_error(
    tmp_path: Path, head: bytes
):
    """A crash or a full disk right after a segment was created left one the replica could
    never be opened with again ("not a statecast log segment")."""
    store = open_store(tmp_path)
    await store.put("k", v(1))
    store.close()
    (tmp_path / "log-2.bin").write_bytes(head)
    again = open_store(tmp_path)
    assert again.get("k") == v(1)
    await again.put("k", v(2))
    again.close()
    assert open_store(tmp_path).get("k") == v(2)


async def test_a_damaged_record_inside_the_log_is_an_error_not_a_silent_loss(tmp_path: Path):
    store = open_store(tmp_path)
    await store.put("k", v(1))
    await store.put("k", v(2))
    store.close()
    path = tmp_path / "log-1.bin"
    data = bytearray(path.read_bytes())
    data[len(logfile.MAGIC) + 12] ^= 0xFF  # inside the first record; a valid one follows
    path.write_bytes(bytes(data))
    with pytest.raises(PersistenceError, match="damaged record"):
        open_store(tmp_path)


async def test_the_json_files_of_before_are_read_then_replaced_by_the_next_snapshot(
    tmp_path: Path,
):
    # The format of before: a JSON-lines snapshot and JSON-lines log segments.
    counter = KeyState(None, PnCounter().increment(Stamp(5, 0, "node-a"), 3, 4))
    snapshot = [
        json.dumps({"vv": {"node-a": 3}, "wal": 1}),
        json.dumps(["a", encode_entry(lww.pack(1, 0, "node-a", 1, v("old a")))]),
        json.dumps(["hits", encode_entry(counter)]),
    ]
    (tmp_path / "snapshot.json").write_text("\n".join(snapshot) + "\n")
    record = {"t": "push", "o": "node-a", "f": 4, "l": 4}
    record["e"] = {"b": encode_entry(lww.pack(9, 0, "node-a", 4, v("b")))}
    (tmp_path / "wal-2.log").write_text(json.dumps(record) + "\n")
    store = open_store(tmp_path)
    assert store.get("a") == v("old a")
    assert store.get("b") == v("b")
    assert store.get("hits") == 4
    assert store.version_vector.to_json() == {"node-a": 4}
    await store.put("c", v("new"))
    await store.snapshot()
    store.close()
    assert sorted(os.listdir(tmp_path)) == ["log-4.bin", "snapshot.bin"]
    again = open_store(tmp_path)
    assert [again.get(k) for k in ("a", "b", "c", "hits")] == [v("old a"), v("b"), v("new"), 4]


@pytest.mark.parametrize("damage", ["flip a byte", "cut short"])
async def test_a_damaged_snapshot_is_an_error(tmp_path: Path, damage: str):
    store = open_store(tmp_path)
    for i in range(100):
        await store.put(f"k{i}", v(i))
    await store.snapshot()
    store.close()
    path = tmp_path / "snapshot.bin"
    data = path.read_bytes()
    if damage == "flip a byte":
        middle = len(data) // 2
        data = data[:middle] + bytes([data[middle] ^ 0x01]) + data[middle + 1 :]
    else:
        data = data[:-5]
    path.write_bytes(data)
    with pytest.raises(PersistenceError):
        open_store(tmp_path)


async def test_errors_change_nothing(tmp_path: Path):
    store = open_store(tmp_path)
    await store.put("k", v("text"))
    before = store.version_vector
    with pytest.raises(ConflictError):
        await store.increment("k", 1)
    with pytest.raises(NotFoundError):
        await store.delete("missing")
    assert store.version_vector == before


async def test_a_strong_resource_refuses_writes_until_the_leader_protocol_exists(tmp_path: Path):
    spec = ResourceSpec(namespace="default", name="ledger", consistency="strong")
    store = open_store(tmp_path, spec=spec)
    with pytest.raises(UnavailableError):
        await store.put("k", v(1))


WRITER = textwrap.dedent(
    """
    import asyncio, json, sys
    from pathlib import Path
    from statecast.agent.config import ResourceSpec
    from statecast.agent.persistence import ReplicaFiles
    from statecast.agent.store import ReplicaStore

    async def main():
        store = ReplicaStore(ResourceSpec(namespace="d", name="r"), "node-a",
                             ReplicaFiles(Path(sys.argv[1]), sys.argv[2], 0.05, sys.argv[3]))
        store.open()
        i = 0
        while True:
            await store.put(f"k{i}", json.dumps("v" * 50).encode())
            await store.increment("count", 1)
            print(i, flush=True)
            i += 1
            if i % 400 == 0:
                await store.snapshot()

    asyncio.run(main())
    """
)


@pytest.mark.parametrize(
    ("fsync", "writer"), [("always", "process"), ("interval", "process"), ("interval", "thread")]
)
def test_kill_9_mid_writes_loses_no_acknowledged_write(tmp_path: Path, fsync: str, writer: str):
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(tmp_path), fsync, writer],
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    acked = -1
    for line in proc.stdout:
        acked = int(line)
        if acked >= 1000:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    store = open_store(tmp_path)
    missing = [i for i in range(acked + 1) if store.get(f"k{i}") is None]
    assert missing == []
    count = store.get("count")
    assert isinstance(count, int)
    assert count >= acked + 1


async def test_the_log_is_folded_once_it_is_a_twelfth_of_the_snapshot(tmp_path: Path):
    store = open_store(tmp_path)
    for i in range(200):
        await store.put(f"k{i}", v("x" * 100))
    files = store.files
    assert files is not None
    assert not files.worth_folding()  # under the 1 MiB floor
    assert files.worth_folding(floor=1)
    size = await store.snapshot()
    assert files.last_snapshot_bytes == size
    assert not files.worth_folding(floor=1)  # nothing logged since
    await store.put("k0", v("y"))
    assert not files.worth_folding(floor=1)  # one record is far less than a twelfth
    while files.wal_bytes < size // 12:  # a twelfth (an eighth replayed 3.1 s at 1M keys)
        assert not files.worth_folding(floor=1)
        await store.put("k1", v("z" * 100))
    assert files.wal_bytes < size // 8
    assert files.worth_folding(floor=1)


async def test_a_log_write_the_disk_cuts_short_is_refused_and_taken_back_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """A full disk: the write(2) of a record stops half way, then fails. The write is
    refused (never acknowledged) and its half record cut back out of the log, so the
    records after it replay (before: the short write went unnoticed, the write was
    acknowledged, and the next record made the log corrupt)."""
    store = open_store(tmp_path)
    await store.put("before", v(1))
    files = store.files
    assert files is not None
    real_write, calls = os.write, []

    def full_disk(fd: int, data: bytes) -> int:
        if fd == files._fd and len(calls) < 2:
            calls.append(len(data))
            if len(calls) == 1:
                return real_write(fd, bytes(data[: len(data) // 2]))  # a short write
            raise OSError(28, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", full_disk)
    with pytest.raises(UnavailableError) as refused:  # joined, not logged: it may count
        await store.put("refused", v("x" * 50))
    assert refused.value.code == "outcome_unknown"
    await store.put("after", v(2))
    store.close()
    again = open_store(tmp_path)  # no damaged record in the log
    assert (again.get("before"), again.get("after")) == (v(1), v(2))


async def test_a_snapshot_is_written_by_a_child_process_from_the_state_at_the_fork(
    tmp_path: Path,
):
    # The writer's work (the image and everything after it) runs in a forked child, so
    # none of it holds the event loop's interpreter lock; a write made on the loop after
    # the fork is not in that snapshot, and comes back from the log.
    data = tmp_path / "data"
    store = open_store(data)
    for i in range(50):
        await store.put(f"k{i}", v(i))
    files = store.files
    assert files is not None
    closed = await files.rotate()
    marker = tmp_path / "imaged-by"

    def image():  # runs in the child
        marker.write_text(str(os.getpid()))
        return store.state.image()

    writing = asyncio.ensure_future(files.snapshot(image, closed))
    await asyncio.sleep(0)  # the task forks at its first step
    await store.put("k0", v("after the fork"))
    size = await writing
    assert int(marker.read_text()) != os.getpid()
    assert size == (data / "snapshot.bin").stat().st_size == files.last_snapshot_bytes
    saved, upto = snapshotfile.read_image(data / "snapshot.bin")
    assert upto == closed
    held = saved.entries["k0"]
    assert isinstance(held, bytes)
    assert lww.value(held) == v(0)
    assert not (data / f"log-{closed}.bin").exists()
    store.close()
    again = open_store(data)
    assert again.get("k0") == v("after the fork")
    assert again.get("k49") == v(49)


async def test_a_snapshot_writer_process_that_fails_is_an_error_and_drops_no_log(tmp_path: Path):
    store = open_store(tmp_path)
    await store.put("k", v(1))
    files = store.files
    assert files is not None
    closed = await files.rotate()

    def image():
        raise RuntimeError("no image today")

    with pytest.raises(PersistenceError, match="no image today"):
        await files.snapshot(image, closed)
    assert (tmp_path / f"log-{closed}.bin").exists()
    assert not (tmp_path / "snapshot.bin").exists()
    store.close()
    assert open_store(tmp_path).get("k") == v(1)


HANGING_WRITER = textwrap.dedent(
    """
    import asyncio, os, sys, time
    from pathlib import Path
    from statecast.agent.config import ResourceSpec
    from statecast.agent.persistence import ReplicaFiles
    from statecast.agent.store import ReplicaStore

    async def main():
        files = ReplicaFiles(Path(sys.argv[1]))
        store = ReplicaStore(ResourceSpec(namespace="d", name="r"), "node-a", files)
        store.open()
        await store.put("k", b"1")
        def image():  # in the child: says who it is, then never finishes
            Path(sys.argv[2]).write_text(str(os.getpid()))
            time.sleep(3600)
        await files.snapshot(image, await files.rotate())

    asyncio.run(main())
    """
)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_a_snapshot_writer_process_dies_with_the_agent(tmp_path: Path):
    # An agent killed with kill -9 leaves no writer behind that could later rename an
    # old snapshot over the files of the agent started after it.
    marker = tmp_path / "child"
    proc = subprocess.Popen([sys.executable, "-c", HANGING_WRITER, str(tmp_path / "d"), marker])
    try:
        deadline = time.monotonic() + 60
        while not marker.exists() or not marker.read_text():
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
        child = int(marker.read_text())
        assert _alive(child)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    deadline = time.monotonic() + 30
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not _alive(child)


async def test_a_snapshot_writer_process_past_its_deadline_is_killed_and_the_thread_takes_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # A child forked beside threads can wait for ever on a lock one of them held at the
    # fork: it is killed at its deadline, reported, and the replica writes with a thread.
    monkeypatch.setattr(persistence, "WRITER_DEADLINE_MIN", 0.5)
    data = tmp_path / "data"
    store = open_store(data)
    await store.put("k", v(1))
    files = store.files
    assert files is not None
    marker = tmp_path / "child"

    def never():  # in the child
        marker.write_text(str(os.getpid()))
        time.sleep(3600)

    with pytest.raises(PersistenceError, match="did not finish"):
        await files.snapshot(never, await files.rotate())
    assert not _alive(int(marker.read_text()))
    assert files.writer_kills == 1
    assert files.snapshot_writer == "thread"
    assert not (data / "snapshot.bin").exists()
    await store.snapshot()  # with the thread now
    store.close()
    assert open_store(data).get("k") == v(1)


async def test_a_same_size_write_after_a_snapshot_writer_forked_is_not_in_its_snapshot(
    tmp_path: Path,
):
    # The records' arena is memory the child shares with the agent (its page tables are
    # not copied at the fork): while the child lives the table must write nothing in
    # place, or the child reads the write made after the fork. Failed before the hold.
    data = tmp_path / "data"
    store = open_store(data)
    for i in range(50):
        await store.put(f"k{i}", v(f"old{i:02d}"))
    files = store.files
    assert files is not None
    closed = await files.rotate()
    written = tmp_path / "written"

    def image():  # runs in the child, once the agent has overwritten k0
        until = time.monotonic() + 30
        while not written.exists() and time.monotonic() < until:
            time.sleep(0.005)
        return store.state.image()

    writing = asyncio.ensure_future(files.snapshot(image, closed, store.state.hold))
    await asyncio.sleep(0)  # the task forks at its first step
    await store.put("k0", v("new00"))  # the same size: in place, were nothing held
    written.touch()
    await writing
    saved, _ = snapshotfile.read_image(data / "snapshot.bin")
    held = saved.entries["k0"]
    assert isinstance(held, bytes)
    assert lww.value(held) == v("old00")
    assert store.get("k0") == v("new00")
    store.close()
