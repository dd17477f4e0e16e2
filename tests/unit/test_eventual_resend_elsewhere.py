"""An eventual write sent on to ANOTHER replica after a broken connection is applied once.

A named PUT reaches a replica, which applies it; the connection breaks before the answer
and the replica's agent then looks dead (a proxy in front of it accepts and closes). The
forwarding agent (or the client library) sends the same named write on to the next
replica. Until session 11 that replica applied it again with its own new hybrid stamp,
later than a write acknowledged at the first replica in between: once the two replicas
synchronised, the acknowledged later write was lost (both read the first value again).
A name was known only where it was applied.

Now a write sent on after a broken connection says so (``Statecast-Maybe-Applied-At``:
the nodes it may have reached, ``*`` for any), and the replica it reaches asks those
replicas first (``POST /v1/peer/named/...``): one that applied it gives its first
answer, which is answered again, and nothing is applied; one that did not promises
never to (it refuses the name from then on); one that cannot be asked leaves the
outcome unknown (503 ``outcome_unknown``, nothing applied).

Real agents over real HTTP; between the forwarding agent (or the client) and the
replicas TCP relays; the first that carries the write passes it, swallows the answer,
then hangs up and accepts-and-closes every later connection.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from statecast.agent.launcher import LocalAgents
from statecast.client import Client
from tests.unit.test_strong_forward_resend import Relay

pytestmark = pytest.mark.slow

#: An eventual resource held by node-0 and node-2; node-1 holds none and forwards.
FLAGS = {"namespace": "default", "name": "flags", "replicas": ["node-0", "node-2"]}
TRIGGER = b"PUT /v1/default/flags/k "


def url(agent: object, key: str) -> str:
    return f"{agent.url}/v1/default/flags/{key}"  # type: ignore[attr-defined]


@dataclass
class Once:
    """Shared by the relays: only the first to carry the trigger swallows its answer."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    taken: bool = False

    def take(self) -> bool:
        with self.lock:
            taken, self.taken = self.taken, True
            return not taken


@dataclass
class DyingRelay(Relay):
    """A :class:`Relay` whose upstream looks dead once it swallowed an answer.

    After ``release`` it accepts and at once closes every new connection: a request
    sent there may or may not have arrived (a dead agent behind a proxy).
    """

    once: Once = field(default_factory=Once)

    def _accept(self) -> None:
        assert self.listener is not None
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.answered.is_set() and self.release.is_set():
                client.close()  # dead behind a proxy
                continue
            try:
                server = socket.create_connection(self.upstream)
            except OSError:
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
                    if self.armed and self.once.take():
                        held.set()
                    self.armed = False
                server.sendall(chunk)


def _recv(conn: socket.socket) -> bytes:
    try:
        return conn.recv(65536)
    except OSError:
        return b""


@pytest.fixture
def agents(tmp_path: Path) -> Iterator[LocalAgents]:
    made = LocalAgents(tmp_path, 3, [FLAGS], {"syncInterval": 0.2})
    yield made
    made.stop_all()


def _relays(agents: LocalAgents) -> dict[int, DyingRelay]:
    """node-1 reaches node-0 and node-2 through dying relays (before the agents start)."""
    once = Once()
    forwarder = agents.agents[1]
    config = yaml.safe_load(forwarder.config_path.read_text())
    relays = {}
    for target in (0, 2):
        upstream = agents.agents[target]
        relay = DyingRelay((upstream.host, upstream.port), TRIGGER, once=once)
        through = relay.start(forwarder.host)
        for peer in config["peers"]:
            if peer["node"] == upstream.node:
                peer["url"] = through
        relays[target] = relay
    forwarder.config_path.write_text(yaml.safe_dump(config))
    return relays


def _settled(agents: LocalAgents, key: str, expected: Any) -> list[Any]:
    """What both replicas read for ``key`` once they agree (or after 20 s)."""
    holders = [agents.agents[0], agents.agents[2]]
    deadline = time.monotonic() + 20
    with httpx.Client(timeout=10) as client:
        while True:
            seen = [client.get(url(h, key)).json() for h in holders]
            if seen == [expected, expected] or time.monotonic() > deadline:
                return seen
            time.sleep(0.1)


