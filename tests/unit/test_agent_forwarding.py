"""Agents in one process over real HTTP: what a replica that is catching up answers, and
what a node without a replica says when every replica refuses.

A new replica must never answer "not found" for keys its resource holds (issue 19,
item 2): it forwards until it has caught up, and a pull from another new, still empty
replica does not count as catching up. A write forwarded to replicas that all refuse it
answers what they said, not ``no_replica`` (item 6).
"""

from __future__ import annotations

import asyncio
import json
import socket

import aiohttp

from statecast.agent.kube import ReplicaReconciler
from statecast.agent.runtime import Agent
from tests.unit._agents import REF, url
from tests.unit.test_agent_kube import FakeGateway, record


async def get(session: aiohttp.ClientSession, agent: Agent, key: str) -> tuple[int, object]:
    async with session.get(url(agent, key)) as reply:
        return reply.status, json.loads(await reply.read())


async def test_a_new_replica_that_reached_only_another_new_one_forwards_reads(agents):
    x, y, z = await agents("x", "y", "z")
    # z holds the state; y is new too and empty; z has not seen x's Replica yet (its
    # list of replicas is a second old), so it refuses x's pull with 403.
    held = z.open_replica(z.specs[REF])
    await held.put("k0", b'"v0"')
    z.locations[REF] = ("y", "z")
    y.open_replica(y.specs[REF], serving=False)
    y.locations[REF] = ("x", "y", "z")
    gateway = FakeGateway()
    gateway.specs[REF] = {}
    gateway.replicas = [record("x"), record("y"), record("z")]
    await ReplicaReconciler(gateway, x).reconcile()

    phases = [status["phase"] for name, status in gateway.patches if name == "flags-x"]
    assert phases[-1] == "Syncing"  # y answered, but y had not caught up itself
    async with aiohttp.ClientSession() as session:
        assert await get(session, x, "k0") == (200, "v0")  # forwarded to z, not 404
        async with session.put(url(x, "k1"), data=b"1") as reply:
            assert reply.headers["Statecast-Served"] == "remote"  # written where it is caught up
    assert x.requests.forward_failures[("apps", "flags", "unavailable")] >= 1  # y said 503
    refused = y.requests.syncing_answers[REF]  # y refused x's forwards: it is syncing too
    forwarded = {"Statecast-Forwarded-By": "x"}
    async with (
        aiohttp.ClientSession() as session,
        session.get(url(y, "k0"), headers=forwarded) as reply,
    ):
        assert (reply.status, (await reply.json())["error"]["code"]) == (503, "replica_syncing")
    assert y.requests.syncing_answers[REF] == refused + 1

    z.locations[REF] = ("x", "y", "z")  # z learns of x: the next pass catches x up from z
    await x.replication.anti_entropy_round()
    await ReplicaReconciler(gateway, x).reconcile()
    assert x.stores[REF].get("k0") == b'"v0"'


async def test_replicas_that_are_all_new_catch_up_from_each_other(agents):
    x, y = await agents("x", "y")
    y.open_replica(y.specs[REF], serving=False)
    y.locations[REF] = ("x", "y")
    gateway = FakeGateway()
    gateway.specs[REF] = {}
    gateway.replicas = [record("x"), record("y")]
    await ReplicaReconciler(gateway, x).reconcile()
    phases = [status["phase"] for name, status in gateway.patches if name == "flags-x"]
    assert phases[-1] == "Ready"  # it pulled from every live peer: it holds the join of all


async def test_a_strong_write_through_a_node_without_a_replica_says_what_a_holder_says(agents):
    outsider, holder = await agents("a", "b", consistency="strong")
    holder.open_strong(holder.specs[REF])
    for agent in (outsider, holder):
        agent.locations[REF] = ("b",)
    async with (
        aiohttp.ClientSession() as session,
        session.put(url(outsider, "k"), data=b"1") as via_outsider,
        session.put(url(holder, "k"), data=b"1") as at_holder,
    ):
        assert via_outsider.status == at_holder.status == 503
        assert (await via_outsider.json()) == (await at_holder.json())
        assert (await at_holder.json())["error"]["code"] == "no_leader"  # none elected yet


async def test_a_forward_to_an_agent_that_has_not_learned_of_the_resource_tries_the_next(agents):
    asker, unaware, holder = await agents("a", "b", "z")
    store = holder.open_replica(holder.specs[REF])
    await store.put("k", b"1")
    del unaware.specs[REF]  # its Replica list is older than the resource
    asker.locations[REF] = ("b", "z")
    async with aiohttp.ClientSession() as session:
        assert await get(session, asker, "k") == (200, 1)  # b said 404 unknown_resource: z
        unaware.resources_known = False  # just started, its Replicas not read yet
        async with session.get(url(unaware, "k")) as reply:
            assert (reply.status, (await reply.json())["error"]["code"]) == (503, "not_ready")


