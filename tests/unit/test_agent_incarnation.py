"""A copy made anew on a node never reuses the replica id of the copy that lived there.

Defect (session 7, robust a): a PN-counter's slot and a replica's event numbers were
keyed by the node name. A copy handed off and deleted, then placed on the same node
again, caught up from a peer the hand-off had not reached yet and counted on from that
peer's stale value of its slot: the per-slot maximum of the join hid its increments
behind the earlier copy's larger total, and its event numbers were taken for the
earlier copy's by every peer that held those.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from statecast.agent import handoff
from statecast.agent.config import ResourceSpec
from statecast.agent.errors import PersistenceError
from statecast.agent.incarnation import REPLICA_ID, forget_replica_id, replica_id
from statecast.agent.persistence import ReplicaFiles
from statecast.agent.runtime import Agent
from statecast.agent.store import ReplicaStore
from statecast.agent.wire import encode_push
from statecast.core.crdt.replica_id import is_replica_id, new_replica_id, node_of
from tests.unit._agents import REF, URLS


def _hold(*agents: Agent) -> None:
    for agent in agents:
        agent.open_replica(agent.specs[REF])
        agent.locations[REF] = tuple(a.node for a in agents)


async def _value(agent: Agent, key: str = "hits") -> object:
    return agent.stores[REF].get(key)


async def test_a_copy_made_anew_counts_on_from_a_stale_peer_without_losing_increments(agents):
    a, b, c = await agents("a", "b", "c")
    _hold(a, b, c)
    await a.stores[REF].increment("hits", 1)
    assert await c.replication.sync_with(c.stores[REF], "a") is not None
    a.directory.remove("c")  # c hears no more of a's copy
    await a.stores[REF].increment("hits", 1)
    await a.stores[REF].increment("hits", 1)
    assert await b.replication.sync_with(b.stores[REF], "a") is not None
    assert await _value(b) == 3 and await _value(c) == 1
    # a's copy is removed: handed off to b (which holds it all), its files deleted
    store = a.stores[REF]
    await a.close_replica(REF)
    assert await handoff.hand_off(a, REF, store.state, ["b"]) == "b"
    assert store.files is not None
    handoff._delete(store.files.directory)
    # ... and placed on a again: it catches up from c, which never heard of the last two
    a.directory.set("c", URLS["c"])
    a.directory.remove("b")
    anew = a.open_replica(a.specs[REF], serving=False)
    assert await a.replication.sync_with(anew, "c") is not None
    assert anew.get("hits") == 1
    await anew.increment("hits", 1)
    a.directory.set("b", URLS["b"])
    for agent, peer in [(b, "a"), (c, "b"), (a, "b")]:
        assert await agent.replication.sync_with(agent.stores[REF], peer) is not None
    # 4 increments acknowledged: none hidden behind the earlier copy's slot
    assert [await _value(x) for x in (a, b, c)] == [4, 4, 4]
    assert anew.replica != "a" and node_of(anew.replica) == "a"


async def test_a_new_copy_pushes_its_events_under_its_own_id(agents):
    a, b = await agents("a", "b")
    _hold(a, b)
    await a.stores[REF].increment("hits", 2)
    mine = a.stores[REF].replica
    for _ in range(200):  # the push is on its way; no sync is asked for
        if b.stores[REF].version_vector.entries.get(mine) == 1:
            break
        await asyncio.sleep(0.02)
    assert b.stores[REF].version_vector.entries == {mine: 1}
    assert "a" not in b.stores[REF].version_vector.entries
    assert b.stores[REF].get("hits") == 2


async def test_a_push_of_an_agent_of_before_is_still_numbered_as_its_node(agents):
    a, b = await agents("a", "b")
    _hold(a, b)
    older = ReplicaStore(b.specs[REF], "a", None)  # an agent of before: its id is its node
    delta = older.state.increment("hits", 5)
    async with httpx.AsyncClient() as http:
        answer = await http.post(
            f"{URLS['b']}/v1/peer/push/apps/flags", content=encode_push("a", 1, 1, delta)
        )
    assert answer.status_code == 200
    assert b.stores[REF].version_vector.entries == {"a": 1}
    assert b.stores[REF].get("hits") == 5


async def test_a_push_whose_id_names_an_unknown_node_is_refused(agents):
    a, b = await agents("a", "b")
    _hold(a, b)
    delta = ReplicaStore(b.specs[REF], "z#1", None).state.increment("hits", 1)
    async with httpx.AsyncClient() as http:
        answer = await http.post(
            f"{URLS['b']}/v1/peer/push/apps/flags", content=encode_push("z#1", 1, 1, delta)
        )
    assert answer.status_code == 403
    assert b.stores[REF].get("hits") is None


async def test_a_restarted_agent_keeps_the_id_its_files_carry(agents):
    (a,) = await agents("a")
    first = a.open_replica(a.specs[REF])
    await first.increment("hits", 1)
    await a.close_replica(REF)
    again = a.open_replica(a.specs[REF])
    assert again.replica == first.replica
    await again.increment("hits", 1)
    assert again.version_vector.entries == {first.replica: 2}


# --- the id a directory carries -------------------------------------------------------
def _tokens(*tokens: str):
    it = iter(tokens)
    return lambda: next(it)


@pytest.mark.parametrize(
    ("recorded", "state", "expected"),
    [
        (None, False, "n1#new"),  # a new copy
        (None, True, "n1#new"),  # files of an agent of before: their events stay "n1"'s
        ("n1#old", True, "n1#old"),  # a restart: its files hold every event of its id
        ("n1#old", False, "n1#new"),  # an id beside no state (cut short): never reused
        ("n2#old", True, "n1#new"),  # another node's files
        ("n1", True, "n1#new"),  # a plain node name is never recorded: not trusted
        ("garbage!", True, "n1#new"),
    ],
)
def test_the_replica_id_of_a_directory(tmp_path: Path, recorded, state, expected):
    directory = tmp_path / "apps" / "flags"
    directory.mkdir(parents=True)
    if recorded is not None:
        (directory / REPLICA_ID).write_text(recorded + "\n")
    if state:
        (directory / "log-1.bin").write_bytes(b"")
    assert replica_id(directory, "n1", _tokens("new")) == expected
    assert (directory / REPLICA_ID).read_text().strip() == expected


def test_a_fresh_id_is_on_disk_before_the_copy_makes_an_event(tmp_path: Path):
    directory = tmp_path / "apps" / "flags"
    chosen = replica_id(directory, "n1")
    store = ReplicaStore(
        ResourceSpec(namespace="apps", name="flags"), chosen, ReplicaFiles(directory)
    )
    store.open()
    assert replica_id(directory, "n1") == chosen  # the files exist now: the id is kept
    store.close()
    forget_replica_id(directory)
    assert replica_id(directory, "n1") != chosen


def test_an_id_that_cannot_be_recorded_stops_the_copy(tmp_path: Path):
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    with pytest.raises(PersistenceError):
        replica_id(blocked / "flags", "n1")


@pytest.mark.parametrize(
    ("text", "node", "expected"),
    [
        ("n1", "n1", True),
        ("n1#ab12", "n1", True),
        ("n1#", "n1", False),
        ("n1#AB", "n1", False),
        ("n2#ab12", "n1", False),
        ("n1.x#ab12", "n1", False),
        ("n1#ab#cd", "n1", False),
    ],
)
def test_replica_ids_of_a_node(text: str, node: str, expected: bool):
    assert is_replica_id(text, node) is expected


def test_a_replica_id_names_its_node():
    made = new_replica_id("ip-10-0-0-1.ec2.internal", "ab12")
    assert made == "ip-10-0-0-1.ec2.internal#ab12"
    assert node_of(made) == "ip-10-0-0-1.ec2.internal"
    assert node_of("plain-node") == "plain-node"
    with pytest.raises(ValueError, match="not a node name"):
        new_replica_id("a#b", "ab12")
    with pytest.raises(ValueError, match="not a node name"):
        new_replica_id("a", "")
