"""EntryTable behaves exactly like a dict; EventRing like a bounded deque, one event per key."""

from __future__ import annotations

import mmap
import os
import threading
import tracemalloc
from collections import deque
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from statecast.core.clock import Stamp
from statecast.core.crdt import KeyState, PnCounter, lww
from statecast.core.crdt.entry import Entry
from statecast.core.crdt.events import EventRing, LatestEvents
from statecast.core.crdt.slots import Migration, new_slots, place
from statecast.core.crdt.table import UNCHANGED, EntryTable, EntryView

HASHES: dict[str, Callable[[str], int]] = {
    "builtin": hash,
    "all collide": lambda key: 7,
    "by length": len,
    "low bits zero": lambda key: hash(key) << 32,
    "at the end, wrapping": lambda key: -1 - len(key) % 3,
}

keys = st.one_of(
    st.sampled_from(["", "a", "\u65e5\u672c"]),  # often overwritten
    st.text(alphabet="ab\u00e9\u65e5\U0001f600\ud800", max_size=4),
)
registers = st.builds(
    lambda wall, replica, seq, value: lww.pack(wall, 0, replica, seq, value),
    st.integers(0, 3),
    st.sampled_from(["r", "node-1", "\u65e5\u672c", "ip-10-0-12-34.eu-west-1.compute.internal"]),
    st.integers(0, 3),
    st.one_of(st.none(), st.binary(max_size=6)),
)
key_states = st.builds(
    lambda up: KeyState(None, PnCounter().increment(Stamp(1, 0, "r"), 1, up)),
    st.integers(0, 3),
)
entries = st.one_of(registers, registers, registers, key_states)
sets = st.tuples(st.just("set"), keys, entries)
steps = st.tuples(st.just("step"), st.just(""), st.integers(1, 30))
operations = st.lists(
    st.one_of(
        sets,
        sets,
        sets,
        st.tuples(st.just("del"), keys, st.none()),
        st.tuples(st.just("compact"), st.just(""), st.none()),
        steps,
        steps,
        st.tuples(st.just("fill"), st.sampled_from(["x", "y\u00e9"]), st.integers(1, 40)),
        st.tuples(st.just("rewrite"), st.just(""), st.integers(-8, 8)),
        # A view stays open (the table appends, the cleaner waits) until views are dropped.
        st.tuples(st.just("view"), st.just(""), st.none()),
        st.tuples(st.just("prepare view"), st.just(""), st.none()),
        st.tuples(st.just("drop views"), st.just(""), st.none()),
        st.tuples(st.just("drop views"), st.just(""), st.none()),
    ),
    max_size=80,
)


def check_same(table: EntryTable, model: dict[str, Entry]) -> None:
    live = sum(len(data) for data, _, _ in table.record_blocks(size=64))
    assert table.arena_bytes - 1 == live + table.dead_bytes  # every byte live or dead
    assert len(table) == len(model)
    assert dict(table.items()) == model
    assert sorted(table) == sorted(model)
    for key, entry in model.items():
        assert key in table
        assert table[key] == entry
        expected = lww.value(entry) if isinstance(entry, bytes) else entry
        assert table.value(key) == expected


@settings(max_examples=400, deadline=None)
@given(
    program=operations,
    hash_name=st.sampled_from(sorted(HASHES)),
    work_per_write=st.sampled_from([0, 1, 3, 24]),
)
def test_the_table_behaves_like_a_dict(program, hash_name, work_per_write):
    # Growth and cleaning advance by small steps (per write, and "step"), so lookups,
    # writes, deletes and views meet the index half drained and the arena half cleaned.
    table = EntryTable(hash_fn=HASHES[hash_name], compact_min=0, work_per_write=work_per_write)
    model: dict[str, Entry] = {}
    views = []
    checked = []
    for kind, key, entry in program:
        if kind == "set":
            table[key] = entry
            model[key] = entry
        elif kind == "del":
            if key in model:
                del table[key]
                del model[key]
            else:
                with pytest.raises(KeyError):
                    del table[key]
        elif kind == "view":
            views.append((table.view(), dict(model)))
        elif kind == "prepare view":  # the next view copies into these (if still the size)
            for _ in table.prepare_view():
                pass
        elif kind == "step":
            table.step(entry)
        elif kind == "fill":  # many keys at once: the index grows
            for i in range(entry):
                table[f"{key}{i}"] = model[f"{key}{i}"] = lww.pack(i, 0, "r", i, b"f" * (i % 9))
        elif kind == "rewrite":  # every key again, values longer or shorter by `entry`
            for i, name in enumerate(sorted(model)):
                size = max(0, i % 9 + entry)
                table[name] = model[name] = lww.pack(9, 0, "r", i, b"g" * size)
        elif kind == "drop views":
            checked.extend(views)
            views = []
        else:
            table.compact()
            assert table.dead_bytes == 0
        check_same(table, model)
        assert table.get("absent\u0000") is None
        assert "absent\u0000" not in table
    check_views(checked + views)
    views = checked = []  # no view alive: the cleaner may finish
    while table.step(5):
        pass
    assert not table.busy
    check_same(table, model)
    for copy in (loaded_by_records(table), loaded_raw(table)):  # what snapshots do
        check_same(copy, model)


