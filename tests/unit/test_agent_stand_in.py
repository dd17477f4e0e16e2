"""A stand-in holds the source's seed, not the lost copies' state: another new copy that
pulled from it has not caught up (the clock-skew chaos run: a failover copy that pulled
only from the stand-in served, and answered 404 for keys the lost copies held)."""

from __future__ import annotations

from tests.unit._agents import REF


async def test_a_copy_that_pulled_only_from_a_stand_in_has_not_caught_up(agents):
    x, y = await agents("x", "y")
    x.locations[REF] = y.locations[REF] = ("x", "y")
    stand_in = y.open_replica(y.specs[REF])
    await stand_in.put("seeded", b'"yes"')
    stand_in.stand_in_for = ("z",)  # the copy that held the state, on z, is lost
    new = x.open_replica(x.specs[REF], serving=False)
    assert await x.replication.sync_with(new, "y") is not None
    assert new.get("seeded") == b'"yes"'  # it copies what the stand-in has ...
    assert [caught for _, caught in x.replication.status[REF].pulled.values()] == [False]

    stand_in.stand_in_for = ()  # the lost copy came back and merged: it holds the state
    assert await x.replication.sync_with(new, "y") is not None
    assert [caught for _, caught in x.replication.status[REF].pulled.values()] == [True]
