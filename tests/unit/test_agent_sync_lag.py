"""The lag a sync reports is the age of the newest change it brought in: a seed (stamped
at the epoch, hybrid time (0, 0)) is no change's age (ops17: a new replica of a seeded
resource reported lagSeconds ~1.8e9 and phase Stale after its first sync)."""

from __future__ import annotations

from statecast.core.crdt.seed import seed_entries, seed_origin
from tests.unit._agents import REF


async def test_a_replica_that_pulled_a_seed_reports_no_lag(agents):
    holder, new = await agents("a", "b")
    holder.locations[REF] = new.locations[REF] = ("a", "b")
    seeded = holder.open_replica(holder.specs[REF])
    values = {"k0": b"0", "k1": b"1"}
    entries = seed_entries(values, multi_value=False)
    await seeded.apply_push(seed_origin(values), 1, len(entries), entries)
    store = new.open_replica(new.specs[REF], serving=False)
    assert await new.replication.sync_with(store, "a") is not None
    assert store.get("k0") == b"0"
    assert new.replication.status[REF].lag_seconds == 0.0


async def test_the_lag_is_the_age_of_the_newest_write_brought_in(agents):
    holder, new = await agents("a", "b")
    holder.locations[REF] = new.locations[REF] = ("a", "b")
    seeded = holder.open_replica(holder.specs[REF])
    values = {"k0": b"0"}
    entries = seed_entries(values, multi_value=False)
    await seeded.apply_push(seed_origin(values), 1, len(entries), entries)
    await seeded.put("k1", b"1")  # a write now: its age is the lag, the seed's is not
    store = new.open_replica(new.specs[REF], serving=False)
    assert await new.replication.sync_with(store, "a") is not None
    assert 0.0 <= new.replication.status[REF].lag_seconds < 60.0
