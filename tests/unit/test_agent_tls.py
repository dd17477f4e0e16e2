"""Agents speaking mutual TLS to each other (standalone processes on loopback): they
replicate and forward; a caller without a certificate of the trust bundle is refused;
forwarding headers count only from a certified agent; certificates and the authority
roll over while a client writes, without a restart and without losing a write."""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from statecast.agent.launcher import LocalAgent, LocalAgents
from statecast.core.pki import agent_name
from statecast.pki.certs import KeyPair, issue, new_authority
from statecast.pki.contexts import TlsMaterial
from tests.unit._agents import FAST, eventually

pytestmark = pytest.mark.slow


@pytest.fixture
def agents(tmp_path: Path) -> Iterator[LocalAgents]:
    resources = [
        {"namespace": "default", "name": "flags"},
        {"namespace": "default", "name": "pair", "replicas": ["node-0", "node-1"]},
    ]
    made = LocalAgents(tmp_path, 3, resources, dict(FAST), tls=True)
    made.start_all()
    yield made
    made.stop_all()


def _client_context(pair: KeyPair, bundle: bytes) -> ssl.SSLContext:
    material = TlsMaterial()
    material.load(pair.cert, pair.key, bundle)
    return material.client_context()


def _peer_post(
    agent: LocalAgent, context: ssl.SSLContext | bool, path: str, body: bytes
) -> httpx.Response:
    with httpx.Client(verify=context, timeout=5) as client:
        return client.post(
            f"{agent.peer_url}{path}",
            content=body,
            extensions={"sni_hostname": agent_name(agent.node)},
        )


def _value(agent: LocalAgent, resource: str, key: str) -> object:
    reply = httpx.get(f"{agent.url}/v1/default/{resource}/{key}", timeout=5)
    return reply.json() if reply.status_code == 200 else None


def test_agents_with_tls_replicate_and_forward_and_count_forwards_once(agents):
    a, b, c = agents.agents
    httpx.put(f"{a.url}/v1/default/flags/beta", json=True, timeout=5).raise_for_status()
    eventually(lambda: _value(b, "flags", "beta") is True, "b has a's write (push over TLS)")
    eventually(lambda: _value(c, "flags", "beta") is True, "c has a's write")
    httpx.put(f"{a.url}/v1/default/pair/k", json=1, timeout=5).raise_for_status()
    # c holds no replica of pair: it forwards, to a or to b (which may not have the write yet)
    eventually(lambda: _value(c, "pair", "k") == 1, "c's forwarded read finds a's write")
    reply = httpx.get(f"{c.url}/v1/default/pair/k", timeout=5)
    assert reply.status_code == 200 and reply.json() == 1
    assert reply.headers["Statecast-Served"] == "remote"

    def local_gets(agent: LocalAgent) -> float:
        stats = httpx.get(f"{agent.url}/v1/stats", timeout=5).json()
        return sum(
            row["count"]
            for row in stats["accesses"]
            if row["resource"] == "pair" and row["operation"] == "get" and row["served"] == "local"
        )

    # the forwarded read came over TLS with c's certificate: a and b do not count it
    assert local_gets(a) + local_gets(b) == 0
    # on the application listener the header is not believed, even from loopback
    forged = {"Statecast-Forwarded-By": "node-2"}
    assert httpx.get(f"{a.url}/v1/default/pair/k", headers=forged, timeout=5).status_code == 200
    assert local_gets(a) == 1


