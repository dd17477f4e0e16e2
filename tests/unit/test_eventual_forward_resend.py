"""An eventual write an agent forwards is applied once, even when its HTTP library resends it.

An agent without a replica of an eventual resource forwards a PUT or DELETE to one that
has it, through aiohttp. When the connection closes after that replica applied the write
but before its answer came back, aiohttp sends the request again on a new connection
(PUT and DELETE are among its idempotent methods). Until session 10 the replica applied
the resend as a new write: a PUT took a new hybrid stamp, later than a write another
client made (and saw acknowledged) in between, and overwrote it; a DELETE sent again
answered 404 for a delete that had deleted. Now the forwarding agent names every PUT
and DELETE it forwards (``Statecast-Request-Id: fwd:<uuid>``, or the client's name), and
the replica answers a name it applied lately with its first answer.

Real agents over real HTTP; between the forwarding agent and the replica a TCP relay
that passes the write, then closes both connections instead of passing the answer, once
(the relay of ``test_strong_forward_resend``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from statecast.agent.launcher import LocalAgents
from tests.unit.test_strong_forward_resend import Relay, _names, relay_between

pytestmark = pytest.mark.slow

#: An eventual resource held by node-0 only: node-1 forwards its writes there.
FLAGS = {"namespace": "default", "name": "flags", "replicas": ["node-0"]}


def url(agent: object, key: str) -> str:
    return f"{agent.url}/v1/default/flags/{key}"  # type: ignore[attr-defined]


@pytest.fixture
def relayed(tmp_path: Path) -> Iterator[Callable[[bytes], tuple[LocalAgents, Relay]]]:
    """Two agents: node-1 (no replica) reaches node-0 (the replica) through a Relay."""
    made: list[tuple[LocalAgents, Relay]] = []

    def make(trigger: bytes) -> tuple[LocalAgents, Relay]:
        agents = LocalAgents(tmp_path, 2, [FLAGS], {"syncInterval": 0.2})
        relay = relay_between(agents, 1, 0, trigger)  # the forwarder reaches the replica
        made.append((agents, relay))
        agents.start_all()
        return agents, relay

    yield make
    for agents, relay in made:
        relay.release.set()
        relay.close()
        agents.stop_all()


def test_a_forwarded_eventual_put_resent_by_aiohttp_does_not_overwrite_a_later_write(relayed):
    agents, relay = relayed(b"PUT /v1/default/flags/k ")
    holder, forwarder = agents.agents
    with httpx.Client(timeout=30) as client, ThreadPoolExecutor(1) as pool:
        first = pool.submit(client.put, url(forwarder, "k"), json="first")
        assert relay.answered.wait(60)  # the replica applied it; its answer is held
        assert client.get(url(holder, "k")).json() == "first"
        later = client.put(url(holder, "k"), json="later")
        assert later.status_code == 200
        relay.release.set()  # the connection closes: aiohttp sends the PUT again
        assert first.result().status_code == 200, first.result().text
        assert first.result().headers["Statecast-Served"] == "remote"
        # it answers the first write's version, older than the later write's
        assert _stamp(first.result().json()) < _stamp(later.json())
        assert client.get(url(holder, "k")).json() == "later"  # before: "first" again
    assert len(relay.seen) == 2  # the resend happened, and carried the same name
    assert len(set(_names(relay.seen))) == 1


def _stamp(answer: dict[str, object]) -> tuple[int, int]:
    """A write's answered version (``wall.logical.replica``) as comparable numbers."""
    wall, logical, _ = str(answer["version"]).split(".", 2)
    return int(wall), int(logical)


def test_a_forwarded_eventual_delete_resent_by_aiohttp_answers_its_first_outcome(relayed):
    agents, relay = relayed(b"DELETE /v1/default/flags/k ")
    holder, forwarder = agents.agents
    with httpx.Client(timeout=30) as client, ThreadPoolExecutor(1) as pool:
        assert client.put(url(holder, "k"), json=1).status_code == 200
        deleted = pool.submit(client.delete, url(forwarder, "k"))
        assert relay.answered.wait(60)
        relay.release.set()
        # the delete deleted; sent again it must not answer 404 (before: 404 not_found)
        assert deleted.result().status_code == 200, deleted.result().text
        assert client.get(url(holder, "k")).status_code == 404
    assert len(relay.seen) == 2
    assert len(set(_names(relay.seen))) == 1


def test_a_client_named_eventual_put_keeps_its_name_through_the_forward(relayed):
    agents, relay = relayed(b"PUT /v1/default/flags/k ")
    holder, forwarder = agents.agents
    named = {"Statecast-Request-Id": "try:mine"}
    with httpx.Client(timeout=30) as client, ThreadPoolExecutor(1) as pool:
        first = pool.submit(client.put, url(forwarder, "k"), json="first", headers=named)
        assert relay.answered.wait(60)
        later = client.put(url(holder, "k"), json="later")
        relay.release.set()
        assert first.result().status_code == 200
        # the client's own resend of the same call (same name) answers the first version
        again = client.put(url(forwarder, "k"), json="first", headers=named)
        assert again.json() == first.result().json()
        assert client.get(url(holder, "k")).json() == "later"
        assert later.status_code == 200
    assert set(_names(relay.seen)) == {b"Statecast-Request-Id: try:mine"}
