"""A retired copy reopened BEFORE its hand-off: no deleted key back, no write lost.

Session 12 (note11, "Noticed, left alone"): a copy whose Replica was removed while no
live replica could take its writes stays on disk, retired and not handed off. Its peers
no longer count it when they collect tombstones, so a key deleted meanwhile can be
collected everywhere while this copy still holds it. When its Replica came back the copy
was opened as any replica recovered from its files: its pulls joined answers that no
longer carry that deletion (a join never removes a key) and the key came back - served
by it, and sent whole to any new copy pulling from it. Such a copy also holds writes
nobody else has, so it cannot simply be thrown away for a fresh copy as a warm one is.
Real agents over real HTTP.
"""

from __future__ import annotations

import asyncio

from tests.unit._agents import REF, URLS
from tests.unit.test_agent_warm import HOUR, VALUE, cluster, fill, phases, place

MINE = b'"acknowledged at a only"'


async def retired_unmerged(agents):  # type: ignore[no-untyped-def]
    """a holds b's state and a write of its own; removed while b and c are unreachable."""
    (a, b, c), gateway, reconciler = await cluster(agents, "a", "b", "c", warm_retention=HOUR)
    await fill(b)
    for _ in range(2):
        await c.replication.anti_entropy_round()
    await reconciler.reconcile()
    assert a.stores[REF].get("k0001") == VALUE
    a.directory.remove("b")
    a.directory.remove("c")
    await a.stores[REF].put("mine", MINE)  # acknowledged here; pushed nowhere
    place(gateway, [a, b, c], ("b", "c"))
    await reconciler.reconcile()
    await reconciler.retirement.close()
    directory = a.config.data_dir / "apps" / "flags"
    assert directory.exists() and directory in a.retired.directories()  # not handed off
    assert b.stores[REF].get("mine") is None
    return (a, b, c), gateway, reconciler


async def test_a_key_collected_while_a_retired_copy_waited_does_not_come_back(agents):
    (a, b, c), gateway, reconciler = await retired_unmerged(agents)
    await b.stores[REF].delete("k0001")
    for _ in range(3):  # b and c see the deletion and collect its tombstone
        await c.replication.anti_entropy_round()
        await b.replication.anti_entropy_round()
    assert b.stores[REF].state.entry("k0001") is None
    assert c.stores[REF].state.entry("k0001") is None
    a.directory.set("b", URLS["b"])
    a.directory.set("c", URLS["c"])
    place(gateway, [a, b, c], ("a", "b", "c"))
    await reconciler.reconcile()  # back before its hand-off
    await reconciler.reconcile()
    # before session 12 a reopened it as its own and kept k0001 (Ready, serving it)
    assert a.stores[REF].get("k0001") is None
    assert b.stores[REF].get("mine") == MINE  # its own write was handed off first
    assert a.stores[REF].get("mine") == MINE
    for _ in range(2):
        await b.replication.anti_entropy_round()
        await c.replication.anti_entropy_round()
    assert c.stores[REF].get("mine") == MINE
    assert c.stores[REF].get("k0001") is None
    assert phases(gateway, "a")[-1] == "Ready"
    assert dict(a.stores[REF].state.items()) == dict(b.stores[REF].state.items())


async def test_a_retired_copy_back_with_nothing_collected_keeps_its_own_writes(agents):
    (a, b, c), gateway, reconciler = await retired_unmerged(agents)
    await b.stores[REF].put("while-away", b'"x"')
    a.directory.set("b", URLS["b"])
    a.directory.set("c", URLS["c"])
    place(gateway, [a, b, c], ("a", "b", "c"))
    await reconciler.reconcile()
    await reconciler.reconcile()
    assert a.stores[REF].get("while-away") == b'"x"'
    assert a.stores[REF].get("mine") == MINE
    for _ in range(2):
        await b.replication.anti_entropy_round()
        await c.replication.anti_entropy_round()
    assert b.stores[REF].get("mine") == MINE
    assert c.stores[REF].get("mine") == MINE
    assert phases(gateway, "a")[-1] == "Ready"


async def test_a_retired_copy_back_while_its_peers_are_down_spreads_nothing(agents):
    (a, b, c), gateway, reconciler = await retired_unmerged(agents)
    await b.stores[REF].delete("k0001")
    for _ in range(3):
        await c.replication.anti_entropy_round()
        await b.replication.anti_entropy_round()
    place(gateway, [a, b, c], ("a", "b", "c"))  # a still cannot reach b or c
    await reconciler.reconcile()
    # it holds state of its own, maybe the only copy of some: served as before (a stale
    # read of k0001 until a peer answers), but it sends nothing - a new copy pulling
    # from it would take k0001 whole
    assert a.stores[REF].get("mine") == MINE
    assert await b.replication.sync_with(b.stores[REF], "a") is None
    a.directory.set("b", URLS["b"])
    a.directory.set("c", URLS["c"])
    await a.replication.anti_entropy_round()  # both refuse it a delta
    await reconciler.reconcile()  # its writes handed off, then a fresh copy
    await reconciler.reconcile()
    assert a.stores[REF].get("k0001") is None
    assert b.stores[REF].get("mine") == MINE
    assert a.stores[REF].get("mine") == MINE
    assert phases(gateway, "a")[-1] == "Ready"


async def test_a_copy_back_while_its_hand_off_is_under_way_is_not_taken_as_its_own(agents):
    stalled: list[asyncio.StreamWriter] = []

    async def never_answer(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        stalled.append(writer)  # takes the hand-off's request, answers nothing

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    (a, b, c), gateway, reconciler = await cluster(agents, "a", "b", "c", warm_retention=HOUR)
    await fill(b)
    for _ in range(2):
        await c.replication.anti_entropy_round()
    await reconciler.reconcile()
    a.directory.set("b", f"http://127.0.0.1:{port}")
    a.directory.remove("c")
    place(gateway, [a, b, c], ("b", "c"))
    await reconciler.reconcile()  # closed; its hand-off waits on "b"
    directory = a.config.data_dir / "apps" / "flags"
    assert directory in a.retired.directories()  # retired, not handed off
    await b.stores[REF].delete("k0001")
    for _ in range(3):
        await c.replication.anti_entropy_round()
        await b.replication.anti_entropy_round()
    a.directory.set("b", URLS["b"])
    a.directory.set("c", URLS["c"])
    place(gateway, [a, b, c], ("a", "b", "c"))
    await reconciler.reconcile()  # back while the first hand-off still waits
    await reconciler.reconcile()
    for writer in stalled:
        writer.close()
    server.close()
    await reconciler.retirement.close()
    assert a.stores[REF].get("k0001") is None  # it was kept before session 12
    assert phases(gateway, "a")[-1] == "Ready"