def test_a_caller_without_a_certificate_of_the_bundle_is_refused(agents):
    a = agents.agents[0]
    assert agents.authority is not None
    sync = b'{"from": "node-1", "vv": {}}'
    # the application listener serves no peer route when TLS is on
    plain = httpx.post(f"{a.url}/v1/peer/sync/default/flags", content=sync, timeout=5)
    assert plain.status_code == 403
    assert plain.json()["error"]["code"] == "mutual_tls_required"
    # no client certificate: the handshake fails
    bare = ssl.create_default_context(cadata=agents.authority.cert.decode())
    with pytest.raises(httpx.HTTPError):
        _peer_post(a, bare, "/v1/peer/sync/default/flags", sync).raise_for_status()
    # a self-signed certificate naming a real node: refused
    impostor = new_authority(time.time(), 3600)
    forged = issue(impostor, agent_name("node-1"), time.time(), 3600)
    with pytest.raises(httpx.HTTPError):
        _peer_post(
            a, _client_context(forged, agents.authority.cert), "/v1/peer/sync/default/flags", sync
        ).raise_for_status()
    # a certificate of the bundle may speak only for its own node
    real = issue(agents.authority, agent_name("node-2"), time.time(), 3600)
    mismatch = _peer_post(
        a, _client_context(real, agents.authority.cert), "/v1/peer/sync/default/flags", sync
    )
    assert mismatch.status_code == 403
    assert mismatch.json()["error"]["code"] == "peer_mismatch"
    honest = _peer_post(
        a,
        _client_context(real, agents.authority.cert),
        "/v1/peer/sync/default/flags",
        b'{"from": "node-2", "vv": {}}',
    )
    assert honest.status_code == 200


def test_certificates_and_authority_roll_over_while_a_client_writes(agents):
    a, b, c = agents.agents
    old = agents.authority
    assert old is not None
    new = new_authority(time.time(), 86400)
    acked: list[int] = []
    failures: list[str] = []
    stop = threading.Event()

    def write() -> None:
        i = 0
        with httpx.Client(timeout=5) as client:
            while not stop.is_set():
                target = (a, b, c)[i % 3]
                try:
                    reply = client.put(f"{target.url}/v1/default/flags/w{i}", json=i)
                except httpx.HTTPError as err:
                    failures.append(repr(err))
                else:
                    if reply.status_code == 200:
                        acked.append(i)
                    else:
                        failures.append(reply.text)
                i += 1
                time.sleep(0.01)

    def replicated(marker: str) -> None:
        httpx.put(f"{a.url}/v1/default/flags/{marker}", json=marker, timeout=5).raise_for_status()
        for other in (b, c):
            eventually(
                lambda o=other: _value(o, "flags", marker) == marker, f"{marker} on {other.node}"
            )

    def writes_go_on(marker: str) -> None:
        """The client's writes are acknowledged after this step too (not a throughput)."""
        before = len(acked)
        eventually(lambda: len(acked) >= before + 3, f"writes acknowledged after {marker}")

    writer = threading.Thread(target=write)
    writer.start()
    try:
        for agent in agents.agents:  # 1: publish the new authority beside the old one
            agents.issue(agent, old, old.cert + new.cert)
        time.sleep(2.5)  # agents reload every second
        replicated("published")
        writes_go_on("published")
        for agent in agents.agents:  # 2: the new authority signs every agent's certificate
            agents.issue(agent, new, old.cert + new.cert)
        time.sleep(2.5)
        replicated("signed")
        writes_go_on("signed")
        for agent in agents.agents:  # 3: the old authority leaves the bundle
            agents.issue(agent, new, new.cert)
        time.sleep(2.5)
        replicated("retired")
        writes_go_on("retired")
    finally:
        stop.set()
        writer.join()
    assert failures == []
    final = {}
    eventually(
        lambda: all(_value(x, "flags", f"w{acked[-1]}") == acked[-1] for x in (a, b, c)),
        "the last acknowledged write everywhere",
    )
    for agent in (a, b, c):
        final = httpx.get(f"{agent.url}/v1/default/flags", timeout=5).json()
        assert all(final[f"w{i}"] == i for i in acked), f"{agent.node} lost an acknowledged write"
    # the old authority's certificates are refused now
    stale = issue(old, agent_name("node-1"), time.time(), 3600)
    with pytest.raises(httpx.HTTPError):
        _peer_post(
            a,
            _client_context(stale, old.cert + new.cert),
            "/v1/peer/sync/default/flags",
            b'{"from": "node-1", "vv": {}}',
        ).raise_for_status()