async def test_an_empty_new_replica_whose_holders_are_out_of_reach_does_not_serve(agents):
    x, y = await agents("x", "y")
    y.open_replica(y.specs[REF], serving=False)
    y.locations[REF] = ("x", "y", "z")
    gateway = FakeGateway()
    gateway.specs[REF] = {}
    # z holds the state, but its Lease looks expired to x: not a live peer
    holder = record("z", status={"phase": "Ready", "versionVector": {"z": 3}})
    gateway.replicas = [record("x"), record("y"), holder]
    await ReplicaReconciler(gateway, x).reconcile()
    phases = [status["phase"] for name, status in gateway.patches if name == "flags-x"]
    assert phases[-1] == "Syncing"  # every live peer answered, but none of them held state
    async with aiohttp.ClientSession() as session, session.get(url(x, "k0")) as reply:
        assert (reply.status, (await reply.json())["error"]["code"]) == (503, "replica_syncing")


async def test_a_stand_in_does_not_answer_not_found_for_a_key_it_lacks(agents):
    (x,) = await agents("x")
    store = x.open_replica(x.specs[REF])
    await store.put("seeded", b'"yes"')
    store.stand_in_for = ("n4",)  # the operator's mark: the only copy, on n4, is lost
    async with aiohttp.ClientSession() as session:
        assert await get(session, x, "seeded") == (200, "yes")
        async with session.get(url(x, "written")) as reply:
            error = (await reply.json())["error"]
            assert (reply.status, error["code"]) == (503, "stand_in")
            assert "n4" in error["message"]
        store.stand_in_for = ()  # merged: a key it lacks is not there
        assert (await get(session, x, "written"))[0] == 404


async def test_a_forwarded_increment_that_may_have_been_received_is_not_sent_again(agents):
    """Issue 13, agent-kill: a counter ended one above every increment attempted.

    A node without a replica forwarded an increment to the nearest holder, whose agent
    was killed before it answered (it may have applied it), then sent it on to the next
    holder: counted twice, acknowledged once. The client never resends an increment; a
    forward must not either. It answers 503 ``outcome_unknown`` (the client counts the
    increment as maybe applied); a holder never reached is still skipped.
    """
    asker, holder = await agents("a", "z")
    store = holder.open_replica(holder.specs[REF])
    received: list[bytes] = []

    async def dies_before_answering(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        received.append(await reader.readuntil(b"\r\n\r\n"))
        writer.transport.abort()  # SIGKILLed after the request came in

    dying = await asyncio.start_server(dies_before_answering, "127.0.0.1", 0)
    port = dying.sockets[0].getsockname()[1]
    asker.directory.set("k", f"http://127.0.0.1:{port}")
    asker.directory.observe_rtt("k", 0.001)  # the nearest holder
    asker.directory.observe_rtt("z", 0.1)
    asker.locations[REF] = ("k", "z")
    async with dying, aiohttp.ClientSession() as session:
        async with session.post(url(asker, "c") + "/increment", json={"by": 1}) as reply:
            answer = (reply.status, (await reply.json())["error"]["code"])
        assert len(received) == 1  # it reached the holder that died
        assert answer == (503, "outcome_unknown")
        assert store.get("c") is None  # not applied a second time, at z
        async with session.post(url(asker, "c") + "/increment", json={"by": 1}) as reply:
            assert reply.status == 200  # the holder that failed is tried last for a while
        assert (len(received), store.get("c")) == (1, 1)


async def test_a_forwarded_increment_goes_on_past_a_holder_it_never_reached(agents):
    asker, holder = await agents("a", "z")
    store = holder.open_replica(holder.specs[REF])
    with socket.socket() as closed:  # a port where nothing listens: connection refused
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    asker.directory.set("k", f"http://127.0.0.1:{port}")
    asker.directory.observe_rtt("k", 0.001)  # the nearest holder
    asker.directory.observe_rtt("z", 0.1)
    asker.locations[REF] = ("k", "z")
    async with (
        aiohttp.ClientSession() as session,
        session.post(url(asker, "c") + "/increment", json={"by": 1}) as reply,
    ):
        assert reply.status == 200  # nothing was sent to k: z takes it
    assert store.get("c") == 1
