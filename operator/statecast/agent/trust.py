"""Which request headers the agent believes, and from whom.

``Statecast-Forwarded-By`` marks a request another agent forwarded: such a request is
not counted as demand here (the agent that received it from the application counted
it) and is never forwarded again. Anyone can send the header, so it is believed for
demand only on a connection from a peer: until agents authenticate each other (mutual
TLS, docs/security.md), that means from the address of a known peer's URL or from
loopback (agents that share a host, as in the dev cluster). A request from anywhere
else that carries it is counted like any other, and is still not forwarded (a client
that sends it only loses forwarding).
"""

from __future__ import annotations

from statecast.agent.directory import PeerDirectory
from statecast.agent.httpserver import Request

__all__ = ["forwarded_by_peer"]

_LOOPBACK = ("127.", "::1", "localhost")


def forwarded_by_peer(request: Request, header: str, directory: PeerDirectory) -> bool:
    """True when ``request`` carries ``header`` (lower case) and comes from a peer."""
    if header not in request.headers:
        return False
    host = request.remote.rpartition(":")[0].strip("[]")
    return host.startswith(_LOOPBACK) or host in directory.hosts()
