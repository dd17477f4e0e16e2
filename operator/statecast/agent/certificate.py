"""The agent's certificate: its own key, a request the operator signs for its node only.

The agent makes its private key itself and never sends it anywhere: it asks for a
certificate with a Kubernetes ``CertificateSigningRequest`` (signer ``statecast.io/agent``)
made with its Pod's ServiceAccount token, which tells the API server, and through it the
operator, which node the agent runs on; the operator signs only ``<node>.agent.statecast``
for the node of the requester's Pod (:mod:`statecast.controller.signer`). The trust
bundle and the key id of the authority that signs are public, in ``ConfigMap
statecast-ca-bundle``.

Every ``period`` seconds (every second while a request is pending) the keeper reads the
bundle, loads what changed, and asks for a new certificate when
:func:`statecast.core.pki.leaf_renewal` says so (none yet, 2/3 of its life gone, or
signed by an authority that no longer signs: a rollover), each time with a new key. A
refused request is logged with the operator's reason and tried again after ``retry``
seconds. The agent says which certificate it holds in its Lease (the operator keeps an
old CA until no agent holds one it signed). Until its first certificate the agent
serves applications but not its peers.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import ssl
import time
from collections.abc import Callable

from statecast.agent.kube_api import API_ERRORS, CertificateRequests, ClusterGateway
from statecast.agent.runtime import Agent
from statecast.agent.seeding import SourceError
from statecast.api.lease import BUNDLE_CONFIGMAP, BUNDLE_SIGNING_KEY
from statecast.core.pki import (
    SIGNER_NAME,
    Leaf,
    PkiSettings,
    agent_name,
    leaf_note,
    leaf_renewal,
)
from statecast.pki.certs import KeyPair, leaf_of, new_request

__all__ = ["CertificateKeeper", "request_name"]

log = logging.getLogger(__name__)

#: Renewal points: the agent renews at 2/3 of a certificate's life, as the operator's
#: default (the lifetime itself is the operator's choice, read from the certificate).
_SETTINGS = PkiSettings()


def request_name(node: str, request: bytes) -> str:
    """The name of a certificate request (node and a digest of the request: unique)."""
    return f"statecast-agent-{node}-{hashlib.sha256(request).hexdigest()[:10]}"


class CertificateKeeper:
    """Keeps the agent's certificate requested, loaded and renewed (module docstring).

    Args:
        agent: The agent (``agent.tls`` is loaded here).
        gateway: The API server (the bundle ConfigMap).
        requests: The certificate requests.
        namespace: The agents' namespace (of the bundle ConfigMap).
        clock: Seconds since the epoch.
        retry: Seconds before asking again after a refusal or a failed request.
    """

    def __init__(
        self,
        agent: Agent,
        gateway: ClusterGateway,
        requests: CertificateRequests,
        namespace: str,
        clock: Callable[[], float] = time.time,
        retry: float = 30.0,
    ) -> None:
        assert agent.tls is not None
        self.agent, self.gateway, self.requests = agent, gateway, requests
        self.namespace, self.clock, self.retry = namespace, clock, retry
        self.held: KeyPair | None = None
        """The certificate and key in use."""
        self.leaf: Leaf | None = None
        """The facts of the certificate in use (said in the Lease)."""
        self._pending: tuple[str, bytes] | None = None  # request name, its key
        self._wait_until = 0.0
        self._bundle = b""

    def note(self) -> str:
        """What the Lease says of the certificate in use ("" before the first)."""
        return leaf_note(self.leaf) if self.leaf is not None else ""

    @property
    def pending(self) -> bool:
        """Whether a request waits for the operator."""
        return self._pending is not None

    async def step(self) -> None:
        """Read the bundle, collect a pending certificate, request one when due, load."""
        published = await self._published()
        if published is None:
            return
        bundle, signing = published
        if self._pending is not None:
            await self._collect(*self._pending)
        due = leaf_renewal(self.leaf, agent_name(self.agent.node), signing, self.clock(), _SETTINGS)
        if due is not None and self._pending is None and self.clock() >= self._wait_until:
            await self._request(due)
        if self.held is not None and bundle:
            self._load(self.held, bundle)

    async def _published(self) -> tuple[bytes, str] | None:
        try:
            data = await self.gateway.get_source_data(self.namespace, "ConfigMap", BUNDLE_CONFIGMAP)
        except API_ERRORS as err:
            log.warning("event=tls_bundle_unreadable error=%s", err)
            return None
        except SourceError as err:
            log.warning("event=tls_bundle_unreadable error=%s", err)
            return None
        if data is None or not data.get("ca.crt") or not data.get(BUNDLE_SIGNING_KEY):
            log.info("event=tls_bundle_missing configmap=%s/%s", self.namespace, BUNDLE_CONFIGMAP)
            return None
        return data["ca.crt"], data[BUNDLE_SIGNING_KEY].decode("ascii")

    async def _request(self, reason: str) -> None:
        made = new_request(agent_name(self.agent.node))
        name = request_name(self.agent.node, made.cert)
        try:
            await self.requests.request_certificate(name, made.cert, SIGNER_NAME, self.agent.node)
        except API_ERRORS as err:
            log.warning("event=tls_request_failed request=%s error=%s", name, err)
            self._wait_until = self.clock() + self.retry
            return
        self._pending = (name, made.key)
        log.info("event=tls_requested request=%s reason=%s", name, reason)

    async def _collect(self, name: str, key: bytes) -> None:
        try:
            state = await self.requests.certificate_request(name)
        except API_ERRORS as err:
            log.warning("event=tls_request_unreadable request=%s error=%s", name, err)
            return
        if state is None or state.refused:
            why = state.refused if state is not None else "the request is gone"
            log.warning("event=tls_request_refused request=%s reason=%s", name, why)
            self._pending, self._wait_until = None, self.clock() + self.retry
            return
        if not state.certificate:
            return  # not signed yet
        try:
            leaf = leaf_of(state.certificate)
        except ValueError as err:
            log.warning("event=tls_certificate_invalid request=%s error=%s", name, err)
            self._pending, self._wait_until = None, self.clock() + self.retry
            return
        self._pending = None
        self.held, self.leaf = KeyPair(state.certificate, key), leaf

    def _load(self, held: KeyPair, bundle: bytes) -> None:
        tls = self.agent.tls
        assert tls is not None
        try:
            changed = tls.load(held.cert, held.key, bundle)
        except (ssl.SSLError, ValueError) as err:  # keep what is loaded
            log.warning("event=tls_load_failed node=%s error=%r", self.agent.node, err)
            return
        if changed:
            log.info("event=tls_loaded node=%s loads=%d", self.agent.node, tls.loads)

    async def run(self, period: float) -> None:
        """Step every ``period`` seconds (every second while a request waits), forever."""
        while True:
            try:
                await self.step()
            except API_ERRORS as err:
                log.warning("event=tls_step_failed error=%s", err)
            await asyncio.sleep(min(period, 1.0) if self._pending is not None else period)
