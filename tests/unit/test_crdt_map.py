"""Table tests of the CRDT semantics, one behaviour per test."""

from __future__ import annotations

import json

import pytest

from statecast.core.clock import MAX_LOGICAL, HybridClock, Stamp
from statecast.core.crdt import CounterConflictError, DeltaMap, lww
from statecast.core.version_vector import Dot, VersionVector


class Time:
    def __init__(self) -> None:
        self.now = 1_000

    def __call__(self) -> int:
        return self.now


def pair(multi_value: bool = False, limit: int = 1 << 16) -> tuple[DeltaMap, DeltaMap, Time]:
    t = Time()
    a = DeltaMap("a", multi_value=multi_value, clock=HybridClock("a", t), index_limit=limit)
    b = DeltaMap("b", multi_value=multi_value, clock=HybridClock("b", t), index_limit=limit)
    return a, b, t


def v(x: object) -> bytes:
    return json.dumps(x).encode()


def exchange(a: DeltaMap, b: DeltaMap) -> None:
    a.apply_sync(b.delta_since(a.version_vector.entries))
    b.apply_sync(a.delta_since(b.version_vector.entries))


def test_hybrid_clock_stays_ahead_of_stamps_it_has_seen_when_wall_time_lags():
    t = Time()
    clock = HybridClock("a", t)
    clock.observe(Stamp(5_000, 7, "b"))
    assert clock.tick() == Stamp(5_000, 8, "a")
    t.now = 6_000
    assert clock.tick() == Stamp(6_000, 0, "a")


def test_version_vector_covers_joins_and_dominates():
    vv = VersionVector.of({"a": 2, "b": 0})
    assert vv.covers(Dot("a", 2))
    assert not vv.covers(Dot("a", 3))
    assert not vv.covers(Dot("b", 1))
    joined = vv.join({"b": 4})
    assert joined.to_json() == {"a": 2, "b": 4}
    assert joined.dominates(vv)
    assert not vv.dominates(joined)


def test_last_writer_wins_and_the_replica_id_breaks_a_tie_in_the_same_millisecond():
    a, b, _ = pair()
    a.put("k", v("from-a"))
    b.put("k", v("from-b"))  # same wall time and logical counter: "b" > "a" wins
    exchange(a, b)
    assert a.get("k") == b.get("k") == v("from-b")


def test_a_later_write_wins_over_an_earlier_one_from_a_higher_replica_id():
    a, b, t = pair()
    b.put("k", v("old"))
    t.now += 1
    a.put("k", v("new"))
    exchange(a, b)
    assert a.get("k") == b.get("k") == v("new")


def test_multi_value_keeps_concurrent_writes_as_siblings_until_a_write_that_saw_them():
    a, b, _ = pair(multi_value=True)
    a.put("k", v(1))
    b.put("k", v(2))
    exchange(a, b)
    assert a.get("k") == b.get("k") == (v(1), v(2))
    a.put("k", v(3))
    exchange(a, b)
    assert a.get("k") == b.get("k") == v(3)


def test_multi_value_delete_removes_only_the_siblings_it_saw():
    a, b, _ = pair(multi_value=True)
    a.put("k", v(1))
    exchange(a, b)
    a.delete("k")
    b.put("k", v(2))  # concurrent with the delete
    exchange(a, b)
    assert a.get("k") == b.get("k") == v(2)


def test_counters_add_up_increments_from_every_replica():
    a, b, _ = pair()
    a.increment("c", 5)
    b.increment("c", 2)
    b.increment("c", -1)
    exchange(a, b)
    assert a.get("c") == b.get("c") == 6


def test_increment_on_a_key_holding_a_value_is_a_conflict_and_changes_nothing():
    a, _, _ = pair()
    a.put("k", v("text"))
    before = a.version_vector
    with pytest.raises(CounterConflictError):
        a.increment("k", 1)
    assert a.get("k") == v("text")
    assert a.version_vector == before


def test_delete_resets_a_counter_but_keeps_a_concurrent_increment():
    a, b, t = pair()
    a.increment("c", 10)
    exchange(a, b)
    t.now += 1
    a.delete("c")
    t.now += 1
    b.increment("c", 3)  # b has not seen the delete
    exchange(a, b)
    assert a.get("c") == b.get("c") == 3


def test_deleting_an_absent_key_is_reported_and_makes_no_event():
    a, _, _ = pair()
    assert a.delete("nothing") is None
    assert a.version_vector.total() == 0


def test_delta_sync_sends_only_what_the_peer_lacks():
    a, b, _ = pair()
    for i in range(100):
        a.put(f"k{i}", v(i))
    exchange(a, b)
    a.put("k7", v("changed"))
    payload = a.delta_since(b.version_vector.entries)
    assert not payload.full
    assert set(payload.entries) == {"k7"}


def test_a_new_peer_gets_a_full_snapshot():
    a, b, _ = pair()
    a.put("k", v(1))
    assert a.delta_since(b.version_vector.entries).full


def test_a_peer_behind_the_index_gets_a_full_snapshot_and_catches_up():
    a, b, _ = pair(limit=8)
    for i in range(40):
        a.put(f"k{i}", v(i))
    exchange(a, b)
    for i in range(40, 52):  # 12 events: the index of 8 no longer reaches b's position
        a.put(f"k{i}", v(i))
    assert a.sends_everything(b.version_vector.entries)
    payload = a.delta_since(b.version_vector.entries)
    assert payload.full
    b.apply_sync(payload)
    assert dict(b.items()) == dict(a.items())
    assert not a.sends_everything(b.version_vector.entries)


