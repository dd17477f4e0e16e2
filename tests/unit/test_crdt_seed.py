"""Seeding a map from its source: identical on every replica, beaten by any real write."""

from __future__ import annotations

from statecast.core.crdt import DeltaMap
from statecast.core.crdt.seed import is_seed_origin, seed_entries, seed_origin

VALUES = {"b": b"2", "a": b"1", "c": b'"three"'}


def seeded(replica: str, multi_value: bool = False, values: dict[str, bytes] = VALUES) -> DeltaMap:
    state = DeltaMap(replica, multi_value=multi_value)
    entries = seed_entries(values, multi_value=multi_value)
    state.apply_push(seed_origin(values), 1, len(entries), entries)
    return state


def test_every_replica_builds_the_same_entries_in_key_order():
    assert seed_entries(VALUES, multi_value=False) == seed_entries(dict(VALUES), multi_value=False)
    state = seeded("n1")
    assert dict(state.items()) == VALUES
    (origin,) = state.version_vector.entries
    assert state.version_vector.entries == {origin: 3}
    assert origin == seed_origin(dict(reversed(VALUES.items()))) and is_seed_origin(origin)
    assert not is_seed_origin("node-1") and is_seed_origin("~source")


def test_two_seeded_replicas_agree_without_syncing_and_seeding_twice_changes_nothing():
    one, two = seeded("n1"), seeded("n2")
    assert one.entries() == two.entries()
    entries = seed_entries(VALUES, multi_value=False)
    assert one.apply_push(seed_origin(VALUES), 1, 3, entries) == []


def test_a_real_write_wins_over_the_seed_on_every_replica():
    one, two = seeded("n1"), seeded("n2")
    delta = one.put("a", b"10")
    two.merge(delta)
    two.merge(seed_entries(VALUES, multi_value=False))  # a late seed does not undo it
    assert one.get("a") == two.get("a") == b"10"


def test_seeds_of_a_changed_source_are_other_events_and_replicas_still_agree():
    edited = {**VALUES, "a": b"100"}
    assert seed_origin(edited) != seed_origin(VALUES)
    one, two = seeded("n1"), seeded("n2", values=edited)
    one.apply_sync(two.delta_since(one.version_vector.entries))
    two.apply_sync(one.delta_since(two.version_vector.entries))
    assert dict(one.items()) == dict(two.items())  # one winner for "a", the same on both
    assert one.version_vector == two.version_vector


def test_multi_value_maps_are_seeded_with_single_siblings():
    state = seeded("n1", multi_value=True)
    assert state.get("a") == b"1"
    state.put("a", b"5")
    assert state.get("a") == b"5"  # the write has seen the seeded value: no siblings
