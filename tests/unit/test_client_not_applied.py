"""A call that must not be applied twice goes to the next agent after a 503 that proves
nothing was applied - and only then.

Until session 10 the client library raised the first 503 of an increment (or of any call
with ``retry`` off, such as the chaos workload's named writes) even when that 503 said
the agent applied nothing (``replica_syncing``, ``no_leader``, ...): another agent that
could have taken it was never asked. Now the 503 codes of ``NOT_APPLIED`` send it on; a
503 ``outcome_unknown`` or a code the list does not know still ends it. And a write that
may have reached an agent that did not answer is never answered as "refused" by a later
agent's refusal - neither by the client nor by a forwarding agent.

In-process agents over real HTTP (the ``agents`` fixture), the asyncio client.
"""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest

from statecast.client import AsyncClient, UnavailableError
from statecast.client.core import Call, Response
from statecast.client.endpoints import key_path
from tests.unit._agents import REF, URLS, url


def _answer(response: Response) -> Response:
    return response


async def test_an_increment_refused_by_a_syncing_replica_goes_to_the_next_agent(agents):
    syncing, holder = await agents("x", "y")
    syncing.open_replica(syncing.specs[REF], serving=False)  # catching up, nobody to ask
    holder.open_replica(holder.specs[REF])
    async with aiohttp.ClientSession() as session, session.post(url(syncing, "n/increment")) as r:
        assert (r.status, (await r.json())["error"]["code"]) == (503, "replica_syncing")
    async with AsyncClient([URLS["x"], URLS["y"]], discover_peers=False) as client:
        assert await client.increment("apps", "flags", "n", 2) == 2  # before: 503 raised
        assert client.last_served == "local"  # answered by y's replica
    assert holder.stores[REF].get("n") == 2
    assert syncing.stores[REF].get("n") is None


async def test_a_named_write_refused_without_a_leader_goes_to_the_next_agent(agents):
    follower, leaderless = await agents("f", "g", consistency="strong")
    # neither agent leads (no leader elected): each answers 503 no_leader, applying nothing
    named = Call(
        "PUT",
        key_path("apps", "flags", "k"),
        b"1",
        False,
        _answer,
        (("Statecast-Request-Id", "mine"),),
    )
    async with AsyncClient([URLS["f"], URLS["g"]], discover_peers=False) as client:
        with pytest.raises(UnavailableError) as refused:
            await client.call(named)
    assert refused.value.code == "no_leader"
    # both were asked (before: the first 503 ended the call)
    assert follower.requests.responses[("put", 503)] == 1
    assert leaderless.requests.responses[("put", 503)] == 1


async def test_a_503_of_an_unknown_code_ends_a_call_that_must_not_be_sent_twice(agents):
    (holder,) = await agents("y")
    holder.open_replica(holder.specs[REF])
    asked: list[bytes] = []

    async def refuses_oddly(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        asked.append(await reader.readuntil(b"\r\n\r\n"))
        body = json.dumps({"error": {"code": "who_knows", "message": "?"}}).encode()
        head = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: %d\r\n\r\n" % len(body)
        writer.write(head + body)
        await writer.drain()
        writer.close()

    odd = await asyncio.start_server(refuses_oddly, "127.0.0.1", 0)
    port = odd.sockets[0].getsockname()[1]
    try:
        urls = [f"http://127.0.0.1:{port}", URLS["y"]]
        async with AsyncClient(urls, discover_peers=False) as client:
            with pytest.raises(UnavailableError) as ended:
                await client.increment("apps", "flags", "n")
        assert ended.value.code == "who_knows"
        assert len(asked) == 1
        assert holder.stores[REF].get("n") is None  # never sent to the next agent
    finally:
        odd.close()


async def test_a_forwarded_put_that_may_have_arrived_is_not_answered_as_refused(agents):
    """A forwarding agent sent a PUT to a replica that hung up without an answer, then to
    one that refused it: the answer is ``outcome_unknown``, not the refusal (before: the
    refusal, 503 ``replica_syncing``, which says nothing was applied anywhere)."""
    asker, syncing = await agents("a", "z")
    syncing.open_replica(syncing.specs[REF], serving=False)
    syncing.locations[REF] = ("k", "z")
    received: list[bytes] = []

    async def dies_before_answering(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        received.append(await reader.readuntil(b"\r\n\r\n"))
        writer.transport.abort()

    dying = await asyncio.start_server(dies_before_answering, "127.0.0.1", 0)
    port = dying.sockets[0].getsockname()[1]
    asker.directory.set("k", f"http://127.0.0.1:{port}")
    asker.directory.observe_rtt("k", 0.001)  # the nearest holder
    asker.directory.observe_rtt("z", 0.1)
    asker.locations[REF] = ("k", "z")
    try:
        async with aiohttp.ClientSession() as session, session.put(url(asker, "k"), data=b"1") as r:
            error = (await r.json())["error"]
        assert (r.status, error["code"]) == (503, "outcome_unknown"), error
        assert received  # it did reach the replica that hung up
        async with AsyncClient([URLS["a"]], discover_peers=False) as client:
            with pytest.raises(UnavailableError) as unknown:
                await client.put("apps", "flags", "k", 1)
        assert unknown.value.code == "outcome_unknown"
    finally:
        dying.close()
