"""Warm copies beside agents of before session 11, which ignore ``delta_only``.

Session 12 (note11, "Noticed, left alone"): a reopened warm copy asks its peers for a
delta only, and a peer that collected a deletion the copy has not seen refuses it (409
``needs_full_copy``). An agent of before session 11 does not know the flag: it answered
a delta as to anyone, the copy joined it and kept the deleted key (a rolling upgrade
could bring keys back). Now a peer that checked says so (``Statecast-Delta-Only:
checked`` on its answer); an answer without it is not joined by a warm copy but counted
as a refusal: the copy is replaced by a full one. Real agents over real HTTP; an agent
of before is one whose server reads sync requests without the flag, as those did.
"""

from __future__ import annotations

import json

import aiohttp
import pytest

from statecast.agent import server as server_module
from statecast.agent.wire import (
    DELTA_ONLY_CHECKED,
    DELTA_ONLY_HEADER,
    SyncRequest,
    decode_sync_request,
    encode_sync_request,
)
from tests.unit._agents import REF, URLS
from tests.unit.test_agent_warm import HOUR, KEYS, VALUE, cluster, fill, phases, place, received


def of_before(body: bytes) -> SyncRequest:
    """How an agent of before session 11 read a sync request: no ``delta_only``."""
    ask = decode_sync_request(body)
    return SyncRequest(ask.sender, ask.vector, ask.lines)


async def away_while_collected(agents):  # type: ignore[no-untyped-def]
    (a, b, c), gateway, reconciler = await cluster(agents, "a", "b", "c", warm_retention=HOUR)
    await fill(b)
    for _ in range(2):
        await c.replication.anti_entropy_round()
    await reconciler.reconcile()
    place(gateway, [a, b, c], ("b", "c"))
    await reconciler.reconcile()
    await reconciler.retirement.close()  # handed off, kept warm
    await b.stores[REF].delete("k0001")
    for _ in range(3):
        await c.replication.anti_entropy_round()
        await b.replication.anti_entropy_round()
    assert b.stores[REF].state.entry("k0001") is None  # collected
    return (a, b, c), gateway, reconciler


async def test_a_warm_copy_takes_a_full_copy_from_peers_of_before(agents, monkeypatch):
    (a, b, c), gateway, reconciler = await away_while_collected(agents)
    monkeypatch.setattr(server_module, "decode_sync_request", of_before)  # b and c: old
    place(gateway, [a, b, c], ("a", "b", "c"))
    before = received(a, "full")
    await reconciler.reconcile()
    await reconciler.reconcile()
    # before session 12 a joined their plain delta and kept k0001
    assert a.stores[REF].get("k0001") is None
    assert received(a, "full") - before > KEYS * len(VALUE)
    assert a.sync_log.warm["refreshed"] == 1
    assert phases(gateway, "a")[-1] == "Ready"


async def test_a_puller_of_before_is_answered_as_before(agents):
    await away_while_collected(agents)
    url = f"{URLS['b']}/v1/peer/sync/apps/flags"
    async with aiohttp.ClientSession() as session:
        # no delta_only (an agent of before), even behind the collection: a sync answer
        # as ever (here a full one), no refusal, no header
        old = encode_sync_request("c", {"x#1": 1})
        async with session.post(url, data=old) as reply:
            assert reply.status == 200
            assert DELTA_ONLY_HEADER not in reply.headers
            answer = json.loads(await reply.read())
            assert answer["mode"] == "full" and "k0002" in answer["entries"]
        stale = encode_sync_request("c", {"x#1": 1}, delta_only=True)
        async with session.post(url, data=stale) as reply:
            assert reply.status == 409


@pytest.mark.parametrize("lines", [True, False])
async def test_a_delta_only_answer_in_either_shape_says_it_checked(agents, lines: bool):
    (_, _, c), _, _ = await away_while_collected(agents)
    current = dict(c.stores[REF].version_vector.entries)
    url = f"{URLS['b']}/v1/peer/sync/apps/flags"
    async with aiohttp.ClientSession() as session:
        asked = encode_sync_request("c", current, lines=lines, delta_only=True)
        async with session.post(url, data=asked) as reply:
            assert reply.status == 200
            assert reply.headers.get(DELTA_ONLY_HEADER) == DELTA_ONLY_CHECKED
