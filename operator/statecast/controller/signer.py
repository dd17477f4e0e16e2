"""The operator signs the agents' certificate requests, each for its own node only.

An agent keeps its private key and asks for a certificate with a Kubernetes
``CertificateSigningRequest`` for signer ``statecast.io/agent``, made with its Pod's
ServiceAccount token. The API server records who made the request (user name and
``extra``; a token bound to a Pod carries its node, ``authentication.kubernetes.io/
node-name``), which no requester can write. Every round the operator lists the pending
requests of that signer and, for each, asks :func:`statecast.core.pki.request_verdict`:
a request of the agents' ServiceAccount from a Pod on node N for exactly
``N.agent.statecast`` is approved and signed by the signing CA (the certificate's
extensions are ours, whatever the request asked); any other is denied with the reason.
kube-controller-manager deletes signed and denied requests after an hour.
"""

from __future__ import annotations

import base64
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from statecast.core.pki import (
    SIGNER_NAME,
    PkiSettings,
    SigningRequest,
    agent_name,
    request_verdict,
)
from statecast.pki.certs import KeyPair, request_names, sign_request

__all__ = ["KubeRequests", "RequestRecord", "RequestSigner", "RequestStore", "agent_user"]

log = logging.getLogger(__name__)

#: The reason of the conditions the signer sets.
APPROVED_REASON = "StatecastNodeVerified"
DENIED_REASON = "StatecastNodeMismatch"


def agent_user(namespace: str) -> str:
    """The user name of the agents' ServiceAccount in ``namespace``.

    As the API server writes it; the account is ``STATECAST_AGENT_SERVICE_ACCOUNT``
    (default ``statecast-agent``).
    """
    account = os.environ.get("STATECAST_AGENT_SERVICE_ACCOUNT", "statecast-agent")
    return f"system:serviceaccount:{namespace}:{account}"


@dataclass(frozen=True)
class RequestRecord:
    """A pending certificate request as the signer reads it."""

    name: str
    request: bytes
    username: str
    extra: Mapping[str, Sequence[str]] = field(default_factory=dict)
    approved: bool = False


class RequestStore(Protocol):
    """The certificate requests of signer ``statecast.io/agent``."""

    def pending(self) -> list[RequestRecord]:
        """Requests with no certificate yet, neither denied nor failed."""
        ...

    def approve(self, record: RequestRecord, message: str) -> bool:
        """Mark it approved; False when another writer came first."""
        ...

    def deny(self, record: RequestRecord, message: str) -> None:
        """Mark it denied with ``message`` (a conflict is left for the next round)."""
        ...

    def issue(self, record: RequestRecord, certificate: bytes) -> bool:
        """Give it its certificate (PEM); False when another writer came first."""
        ...


def _facts(record: RequestRecord) -> SigningRequest:
    try:
        dns, others, proof, key = request_names(record.request)
    except ValueError:
        return SigningRequest(record.username, record.extra, proof=False)
    return SigningRequest(record.username, record.extra, dns, others, proof, key)


class RequestSigner:
    """Approves and signs (or denies) the agents' requests (see the module docstring).

    Args:
        store: The certificate requests.
        authority: The signing CA's key pair (None while there is none yet).
        agent_user: The agents' ServiceAccount as a user name
            (``system:serviceaccount:<namespace>:statecast-agent``).
        settings: The certificates' lifetime.
        clock: Seconds since the epoch.
    """

    def __init__(
        self,
        store: RequestStore,
        authority: Callable[[], KeyPair | None],
        agent_user: str,
        settings: PkiSettings,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store, self.authority, self.agent_user = store, authority, agent_user
        self.settings, self.clock = settings, clock
        #: Requests signed and denied (for logs and tests).
        self.signed = 0
        self.denied = 0

    def round(self) -> None:
        """One pass over the pending requests (API errors propagate: next round)."""
        pending = self.store.pending()
        if not pending:
            return
        authority = self.authority()
        if authority is None:
            return  # no CA yet: the issuer makes one, the requests wait
        for record in pending:
            verdict = request_verdict(_facts(record), self.agent_user)
            if verdict.node is None:
                self.store.deny(record, verdict.reason)
                self.denied += 1
                log.warning(
                    "event=certificate-request-denied request=%s user=%s reason=%s",
                    record.name, record.username, verdict.reason,
                )  # fmt: skip
                continue
            if not record.approved and not self.store.approve(record, verdict.reason):
                continue
            name = agent_name(verdict.node)
            now, lifetime = self.clock(), self.settings.leaf_lifetime
            if self.store.issue(
                record, sign_request(authority, record.request, name, now, lifetime)
            ):
                self.signed += 1
                log.info("event=certificate-issued node=%s request=%s", verdict.node, record.name)


class KubeRequests:
    """:class:`RequestStore` on the ``kubernetes`` client (``certificates.k8s.io/v1``).

    Args:
        api: An ``ApiClient``.
    """

    def __init__(self, api: Any) -> None:
        from kubernetes import client

        self.client = client
        self.certificates = client.CertificatesV1Api(api)
        self._objects: dict[str, Any] = {}

    def pending(self) -> list[RequestRecord]:
        """See :class:`RequestStore`."""
        found = self.certificates.list_certificate_signing_request(
            field_selector=f"spec.signerName={SIGNER_NAME}"
        )
        self._objects = {}
        records = []
        for item in found.items:
            name = (item.metadata.name if item.metadata else None) or ""
            status = item.status
            kinds = {c.type for c in (status.conditions if status else None) or []}
            if (status and status.certificate) or kinds & {"Denied", "Failed"}:
                continue
            self._objects[name] = item
            spec = item.spec
            records.append(
                RequestRecord(
                    name=name,
                    request=base64.b64decode(spec.request),
                    username=spec.username or "",
                    extra={k: list(v) for k, v in (spec.extra or {}).items()},
                    approved="Approved" in kinds,
                )
            )
        return records

    def _condition(self, record: RequestRecord, kind: str, reason: str, message: str) -> bool:
        from kubernetes.client.exceptions import ApiException

        item = self._objects[record.name]
        condition = self.client.V1CertificateSigningRequestCondition(
            type=kind, status="True", reason=reason, message=message
        )
        if item.status is None:
            item.status = self.client.V1CertificateSigningRequestStatus()
        item.status.conditions = [*(item.status.conditions or []), condition]
        try:
            written = self.certificates.replace_certificate_signing_request_approval(
                record.name, item
            )
        except ApiException as err:
            if err.status in (404, 409):
                return False
            raise
        self._objects[record.name] = written
        return True

    def approve(self, record: RequestRecord, message: str) -> bool:
        """See :class:`RequestStore`."""
        return self._condition(record, "Approved", APPROVED_REASON, message)

    def deny(self, record: RequestRecord, message: str) -> None:
        """See :class:`RequestStore`."""
        self._condition(record, "Denied", DENIED_REASON, message)

    def issue(self, record: RequestRecord, certificate: bytes) -> bool:
        """See :class:`RequestStore`."""
        from kubernetes.client.exceptions import ApiException

        item = self._objects[record.name]
        item.status.certificate = base64.b64encode(certificate).decode("ascii")
        try:
            self.certificates.replace_certificate_signing_request_status(record.name, item)
        except ApiException as err:
            if err.status in (404, 409):
                return False
            raise
        return True
