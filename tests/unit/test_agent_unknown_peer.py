"""A peer unknown here is looked up once more (its Lease) before it is refused.

Defect (session 7, robust d): a restarted agent's first hand-off was refused
``403 unknown_peer`` until its peers read its Lease again (every Lease period), and
was retried only 10 s later. Now the receiving agent reads the peers' Leases once
(shared, at most once a second) before refusing a sender it does not know.
"""

from __future__ import annotations

import datetime as dt
import json

import httpx
import pytest

from statecast.agent import directory as directory_module
from statecast.agent import handoff
from statecast.agent.kube import PeerWatcher
from statecast.agent.kube_api import LeaseRecord
from statecast.agent.runtime import Agent
from statecast.agent.store import ReplicaStore
from statecast.agent.wire import encode_push
from statecast.api.lease import ENDPOINT_ANNOTATION, agent_lease_name
from statecast.core.strong.log import LogPosition
from statecast.core.strong.messages import AppendRequest
from tests.unit._agents import REF, URLS
from tests.unit.test_agent_kube import FakeGateway

NAMESPACE = "statecast-system"


class CountingGateway(FakeGateway):
    """The in-memory API server, counting the listings of Leases."""

    def __init__(self) -> None:
        super().__init__()
        self.listings = 0

    async def list_leases(self, namespace: str) -> list[LeaseRecord]:
        self.listings += 1
        return await super().list_leases(namespace)


def _renews(gateway: FakeGateway, node: str) -> None:
    gateway.leases[NAMESPACE, agent_lease_name(node)] = LeaseRecord(
        name=agent_lease_name(node),
        holder=node,
        renew_time=dt.datetime.now(dt.UTC),
        duration_seconds=10,
        annotations={ENDPOINT_ANNOTATION: URLS[node]},
    )


def _forgets(receiver: Agent, sender: str, gateway: FakeGateway) -> None:
    """``receiver`` has not read ``sender``'s Lease since ``sender`` (re)started."""
    receiver.directory.remove(sender)
    watcher = PeerWatcher(gateway, NAMESPACE, receiver)
    receiver.directory.relearn = watcher.refresh


async def test_a_restarted_agents_first_hand_off_is_taken(agents):
    restarted, live = await agents("a", "b")
    live.open_replica(live.specs[REF])
    live.locations[REF] = ("b",)
    gateway = CountingGateway()
    _renews(gateway, "a")  # a renews its Lease again; b has not listed the Leases since
    _forgets(live, "a", gateway)
    copy = ReplicaStore(live.specs[REF], "a#old", None)  # a copy a kept on disk
    await copy.put("acked", b"1")
    assert await handoff.hand_off(restarted, REF, copy.state, ["b"]) == "b"
    assert live.stores[REF].get("acked") == b"1"
    assert live.directory.url("a") == URLS["a"]


async def test_a_restarted_agent_may_pull_at_once(agents):
    restarted, live = await agents("a", "b")
    for agent in (restarted, live):
        agent.open_replica(agent.specs[REF])
        agent.locations[REF] = ("a", "b")
    await live.stores[REF].put("k", b"2")
    gateway = CountingGateway()
    _renews(gateway, "a")
    _forgets(live, "a", gateway)
    assert await restarted.replication.sync_with(restarted.stores[REF], "b") is not None
    assert restarted.stores[REF].get("k") == b"2"


async def test_a_sender_with_no_lease_is_refused_after_one_reading(agents, monkeypatch):
    monkeypatch.setattr(directory_module, "RELEARN_SECONDS", 3600.0)
    _, live = await agents("a", "b")
    live.open_replica(live.specs[REF])
    live.locations[REF] = ("b", "z")
    gateway = CountingGateway()  # z holds no Lease: it is not an agent of this cluster
    live.directory.relearn = PeerWatcher(gateway, NAMESPACE, live).refresh
    delta = ReplicaStore(live.specs[REF], "z#1", None).state.increment("hits", 1)
    async with httpx.AsyncClient() as http:
        for _ in range(5):
            answer = await http.post(
                f"{URLS['b']}/v1/peer/push/apps/flags", content=encode_push("z#1", 1, 1, delta)
            )
            assert answer.status_code == 403
            assert answer.json()["error"]["code"] == "unknown_peer"
    assert gateway.listings == 1  # many unknown senders, one reading per period
    assert live.stores[REF].get("hits") is None


@pytest.mark.parametrize("relearn", [False, True])
async def test_without_a_way_to_read_the_peers_an_unknown_sender_is_refused(agents, relearn):
    _, live = await agents("a", "b")
    live.open_replica(live.specs[REF])
    live.locations[REF] = ("a", "b")
    live.directory.remove("a")
    if relearn:
        gateway = CountingGateway()  # a's Lease is gone (its agent is down)
        live.directory.relearn = PeerWatcher(gateway, NAMESPACE, live).refresh
    delta = ReplicaStore(live.specs[REF], "a#1", None).state.increment("hits", 1)
    async with httpx.AsyncClient() as http:
        answer = await http.post(
            f"{URLS['b']}/v1/peer/push/apps/flags", content=encode_push("a#1", 1, 1, delta)
        )
    assert answer.status_code == 403


# --- the strong append route (session 8) ---------------------------------------------
# A strong resource's leader whose agent just restarted (or a voter new to this agent)
# was refused 403 unknown_peer at once by its followers until they next read its Lease:
# its appends and heartbeats lost for up to a Lease period, as the eventual hand-off of
# session 7 was. Now the follower reads the Leases once more first, as the eventual
# peer routes do.


def _heartbeat(epoch: int = 1) -> AppendRequest:
    return AppendRequest(epoch, "a", LogPosition(), (), 0)


async def test_a_restarted_leaders_first_append_is_taken(agents):
    leader, follower = await agents("a", "b", consistency="strong")
    follower.open_strong(follower.specs[REF])
    gateway = CountingGateway()
    _renews(gateway, "a")  # a renews its Lease again; b has not listed the Leases since
    _forgets(follower, "a", gateway)
    reply = await leader.strong_link.append("b", REF, _heartbeat())
    assert reply is not None  # before: None (403 unknown_peer)
    assert follower.directory.url("a") == URLS["a"]
    assert gateway.listings == 1


async def test_an_append_from_a_sender_with_no_lease_is_refused_after_one_reading(
    agents, monkeypatch
):
    monkeypatch.setattr(directory_module, "RELEARN_SECONDS", 3600.0)
    _, follower = await agents("a", "b", consistency="strong")
    follower.open_strong(follower.specs[REF])
    gateway = CountingGateway()  # a holds no Lease
    _forgets(follower, "a", gateway)
    body = json.dumps({"sender": "a", **_heartbeat().to_json()}).encode()
    async with httpx.AsyncClient() as http:
        for _ in range(5):
            answer = await http.post(f"{URLS['b']}/v1/peer/strong/append/apps/flags", content=body)
            assert answer.status_code == 403
            assert answer.json()["error"]["code"] == "unknown_peer"
    assert gateway.listings == 1  # many appends, one reading per period
