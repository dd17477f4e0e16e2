"""A replica written to a binary snapshot comes back the same, whatever its history."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from statecast.agent import snapshotfile
from statecast.agent.snapshotfile import read_image, write_image
from statecast.core.clock import HybridClock
from statecast.core.crdt import DeltaMap
from tests.unit.test_crdt_properties import REPLICAS, FakeTime, make_cluster, programs, run


def round_trip(state: DeltaMap, time: FakeTime, raw: bool, wal: int = 7) -> DeltaMap:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "snapshot.bin"
        threshold = snapshotfile.RAW_GARBAGE
        snapshotfile.RAW_GARBAGE = 1.0 if raw else -1.0  # the arena as it is, or by record
        try:
            with path.open("wb") as handle:
                size = write_image(handle, state.image(), wal)
        finally:
            snapshotfile.RAW_GARBAGE = threshold
        assert path.stat().st_size == size
        image, covered = read_image(path)
    assert covered == wal
    again = DeltaMap(
        state.replica,
        multi_value=state.multi_value,
        clock=HybridClock(state.replica, time),
        index_limit=8,
    )
    again.restore(image)
    return again


def same_payload(a: DeltaMap, b: DeltaMap, peer: dict[str, int]) -> None:
    mine, theirs = a.delta_since(peer), b.delta_since(peer)
    assert mine.full == theirs.full
    assert dict(mine.entries.items()) == dict(theirs.entries.items())
    assert mine.version_vector == theirs.version_vector


@settings(max_examples=150, deadline=None)
@given(program=programs, multi_value=st.booleans(), cut=st.integers(0, 5), raw=st.booleans())
def test_a_restored_replica_answers_and_continues_like_the_original(program, multi_value, cut, raw):
    time = FakeTime()
    cluster = make_cluster(multi_value, time)
    run(cluster, time, program)
    for replica in REPLICAS:
        original = cluster.maps[replica]
        again = round_trip(original, time, raw)
        assert dict(again.entries().items()) == dict(original.entries().items())
        assert again.version_vector == original.version_vector
        assert again.payload_bytes == original.payload_bytes
        assert dict(again.items()) == dict(original.items())
        peers = [{}, *(cluster.maps[r].version_vector.entries for r in REPLICAS)]
        peers.append({r: max(0, s - cut) for r, s in original.version_vector.items()})
        for peer in peers:
            same_payload(again, original, peer)
        value = json.dumps("after").encode()
        assert again.put("k0", value) == original.put("k0", value)  # the clock came back too
        members = [cluster.maps[r].version_vector.entries for r in REPLICAS if r != replica]
        assert again.collect_garbage(members) == original.collect_garbage(members)
        everything = [original.version_vector.entries] * 2  # as if every member had it all
        assert again.collect_garbage(everything) == original.collect_garbage(everything)
        assert dict(again.entries().items()) == dict(original.entries().items())


def test_a_table_larger_than_one_array_slice_comes_back(monkeypatch) -> None:
    """The live records' places are built a slice at a time (the snapshot thread held
    the event loop's interpreter lock for 30 ms making one array of a million)."""
    from statecast.core.crdt import table

    monkeypatch.setattr(table, "_ARRAY_SLICE", 64)
    state = DeltaMap("a")
    for i in range(1000):  # 16 slices, the last one short
        state.put(f"k{i}", b'"%d"' % i)
    again = round_trip(state, FakeTime(), raw=True)
    assert len(again) == 1000
    assert all(again.get(f"k{i}") == b'"%d"' % i for i in range(1000))
