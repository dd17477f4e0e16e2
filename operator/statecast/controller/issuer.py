"""The operator's certificate authority: its CAs, the trust bundle, its own certificate.

Every round (``statecast operator --tls``, every 10 s) the acting operator:

1. reads its authorities from ``Secret statecast-ca`` (each CA's certificate and key,
   when each was published, which one signs, the trust bundle ``ca.crt``) and asks
   :func:`statecast.core.pki.authority_plan` whether to make a new one, which signs,
   which are trusted and which go - given the certificates the agents say they hold
   (their Leases' ``statecast.io/certificate``) and its own; writes the Secret back when
   that changed;
2. publishes the bundle and which authority signs in ``ConfigMap statecast-ca-bundle``
   (public: every agent reads it), and deletes the agents' key Secrets of an earlier
   release (``statecast-agent-tls-<node>``: agents now keep their own keys);
3. keeps its own certificate (in memory, never in a Secret) the same way, and loads it
   with the bundle for its calls to the agents.

The agents' certificates are signed by :mod:`statecast.controller.signer`, from the
requests the agents make with keys they keep. Every operator runs this, standbys too (a
round with nothing due writes nothing): each write is made at the resource version it
read, so when two operators decide the same change one write wins and the other is
refused and left for the next round. (``acting`` can confine the writes to one
operator; a non-acting one only does step 3.)
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from statecast.api.lease import (
    AGENT_TLS_SECRET_PREFIX,
    AUTHORITY_SECRET,
    BUNDLE_CONFIGMAP,
    BUNDLE_SIGNING_KEY,
)
from statecast.api.types import GROUP
from statecast.core.pki import (
    OPERATOR_NAME,
    Authority,
    Leaf,
    PkiSettings,
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

    def publish(self, bundle: bytes, signing: str) -> bool:
        """Publish the trust bundle and the signing authority's key id to the agents.

        In ConfigMap ``statecast-ca-bundle``; True when it changed.
        """
        ...


class KubeSecrets:
    """:class:`SecretStore` on the ``kubernetes`` client.

    Args:
        core: A ``CoreV1Api``.
        namespace: The agents' namespace.
    """

    def __init__(self, core: Any, namespace: str) -> None:
        self.core, self.namespace = core, namespace

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

    def publish(self, bundle: bytes, signing: str) -> bool:
        """See :class:`SecretStore`."""
        from kubernetes.client.exceptions import ApiException

        try:
            current = self.core.read_namespaced_config_map(BUNDLE_CONFIGMAP, self.namespace)
        except ApiException as err:
            if err.status != 404:
                raise
            current = None
        data = {BUNDLE_KEY: bundle.decode("ascii"), BUNDLE_SIGNING_KEY: signing}
        if current is not None and (current.data or {}) == data:
            return False
        body: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": BUNDLE_CONFIGMAP,
                "labels": {"app.kubernetes.io/managed-by": "statecast", TLS_LABEL: "bundle"},
            },
            "data": data,
        }
        try:
            if current is None:
                self.core.create_namespaced_config_map(self.namespace, body)
            else:
                body["metadata"]["resourceVersion"] = current.metadata.resource_version
                self.core.replace_namespaced_config_map(BUNDLE_CONFIGMAP, self.namespace, body)
        except ApiException as err:
            if err.status == 409:
                return False
            raise
        return True


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
    """Keeps the CAs, the published bundle and its own certificate (module docstring).

    Args:
        secrets: The Secrets of the agents' namespace.
        leases: The agents' Leases (which certificates they hold).
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
        #: Authorities made (for logs and tests).
        self.authorities_made = 0

    def round(self) -> None:
        """One pass (errors of the API server propagate: the next round tries again)."""
        now = self.clock()
        held = _read_authorities(self.secrets.read(AUTHORITY_SECRET))
        if self.acting():
            leases = list(self.leases())
            leaves = [lease.certificate for lease in leases if lease.certificate is not None]
            if (own := self._own_leaf()) is not None:
                leaves.append(own)
            if not self._plan(held, leaves, now):
                return  # another operator wrote the CA Secret first: next round
            assert held.signing is not None
            if self.secrets.publish(held.bundle_pem(), held.signing):
                log.info("event=bundle-published signing=%s", held.signing)
            self._forget_key_secrets()
        if held.signing is not None:
            self._keep_own(held, now)

    def signing_pair(self) -> KeyPair | None:
        """The key pair of the authority that signs now (from its Secret); None before."""
        held = _read_authorities(self.secrets.read(AUTHORITY_SECRET))
        return held.pairs[held.signing] if held.signing is not None else None

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

    def _forget_key_secrets(self) -> None:
        """Delete the agents' key Secrets an earlier release wrote (agents keep their keys)."""
        for name in self.secrets.names(TLS_LABEL, "agent"):
            if name.startswith(AGENT_TLS_SECRET_PREFIX):
                self.secrets.delete(name)
                log.info("event=certificate-secret-deleted secret=%s", name)

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
