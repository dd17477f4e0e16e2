"""The operator's certificate issuer: a CA and every agent's certificate, in Secrets.

Every round (``statecast operator --tls``, every 10 s) the acting operator:

1. reads its authorities from ``Secret statecast-ca`` (each CA's certificate and key,
   when each was published, which one signs, the trust bundle ``ca.crt``) and asks
   :func:`statecast.core.pki.authority_plan` whether to make a new one, which signs,
   which are trusted and which go; writes the Secret back when that changed;
2. for every agent with a Lease, reads ``Secret statecast-agent-tls-<node>`` and asks
   :func:`statecast.core.pki.leaf_renewal` whether to issue it anew (missing, expiring,
   signed by an authority that no longer signs); writes a new key pair, or only the
   new bundle, when needed; deletes the Secrets of agents whose Lease is gone;
3. keeps its own certificate (in memory, never in a Secret) the same way, and loads it
   with the bundle for its calls to the agents.

Every operator runs it, standbys too (it needs no Kubernetes event, and a round with
nothing due writes nothing): each write is made at the resource version it read, so
when two operators decide the same renewal one write wins and the other is refused
and left for the next round. (``acting`` can confine the writes to one operator; a
non-acting one only does step 3.) The agents load their Secret within their reload
period.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from statecast.api.lease import AGENT_TLS_SECRET_PREFIX, AUTHORITY_SECRET, agent_tls_secret_name
from statecast.api.types import GROUP
from statecast.core.pki import (
    OPERATOR_NAME,
    Authority,
    Leaf,
    PkiSettings,
    agent_name,
    authority_plan,
    leaf_renewal,
)
from statecast.core.reconcile.views import AgentLease
from statecast.pki.certs import KeyPair, authority_of, issue, leaf_of, new_authority
from statecast.pki.contexts import TlsMaterial

__all__ = ["CertificateIssuer", "KubeSecrets", "SecretRecord", "SecretStore"]

log = logging.getLogger(__name__)

PUBLISHED_ANNOTATION = f"{GROUP}/published"
SIGNING_ANNOTATION = f"{GROUP}/signing"
#: The label of the Secrets the issuer writes (``authority`` or ``agent``).
TLS_LABEL = f"{GROUP}/tls"
BUNDLE_KEY = "ca.crt"
#: The Role through which the agents read their Secrets (rules kept by the issuer).
AGENT_ROLE = "statecast-agent-tls"


@dataclass(frozen=True)
class SecretRecord:
    """A Secret as the issuer reads and writes it."""

    name: str
    data: dict[str, bytes]
    annotations: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    resource_version: str | None = None
    type: str = "Opaque"


class SecretStore(Protocol):
    """The Secrets of one namespace."""

    def read(self, name: str) -> SecretRecord | None:
        """A Secret, or None when it does not exist."""
        ...

    def write(self, record: SecretRecord) -> bool:
        """Create it (no resource version) or replace it (at its resource version).

        Returns False when another writer came first (409).
        """
        ...

    def names(self, label: str, value: str) -> list[str]:
        """The names of the Secrets labelled ``label=value``."""
        ...

    def delete(self, name: str) -> None:
        """Delete a Secret (gone already is fine)."""
        ...

    def grant(self, names: list[str]) -> None:
        """Let the agents read exactly the Secrets ``names`` (and no other)."""
        ...


class KubeSecrets:
    """:class:`SecretStore` on the ``kubernetes`` client.

    Args:
        core: A ``CoreV1Api``.
        namespace: The agents' namespace.
    """

    def __init__(self, core: Any, namespace: str) -> None:
        from kubernetes import client

        self.core, self.namespace = core, namespace
        self.rbac = client.RbacAuthorizationV1Api(core.api_client)
        self._granted: list[str] | None = None

    def read(self, name: str) -> SecretRecord | None:
        """See :class:`SecretStore`."""
        import base64

        from kubernetes.client.exceptions import ApiException

        try:
            obj = self.core.read_namespaced_secret(name, self.namespace)
        except ApiException as err:
            if err.status == 404:
                return None
            raise
        meta = obj.metadata
        return SecretRecord(
            name=name,
            data={k: base64.b64decode(v) for k, v in (obj.data or {}).items()},
            annotations=dict(meta.annotations or {}),
            labels=dict(meta.labels or {}),
            resource_version=meta.resource_version,
            type=obj.type or "Opaque",
        )

    def write(self, record: SecretRecord) -> bool:
        """See :class:`SecretStore`."""
        import base64

        from kubernetes.client.exceptions import ApiException

        body = {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": record.type,
            "metadata": {
                "name": record.name,
                "annotations": record.annotations,
                "labels": {"app.kubernetes.io/managed-by": "statecast", **record.labels},
                **({"resourceVersion": record.resource_version} if record.resource_version else {}),
            },
            "data": {k: base64.b64encode(v).decode() for k, v in record.data.items()},
        }
        try:
            if record.resource_version is None:
                self.core.create_namespaced_secret(self.namespace, body)
            else:
                self.core.replace_namespaced_secret(record.name, self.namespace, body)
        except ApiException as err:
            if err.status == 409:
                return False
            raise
        return True

    def names(self, label: str, value: str) -> list[str]:
        """See :class:`SecretStore`."""
        found = self.core.list_namespaced_secret(self.namespace, label_selector=f"{label}={value}")
        return [item.metadata.name for item in found.items]

    def delete(self, name: str) -> None:
        """See :class:`SecretStore`."""
        from kubernetes.client.exceptions import ApiException

        try:
            self.core.delete_namespaced_secret(name, self.namespace)
        except ApiException as err:
            if err.status != 404:
                raise

    def _read_role(self) -> Any:
        from kubernetes.client.exceptions import ApiException

        try:
            return self.rbac.read_namespaced_role(AGENT_ROLE, self.namespace)
        except ApiException as err:
            if err.status != 404:
                raise
        log.warning("event=agent-role-missing role=%s/%s", self.namespace, AGENT_ROLE)
        return None

    def grant(self, names: list[str]) -> None:
        """See :class:`SecretStore`: the rules of Role ``statecast-agent-tls``.

        A DaemonSet's pods share one ServiceAccount, so this cannot give each agent its
        own Secret only; it keeps ``statecast-ca`` (the CA keys) out of their reach. A
        missing Role (an install without it) is logged and left alone.
        """
        if names == self._granted:
            return
        role: Any = self._read_role()
        if role is None:
            return
        current = [(r.api_groups, r.resources, r.verbs, r.resource_names) for r in role.rules or []]
        wanted = [([""], ["secrets"], ["get"], names)] if names else []
        if current != wanted:
            rule = {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}
            role.rules = [{**rule, "resourceNames": names}] if names else []
            self.rbac.replace_namespaced_role(AGENT_ROLE, self.namespace, role)
            log.info("event=agent-role-updated secrets=%d", len(names))
        self._granted = names


@dataclass
class _Authorities:
    """The authorities of the CA Secret, by key id."""

    pairs: dict[str, KeyPair]
    facts: dict[str, Authority]
    signing: str | None
    bundle: tuple[str, ...]
    record: SecretRecord | None

    def bundle_pem(self) -> bytes:
        return b"".join(self.pairs[k].cert for k in self.bundle)

    def to_record(self) -> SecretRecord:
        data: dict[str, bytes] = {BUNDLE_KEY: self.bundle_pem()}
        for key_id, pair in self.pairs.items():
            data[f"{key_id}.crt"], data[f"{key_id}.key"] = pair.cert, pair.key
        published = {k: a.published for k, a in self.facts.items()}
        return SecretRecord(
            name=AUTHORITY_SECRET,
            data=data,
            annotations={
                PUBLISHED_ANNOTATION: json.dumps(published, sort_keys=True),
                SIGNING_ANNOTATION: self.signing or "",
            },
            labels={TLS_LABEL: "authority"},
            resource_version=self.record.resource_version if self.record else None,
        )


def _read_authorities(record: SecretRecord | None) -> _Authorities:
    if record is None:
        return _Authorities({}, {}, None, (), None)
    published = json.loads(record.annotations.get(PUBLISHED_ANNOTATION) or "{}")
    pairs, facts = {}, {}
    for name, cert in record.data.items():
        key_id = name.removesuffix(".crt")
        if name == BUNDLE_KEY or not name.endswith(".crt") or f"{key_id}.key" not in record.data:
            continue
        pairs[key_id] = KeyPair(cert, record.data[f"{key_id}.key"])
        fact = authority_of(cert, published=float(published.get(key_id, 0.0)))
        facts[key_id] = fact
    bundle_ids = tuple(sorted(facts, key=lambda k: facts[k].not_before))
    signing = record.annotations.get(SIGNING_ANNOTATION) or None
    return _Authorities(pairs, facts, signing if signing in pairs else None, bundle_ids, record)


class CertificateIssuer:
    """Issues and renews the CA and the agents' certificates (see the module docstring).

    Args:
        secrets: The Secrets of the agents' namespace.
        leases: The agents' Leases (whose nodes get certificates).
        material: The operator's own TLS material, loaded here.
        settings: Lifetimes, renewal point and propagation time.
        acting: Whether this operator acts (a standby only keeps its own certificate).
        clock: Seconds since the epoch.
    """

    def __init__(
        self,
        secrets: SecretStore,
        leases: Callable[[], Iterable[AgentLease]],
        material: TlsMaterial,
        settings: PkiSettings,
        acting: Callable[[], bool] = lambda: True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.secrets, self.leases, self.material = secrets, leases, material
        self.settings, self.acting, self.clock = settings, acting, clock
        self._own: KeyPair | None = None
        #: Certificates issued to agents, and authorities made (for logs and tests).
        self.issued = 0
        self.authorities_made = 0

    def round(self) -> None:
        """One pass (errors of the API server propagate: the next round tries again)."""
        now = self.clock()
        held = _read_authorities(self.secrets.read(AUTHORITY_SECRET))
        if self.acting():
            nodes = sorted({lease.node for lease in self.leases()})
            agents = {n: self.secrets.read(agent_tls_secret_name(n)) for n in nodes}
            leaves = [leaf for record in agents.values() if (leaf := _leaf(record)) is not None]
            if (own := self._own_leaf()) is not None:
                leaves.append(own)
            if not self._plan(held, leaves, now):
                return  # another operator wrote the CA Secret first: next round
            for node in nodes:
                self._keep_agent(node, agents[node], held, now)
            self._forget_others(nodes)
            self.secrets.grant([agent_tls_secret_name(n) for n in nodes])
        if held.signing is not None:
            self._keep_own(held, now)

    def _plan(self, held: _Authorities, leaves: list[Leaf], now: float) -> bool:
        plan = authority_plan(list(held.facts.values()), leaves, now, self.settings)
        before = (held.signing, held.bundle, tuple(sorted(held.pairs)))
        for key_id in plan.drop:
            held.pairs.pop(key_id, None)
            held.facts.pop(key_id, None)
            log.info("event=authority-dropped key_id=%s", key_id)
        held.bundle, held.signing = plan.bundle, plan.signing
        if plan.create:
            pair = new_authority(now, self.settings.authority_lifetime)
            fact = authority_of(pair.cert, published=now)
            held.pairs[fact.key_id], held.facts[fact.key_id] = pair, fact
            held.bundle = (*held.bundle, fact.key_id)
            held.signing = held.signing or fact.key_id
            self.authorities_made += 1
            log.info("event=authority-made key_id=%s signing=%s", fact.key_id, held.signing)
        if (held.signing, held.bundle, tuple(sorted(held.pairs))) == before and held.record:
            return True
        written = self.secrets.write(held.to_record())
        if written:
            held.record = self.secrets.read(AUTHORITY_SECRET)
        return written

    def _keep_agent(
        self, node: str, record: SecretRecord | None, held: _Authorities, now: float
    ) -> None:
        assert held.signing is not None
        bundle = held.bundle_pem()
        reason = leaf_renewal(_leaf(record), agent_name(node), held.signing, now, self.settings)
        if reason is None and record is not None and record.data.get(BUNDLE_KEY) == bundle:
            return
        data = dict(record.data) if record is not None and reason is None else {}
        if reason is not None:
            pair = issue(
                held.pairs[held.signing], agent_name(node), now, self.settings.leaf_lifetime
            )
            data = {"tls.crt": pair.cert, "tls.key": pair.key}
        data[BUNDLE_KEY] = bundle
        written = self.secrets.write(
            SecretRecord(
                name=agent_tls_secret_name(node),
                data=data,
                annotations={f"{GROUP}/node": node},
                labels={TLS_LABEL: "agent"},
                resource_version=record.resource_version if record else None,
                type="kubernetes.io/tls",
            )
        )
        if written and reason is not None:
            self.issued += 1
            log.info("event=certificate-issued node=%s reason=%s", node, reason)
        elif written:
            log.info("event=bundle-updated node=%s", node)

    def _forget_others(self, nodes: list[str]) -> None:
        keep = {agent_tls_secret_name(n) for n in nodes}
        for name in self.secrets.names(TLS_LABEL, "agent"):
            if name.startswith(AGENT_TLS_SECRET_PREFIX) and name not in keep:
                self.secrets.delete(name)
                log.info("event=certificate-deleted secret=%s (no agent Lease)", name)

    def _own_leaf(self) -> Leaf | None:
        return leaf_of(self._own.cert) if self._own is not None else None

    def _keep_own(self, held: _Authorities, now: float) -> None:
        assert held.signing is not None
        settings = self.settings
        reason = leaf_renewal(self._own_leaf(), OPERATOR_NAME, held.signing, now, settings)
        if reason is not None:
            pair = held.pairs[held.signing]
            self._own = issue(pair, OPERATOR_NAME, now, settings.leaf_lifetime)
        assert self._own is not None
        if self.material.load(self._own.cert, self._own.key, held.bundle_pem()):
            log.info("event=operator-tls-loaded reason=%s", reason or "bundle")


def _leaf(record: SecretRecord | None) -> Leaf | None:
    if record is None or "tls.crt" not in record.data:
        return None
    try:
        return leaf_of(record.data["tls.crt"])
    except ValueError:
        return None
