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
import os
import re
from pathlib import Path

import httpx
import pytest

from statecast.agent import handoff
from statecast.agent.config import ResourceSpec
from statecast.agent.errors import PersistenceError
from statecast.agent.incarnation import REPLICA_ID, boot_id, forget_replica_id, replica_id
from statecast.agent.launcher import LocalAgent, LocalAgents
from statecast.agent.persistence import ReplicaFiles
from statecast.agent.runtime import Agent
from statecast.agent.store import ReplicaStore
from statecast.agent.wire import encode_push
from statecast.client import Client
from statecast.core.crdt.replica_id import is_replica_id, new_replica_id, node_of
from tests.unit._agents import REF, URLS, eventually


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
    ("recorded", "state", "boot", "expected"),
    [
        (None, False, "B1", "n1#new"),  # a new copy
        (None, True, "B1", "n1#new"),  # files of an agent of before: their events stay "n1"'s
        ("n1#old\nboot B1", True, "B1", "n1#old"),  # a restart: its files hold every event
        ("n1#old\nboot B1", False, "B1", "n1#new"),  # an id beside no state: never reused
        ("n1#old\nboot B0", True, "B1", "n1#new"),  # the machine restarted: a tail may be lost
        ("n1#old", True, "B1", "n1#new"),  # session 7's files: the boot is not known
        ("n1#old\nboot B1", True, "", "n1#new"),  # this boot is not known
        ("n1#old\nboot ", True, "", "n1#new"),
        ("n2#old\nboot B1", True, "B1", "n1#new"),  # another node's files
        ("n1\nboot B1", True, "B1", "n1#new"),  # a plain node name is never recorded
        ("garbage!", True, "B1", "n1#new"),
    ],
)
def test_the_replica_id_of_a_directory(tmp_path: Path, recorded, state, boot, expected):
    directory = tmp_path / "apps" / "flags"
    directory.mkdir(parents=True)
    if recorded is not None:
        (directory / REPLICA_ID).write_text(recorded + "\n")
    if state:
        (directory / "log-1.bin").write_bytes(b"")
    assert replica_id(directory, "n1", _tokens("new"), lambda: boot) == expected
    written = (directory / REPLICA_ID).read_text().split("\n")
    assert written[0] == expected
    if expected == "n1#new":  # recorded with this boot
        assert written[1:] == ([f"boot {boot}", ""] if boot else [""])


def test_the_boot_of_the_machine_is_known_here():
    assert boot_id() and boot_id() == boot_id()
    assert boot_id(Path("/nonexistent/boot_id")) == ""


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


# --- a power loss: files that lost their tail (session 8) ----------------------------
# With fsync: interval a record is written before the answer and fsynced up to a second
# later: a kill -9 loses nothing (the page cache outlives the process), a power loss may
# lose the last records while peers already hold their events. A copy that recovered
# such files under its old id numbered its next events with sequence numbers it had
# given out already (the peer took them for known) and counted on from a stale slot
# total: acknowledged increments lost, copies apart for good.


def _hits(agent: LocalAgent) -> object:
    try:
        answer = httpx.get(f"{agent.url}/v1/default/flags/hits", timeout=5)
    except httpx.HTTPError:
        return None
    return answer.json() if answer.status_code == 200 else None


def _machine_restarted(directory: Path) -> None:
    """The files were written in another boot of the machine than the one now."""
    path = directory / REPLICA_ID
    path.write_text(re.sub(r"(?m)^boot .*$", "boot another-boot", path.read_text()))


@pytest.mark.slow
def test_a_copy_whose_log_lost_its_tail_in_a_power_loss_takes_a_fresh_id(tmp_path: Path):
    fast = {"syncInterval": 0.2, "rttInterval": 0.5, "fsync": "interval"}
    agents = LocalAgents(tmp_path, 2, [{"namespace": "default", "name": "flags"}], fast)
    victim, peer = agents.agents
    directory = tmp_path / victim.node / "default" / "flags"
    try:
        agents.start_all()
        with Client([victim.url], discover_peers=False) as client:
            assert client.increment("default", "flags", "hits") == 1
            eventually(lambda: _hits(peer) == 1, "the peer has the first increment")
            survives = {p: p.stat().st_size for p in directory.glob("log-*.bin")}
            assert client.increment("default", "flags", "hits") == 2
            assert client.increment("default", "flags", "hits") == 3
        eventually(lambda: _hits(peer) == 3, "the peer holds the victim's events 2 and 3")
        agents.kill(victim)
        agents.kill(peer)
        # the power loss: what was written after the first increment was not fsynced yet
        for path in directory.glob("log-*.bin"):
            if path in survives:
                os.truncate(path, survives[path])
            else:
                path.unlink()
        _machine_restarted(directory)
        agents.start(victim)  # back alone (its peer is down) and taking writes
        agents.wait_ready(victim)
        with Client([victim.url], discover_peers=False) as client:
            assert client.increment("default", "flags", "hits", by=10) == 11
        agents.start(peer)
        agents.wait_ready(peer)
        # 13 acknowledged; before: the victim's new events reused numbers 2 and 3 of its
        # id, the copies stayed apart at 11 and 3
        eventually(lambda: _hits(victim) == 13 and _hits(peer) == 13, "both count 13")
    finally:
        agents.stop_all()
