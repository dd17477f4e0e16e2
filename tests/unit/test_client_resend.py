"""The blocking client never sends an increment twice over a kept-alive connection.

Issue 13, clock-skew (session 7): a counter ended one above every increment attempted,
none of them in doubt. The client sent an increment on a kept-alive connection to its
local agent, which was SIGKILLed after it applied it; the connection closed before the
answer, and the client took that for an idle keep-alive closed under it and sent the
increment again on a new connection (there: the next agent). Now an idle connection
the agent closed is noticed before anything is sent on it, and after sending only
requests that may be sent twice are.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from statecast.client import AsyncClient, Client, RequestError

OK_GET = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1\r\n\r\n1"
OK_POST = (
    b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"value":1}'
)
OK_PUT = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 9\r\n\r\n{"seq":1}'


@dataclass
class Agent:
    """A canned agent: answers GETs; what it does with POSTs and idle connections is set."""

    url: str = ""
    posts: list[bytes] = field(default_factory=list)
    puts: list[bytes] = field(default_factory=list)
    die_on_post: bool = True
    die_on_put: bool = False
    close_after_get: bool = False
    closed: threading.Event = field(default_factory=threading.Event)
    connections: int = 0


def _serve(agent: Agent, conn: socket.socket) -> None:
    with conn:
        buf = b""
        while True:
            while b"\r\n\r\n" not in buf:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                buf += chunk
            head, _, buf = buf.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            while len(buf) < length:
                buf += conn.recv(4096)
            buf = buf[length:]
            if head.startswith((b"PUT", b"DELETE")):
                agent.puts.append(head)
                if agent.die_on_put:
                    return  # killed after it read (and maybe applied) the write
                conn.sendall(OK_PUT)
                continue
            if head.startswith(b"POST"):
                agent.posts.append(head)
                if agent.die_on_post:
                    return  # killed after it read (and maybe applied) the increment
                conn.sendall(OK_POST)
                continue
            conn.sendall(OK_GET)  # kept alive (no Connection: close)
            if agent.close_after_get:
                conn.shutdown(socket.SHUT_RDWR)
                agent.closed.set()
                return  # restarted while the connection was idle


def _canned() -> tuple[Agent, socket.socket]:
    listener = socket.create_server(("127.0.0.1", 0))
    host, port = listener.getsockname()
    canned = Agent(url=f"http://{host}:{port}")

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            canned.connections += 1
            threading.Thread(target=_serve, args=(canned, conn), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return canned, listener


@pytest.fixture
def agent() -> Iterator[Agent]:
    canned, listener = _canned()
    yield canned
    listener.close()


@pytest.fixture
def dying_and_live() -> Iterator[tuple[Agent, Agent]]:
    """An agent killed after it reads a PUT or DELETE, and one that answers it."""
    (dying, first), (live, second) = _canned(), _canned()
    dying.die_on_put = True
    yield dying, live
    first.close()
    second.close()


def _request_ids(heads: list[bytes]) -> list[bytes]:
    return [
        line.split(b":", 1)[1].strip()
        for head in heads
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"statecast-request-id:")
    ]


@pytest.mark.parametrize("write", ["put", "delete"])
def test_a_write_sent_to_the_next_agent_carries_the_name_it_was_first_sent_with(
    dying_and_live, write
):
    """On a strong resource both copies reach the leader: named alike, it applies once
    (before: unnamed, a PUT applied twice could overwrite a write made in between)."""
    dying, live = dying_and_live
    with Client([dying.url, live.url], discover_peers=False) as client:
        if write == "put":
            client.put("apps", "ledger", "k", 1)
        else:
            client.delete("apps", "ledger", "k")
    sent = dying.puts + live.puts
    assert len(dying.puts) >= 1 and len(live.puts) == 1
    ids = _request_ids(sent)
    assert len(ids) == len(sent) and len(set(ids)) == 1, sent


async def test_async_a_write_resent_by_aiohttp_and_to_the_next_agent_keeps_its_name(
    dying_and_live,
):
    dying, live = dying_and_live
    async with AsyncClient([dying.url, live.url], discover_peers=False) as client:
        await client.put("apps", "ledger", "k", 1)
    sent = dying.puts + live.puts
    assert len(dying.puts) >= 1 and len(live.puts) == 1
    ids = _request_ids(sent)
    assert len(ids) == len(sent) and len(set(ids)) == 1, sent
    other = _request_ids(live.puts)
    async with AsyncClient([live.url], discover_peers=False) as client:
        await client.put("apps", "ledger", "k", 2)  # another call: another name
    assert _request_ids(live.puts)[-1] not in other


def test_an_increment_whose_connection_closed_before_the_answer_is_not_sent_again(agent):
    with Client([agent.url], discover_peers=False) as client:
        assert client.get("apps", "flags", "k") == 1  # a kept-alive connection now
        with pytest.raises(RequestError) as refused:
            client.increment("apps", "flags", "c")
    assert len(agent.posts) == 1  # before: 2 (sent again on a new connection)
    assert refused.value.code == "outcome_unknown"


def test_an_increment_on_a_connection_closed_while_idle_goes_out_once_and_succeeds(agent):
    agent.die_on_post, agent.close_after_get = False, True
    with Client([agent.url], discover_peers=False) as client:
        assert client.get("apps", "flags", "k") == 1
        assert agent.closed.wait(5)  # the agent closed the idle connection
        assert client.increment("apps", "flags", "c") == 1  # on a new connection
    assert len(agent.posts) == 1


def test_a_kept_alive_connection_still_open_is_used_again(agent):
    """The check for an idle close must not take an open connection for a closed one
    (a first version waited out the socket's timeout, then opened a new connection)."""
    agent.die_on_post = False
    with Client([agent.url], discover_peers=False, timeout=30) as client:
        assert client.get("apps", "flags", "k") == 1
        assert client.increment("apps", "flags", "c") == 1
        assert client.get("apps", "flags", "k") == 1
    assert agent.connections == 1


# --- the asyncio client (aiohttp) -----------------------------------------------------
# aiohttp (>= 3.9, PR aio-libs/aiohttp#7363) sends a request again on a new connection
# when a kept-alive one closes before the answer, but only GET/HEAD/OPTIONS/TRACE/PUT/
# DELETE (its IDEMPOTENT_METHODS): an increment (POST) fails with
# ServerDisconnectedError, which the shell reports as MAYBE_SENT.


async def test_async_an_increment_whose_connection_closed_before_the_answer_is_not_sent_again(
    agent,
):
    async with AsyncClient([agent.url], discover_peers=False) as client:
        assert await client.get("apps", "flags", "k") == 1  # a kept-alive connection now
        with pytest.raises(RequestError) as refused:
            await client.increment("apps", "flags", "c")
    assert len(agent.posts) == 1
    assert refused.value.code == "outcome_unknown"


async def test_async_an_increment_on_a_connection_closed_while_idle_goes_out_once(agent):
    agent.die_on_post, agent.close_after_get = False, True
    async with AsyncClient([agent.url], discover_peers=False) as client:
        assert await client.get("apps", "flags", "k") == 1
        assert await asyncio.to_thread(agent.closed.wait, 5)  # closed the idle connection
        assert await client.increment("apps", "flags", "c") == 1  # on a new connection
    assert len(agent.posts) == 1
