"""Which request headers the agent believes, and from whom.

``Statecast-Forwarded-By`` marks a request another agent forwarded: such a request is
not counted as demand here (the agent that received it from the application counted
it) and is never forwarded again. Anyone can send the header, so it is believed for
demand only from a peer. With mutual TLS (``tls``), that is a connection to the TLS
listener whose client certificate names the agent the header names (an agent speaks
for its own node only): the header is never believed on the application listener.
Without TLS it is believed from the address of a known peer's URL or from loopback
(agents that share a host, as in the dev cluster) - weak: a pod that shares a peer's
address passes. A request from anyone else that carries it is
counted like any other, and is still not forwarded (a client that sends it only loses
forwarding).
"""

from __future__ import annotations

from statecast.agent.directory import PeerDirectory
from statecast.agent.httpserver import Request
from statecast.core.pki import node_of

__all__ = ["forwarded_by_peer"]

_LOOPBACK = ("127.", "::1", "localhost")


def forwarded_by_peer(request: Request, header: str, directory: PeerDirectory) -> bool:
    """True when ``request`` carries ``header`` (lower case) and comes from a peer."""
    if header not in request.headers:
        return False
    if directory.tls is not None:
        node = node_of(request.peer)
        return node is not None and node == request.headers[header].strip()
    host = request.remote.rpartition(":")[0].strip("[]")
    return host.startswith(_LOOPBACK) or host in directory.hosts()