def _which(relays: dict[int, DyingRelay]) -> int:
    """The holder whose relay carried the write and swallowed its answer."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for target, relay in relays.items():
            if relay.answered.is_set():
                return target
        time.sleep(0.02)
    raise AssertionError("no relay carried the write")


def test_a_forwarded_put_sent_on_to_another_replica_does_not_overwrite_a_later_write(agents):
    relays = _relays(agents)
    agents.start_all()
    forwarder = agents.agents[1]
    try:
        _forwarded_put(agents, relays, forwarder)
    finally:
        for relay in relays.values():
            relay.release.set()
            relay.close()


def _forwarded_put(agents: LocalAgents, relays: dict[int, DyingRelay], forwarder: Any) -> None:
    with httpx.Client(timeout=30) as client, ThreadPoolExecutor(1) as pool:
        first = pool.submit(client.put, url(forwarder, "k"), json="first")
        applied_at = _which(relays)  # that replica applied it; its answer is held
        holder = agents.agents[applied_at]
        assert client.get(url(holder, "k")).json() == "first"
        later = client.put(url(holder, "k"), json="later")
        assert later.status_code == 200
        relays[applied_at].release.set()  # hang up; that replica now looks dead
        answer = first.result()
    # the other replica learned the first answer from the one that applied it
    assert answer.status_code == 200, answer.text
    assert _older(answer, later)
    # before: the other replica applied "first" again, after "later", and it won
    assert _settled(agents, "k", "later") == ["later", "later"]


def _older(a: httpx.Response, b: httpx.Response) -> bool:
    """Whether write answer ``a``'s version stamp is older than ``b``'s."""

    def stamp(r: httpx.Response) -> tuple[int, int]:
        wall, logical, _ = str(r.json()["version"]).split(".", 2)
        return int(wall), int(logical)

    return stamp(a) < stamp(b)


def test_a_client_put_sent_on_to_another_agent_does_not_overwrite_a_later_write(agents):
    once = Once()
    holder = agents.agents[0]
    relay = DyingRelay((holder.host, holder.port), TRIGGER, once=once)
    through = relay.start(holder.host)
    agents.start_all()
    other = agents.agents[2]
    client = Client([through, other.url], discover_peers=False, timeout=30)
    try:
        with httpx.Client(timeout=30) as plain, ThreadPoolExecutor(1) as pool:
            first = pool.submit(client.put, "default", "flags", "k", "first")
            assert relay.answered.wait(60)  # node-0 applied it; its answer is held
            later = plain.put(url(holder, "k"), json="later")
            assert later.status_code == 200
            relay.release.set()  # hang up; node-0 looks dead from the client
            answered = first.result()
        assert _stamp(answered["version"]) < _stamp(later.json()["version"])
        assert _settled(agents, "k", "later") == ["later", "later"]
    finally:
        relay.release.set()
        relay.close()
        client.close()


def _stamp(version: str) -> tuple[int, int]:
    wall, logical, _ = version.split(".", 2)
    return int(wall), int(logical)


def test_a_write_sent_on_while_the_first_replica_cannot_be_asked_is_not_applied(agents):
    agents.start_all()
    other = agents.agents[2]
    agents.stop(agents.agents[0])  # the replica the write may have reached cannot be asked
    headers = {"Statecast-Request-Id": "try:gone", "Statecast-Maybe-Applied-At": "node-0"}
    with httpx.Client(timeout=30) as client:
        answer = client.put(url(other, "k"), json="first", headers=headers)
        assert answer.status_code == 503, answer.text
        assert answer.json()["error"]["code"] == "outcome_unknown"
        assert client.get(url(other, "k")).status_code == 404  # nothing applied here


def test_a_replica_asked_first_refuses_the_write_when_it_arrives_late(agents):
    agents.start_all()
    first, other = agents.agents[0], agents.agents[2]
    named = {"Statecast-Request-Id": "try:late"}
    with httpx.Client(timeout=30) as client:
        sent_on = {**named, "Statecast-Maybe-Applied-At": "node-0"}
        answer = client.put(url(other, "k"), json="elsewhere", headers=sent_on)
        assert answer.status_code == 200, answer.text  # node-0 never applied it
        # the first send arrives at node-0 only now: it promised not to apply it
        late = client.put(url(first, "k"), json="elsewhere", headers=named)
        assert late.status_code == 503, late.text
        assert late.json()["error"]["code"] == "not_applied"
