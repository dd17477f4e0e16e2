"""The operator's certificate issuer over an in-memory Secret store: it makes the CA,
issues every agent with a Lease a certificate, renews them, rolls the CA over with an
overlapping bundle, forgets agents without a Lease, and keeps its own certificate."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from statecast.api.lease import AUTHORITY_SECRET, agent_tls_secret_name
from statecast.controller.issuer import CertificateIssuer, SecretRecord
from statecast.core.pki import OPERATOR_NAME, PkiSettings, agent_name
from statecast.core.reconcile.views import AgentLease
from statecast.pki.certs import leaf_of, split_bundle
from statecast.pki.contexts import TlsMaterial

HOUR = 3600.0
SETTINGS = PkiSettings(authority_lifetime=30 * HOUR, leaf_lifetime=3 * HOUR, propagation=60.0)
T0 = 1_800_000_000.0


class MemorySecrets:
    def __init__(self) -> None:
        self.items: dict[str, SecretRecord] = {}
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

    def grant(self, names: list[str]) -> None:
        self.granted = names


def lease(node: str) -> AgentLease:
    return AgentLease(node, dt.datetime.now(dt.UTC), 6, f"http://{node}:7420")


def issuer(secrets: MemorySecrets, nodes: list[str], now: list[float], acting: bool = True):
    material = TlsMaterial()
    made = CertificateIssuer(
        secrets, lambda: [lease(n) for n in nodes], material, SETTINGS, lambda: acting,
        clock=lambda: now[0],
    )  # fmt: skip
    return made, material


def agent_leaf(secrets: MemorySecrets, node: str):
    return leaf_of(secrets.items[agent_tls_secret_name(node)].data["tls.crt"])


def bundle_of(secrets: MemorySecrets, node: str) -> list[bytes]:
    return split_bundle(secrets.items[agent_tls_secret_name(node)].data["ca.crt"])


def test_the_first_round_makes_a_ca_and_a_certificate_per_agent_and_its_own():
    secrets, now = MemorySecrets(), [T0]
    made, material = issuer(secrets, ["n1", "n2"], now)
    made.round()
    assert AUTHORITY_SECRET in secrets.items
    for node in ("n1", "n2"):
        record = secrets.items[agent_tls_secret_name(node)]
        assert record.type == "kubernetes.io/tls"
        assert leaf_of(record.data["tls.crt"]).identity == agent_name(node)
        assert len(bundle_of(secrets, node)) == 1
    assert material.ready and made.issued == 2 and made.authorities_made == 1
    # the agents may read their Secrets, not the CA's
    assert secrets.granted == [agent_tls_secret_name("n1"), agent_tls_secret_name("n2")]
    writes = secrets.writes
    now[0] += 60
    made.round()  # nothing due: nothing written
    assert secrets.writes == writes


def test_certificates_are_renewed_after_two_thirds_of_their_life():
    secrets, now = MemorySecrets(), [T0]
    made, _ = issuer(secrets, ["n1"], now)
    made.round()
    first = agent_leaf(secrets, "n1")
    now[0] += 1.9 * HOUR  # before 2/3 of 3 h (+ the backdate)
    made.round()
    assert agent_leaf(secrets, "n1") == first
    now[0] += 0.3 * HOUR
    made.round()
    renewed = agent_leaf(secrets, "n1")
    assert renewed.issued == now[0] and renewed.issuer == first.issuer


def test_the_ca_rolls_over_and_the_bundle_holds_both_until_every_certificate_moved():
    secrets, now = MemorySecrets(), [T0]
    made, material = issuer(secrets, ["n1", "n2"], now)
    made.round()
    old = agent_leaf(secrets, "n1").issuer
    now[0] += 20.5 * HOUR  # past 2/3 of the CA's 30 h
    made.round()
    assert made.authorities_made == 2
    assert len(bundle_of(secrets, "n1")) == 2  # published beside the old one ...
    assert agent_leaf(secrets, "n1").issuer == old  # ... which still signs
    now[0] += 61  # propagated: the new one signs, every certificate is issued again
    made.round()
    assert agent_leaf(secrets, "n1").issuer != old and agent_leaf(secrets, "n2").issuer != old
    assert len(bundle_of(secrets, "n2")) == 2  # the renewed certificates are still loading
    now[0] += 61
    made.round()
    assert len(bundle_of(secrets, "n1")) == 1  # the old CA has left the bundle
    authority = secrets.items[AUTHORITY_SECRET]
    assert sum(name.endswith(".key") for name in authority.data) == 1
    assert leaf_of(material_cert(made)).issuer == agent_leaf(secrets, "n1").issuer
    assert material.loads >= 3


def material_cert(made: CertificateIssuer) -> bytes:
    assert made._own is not None
    assert leaf_of(made._own.cert).identity == OPERATOR_NAME
    return made._own.cert


def test_an_agent_without_a_lease_loses_its_secret_and_a_standby_writes_nothing():
    secrets, now = MemorySecrets(), [T0]
    nodes = ["n1", "n2"]
    made, _ = issuer(secrets, nodes, now)
    made.round()
    nodes.remove("n2")
    made.round()
    assert agent_tls_secret_name("n2") not in secrets.items
    standby, material = issuer(secrets, ["n1", "n3"], now, acting=False)
    writes = secrets.writes
    standby.round()
    assert secrets.writes == writes and agent_tls_secret_name("n3") not in secrets.items
    assert material.ready  # it can call the agents the moment it acts


def test_a_conflicting_write_of_the_ca_is_left_for_the_next_round():
    secrets, now = MemorySecrets(), [T0]
    first, _ = issuer(secrets, ["n1"], now)
    first.round()
    authority = secrets.items[AUTHORITY_SECRET]
    agent = secrets.items[agent_tls_secret_name("n1")]
    late, _ = issuer(secrets, ["n1"], now)
    real_read = secrets.read
    # it read the CA Secret before the other operator created it
    secrets.read = lambda name: None if name == AUTHORITY_SECRET else real_read(name)  # type: ignore[method-assign]
    late.round()
    secrets.read = real_read  # type: ignore[method-assign]
    assert secrets.items[AUTHORITY_SECRET] == authority  # its write was refused ...
    assert secrets.items[agent_tls_secret_name("n1")] == agent  # ... and it stopped there
    late.round()  # next round: it uses the CA that is there
    assert late.authorities_made == 1 and secrets.items[AUTHORITY_SECRET] == authority
