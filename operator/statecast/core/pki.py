"""When the operator's certificate authority and the agents' certificates are renewed.

Pure decisions over certificate facts (no cryptography here; the issuing is in
:mod:`statecast.pki`). The operator holds one or more *authorities* (CA key pairs) and
issues every agent a certificate (and itself one) for mutual TLS between agents and
from the operator. Renewal must not cut a connection a Ready replica needs, so:

- a certificate is renewed once ``renew_at`` of its lifetime has passed (2/3 by
  default, as kubelet, linkerd and cert-manager do), long before it expires;
- a new authority is first only *published*: added to the trust bundle beside the old
  one while the old one still signs. Only after ``propagation`` seconds (long enough
  for every agent to have reloaded the bundle) does it sign; the certificates of the old
  one are then renewed, and the old one leaves the bundle ``propagation`` seconds after
  the last of them was replaced. At every moment each party trusts the authority of
  every certificate another party may present.

Agents keep their own keys: each sends a certificate request (a Kubernetes
``CertificateSigningRequest`` for :data:`SIGNER_NAME`), and the operator signs it only
for the node the requester proves it runs on (:func:`request_verdict`): the API server
stamps the request with the requester's identity, and a ServiceAccount token bound to a
Pod carries the Pod's node (:data:`NODE_NAME_EXTRA`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

__all__ = [
    "AGENT_SUFFIX",
    "BACKDATE",
    "NODE_NAME_EXTRA",
    "OPERATOR_NAME",
    "SIGNER_NAME",
    "Authority",
    "AuthorityPlan",
    "Leaf",
    "PkiSettings",
    "SigningRequest",
    "Verdict",
    "agent_name",
    "authority_plan",
    "identity_of",
    "leaf_from_note",
    "leaf_note",
    "leaf_renewal",
    "node_of",
    "request_verdict",
]

#: The DNS name in an agent's certificate is ``<node>`` + this (never resolved: TLS only).
AGENT_SUFFIX = ".agent.statecast"
#: The DNS name in the operator's certificate.
OPERATOR_NAME = "operator.statecast"
#: Certificates are valid from this many seconds before they are issued (clock skew).
BACKDATE = 300.0
#: The ``signerName`` of the agents' certificate requests (signed by the operator only).
SIGNER_NAME = "statecast.io/agent"
#: The user ``extra`` the API server gives a ServiceAccount token bound to a Pod: the
#: node the Pod is bound to (Kubernetes 1.30 and later; checked on our 1.37).
NODE_NAME_EXTRA = "authentication.kubernetes.io/node-name"


def agent_name(node: str) -> str:
    """The name an agent's certificate holds (and its peers verify) for ``node``."""
    return f"{node}{AGENT_SUFFIX}"


def node_of(identity: str | None) -> str | None:
    """The node of an agent's certificate name; None for the operator or anything else."""
    if identity is None or not identity.endswith(AGENT_SUFFIX):
        return None
    node = identity.removesuffix(AGENT_SUFFIX)
    return node or None


def identity_of(dns_names: Iterable[str]) -> str | None:
    """The statecast identity among a certificate's DNS names (agent or operator)."""
    for name in dns_names:
        if name == OPERATOR_NAME or node_of(name) is not None:
            return name
    return None


@dataclass(frozen=True)
class PkiSettings:
    """How long certificates live and when they are renewed.

    Attributes:
        authority_lifetime: seconds a new authority is valid.
        leaf_lifetime: seconds an agent's (or the operator's) certificate is valid.
        renew_at: the fraction of a lifetime after which a certificate is renewed.
        propagation: seconds for every agent to load a changed Secret (a bundle with a
            new authority, a new certificate) - several of their reload periods.
    """

    authority_lifetime: float = 365 * 86400.0
    leaf_lifetime: float = 86400.0
    renew_at: float = 2 / 3
    propagation: float = 60.0

    def __post_init__(self) -> None:
        if not 0 < self.renew_at < 1:
            raise ValueError("renew_at must be between 0 and 1")
        if min(self.authority_lifetime, self.leaf_lifetime, self.propagation) <= 0:
            raise ValueError("lifetimes and propagation must be positive")


@dataclass(frozen=True)
class Authority:
    """One CA the operator holds.

    Attributes:
        key_id: its subject key identifier (hex): what a certificate it signed names.
        not_before: start of validity (seconds since the epoch).
        not_after: end of validity.
        published: when it was first put in the trust bundle.
    """

    key_id: str
    not_before: float
    not_after: float
    published: float


@dataclass(frozen=True)
class Leaf:
    """A certificate issued to an agent (or the operator).

    Attributes:
        identity: the name it holds (:func:`agent_name`, :data:`OPERATOR_NAME`).
        issuer: the key identifier of the authority that signed it.
        not_before: start of validity (:data:`BACKDATE` before it was issued).
        not_after: end of validity.
    """

    identity: str
    issuer: str
    not_before: float
    not_after: float

    @property
    def issued(self) -> float:
        """When it was issued."""
        return self.not_before + BACKDATE


def leaf_note(leaf: Leaf) -> str:
    """What an agent says of the certificate it holds (in its Lease), for the operator."""
    return json.dumps(
        {"issuer": leaf.issuer, "notBefore": leaf.not_before, "notAfter": leaf.not_after},
        sort_keys=True,
    )


def leaf_from_note(node: str, note: str) -> Leaf | None:
    """The certificate an agent says it holds (:func:`leaf_note`); None when unreadable."""
    try:
        raw = json.loads(note)
        leaf = Leaf(
            agent_name(node), str(raw["issuer"]), float(raw["notBefore"]), float(raw["notAfter"])
        )
    except (ValueError, TypeError, KeyError):
        return None
    return leaf if math.isfinite(leaf.not_before) and math.isfinite(leaf.not_after) else None


