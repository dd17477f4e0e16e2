"""How the operator reaches the agents: plain HTTP, or mutual TLS with its certificate.

Without TLS the operator calls an agent at its Lease's ``statecast.io/endpoint``. With
TLS (``statecast operator --tls``) it calls the agent's mutual-TLS listener (the Lease's
``statecast.io/peer-endpoint``) with the certificate it issued itself, and checks that
the agent's certificate names that agent's node, whatever address the URL holds.
"""

from __future__ import annotations

import ssl
from typing import Any

from statecast.core.pki import agent_name
from statecast.core.reconcile.views import AgentLease
from statecast.pki.contexts import TlsMaterial

__all__ = ["AgentLink"]


class AgentLink:
    """The operator's way to the agents.

    Args:
        tls: The operator's TLS material (None: plain HTTP).
    """

    def __init__(self, tls: TlsMaterial | None = None) -> None:
        self.tls = tls

    def url(self, lease: AgentLease) -> str:
        """Where to call the agent of ``lease`` ("" when it cannot be called now)."""
        if self.tls is None:
            return lease.endpoint
        return lease.peer_endpoint if self.tls.ready else ""

    def verify(self) -> ssl.SSLContext | bool:
        """Httpx's ``verify`` for a new client (the current client context with TLS)."""
        return self.tls.client_context() if self.tls is not None else True

    def extensions(self, node: str) -> dict[str, Any]:
        """Httpx request extensions for a call to ``node`` (the name its certificate holds)."""
        return {"sni_hostname": agent_name(node)} if self.tls is not None else {}
