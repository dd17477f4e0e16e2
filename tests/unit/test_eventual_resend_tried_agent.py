"""A write sent on after a broken connection names the agent it was sent to, not ``*``.

Session 12 (note11, "Noticed, left alone"): the client library did not know which replica
its first agent had reached, so its resend said ``Statecast-Maybe-Applied-At: *`` and the
replica it reached asked every replica of the resource whether one applied it: one
replica down, however unrelated, made the resend ``503 outcome_unknown``. Now the client
names the node of the agent it tried (learned from ``GET /v1/agents``; ``*`` when it
does not know it), and an agent that sent the write on (it held no replica that could
take it) says so when asked, so that every replica is asked then; it also keeps its
promise never to apply a name it was asked about when the first send reaches it late
(before, it forwarded it). Real agents over real HTTP; between the client and its first
agent a relay that passes the write, swallows the answer and then hangs up.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from statecast.agent.launcher import LocalAgents
from statecast.client import Client, RequestError
from tests.unit.test_eventual_resend_elsewhere import DyingRelay, Once, _recv

pytestmark = pytest.mark.slow

#: Held by all three agents.
TRIO = {"namespace": "default", "name": "trio", "replicas": ["node-0", "node-1", "node-2"]}
#: Held by node-0 and node-2; node-1 forwards.
FLAGS = {"namespace": "default", "name": "flags", "replicas": ["node-0", "node-2"]}
TRIGGER = b"PUT /v1/default/trio/k "


@pytest.fixture
def agents(tmp_path: Path) -> Iterator[LocalAgents]:
    made = LocalAgents(tmp_path, 3, [TRIO, FLAGS], {"syncInterval": 0.2})
    yield made
    made.stop_all()


@dataclass
class LosingRelay(DyingRelay):
    """Takes the write and hangs up without passing it on: node-0 never sees it."""

    def _up(self, client: socket.socket, server: socket.socket, held: threading.Event) -> None:
        with client, server:
            while chunk := _recv(client):
                if chunk.startswith(self.trigger):
                    self.answered.set()
                    self.release.set()
                    return
                server.sendall(chunk)


def _put_through_dying_relay(agents: LocalAgents, stop: int, lose: bool = False) -> object:
    """The client's PUT goes to node-0 through a relay that dies; agent ``stop`` stops.

    The relay passes the PUT and swallows node-0's answer, or (``lose``) drops the PUT.
    """
    holder, other = agents.agents[0], agents.agents[1]
    kind = LosingRelay if lose else DyingRelay
    relay = kind((holder.host, holder.port), TRIGGER, once=Once())
    through = relay.start(holder.host)
    agents.start_all()
    client = Client([through, other.url], timeout=30)
    try:
        client.put("default", "trio", "warm-up", 1)  # and learns the agents' nodes
        if lose:
            agents.stop(agents.agents[stop])
        with ThreadPoolExecutor(1) as pool:
            first = pool.submit(client.put, "default", "trio", "k", "first")
            assert relay.answered.wait(60)
            if not lose:  # node-0 applied it; its answer is held
                agents.stop(agents.agents[stop])
            relay.release.set()  # hang up: the client sends it on to node-1
            try:
                return first.result()
            except RequestError as err:
                return err
    finally:
        relay.release.set()
        relay.close()
        client.close()


def test_a_resend_is_not_left_unknown_by_an_unrelated_replica_down(agents):
    # node-0 never got the write; node-2, down, has nothing to do with it
    answered = _put_through_dying_relay(agents, stop=2, lose=True)
    # before: "*" - node-1 asked node-2 too, which was down: 503 outcome_unknown (now
    # node-1 asks node-0 only, which promises never to apply it, and applies it)
    assert not isinstance(answered, RequestError), answered
    assert isinstance(answered, dict)
    # applied once: both replicas hold the first answer's stamp (applied again at node-1,
    # a newer stamp would win)
    assert _settled(agents, answered["version"]) == [answered["version"]] * 2


def _settled(agents: LocalAgents, version: str) -> list[str]:
    """The stamps node-0 and node-1 hold for ``k`` once they agree on ``version`` (or 20 s)."""
    deadline = time.monotonic() + 20
    want = {"Statecast-Want-Version": "1"}
    with httpx.Client(timeout=10) as plain:
        while True:
            seen = [
                plain.get(f"{a.url}/v1/default/trio/k", headers=want).headers.get(
                    "Statecast-Version", ""
                )
                for a in agents.agents[:2]
            ]
            if seen == [version, version] or time.monotonic() > deadline:
                return seen
            time.sleep(0.1)


def test_a_resend_whose_first_agent_cannot_be_asked_is_still_unknown(agents):
    answered = _put_through_dying_relay(agents, stop=0)  # node-0: it applied the write
    assert isinstance(answered, RequestError)
    assert answered.code == "outcome_unknown"


def test_an_agent_that_sent_the_write_on_says_so(agents):
    agents.start_all()
    forwarder = agents.agents[1]
    named = {"Statecast-Request-Id": "try:forwarded"}
    with httpx.Client(timeout=30) as plain:
        first = plain.put(f"{forwarder.url}/v1/default/flags/k", json="first", headers=named)
        assert first.status_code == 200, first.text
        applied_at = first.headers["Statecast-Served-By"]
        other = next(a for a in agents.agents if a.node not in (applied_at, forwarder.node))
        sent_on = {**named, "Statecast-Maybe-Applied-At": forwarder.node}
        again = plain.put(f"{other.url}/v1/default/flags/k", json="first", headers=sent_on)
        # before: node-1 said "not applied" (it forwarded it), and it was applied twice
        assert again.status_code == 200, again.text
        assert again.json()["version"] == first.json()["version"]


def test_a_forwarding_agent_keeps_its_promise_when_the_first_send_comes_late(agents):
    agents.start_all()
    forwarder, holder = agents.agents[1], agents.agents[2]
    named = {"Statecast-Request-Id": "try:late-at-forwarder"}
    with httpx.Client(timeout=30) as plain:
        sent_on = {**named, "Statecast-Maybe-Applied-At": forwarder.node}
        answer = plain.put(f"{holder.url}/v1/default/flags/k", json="x", headers=sent_on)
        assert answer.status_code == 200, answer.text  # node-1 never saw it: promised
        late = plain.put(f"{forwarder.url}/v1/default/flags/k", json="x", headers=named)
        # before: node-1 forwarded it (node-0, the nearer, could apply it a second time)
        assert late.status_code == 503, late.text
        assert late.json()["error"]["code"] == "not_applied"
