"""The replica store with its write-ahead log and snapshots, on a real directory."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from statecast.agent.config import ResourceSpec
from statecast.agent.errors import ConflictError, NotFoundError, UnavailableError
from statecast.agent.persistence import FsyncPolicy, ReplicaFiles
from statecast.agent.store import ReplicaStore

SPEC = ResourceSpec(namespace="default", name="flags")


def open_store(
    path: Path, fsync: FsyncPolicy = "interval", spec: ResourceSpec = SPEC
) -> ReplicaStore:
    store = ReplicaStore(spec, "node-a", ReplicaFiles(path, fsync))
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


async def test_a_snapshot_folds_the_log_and_later_writes_still_replay(tmp_path: Path):
    store = open_store(tmp_path)
    for i in range(50):
        await store.put(f"k{i}", v(i))
    await store.snapshot()
    await store.put("k0", v("after"))
    store.close()
    assert sorted(os.listdir(tmp_path)) == ["snapshot.json", "wal-2.log"]
    again = open_store(tmp_path)
    assert again.get("k0") == v("after")
    assert again.get("k49") == v(49)
    assert len(again.state) == 50


async def test_a_torn_last_log_line_is_skipped(tmp_path: Path):
    store = open_store(tmp_path)
    await store.put("k", v(1))
    store.close()
    with (tmp_path / "wal-1.log").open("ab") as handle:
        handle.write(b'{"t":"push","o":"node-a","f":2')
    again = open_store(tmp_path)
    assert again.get("k") == v(1)


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
                             ReplicaFiles(Path(sys.argv[1]), sys.argv[2], 0.05))
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


@pytest.mark.parametrize("fsync", ["always", "interval"])
def test_kill_9_mid_writes_loses_no_acknowledged_write(tmp_path: Path, fsync: str):
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(tmp_path), fsync],
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


async def test_the_log_is_folded_once_it_is_a_quarter_of_the_snapshot(tmp_path: Path):
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
    assert not files.worth_folding(floor=1)  # one record is far less than a quarter