@dataclass(frozen=True)
class AuthorityPlan:
    """What to do with the authorities now.

    Attributes:
        create: make a new authority (published now; it signs at once only when no
            other valid authority exists).
        signing: the authority that signs new certificates (None: the new one, when
            no authority is held).
        bundle: the authorities every party trusts, oldest first (the new one, when
            created, is added to it).
        drop: authorities to delete (expired, or replaced and no longer needed).
    """

    create: bool
    signing: str | None
    bundle: tuple[str, ...]
    drop: tuple[str, ...]


def _renew_due(not_before: float, not_after: float, now: float, settings: PkiSettings) -> bool:
    """Past ``renew_at`` of the lifetime counted from the issue (not the backdated start)."""
    issued = min(not_before + BACKDATE, not_after)
    return now >= issued + settings.renew_at * (not_after - issued)


def authority_plan(
    authorities: Sequence[Authority],
    leaves: Iterable[Leaf],
    now: float,
    settings: PkiSettings,
) -> AuthorityPlan:
    """Create, sign with, trust and drop which authorities.

    Args:
        authorities: those held (any order).
        leaves: every certificate issued and still held by its party (agents' Secrets,
            the operator's own).
        now: seconds since the epoch.
        settings: lifetimes and propagation.
    """
    valid = sorted((a for a in authorities if a.not_after > now), key=lambda a: a.not_before)
    expired = tuple(a.key_id for a in authorities if a.not_after <= now)
    if not valid:
        return AuthorityPlan(True, None, (), expired)
    newest = valid[-1]
    create = _renew_due(newest.not_before, newest.not_after, now, settings)
    mature = [a for a in valid if a.published + settings.propagation <= now]
    # the newest authority every party trusts by now signs; before any is (the first
    # authority ever), the newest: nothing can present an older one's certificate
    signing = mature[-1] if mature else newest
    leaves = list(leaves)
    by_issuer: dict[str, list[Leaf]] = {}
    for leaf in leaves:
        by_issuer.setdefault(leaf.issuer, []).append(leaf)
    replaced_at = max(
        (leaf.issued for leaf in by_issuer.get(signing.key_id, ())), default=float("-inf")
    )
    keep: list[str] = []
    drop = list(expired)
    for authority in valid:
        older = authority.not_before < signing.not_before
        needed = (
            not older
            or authority.key_id in by_issuer  # a certificate it signed is still in use
            or now < replaced_at + settings.propagation  # the last renewal is loading
        )
        (keep if needed else drop).append(authority.key_id)
    return AuthorityPlan(create, signing.key_id, tuple(keep), tuple(drop))


def leaf_renewal(
    leaf: Leaf | None,
    identity: str,
    signing: str,
    now: float,
    settings: PkiSettings,
) -> str | None:
    """Why ``identity``'s certificate must be issued anew now; None when it may stay.

    Reasons: ``missing``, ``identity`` (it names someone else), ``expired``, ``issuer``
    (an authority that no longer signs: a rollover), ``renew`` (past ``renew_at`` of its
    lifetime).
    """
    if leaf is None:
        return "missing"
    if leaf.identity != identity:
        return "identity"
    if leaf.not_after <= now:
        return "expired"
    if leaf.issuer != signing:
        return "issuer"
    if _renew_due(leaf.not_before, leaf.not_after, now, settings):
        return "renew"
    return None


@dataclass(frozen=True)
class SigningRequest:
    """What the operator checks of an agent's certificate request before signing it.

    Attributes:
        username: who created it, as the API server authenticated them.
        extra: their user ``extra`` (the API server's, never the requester's word).
        dns_names: the DNS names it asks for.
        other_names: how many names of other kinds it asks for (IP addresses, e-mail
            addresses, URIs): an agent asks for none.
        proof: its signature verifies with its public key (the requester holds the key).
        key: a key type we sign (ECDSA P-256, or RSA of 2048 bits or more).
    """

    username: str
    extra: Mapping[str, Sequence[str]] = field(default_factory=dict)
    dns_names: tuple[str, ...] = ()
    other_names: int = 0
    proof: bool = True
    key: bool = True


@dataclass(frozen=True)
class Verdict:
    """Sign (``node`` set: the certificate names that node's agent) or deny (``reason``)."""

    node: str | None
    reason: str


def request_verdict(request: SigningRequest, agent_user: str) -> Verdict:
    """Whether to sign ``request``, and for which node.

    Signed only when the agents' ServiceAccount (``agent_user``, the full user name
    ``system:serviceaccount:<namespace>:<name>``) asked, with a token bound to a Pod on
    one node, for exactly that node's agent name: a compromised agent can get a
    certificate for its own node only, and any other workload none.
    """
    if not request.proof:
        return Verdict(None, "the request is not signed by the key it holds")
    if not request.key:
        return Verdict(None, "unsupported key (ECDSA P-256 or RSA of 2048 bits or more)")
    if request.username != agent_user:
        return Verdict(None, f"requested by {request.username}, not {agent_user}")
    nodes = list(request.extra.get(NODE_NAME_EXTRA, ()))
    if len(nodes) != 1 or not nodes[0]:
        return Verdict(
            None,
            f"the requester's token names no node ({NODE_NAME_EXTRA}): use a token bound"
            " to the agent's Pod",
        )
    node = nodes[0]
    wanted = (agent_name(node),)
    if request.other_names or request.dns_names != wanted:
        asked = ", ".join(request.dns_names) or "no DNS name"
        extra = f" and {request.other_names} other names" if request.other_names else ""
        return Verdict(
            None, f"asks for {asked}{extra}; a requester on node {node} may hold only {wanted[0]}"
        )
    return Verdict(node, f"requested from a Pod on node {node}")
