"""Seeding a map from its source: identical on every replica, beaten by any real write."""

from __future__ import annotations

from statecast.core.crdt import DeltaMap
from statecast.core.crdt.seed import SEED_REPLICA, seed_entries

VALUES = {"b": b"2", "a": b"1", "c": b'"three"'}


def seeded(replica: str, multi_value: bool = False) -> DeltaMap:
    state = DeltaMap(replica, multi_value=multi_value)
    entries = seed_entries(VALUES, multi_value=multi_value)
    state.apply_push(SEED_REPLICA, 1, len(entries), entries)
    return state


def test_every_replica_builds_the_same_entries_in_key_order():
    assert seed_entries(VALUES, multi_value=False) == seed_entries(dict(VALUES), multi_value=False)
    state = seeded("n1")
    assert dict(state.items()) == VALUES
    assert state.version_vector.entries == {SEED_REPLICA: 3}


def test_two_seeded_replicas_agree_without_syncing_and_seeding_twice_changes_nothing():
    one, two = seeded("n1"), seeded("n2")
    assert one.entries() == two.entries()
    entries = seed_entries(VALUES, multi_value=False)
    assert one.apply_push(SEED_REPLICA, 1, 3, entries) == []


def test_a_real_write_wins_over_the_seed_on_every_replica():
    one, two = seeded("n1"), seeded("n2")
    delta = one.put("a", b"10")
    two.merge(delta)
    two.merge(seed_entries(VALUES, multi_value=False))  # a late seed does not undo it
    assert one.get("a") == two.get("a") == b"10"


def test_multi_value_maps_are_seeded_with_single_siblings():
    state = seeded("n1", multi_value=True)
    assert state.get("a") == b"1"
    state.put("a", b"5")
    assert state.get("a") == b"5"  # the write has seen the seeded value: no siblings
