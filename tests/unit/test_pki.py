"""The renewal decisions of the operator's certificate authority (statecast.core.pki),
which certificate requests it signs, and the certificates statecast.pki.certs makes for
them."""

from __future__ import annotations

import time

import pytest

from statecast.core.pki import (
    BACKDATE,
    NODE_NAME_EXTRA,
    OPERATOR_NAME,
    Authority,
    Leaf,
    PkiSettings,
    SigningRequest,
    agent_name,
    authority_plan,
    identity_of,
    leaf_from_note,
    leaf_note,
    leaf_renewal,
    node_of,
    request_verdict,
)
from statecast.pki.certs import (
    authority_of,
    issue,
    leaf_of,
    new_authority,
    new_request,
    request_names,
    sign_request,
    split_bundle,
)
from statecast.pki.contexts import TlsMaterial

DAY = 86400.0
S = PkiSettings(authority_lifetime=300 * DAY, leaf_lifetime=DAY, propagation=60.0)


def ca(key: str, born: float, life: float = 300 * DAY, published: float | None = None) -> Authority:
    return Authority(key, born - BACKDATE, born + life, born if published is None else published)


def leaf(identity: str, issuer: str, issued: float, life: float = DAY) -> Leaf:
    return Leaf(identity, issuer, issued - BACKDATE, issued + life)


@pytest.mark.parametrize(
    ("leaf_", "now", "reason"),
    [
        (None, 0.0, "missing"),
        (leaf(agent_name("n2"), "A", 0.0), 10.0, "identity"),
        (leaf(agent_name("n1"), "A", 0.0), DAY + 1, "expired"),
        (leaf(agent_name("n1"), "B", 0.0), 10.0, "issuer"),
        (leaf(agent_name("n1"), "A", 0.0), 0.5 * DAY, None),
        # 2/3 of the lifetime after the issue (the backdate does not count)
        (leaf(agent_name("n1"), "A", 0.0), 2 / 3 * DAY - 1, None),
        (leaf(agent_name("n1"), "A", 0.0), 2 / 3 * DAY + 1, "renew"),
        # a short lifetime is not renewed at once for its backdate
        (leaf(agent_name("n1"), "A", 0.0, life=60.0), 30.0, None),
        (leaf(agent_name("n1"), "A", 0.0, life=60.0), 41.0, "renew"),
    ],
)
def test_when_a_certificate_is_issued_anew(leaf_, now, reason):
    assert leaf_renewal(leaf_, agent_name("n1"), "A", now, S) == reason


def test_the_first_authority_is_made_and_signs_at_once():
    plan = authority_plan([], [], 0.0, S)
    assert plan.create and plan.signing is None and plan.bundle == ()
    young = authority_plan([ca("A", 0.0)], [], 1.0, S)  # not yet propagated, but alone
    assert not young.create and young.signing == "A" and young.bundle == ("A",)


def test_an_authority_rolls_over_with_its_bundle_overlapping_old_and_new():
    old = ca("A", 0.0)
    late = 0.7 * 300 * DAY  # past 2/3 of the old authority's life
    agents = [leaf(agent_name(n), "A", late - 1000) for n in ("n1", "n2")]
    plan = authority_plan([old], agents, late, S)
    assert plan.create and plan.signing == "A"  # the new one is published, the old still signs
    new = ca("B", late)
    # before the new one has propagated: the old signs, both are trusted
    plan = authority_plan([old, new], agents, late + 30, S)
    assert (plan.create, plan.signing, plan.bundle, plan.drop) == (False, "A", ("A", "B"), ())
    # propagated: the new one signs; certificates of the old one keep it in the bundle
    plan = authority_plan([old, new], agents, late + 61, S)
    assert plan.signing == "B" and plan.bundle == ("A", "B")
    assert leaf_renewal(agents[0], agent_name("n1"), "B", late + 61, S) == "issuer"
    renewed = [leaf(agent_name(n), "B", late + 62) for n in ("n1", "n2")]
    # every certificate renewed, but maybe not loaded yet: the old one stays a while
    assert authority_plan([old, new], renewed, late + 100, S).bundle == ("A", "B")
    plan = authority_plan([old, new], renewed, late + 62 + 61, S)
    assert plan.bundle == ("B",) and plan.drop == ("A",) and plan.signing == "B"
    # one certificate of the old authority still held: the old one stays
    mixed = [renewed[0], agents[1]]
    assert authority_plan([old, new], mixed, late + 1000, S).bundle == ("A", "B")


def test_an_expired_authority_is_dropped_and_a_new_one_made():
    plan = authority_plan([ca("A", 0.0, life=DAY)], [], DAY + 1, S)
    assert plan.create and plan.drop == ("A",) and plan.bundle == ()