def test_sends_everything_says_when_a_delta_request_gets_the_whole_state():
    # (the server makes a full answer's arrays ahead, a step per loop turn, on this word)
    a, b, _ = pair(limit=8)
    assert a.sends_everything({})
    a.put("k0", v(0))
    exchange(a, b)
    assert not a.sends_everything(b.version_vector.entries)  # up to date
    a.put("k1", v(1))
    assert not a.sends_everything(b.version_vector.entries)  # a delta of one key
    assert not a.delta_since(b.version_vector.entries).full
    assert not a.sends_everything({"a": 2, "someone-else": 5})  # ahead of us: nothing to send


def test_pushes_out_of_order_advance_the_vector_only_when_contiguous():
    a, b, _ = pair()
    first = a.put("x", v(1))
    second = a.put("y", v(2))
    b.apply_push("a", 2, 2, second)
    assert b.version_vector.get_seq("a") == 0
    b.apply_push("a", 1, 1, first)
    assert b.version_vector.get_seq("a") == 2


def test_tombstones_are_collected_once_every_replica_has_seen_them():
    a, b, _ = pair()
    a.put("k", v(1))
    a.delete("k")
    assert len(a) == 1
    assert a.collect_garbage([b.version_vector]) == 0  # b has not seen it
    exchange(a, b)
    assert a.collect_garbage([b.version_vector]) == 1
    assert len(a) == 0


def test_the_index_of_a_gone_copy_is_released_once_everyone_holds_its_events():
    """A copy long gone (``old``) kept its delta index ring in every replica for ever
    (up to ``index_limit`` slots: 4.6 MiB for 65,536 keys); before, ``_index`` kept it."""
    a, b, _ = pair()
    old = DeltaMap("old", clock=HybridClock("old", Time()))
    for i in range(50):
        old.put(f"o{i}", v(i))
    exchange(a, old)
    exchange(b, old)  # old's copy is gone from here on; a and b hold its 50 events
    a.put("k", v(1))
    exchange(a, b)
    late = DeltaMap("late", clock=HybridClock("late", Time()))
    late.apply_sync(a.delta_since({}))  # a replica restored from before "old"'s last events
    behind = {**late.version_vector.entries, "old": 40}
    a.collect_garbage([b.version_vector])
    assert "old" in a._index  # seen by all, but only once: kept one more collection
    a.collect_garbage([b.version_vector])
    assert "old" not in a._index  # before: kept for ever
    assert "a" in a._index  # its own ring stays
    a.put("k", v(2))  # deltas still go to a peer that holds old's events
    payload = a.delta_since(b.version_vector.entries)
    assert (payload.full, set(payload.entries)) == (False, {"k"})
    # a peer behind old's last event gets the whole state, as past an overflowed ring
    assert a.sends_everything(behind) and a.delta_since(behind).full


def test_the_index_of_an_origin_not_every_member_holds_is_kept():
    a, b, _ = pair()
    old = DeltaMap("old", clock=HybridClock("old", Time()))
    old.put("o", v(1))
    exchange(a, old)
    for _ in range(3):
        a.collect_garbage([b.version_vector])  # b has not got old's event
    assert "old" in a._index
    exchange(a, b)
    old.put("o", v(2))  # old writes on between collections: not quiet
    a.collect_garbage([b.version_vector])
    exchange(a, old)
    exchange(a, b)
    a.collect_garbage([b.version_vector])
    assert "old" in a._index  # its newest event seen by all once only


def test_the_clock_never_overflows_the_packed_logical_counter():
    t = Time()
    clock = HybridClock("a", t)
    clock.observe(Stamp(1_000, MAX_LOGICAL, "b"))
    assert clock.tick() == Stamp(1_001, 0, "a")


def test_a_register_packs_and_unpacks_its_stamp_and_dot():
    register = lww.pack(1_764_300_000_000, MAX_LOGICAL, "node-1", 2**40, b"1")
    assert lww.stamp(register) == Stamp(1_764_300_000_000, MAX_LOGICAL, "node-1")
    assert lww.dot(register) == Dot("node-1", 2**40)
    assert lww.value(register) == b"1"
    assert lww.value(lww.pack(5, 0, "n", 1, None)) is None


def test_a_copy_that_was_away_is_behind_a_collection_and_a_join_keeps_its_stale_key():
    # warm copies (issue 11): `away` left holding k; k was deleted and its tombstone
    # collected by the replicas that stayed. No answer carries that deletion any more:
    # joined, `away` keeps k. behind_collection tells such a copy from one that may join.
    a, b, _ = pair()
    a.put("k", v(1))
    a.put("other", v(2))
    exchange(a, b)
    away = DeltaMap("c")
    away.apply_sync(a.delta_since({}))
    assert not a.behind_collection(away.version_vector.entries)
    a.put("later", v(3))  # a write missed, not a deletion: a delta is safe
    assert not a.behind_collection(away.version_vector.entries)
    a.delete("k")
    exchange(a, b)
    assert a.collect_garbage([b.version_vector]) == 1
    assert a.behind_collection(away.version_vector.entries)
    away.apply_sync(a.delta_since(away.version_vector.entries))
    assert away.get("k") == v(1)  # the hazard: the key came back
    # a replica caught up past the collection is not behind it
    assert not a.behind_collection(b.version_vector.entries)


def test_a_full_answer_or_a_recovery_makes_a_replica_assume_collections_up_to_its_vector():
    a, _, _ = pair()
    a.put("k", v(1))
    fresh = DeltaMap("n")
    fresh.apply_sync(a.delta_since({}))  # full: a may have collected anything before
    assert fresh.behind_collection({})
    assert not fresh.behind_collection(a.version_vector.entries)
    recovered = DeltaMap("a")
    recovered.load(dict(a.entries()), a.version_vector.entries)
    assert recovered.behind_collection({"a": 0})
    assert not recovered.behind_collection(a.version_vector.entries)
