"""The operator's certificate authority, its signer and the agents' certificate keepers,
together over an in-memory API server: the operator makes the CA and publishes the
bundle; each agent makes its own key and asks for a certificate, which the signer gives
only for the agent's own node; certificates are renewed with new keys, the CA rolls
over with an overlapping bundle, a request for another node's certificate is refused,
the key Secrets of an earlier release are deleted, and the operator keeps its own."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import replace
from types import SimpleNamespace

from statecast.agent.certificate import CertificateKeeper
from statecast.agent.kube_api import RequestState
from statecast.agent.seeding import SourceError
from statecast.api.lease import AUTHORITY_SECRET, BUNDLE_CONFIGMAP, agent_tls_secret_name
from statecast.controller.issuer import TLS_LABEL, CertificateIssuer, SecretRecord
from statecast.controller.signer import RequestRecord, RequestSigner
from statecast.core.pki import (
    NODE_NAME_EXTRA,
    OPERATOR_NAME,
    SIGNER_NAME,
    PkiSettings,
    agent_name,
)
from statecast.core.reconcile.views import AgentLease
from statecast.pki.certs import leaf_of, split_bundle
from statecast.pki.contexts import TlsMaterial

HOUR = 3600.0
SETTINGS = PkiSettings(authority_lifetime=30 * HOUR, leaf_lifetime=3 * HOUR, propagation=60.0)
T0 = 1_800_000_000.0
NAMESPACE = "statecast-system"
AGENTS = f"system:serviceaccount:{NAMESPACE}:statecast-agent"


class MemorySecrets:
    def __init__(self) -> None:
        self.items: dict[str, SecretRecord] = {}
        self.bundle: dict[str, bytes] = {}
        self.version = 0
        self.writes = 0

    def read(self, name: str) -> SecretRecord | None:
        return self.items.get(name)

    def write(self, record: SecretRecord) -> bool:
        current = self.items.get(record.name)
        if (current.resource_version if current else None) != record.resource_version:
            return False
        self.version += 1
        self.writes += 1
        self.items[record.name] = replace(record, resource_version=str(self.version))
        return True

    def names(self, label: str, value: str) -> list[str]:
        return [n for n, r in self.items.items() if r.labels.get(label) == value]

    def delete(self, name: str) -> None:
        self.items.pop(name, None)

    def publish(self, bundle: bytes, signing: str) -> bool:
        data = {"ca.crt": bundle, "signing": signing.encode()}
        if data == self.bundle:
            return False
        self.bundle = data
        self.writes += 1
        return True


class ApiServer:
    """Certificate requests, each stamped with who made it (as the API server does)."""

    def __init__(self, secrets: MemorySecrets) -> None:
        self.secrets = secrets
        self.requests: dict[str, dict] = {}

    # --- the signer's side (RequestStore) ---
    def pending(self) -> list[RequestRecord]:
        return [
            RequestRecord(name, r["request"], r["user"], r["extra"], r["approved"])
            for name, r in self.requests.items()
            if not r["certificate"] and not r["denied"]
        ]

    def approve(self, record: RequestRecord, message: str) -> bool:
        self.requests[record.name]["approved"] = True
        return True

    def deny(self, record: RequestRecord, message: str) -> None:
        self.requests[record.name]["denied"] = message

    def issue(self, record: RequestRecord, certificate: bytes) -> bool:
        assert self.requests[record.name]["approved"]  # as the API server insists
        self.requests[record.name]["certificate"] = certificate
        return True

    # --- an agent's side, with the identity its token carries ---
    def agent(self, user: str, pod_node: str | None) -> AgentSide:
        return AgentSide(self, user, {NODE_NAME_EXTRA: [pod_node]} if pod_node else {})


class AgentSide:
    def __init__(self, server: ApiServer, user: str, extra: dict) -> None:
        self.server, self.user, self.extra = server, user, extra

    async def request_certificate(self, name: str, request: bytes, signer: str, node: str) -> None:
        assert signer == SIGNER_NAME and name not in self.server.requests
        self.server.requests[name] = {
            "request": request, "user": self.user, "extra": self.extra, "approved": False,
            "certificate": b"", "denied": "",
        }  # fmt: skip

    async def certificate_request(self, name: str) -> RequestState | None:
        found = self.server.requests.get(name)
        if found is None:
            return None
        return RequestState(found["certificate"], found["denied"])

    async def get_source_data(self, namespace: str, kind: str, name: str):
        assert (namespace, kind, name) == (NAMESPACE, "ConfigMap", BUNDLE_CONFIGMAP)
        return dict(self.server.secrets.bundle) or None


class Cluster:
    def __init__(self, nodes: list[str], claims: dict[str, str] | None = None) -> None:
        self.now = T0
        self.nodes = nodes
        self.secrets = MemorySecrets()
        self.server = ApiServer(self.secrets)
        clock = lambda: self.now  # noqa: E731
        self.keepers = {}
        for node in nodes:  # claims: the node an agent's Pod is on, when not its own
            side = self.server.agent(AGENTS, (claims or {}).get(node, node))
            agent = SimpleNamespace(node=node, tls=TlsMaterial())
            self.keepers[node] = CertificateKeeper(agent, side, side, NAMESPACE, clock, retry=30)
        self.material = TlsMaterial()
        self.issuer = self.make_issuer()
        self.signer = RequestSigner(
            self.server, self.issuer.signing_pair, AGENTS, SETTINGS, clock=clock
        )

    def make_issuer(self, acting: bool = True) -> CertificateIssuer:
        return CertificateIssuer(
            self.secrets, self.leases, self.material, SETTINGS, lambda: acting,
            clock=lambda: self.now,
        )  # fmt: skip

    def leases(self) -> list[AgentLease]:
        renewed = dt.datetime.now(dt.UTC)
        return [
            AgentLease(n, renewed, 6, f"http://{n}:7420", certificate=self.keepers[n].leaf)
            for n in self.nodes
        ]

    def agents_step(self) -> None:
        async def steps() -> None:
            for node in self.nodes:
                await self.keepers[node].step()

        asyncio.run(steps())

    def round(self) -> None:
        """The issuer, the agents (which ask), the signer, the agents (which load)."""
        self.issuer.round()
        self.agents_step()
        self.signer.round()
        self.agents_step()

    def leaf(self, node: str):
        return self.keepers[node].leaf

    def bundle(self) -> list[bytes]:
        return split_bundle(self.secrets.bundle["ca.crt"])


def test_the_first_round_makes_a_ca_and_each_agent_gets_a_certificate_for_its_own_key():
    cluster = Cluster(["n1", "n2"])
    cluster.round()
    assert AUTHORITY_SECRET in cluster.secrets.items and len(cluster.bundle()) == 1
    for node in ("n1", "n2"):
        keeper = cluster.keepers[node]
        assert keeper.leaf is not None and keeper.leaf.identity == agent_name(node)
        assert keeper.agent.tls.ready and keeper.note()
    assert cluster.signer.signed == 2 and cluster.material.ready
    # no private key ever left an agent: only requests and certificates are stored
    for request in cluster.server.requests.values():
        assert b"PRIVATE KEY" not in request["request"] + request["certificate"]
    assert not cluster.secrets.names(TLS_LABEL, "agent")
    writes, requests = cluster.secrets.writes, len(cluster.server.requests)
    cluster.now += 60
    cluster.round()  # nothing due: nothing written, nothing asked
    assert cluster.secrets.writes == writes and len(cluster.server.requests) == requests


def test_certificates_are_renewed_with_new_keys_after_two_thirds_of_their_life():
    cluster = Cluster(["n1"])
    cluster.round()
    first, first_key = cluster.leaf("n1"), cluster.keepers["n1"].held.key
    cluster.now += 1.9 * HOUR  # before 2/3 of 3 h (+ the backdate)
    cluster.round()
    assert cluster.leaf("n1") == first
    cluster.now += 0.3 * HOUR
    cluster.round()
    renewed = cluster.leaf("n1")
    assert renewed.issued == cluster.now and renewed.issuer == first.issuer
    assert cluster.keepers["n1"].held.key != first_key


def test_the_ca_rolls_over_and_the_bundle_holds_both_until_every_agent_moved():
    cluster = Cluster(["n1", "n2"])
    cluster.round()
    old = cluster.leaf("n1").issuer
    cluster.now += 20.5 * HOUR  # past 2/3 of the CA's 30 h
    cluster.round()
    assert cluster.issuer.authorities_made == 2
    assert len(cluster.bundle()) == 2  # published beside the old one ...
    assert cluster.leaf("n1").issuer == old  # ... which still signs
    cluster.now += 61  # propagated: the new one signs, every agent asks anew
    cluster.round()
    assert cluster.leaf("n1").issuer != old and cluster.leaf("n2").issuer != old
    assert len(cluster.bundle()) == 2  # the new certificates are still loading elsewhere
    cluster.now += 61
    cluster.round()
    assert len(cluster.bundle()) == 1  # the old CA has left the bundle
    authority = cluster.secrets.items[AUTHORITY_SECRET]
    assert sum(name.endswith(".key") for name in authority.data) == 1
    own = cluster.issuer._own
    assert own is not None and leaf_of(own.cert).identity == OPERATOR_NAME
    assert leaf_of(own.cert).issuer == cluster.leaf("n1").issuer


def test_an_agent_that_still_holds_an_old_certificate_keeps_the_old_ca_in_the_bundle():
    cluster = Cluster(["n1", "n2"])
    cluster.round()
    cluster.now += 20.5 * HOUR
    cluster.round()
    stuck = cluster.keepers["n2"]
    stuck._wait_until = cluster.now + 10 * HOUR  # n2 cannot renew for a while
    for _ in range(3):
        cluster.now += 61
        cluster.round()
    assert len(cluster.bundle()) == 2  # n2's Lease still names the old CA
    stuck._wait_until = 0.0
    for _ in range(2):
        cluster.now += 61
        cluster.round()
    assert len(cluster.bundle()) == 1


def test_an_agent_asking_for_another_nodes_certificate_is_refused_and_asks_again_later():
    # the agent calling itself n2 runs in a Pod on n1: what a compromised agent would do
    cluster = Cluster(["n1", "n2"], claims={"n2": "n1"})
    cluster.round()
    assert cluster.leaf("n1") is not None and cluster.leaf("n2") is None
    assert not cluster.keepers["n2"].agent.tls.ready
    (denied,) = [r for r in cluster.server.requests.values() if r["denied"]]
    assert "may hold only n1.agent.statecast" in denied["denied"]
    assert cluster.signer.denied == 1
    cluster.now += 10
    cluster.round()
    assert cluster.signer.denied == 1  # it waits before asking again ...
    cluster.now += 30
    cluster.round()
    assert cluster.signer.denied == 2  # ... and is refused again


def test_a_token_not_bound_to_a_pod_gets_no_certificate():
    cluster = Cluster(["n1"])
    side = cluster.server.agent(AGENTS, None)
    unbound = SimpleNamespace(node="n1", tls=TlsMaterial())
    keeper = CertificateKeeper(unbound, side, side, NAMESPACE, lambda: cluster.now)
    cluster.round()
    asyncio.run(keeper.step())
    cluster.signer.round()
    asyncio.run(keeper.step())
    assert keeper.leaf is None and not unbound.tls.ready


def test_the_key_secrets_of_an_earlier_release_are_deleted_and_a_standby_writes_nothing():
    cluster = Cluster(["n1"])
    old = SecretRecord(agent_tls_secret_name("n1"), {"tls.key": b"x"}, labels={TLS_LABEL: "agent"})
    assert cluster.secrets.write(old)
    cluster.round()
    assert agent_tls_secret_name("n1") not in cluster.secrets.items
    standby = cluster.make_issuer(acting=False)
    writes = cluster.secrets.writes
    standby.round()
    assert cluster.secrets.writes == writes


def test_a_conflicting_write_of_the_ca_is_left_for_the_next_round():
    cluster = Cluster(["n1"])
    cluster.round()
    authority = cluster.secrets.items[AUTHORITY_SECRET]
    late = cluster.make_issuer()
    real_read = cluster.secrets.read
    # it read the CA Secret before the other operator created it
    cluster.secrets.read = lambda name: None if name == AUTHORITY_SECRET else real_read(name)  # type: ignore[method-assign]
    late.round()
    cluster.secrets.read = real_read  # type: ignore[method-assign]
    assert cluster.secrets.items[AUTHORITY_SECRET] == authority  # the one it made was refused
    late.round()  # next round: it uses the CA that is there
    assert late.authorities_made == 1 and cluster.secrets.items[AUTHORITY_SECRET] == authority


def test_an_agent_asks_nothing_before_the_bundle_is_published_and_retries_a_failed_request():
    cluster = Cluster(["n1"])
    cluster.agents_step()  # no CA, no bundle yet
    assert cluster.server.requests == {} and cluster.leaf("n1") is None
    keeper = cluster.keepers["n1"]
    real_read = keeper.gateway.get_source_data

    async def refused(*args: object) -> None:
        raise SourceError("the agents may not read it")  # RBAC not there yet: wait, not fail

    keeper.gateway.get_source_data = refused
    cluster.issuer.round()
    cluster.agents_step()
    assert cluster.server.requests == {}
    keeper.gateway.get_source_data = real_read
    real = keeper.requests.request_certificate

    async def unreachable(*args: object) -> None:
        raise OSError("API server unreachable")

    keeper.requests.request_certificate = unreachable
    cluster.agents_step()
    assert cluster.server.requests == {} and not keeper.pending
    keeper.requests.request_certificate = real
    cluster.now += 29
    cluster.agents_step()
    assert cluster.server.requests == {}  # waits `retry` seconds
    cluster.now += 1
    cluster.round()
    assert cluster.leaf("n1") is not None and keeper.agent.tls.ready
