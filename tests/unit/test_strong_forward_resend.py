"""A strong write a follower forwards is applied once, even when its HTTP library resends it.

A follower forwards a strong PUT or DELETE to the leader through aiohttp. When the
connection closes after the leader applied the write but before its answer came back,
aiohttp sends the request again on a new connection (PUT and DELETE are among its
idempotent methods). Until session 9 the forwarded copy carried no request id, so the
leader applied it a second time: a PUT applied again overwrote a write another client
made (and saw acknowledged) in between, and a DELETE sent again answered 404 for a
delete that had deleted. Now the follower names every forwarded write
(``Statecast-Request-Id``), and the leader applies a name once and answers its first
outcome.

Real agents over real HTTP; between the follower and the leader a TCP relay that
passes the forwarded write, then closes both connections instead of passing the
leader's answer, once.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import yaml

from statecast.agent.launcher import LocalAgents
from tests.unit._agents import FAST
from tests.unit.test_strong_agents import LEDGER, url, wait_heard_from_leader

pytestmark = pytest.mark.slow


@dataclass
class Relay:
    """A TCP relay to ``upstream`` that swallows the answer to one request and hangs up.

    Attributes:
        trigger: The start of the request line whose answer is swallowed (once).
        answered: Set when the upstream answered that request (so it applied it).
        release: The relay hangs up both ends once this is set.
        seen: Every request head the relay passed that starts with ``trigger``.
    """

    upstream: tuple[str, int]
    trigger: bytes
    answered: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    seen: list[bytes] = field(default_factory=list)
    armed: bool = True
    listener: socket.socket | None = None

    def start(self, host: str) -> str:
        """Listen on ``host``; the relay's URL."""
        self.listener = socket.create_server((host, 0))
        threading.Thread(target=self._accept, daemon=True).start()
        return f"http://{host}:{self.listener.getsockname()[1]}"

    def _accept(self) -> None:
        assert self.listener is not None
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream)
            except OSError:  # the leader is gone (the test is over)
                client.close()
                continue
            held = threading.Event()
            threading.Thread(target=self._up, args=(client, server, held), daemon=True).start()
            threading.Thread(target=self._down, args=(server, client, held), daemon=True).start()

    def _up(self, client: socket.socket, server: socket.socket, held: threading.Event) -> None:
        with client, server:
            while chunk := _recv(client):
                if chunk.startswith(self.trigger):
                    self.seen.append(chunk.partition(b"\r\n\r\n")[0])
                    if self.armed:
                        self.armed = False
                        held.set()
                server.sendall(chunk)

    def _down(self, server: socket.socket, client: socket.socket, held: threading.Event) -> None:
        while chunk := _recv(server):
            if held.is_set():  # the answer to the trigger: swallowed, then both ends hung up
                self.answered.set()
                self.release.wait(60)
                for end in (client, server):
                    with contextlib.suppress(OSError):
                        end.shutdown(socket.SHUT_RDWR)
                return
            client.sendall(chunk)

    def close(self) -> None:
        """Stop listening."""
        if self.listener is not None:
            self.listener.close()


def relay_between(agents: LocalAgents, source: int, target: int, trigger: bytes) -> Relay:
    """A :class:`Relay` on the path from agent ``source`` to agent ``target`` (by index).

    The relay listens on ``source``'s host and ``source``'s config names it as
    ``target``'s URL; call before the agents start.
    """
    origin, upstream = agents.agents[source], agents.agents[target]
    relay = Relay((upstream.host, upstream.port), trigger)
    through = relay.start(origin.host)
    config = yaml.safe_load(origin.config_path.read_text())
    for peer in config["peers"]:
        if peer["node"] == upstream.node:
            peer["url"] = through
    origin.config_path.write_text(yaml.safe_dump(config))
    return relay


def _recv(conn: socket.socket) -> bytes:
    try:
        return conn.recv(65536)
    except OSError:
        return b""


@pytest.fixture
def relayed(tmp_path: Path) -> Iterator[Callable[[bytes], tuple[LocalAgents, Relay]]]:
    """Three agents whose node-1 reaches the leader node-0 through a :class:`Relay`."""
    made: list[tuple[LocalAgents, Relay]] = []

    def make(trigger: bytes) -> tuple[LocalAgents, Relay]:
        agents = LocalAgents(tmp_path, 3, [LEDGER], FAST)
        relay = relay_between(agents, 1, 0, trigger)  # the follower reaches the leader
        made.append((agents, relay))
        agents.start_all()
        wait_heard_from_leader(agents.agents[1])
        return agents, relay

    yield make
    for agents, relay in made:
        relay.release.set()
        relay.close()
        agents.stop_all()


def test_a_forwarded_put_resent_by_aiohttp_does_not_overwrite_a_later_write(relayed):
    agents, relay = relayed(b"PUT /v1/default/ledger/k ")
    leader, follower, _ = agents.agents
    with httpx.Client(timeout=30) as client, ThreadPoolExecutor(1) as pool:
        first = pool.submit(client.put, url(follower, "k"), json="first")
        assert relay.answered.wait(60)  # the leader applied it; its answer is held
        assert client.get(url(leader, "k")).json() == "first"
        later = client.put(url(leader, "k"), json="later")
        assert later.status_code == 200
        relay.release.set()  # the connection closes: aiohttp sends the PUT again
        assert first.result().status_code == 200
        # its answer says where it was applied: before "later" (not the resend's entry)
        assert first.result().json()["index"] < later.json()["index"]
        # the first write took effect before "later" was acknowledged: "later" stands
        assert client.get(url(leader, "k")).json() == "later"  # before: "first" again
    assert len(relay.seen) == 2  # the resend happened, and carried the same name
    assert len(set(_names(relay.seen))) == 1


def _names(heads: list[bytes]) -> list[bytes]:
    """The ``Statecast-Request-Id`` of each request head (all of them must have one)."""
    names = [
        line for head in heads for line in head.split(b"\r\n") if b"request-id" in line.lower()
    ]
    assert len(names) == len(heads)
    return names


def test_a_forwarded_delete_resent_by_aiohttp_answers_its_first_outcome(relayed):
    agents, relay = relayed(b"DELETE /v1/default/ledger/k ")
    leader, follower, _ = agents.agents
    with httpx.Client(timeout=30) as client, ThreadPoolExecutor(1) as pool:
        assert client.put(url(leader, "k"), json=1).status_code == 200
        deleted = pool.submit(client.delete, url(follower, "k"))
        assert relay.answered.wait(60)
        relay.release.set()
        # the delete deleted; sent again it must not answer 404 (before: 404 key_not_found)
        assert deleted.result().status_code == 200, deleted.result().text
        assert client.get(url(leader, "k")).status_code == 404
    assert len(relay.seen) == 2
    assert len(set(_names(relay.seen))) == 1