@pytest.mark.parametrize(
    ("names", "identity", "node"),
    [
        ([agent_name("node-1")], agent_name("node-1"), "node-1"),
        (
            ["x.example", agent_name("ip-10-0-0-1.ec2.internal")],
            agent_name("ip-10-0-0-1.ec2.internal"),
            "ip-10-0-0-1.ec2.internal",
        ),
        ([OPERATOR_NAME], OPERATOR_NAME, None),
        (["agent.statecast", "evil.example"], None, None),
        ([], None, None),
    ],
)
def test_identity_of_a_certificate(names, identity, node):
    assert identity_of(names) == identity
    assert node_of(identity) == node


def test_issued_certificates_read_back_as_the_core_sees_them():
    now = time.time()
    authority = new_authority(now, 10 * DAY)
    facts = authority_of(authority.cert, published=now)
    pair = issue(authority, agent_name("node-1"), now, DAY)
    got = leaf_of(pair.cert)
    assert got.identity == agent_name("node-1") and got.issuer == facts.key_id
    assert got.issued == pytest.approx(now, abs=1)
    assert got.not_after == pytest.approx(now + DAY, abs=1)
    capped = leaf_of(issue(authority, OPERATOR_NAME, now, 100 * DAY).cert)
    assert capped.not_after == facts.not_after  # never outlives its authority
    other = new_authority(now, DAY)
    assert split_bundle(authority.cert + other.cert) == [authority.cert, other.cert]
    assert split_bundle(b"") == []


AGENTS = "system:serviceaccount:statecast-system:statecast-agent"
ON_N1 = {NODE_NAME_EXTRA: ["n1"], "authentication.kubernetes.io/pod-name": ["a-n1"]}


@pytest.mark.parametrize(
    ("request_", "node", "why"),
    [
        (SigningRequest(AGENTS, ON_N1, (agent_name("n1"),)), "n1", "node n1"),
        # another node's name, from a Pod on n1: what a compromised agent would try
        (SigningRequest(AGENTS, ON_N1, (agent_name("n2"),)), None, "may hold only"),
        (SigningRequest(AGENTS, ON_N1, (agent_name("n1"), agent_name("n2"))), None, "only"),
        (SigningRequest(AGENTS, ON_N1, (OPERATOR_NAME,)), None, "may hold only"),
        (SigningRequest(AGENTS, ON_N1, (agent_name("n1"),), other_names=1), None, "1 other"),
        (SigningRequest(AGENTS, ON_N1, ()), None, "no DNS name"),
        # a token not bound to a Pod (no node), or naming two
        (SigningRequest(AGENTS, {}, (agent_name("n1"),)), None, "names no node"),
        (SigningRequest(AGENTS, {NODE_NAME_EXTRA: ["n1", "n2"]}, ()), None, "names no node"),
        # another ServiceAccount (a workload on n1), or a person
        (
            SigningRequest("system:serviceaccount:shop:checkout", ON_N1, (agent_name("n1"),)),
            None,
            "not system:serviceaccount:statecast-system:statecast-agent",
        ),
        (SigningRequest("alice", ON_N1, (agent_name("n1"),)), None, "requested by alice"),
        (SigningRequest(AGENTS, ON_N1, (agent_name("n1"),), proof=False), None, "not signed"),
        (SigningRequest(AGENTS, ON_N1, (agent_name("n1"),), key=False), None, "unsupported"),
    ],
)
def test_a_certificate_request_is_signed_only_for_the_requesters_own_node(request_, node, why):
    verdict = request_verdict(request_, AGENTS)
    assert verdict.node == node and why in verdict.reason


def test_what_an_agent_says_of_its_certificate_reads_back():
    held = Leaf(agent_name("n1"), "abc", 10.0, 20.0)
    assert leaf_from_note("n1", leaf_note(held)) == held
    for bad in (
        "",
        "{",
        "[]",
        '{"issuer": "a"}',
        '{"issuer": "a", "notBefore": "x", "notAfter": 1}',
    ):
        assert leaf_from_note("n1", bad) is None
    assert leaf_from_note("n1", '{"issuer": "a", "notBefore": NaN, "notAfter": 1}') is None


def test_a_request_is_signed_with_its_own_key_and_our_extensions_only():
    now = time.time()
    authority = new_authority(now, DAY)
    request = new_request(agent_name("n1"))
    assert request_names(request.cert) == ((agent_name("n1"),), 0, True, True)
    certificate = sign_request(authority, request.cert, agent_name("n1"), now, 600.0)
    held = leaf_of(certificate)
    assert held.identity == agent_name("n1")
    assert held.not_after - held.not_before == pytest.approx(600.0 + BACKDATE)
    loaded = TlsMaterial()  # the certificate goes with the requester's key
    assert loaded.load(certificate, request.key, authority.cert)
    with pytest.raises(ValueError, match="PEM"):
        request_names(b"not a request")
