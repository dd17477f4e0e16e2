"""A sync answer in lines, joined piece by piece by the replica that asked.

Before, the asker decoded a whole answer with one ``json.loads`` and joined it in one
go: at a million keys its event loop answered nothing for seconds.
"""

from __future__ import annotations

import asyncio
import errno

import pytest

from statecast.agent import persistence
from statecast.agent.errors import BadRequestError, PersistenceError
from statecast.agent.persistence import ReplicaFiles
from statecast.agent.runtime import Agent
from statecast.agent.store import ReplicaStore
from statecast.agent.wire import (
    LINE_ENTRIES,
    SyncLines,
    decode_sync_reply,
    encode_sync_lines,
    encode_sync_reply,
    sync_lines_pieces,
    sync_reply_pieces,
)
from statecast.core.crdt import DeltaMap, SyncPayload
from tests.unit._agents import REF

KEYS = 5 * LINE_ENTRIES + 17  # six lines of entries


def _payload(keys: int = KEYS) -> SyncPayload:
    state = DeltaMap("a")
    for i in range(keys):
        state.put(f"k{i}", b'"v%d"' % i)
    return state.delta_since({})


def _close(agent: Agent, store: ReplicaStore) -> None:
    agent.replication.detach(store.ref)
    del agent.stores[store.ref]
    store.close()


def test_an_answer_in_lines_reads_back_whatever_the_bytes_arrive_in() -> None:
    payload = _payload()
    body = encode_sync_lines(payload, caught_up=False)
    for step in (1, 7, 4096, len(body)):
        reader, got = SyncLines(), {}
        for at in range(0, len(body), step):
            for line in reader.feed(body[at : at + step]):
                got.update(reader.entries(line))
        head = reader.end()
        assert head.full and not head.caught_up
        assert head.vector == payload.version_vector
        assert got == dict(payload.entries.items())


def test_a_large_answer_is_made_in_pieces_never_one_buffer() -> None:
    """A full sync's answer comes as pieces of about the asked size, each ending at a
    line's end (before: one buffer of it all, ~140 MiB at a million keys, grown and
    copied while the encoding thread held the interpreter lock); joined, the same bytes
    as before, read back whole."""
    payload = _payload(40 * LINE_ENTRIES)
    whole = encode_sync_lines(payload)
    pieces = sync_lines_pieces(payload, piece=32 << 10)
    longest_line = max(len(line) + 1 for line in whole.split(b"\n")[:-1])
    assert len(pieces) > 4
    assert all(len(p) < (32 << 10) + longest_line for p in pieces)
    assert all(p.endswith(b"\n") for p in pieces)
    assert b"".join(pieces) == whole
    reply = sync_reply_pieces(payload, 64, piece=32 << 10)
    assert len(reply) > 4
    assert b"".join(reply) == encode_sync_reply(payload, 64)
    assert dict(decode_sync_reply(b"".join(reply)).payload.entries.items()) == dict(
        payload.entries.items()
    )


def test_an_answer_cut_short_or_padded_is_refused() -> None:
    body = encode_sync_lines(_payload())
    cut = SyncLines()
    cut.feed(body[: body.rindex(b"\n", 0, len(body) - 1) + 1])  # the last line lost
    with pytest.raises(BadRequestError):
        cut.end()
    torn = SyncLines()
    torn.feed(body[:-5])
    with pytest.raises(BadRequestError):
        torn.end()
    padded = SyncLines()
    *lines, extra = padded.feed(body + b'{"x":["l",1,0,"a",999,"1"]}\n')
    for line in lines:
        padded.entries(line)
    with pytest.raises(BadRequestError):
        padded.entries(extra)


async def test_a_full_sync_is_joined_in_pieces_while_the_loop_runs(agents) -> None:
    holder, new = await agents("a", "b")
    source = holder.open_replica(holder.specs[REF])
    for i in range(KEYS):  # (before "b" holds a replica: nothing pushed to it)
        source.put_now(f"k{i}", b'"v%d"' % i)
    await source.files.durable()
    holder.locations[REF] = new.locations[REF] = ("a", "b")
    store = new.open_replica(new.specs[REF], serving=False)
    seen: list[int] = []

    async def watch() -> None:  # one look a loop turn
        while True:
            seen.append(len(store.state))
            await asyncio.sleep(0)

    watcher = asyncio.create_task(watch())
    assert await new.replication.sync_with(store, "a") == "full"
    watcher.cancel()
    assert [n for n in seen if 0 < n < KEYS], "joined in one go: no turn saw part of it"
    assert len(store.state) == KEYS
    assert store.version_vector == source.version_vector

    _close(new, store)  # what the log holds brings the same back
    files = ReplicaFiles(store.files.directory, "interval", 1.0)
    again = ReplicaStore(new.specs[REF], "b", files)
    again.open()
    assert len(again.state) == KEYS
    assert again.version_vector == source.version_vector
    assert again.get(f"k{KEYS - 1}") == b'"v%d"' % (KEYS - 1)
    again.close()


async def test_a_piece_not_logged_leaves_the_vector_where_it_was(agents, monkeypatch) -> None:
    """A log claiming the peer's events without every piece's entries would lose them
    at recovery (delta syncs never send covered events again)."""
    holder, new = await agents("a", "b")
    source = holder.open_replica(holder.specs[REF])
    for i in range(KEYS):
        source.put_now(f"k{i}", b"1")
    await source.files.durable()
    holder.locations[REF] = new.locations[REF] = ("a", "b")
    store = new.open_replica(new.specs[REF], serving=False)
    real, calls = persistence._write_all, []

    def full_once(fd: int, data: bytes, sync: bool, start: int) -> None:
        calls.append(fd)
        if fd == store.files._fd and len([c for c in calls if c == fd]) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(fd, data, sync, start)

    monkeypatch.setattr(persistence, "_write_all", full_once)
    with pytest.raises(PersistenceError):
        await new.replication.sync_with(store, "a")
    assert store.version_vector.entries == {}
    monkeypatch.setattr(persistence, "_write_all", real)
    assert await new.replication.sync_with(store, "a") == "full"  # the next one repairs it
    assert store.version_vector == source.version_vector
    _close(new, store)  # and the piece that failed is in the log now
    again = ReplicaStore(new.specs[REF], "b", ReplicaFiles(store.files.directory, "interval", 1.0))
    again.open()
    assert len(again.state) == KEYS
    assert again.version_vector == source.version_vector
    again.close()


async def test_an_agent_of_before_answers_in_one_object(agents, monkeypatch) -> None:
    from statecast.agent import server, wire

    holder, new = await agents("a", "b")
    source = holder.open_replica(holder.specs[REF])
    for i in range(KEYS):
        source.put_now(f"k{i}", b"1")
    await source.files.durable()
    holder.locations[REF] = new.locations[REF] = ("a", "b")
    monkeypatch.setattr(  # it does not know "lines"
        server, "decode_sync_request", lambda body: wire.SyncRequest("b", {}, lines=False)
    )
    store = new.open_replica(new.specs[REF], serving=False)
    assert await new.replication.sync_with(store, "a") == "full"
    assert len(store.state) == KEYS
    assert store.version_vector == source.version_vector


def test_an_agent_of_before_is_answered_in_one_object() -> None:
    from statecast.agent.wire import decode_sync_request, encode_sync_request

    assert decode_sync_request(encode_sync_request("b", {"a": 1})).lines is False
    assert decode_sync_request(encode_sync_request("b", {"a": 1}, lines=True)).lines is True