def loaded_by_records(table: EntryTable) -> EntryTable:
    copy = EntryTable(hash_fn=table._hash, capacity=len(table) // 2)
    copy.set_writers(table.writers)
    for data, starts, key_sizes in table.record_blocks(size=40):
        copy.load_block(data, starts, key_sizes)
    for key, state in table.states().items():
        copy[key] = state
    return copy


def loaded_raw(table: EntryTable) -> EntryTable:
    copy = EntryTable(hash_fn=table._hash)
    copy.set_writers(table.writers)
    for chunk in table.arena_chunks(size=7):
        copy.load_raw(chunk)
    starts, key_sizes = table.live_records()
    copy.index_raw(starts, key_sizes, table.arena_bytes - 1 - table.dead_bytes)
    for key, state in table.states().items():
        copy[key] = state
    assert copy.dead_bytes == table.dead_bytes
    return copy


def check_views(views: list[tuple[EntryView, dict[str, Entry]]]) -> None:
    for view, seen in views:
        assert dict(view.items()) == seen
        assert len(view) == len(seen)
        for key, entry in seen.items():
            assert view[key] == entry


def test_the_index_grows_and_shrinks_through_many_keys_with_colliding_hashes():
    table = EntryTable(hash_fn=lambda key: hash(key) & 0xFF, compact_min=0)
    model: dict[str, Entry] = {}
    for i in range(3000):
        key = f"k{i}"
        table[key] = model[key] = lww.pack(1, 0, "r", i, b"x" * (i % 7))
    for i in range(0, 3000, 3):
        del table[f"k{i}"]
        del model[f"k{i}"]
    for i in range(1, 3000, 3):
        key = f"k{i}"
        table[key] = model[key] = lww.pack(2, 0, "r", i, b"y" * (i % 5))
    assert table.capacity >= len(model) / 0.6
    check_same(table, model)


def test_deleting_inside_a_probe_run_that_wraps_around_keeps_the_rest_reachable():
    # Homes 5, 6, 7 and 7 in 8 slots: the last key wraps to slot 0 and must stay put when
    # the key at slot 5 is deleted (its home, 7, lies between the hole and slot 0).
    table = EntryTable(hash_fn=lambda key: -1 - len(key) % 3)
    model: dict[str, Entry] = {}
    for key in ("ab", "a", "", "abc"):
        table[key] = model[key] = lww.pack(1, 0, "r", 1, key.encode())
    assert table.capacity == 8
    del table["ab"]
    del model["ab"]
    check_same(table, model)


def test_registers_of_more_writers_than_a_byte_can_number_keep_their_replica_inline():
    table = EntryTable()
    model: dict[str, Entry] = {}
    for i in range(300):
        key = f"k{i}"
        table[key] = model[key] = lww.pack(1, 0, f"node-{i}", i, None if i % 7 else b"v")
    table["k3"] = model["k3"] = lww.pack(2, 0, "node-299", 5, b"w")
    check_same(table, model)
    assert [lww.replica(table[f"k{i}"]) for i in (0, 254, 255, 299)] == [
        "node-0",
        "node-254",
        "node-255",
        "node-299",
    ]


def test_a_same_size_or_much_shorter_overwrite_is_in_place_unless_a_view_is_open():
    table = EntryTable()
    table["k"] = lww.pack(1, 0, "r", 1, b"aa")
    used = table.arena_bytes
    table["k"] = lww.pack(2, 0, "r", 2, b"bb")
    assert table.arena_bytes == used and table.dead_bytes == 0
    view = table.view()
    table["k"] = lww.pack(3, 0, "r", 3, b"cc")
    assert table.arena_bytes > used
    assert lww.value(view["k"]) == b"bb"
    assert table.value("k") == b"cc"
    del view
    used = table.arena_bytes
    table["k"] = lww.pack(4, 0, "r", 4, b"dd" * 4)
    used, dead = table.arena_bytes, table.dead_bytes
    table["k"] = lww.pack(5, 0, "r", 5, b"e")  # 7 bytes shorter: a dead filler after it
    assert table.arena_bytes == used
    assert table.dead_bytes == dead + 7
    assert table.value("k") == b"e"
    table["k"] = lww.pack(6, 0, "r", 6, b"")  # 1 byte shorter: too few for a filler's head
    assert table.arena_bytes > used
    assert table.value("k") == b""


def test_dead_records_are_compacted_once_they_are_half_the_arena():
    table = EntryTable(compact_min=0)
    for i in range(100):
        table[f"k{i}"] = lww.pack(1, 0, "r", i, b"v")
    for i in range(100):
        table[f"k{i}"] = lww.pack(2, 0, "r", i, b"longer value")
    assert table.dead_bytes * 2 <= table.arena_bytes
    assert table.value("k5") == b"longer value"


def test_changing_the_table_while_iterating_it_is_an_error():
    table = EntryTable()
    for i in range(10):
        table[f"k{i}"] = lww.pack(1, 0, "r", i, b"v")
    keys = iter(table)
    table[next(keys) + "x"] = lww.pack(1, 0, "r", 1, b"v")
    with pytest.raises(RuntimeError, match="changed size"):
        next(keys)


def test_a_key_too_long_for_a_record_is_refused_and_changes_nothing():
    table = EntryTable()
    with pytest.raises(ValueError, match="too long"):
        table["k" * 70_000] = lww.pack(1, 0, "r", 1, b"v")
    assert len(table) == 0


@settings(max_examples=200, deadline=None)
@given(
    events=st.lists(st.tuples(st.integers(1, 50), st.sampled_from("abc")), max_size=60),
    limit=st.integers(1, 8),
)
def test_the_event_ring_keeps_the_latest_event_of_each_key_of_a_bounded_window(events, limit):
    ring = EventRing(limit)
    # The model: a bounded deque of slots [seq, key, live]; recording a key again frees
    # the slot of its earlier event; a slot leaving the window raises the floor if live.
    model: deque[list[Any]] = deque()
    floor, model_floor = 0, 0
    for seq, key in events:
        held = [slot for slot in model if slot[2] and slot[1] == key]
        if held and held[0][0] >= seq:
            assert ring.append(seq, key) is None
        else:
            for slot in held:
                slot[2] = False
            model.append([seq, key, True])
            if len(model) > limit:
                gone = model.popleft()
                if gone[2]:
                    model_floor = max(model_floor, gone[0])
            evicted = ring.append(seq, key)
            if evicted is not None:
                floor = max(floor, evicted)
        live = [(s, k) for s, k, alive in model if alive]
        assert list(ring) == live
        seqs, keys = ring.export()
        assert list(zip(seqs, keys, strict=True)) == live
        assert len(ring) == len(live) == len({k for _, k in live})
        assert floor == model_floor
        known = seq // 2
        assert sorted(ring.keys_after(known)) == sorted(k for s, k in live if s > known)


def test_a_ring_of_rewritten_keys_holds_each_key_once_not_once_per_event():
    # The soak's holders grew ~140 bytes per operation: every event kept its own copy of
    # the key (a new str from each request) until the ring was full.
    ring = EventRing(1 << 16)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for seq in range(1, 20_001):
            ring.append(seq, "".join(["key-", str(seq % 40)]))  # a new str object each time
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(ring) == len({key for _, key in ring}) == 40
    # 16 bytes of slot per event until the ring is full; a copy of the key was ~55 more.
    assert grown < 24 * 20_000
    assert sorted(ring.keys_after(19_990)) == sorted(f"key-{s % 40}" for s in range(19_991, 20_001))


@given(
    events=st.lists(st.tuples(st.integers(1, 50), st.sampled_from("abc")), max_size=60),
    limit=st.integers(1, 8),
)
def test_latest_events_keeps_the_greatest_and_the_floor_below_them(events, limit):
    latest = LatestEvents(limit)
    for seq, key in events:
        latest.add(seq, key)
    ordered = sorted(events)
    kept = ordered[-limit:]
    latest_of = {key: seq for seq, key in kept}  # the ring holds each key's latest once
    assert list(latest.ring()) == list(dict.fromkeys(e for e in kept if latest_of[e[1]] == e[0]))
    left_out = ordered[: max(0, len(ordered) - limit)]
    assert latest.floor == (left_out[-1][0] if left_out else 0)


def test_a_view_read_in_another_thread_stays_the_same_while_the_table_grows_and_compacts():
    table = EntryTable(compact_min=0)
    for i in range(2000):
        table[f"k{i}"] = lww.pack(1, 0, "r", i, b"v" * (i % 9))
    seen = dict(table.items())
    view = table.view()
    read: dict[str, Entry] = {}

    def reader() -> None:
        for _ in range(3):
            read.clear()
            read.update(view.items())

    thread = threading.Thread(target=reader)
    thread.start()
    for i in range(20_000):  # new keys (index growth, arena resizes), longer overwrites
        table[f"k{i % 4000}"] = lww.pack(2, 0, "s", i, b"w" * (i % 13))
        if i % 5000 == 0:
            table.compact()
    thread.join()
    assert read == seen
    assert dict(view.items()) == seen


def test_the_old_index_drains_a_whole_cluster_at_a_time():
    hashes, offsets = new_slots(8), new_slots(8)
    for h, offset in ((2, 10), (2, 20), (3, 30), (6, 40)):  # clusters: slots 2-4, slot 6
        place(hashes, offsets, 7, h, offset)
    migration = Migration(hashes, offsets)
    new_hashes, new_offsets = new_slots(16), new_slots(16)
    looked = [migration.drain(new_hashes, new_offsets, 15, budget=1) for _ in range(5)]
    # slot 0 (empty), slot 1 (empty), slots 2-5 (the cluster and the empty slot ending
    # it), slots 6-7 (a cluster of one and its end), then nothing is left
    assert looked == [1, 1, 4, 2, 0]
    assert migration.done
    assert list(offsets) == [0] * 8
    assert [new_offsets[i] for i in (2, 3, 4, 6)] == [10, 20, 30, 40]


def test_a_half_drained_index_keeps_every_key_reachable_through_deletes():
    # Keys homed in few slots make long clusters; the old index drains one step at a
    # time while keys on both sides are read, overwritten and deleted.
    table = EntryTable(hash_fn=lambda key: hash(key) & 0x3F, work_per_write=0)
    model: dict[str, Entry] = {}
    for i in range(200):
        table[f"k{i}"] = model[f"k{i}"] = lww.pack(1, 0, "r", i, b"v")
        if i % 7 == 0:
            table.step(3)
        if i % 5 == 0 and f"k{i // 2}" in model:
            del table[f"k{i // 2}"]
            del model[f"k{i // 2}"]
        if i % 50 == 0:
            check_same(table, model)
    assert table.busy
    check_same(table, model)
    while table.step(3):
        check_same(table, model)
    assert not table.busy


def test_a_view_is_prepared_a_bounded_step_at_a_time_and_copies_into_what_was_prepared():
    table = EntryTable(capacity=3000)  # 8,192 slots: 32 KiB of hashes, 32 KiB of offsets
    for i in range(3000):
        table[f"k{i}"] = lww.pack(1, 0, "r", i, b"v")
    page = mmap.PAGESIZE  # the smallest step
    steps = table.prepare_view(step_bytes=page)
    touched = 0
    for _ in steps:  # writes go on between steps
        touched += 1
        table[f"k{touched}"] = lww.pack(2, 0, "r", touched, b"w")
    assert touched == 2 * 8192 * 4 // page
    prepared = [slots.obj for slots in table._spare]
    view = table.view()
    assert [view._hashes.obj, view._offsets.obj] == prepared  # copied into, not fresh
    assert table._spare == []  # each prepared array serves one view only
    table["k1"] = lww.pack(3, 0, "r", 1, b"later")
    assert view["k1"] == lww.pack(2, 0, "r", 1, b"w")
    assert dict(view.items()) == {
        **{f"k{i}": lww.pack(1, 0, "r", i, b"v") for i in range(3000)},
        **{f"k{i}": lww.pack(2, 0, "r", i, b"w") for i in range(1, touched + 1)},
    }


def test_a_view_prepared_before_the_index_grew_is_made_afresh_and_right():
    table = EntryTable(work_per_write=0)
    for i in range(4):
        table[f"k{i}"] = lww.pack(1, 0, "r", i, b"v")
    for _ in table.prepare_view():
        pass
    for i in range(4, 1000):  # the index grows (and drains only in steps: a migration)
        table[f"k{i}"] = lww.pack(1, 0, "r", i, b"v")
    assert table._old is not None
    for _ in table.prepare_view():  # four arrays now: the old index's two as well
        pass
    assert len(table._spare) == 4
    table["k1000"] = lww.pack(1, 0, "r", 1000, b"v")  # no growth: sizes still match
    view = table.view()
    while table.step(64):
        pass
    table["k0"] = lww.pack(2, 0, "r", 0, b"w")
    assert dict(view.items()) == {f"k{i}": lww.pack(1, 0, "r", i, b"v") for i in range(1001)}


def test_the_cleaner_waits_for_views_and_gives_the_freed_pages_back():
    table = EntryTable(compact_min=0, work_per_write=0)
    for i in range(5000):
        table[f"k{i}"] = lww.pack(1, 0, "r", i, b"v" * 100)
    for size in (110, 120):  # longer: appended, until half the arena is dead
        for i in range(5000):
            table[f"k{i}"] = lww.pack(2, 0, "r", i, b"w" * size)
    assert table.busy
    used = table.arena_bytes
    view = table.view()
    assert not table.step(1 << 20)  # nothing it may do while the view lives
    assert table.arena_bytes == used
    del view
    while table.step(100):
        pass
    assert table.dead_bytes == 0
    assert table.arena_bytes < used * 0.55
    assert table.value("k4999") == b"w" * 120


tied_registers = st.builds(  # small ranges: stamps often tie
    lww.pack,
    st.integers(0, 2),
    st.integers(0, 2),
    st.sampled_from(["a", "b", "ab", "\u65e5"]),
    st.integers(0, 2),
    st.one_of(st.none(), st.binary(max_size=3)),
)


@settings(max_examples=300, deadline=None)
@given(old=st.one_of(st.none(), tied_registers), incoming=tied_registers, covered=st.integers(0, 3))
def test_merging_a_register_in_place_is_the_last_writer_wins_join(old, incoming, covered):
    table = EntryTable()
    for i in range(300 if old is not None and len(old) % 2 else 0):  # writers kept inline too
        table[f"w{i}"] = lww.pack(1, 0, f"writer-{i}", 1, None)
    if old is not None:
        table["k"] = old
    outcome = table.merge_register("k", incoming, covered)
    if old is None:
        assert outcome == (UNCHANGED if lww.seq(incoming) <= covered else -1)
        assert table.get("k") == (None if outcome == UNCHANGED else incoming)
    else:
        joined = lww.join(old, incoming)
        assert table["k"] == joined
        assert (outcome == UNCHANGED) == (joined is old)
        if outcome != UNCHANGED:
            assert outcome == lww.value_size(old)


def test_a_child_forked_while_the_table_is_held_reads_the_records_of_the_fork():
    # The arena is memory shared with a forked child (no page tables copied): while
    # held, the table writes nothing in place and the cleaner waits. Failed without.
    table = EntryTable(compact_min=0, work_per_write=0)
    for i in range(2000):
        table[f"k{i}"] = lww.pack(1, 0, "r", i, b"a" * 20)
    hold = table.hold()
    ready, go = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: reads once the parent has changed everything
        os.read(ready, 1)
        same = all(table.value(f"k{i}") == b"a" * 20 for i in range(2000))
        os._exit(0 if same else 1)
    os.close(ready)
    for i in range(2000):  # the same size (in place, were nothing held), then longer
        table[f"k{i}"] = lww.pack(2, 0, "r", i, b"b" * 20)
    for i in range(2000):
        table[f"k{i}"] = lww.pack(3, 0, "r", i, b"c" * 30)
    while table.step(1 << 16):
        pass
    os.write(go, b"x")
    os.close(go)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert table.dead_bytes > 0  # the cleaner waited
    hold.release()
    while table.step(1 << 16):
        pass
    assert table.dead_bytes == 0
    used = table.arena_bytes
    table["k0"] = lww.pack(4, 0, "r", 0, b"d" * 30)
    assert table.arena_bytes == used  # in place again
    assert [table.value(f"k{i}") for i in (0, 1, 1999)] == [b"d" * 30, b"c" * 30, b"c" * 30]


def test_the_freed_pages_go_back_a_page_per_unit_of_work_and_later_records_stay():
    table = EntryTable(compact_min=0, work_per_write=0)
    for i in range(5000):
        table[f"k{i}"] = lww.pack(1, 0, "r", i, b"v" * 100)
    for size in (110, 120):  # longer: appended, until half the arena is dead
        for i in range(5000):
            table[f"k{i}"] = lww.pack(2, 0, "r", i, b"w" * size)
    while table.dead_bytes:
        assert table.step(4)  # a record a step: the last one gives back no page
    freed = (table.mapped_bytes - table.arena_bytes) // mmap.PAGESIZE
    assert freed > 50
    table["new"] = lww.pack(3, 0, "r", 1, b"n" * 5000)  # lands in pages not given back yet
    steps = 0
    while table.step(1):  # one unit: one page
        steps += 1
    assert steps >= freed - 3
    assert not table.busy
    assert table.value("new") == b"n" * 5000
    assert table.value("k4999") == b"w" * 120
