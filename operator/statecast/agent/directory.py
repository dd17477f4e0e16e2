"""Where the other agents are, how far away, and which of them to ask first."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from statecast.core.pki import agent_name
from statecast.pki.contexts import TlsMaterial

__all__ = ["RELEARN_SECONDS", "PeerDirectory", "PeerInfo"]

#: At most one reading of the peers' Leases this often on behalf of unknown senders.
RELEARN_SECONDS = 1.0


@dataclass
class PeerInfo:
    """Another agent.

    Attributes:
        node: Its node name (its copies' replica ids are ``<node>#<token>``).
        url: Base URL agents reach it at (its mutual-TLS peer listener when TLS is on).
        zone: Its topology zone (may be empty).
        rtt: Smoothed round-trip time in seconds (None until measured).
        app_url: Base URL applications reach it at (``url`` when the same).
    """

    node: str
    url: str
    zone: str = ""
    rtt: float | None = None
    app_url: str = ""


class PeerDirectory:
    """The agents this one knows, with measured round-trip times.

    Args:
        node: This agent's node.
        zone: This agent's zone.
        routes: Peer node -> the URL to reach it at instead of the one it advertises
            (a network path of its own, e.g. through a proxy the fault-injection
            harness can cut or slow; ``statecast agent --peer-route``).
        tls: This agent's TLS material when agents speak mutual TLS: every request to a
            peer then checks that the peer's certificate names that peer's node.
    """

    def __init__(
        self,
        node: str,
        zone: str = "",
        routes: dict[str, str] | None = None,
        tls: TlsMaterial | None = None,
    ) -> None:
        self.node = node
        self.zone = zone
        self.routes = dict(routes or {})
        self.tls = tls
        self.peers: dict[str, PeerInfo] = {}
        self._hosts: frozenset[str] | None = None
        #: Reads the peers' Leases again now (set by the Kubernetes edge; None: no way to).
        self.relearn: Callable[[], Awaitable[None]] | None = None
        self._relearned_at = -math.inf
        self._relearning: asyncio.Future[None] | None = None

    def may_learn(self, node: str) -> bool:
        """Whether ``node``, unknown here, may be learned by reading the peers again now.

        A peer just (re)started is unknown until this agent reads its Lease (every Lease
        period): its first messages would be refused (a hand-off retried 10 s later).
        A reading in flight is shared; a new one starts at most every
        :data:`RELEARN_SECONDS`, however many unknown senders ask.
        """
        if self.relearn is None or node in self.peers:
            return False
        if self._relearning is not None and not self._relearning.done():
            return True
        return time.monotonic() - self._relearned_at >= RELEARN_SECONDS

    async def learn(self) -> None:
        """Read the peers again (see :meth:`may_learn`); a failed reading changes nothing."""
        reading = self._relearning
        if reading is None or reading.done():
            if self.relearn is None or time.monotonic() - self._relearned_at < RELEARN_SECONDS:
                return
            self._relearned_at = time.monotonic()
            reading = self._relearning = asyncio.ensure_future(self.relearn())
        with contextlib.suppress(Exception):
            await asyncio.shield(reading)

    def hosts(self) -> frozenset[str]:
        """The hosts (addresses) of the peers' URLs, to recognise a peer's connection."""
        if self._hosts is None:
            self._hosts = frozenset(urlsplit(p.url).hostname or "" for p in self.peers.values())
        return self._hosts

    def set(self, node: str, url: str, zone: str = "", app_url: str = "") -> None:
        """Add a peer or update its endpoint (its RTT survives an unchanged URL).

        Args:
            node: the peer's node.
            url: where agents reach it.
            zone: its zone.
            app_url: where applications reach it (default: ``url``).
        """
        app_url = (app_url or url).rstrip("/")
        url = self.routes.get(node, url)
        self._hosts = None
        current = self.peers.get(node)
        if current is not None and current.url == url.rstrip("/"):
            current.zone, current.app_url = zone, app_url
            return
        self.peers[node] = PeerInfo(node, url.rstrip("/"), zone, app_url=app_url)

    def remove(self, node: str) -> None:
        """Forget a peer (its agent is gone)."""
        self.peers.pop(node, None)
        self._hosts = None

    def url(self, node: str) -> str | None:
        """Base URL of a peer, or None if unknown."""
        peer = self.peers.get(node)
        return peer.url if peer is not None else None

    def app_url(self, node: str) -> str | None:
        """Where applications reach a peer, or None if unknown."""
        peer = self.peers.get(node)
        return (peer.app_url or peer.url) if peer is not None else None

    def options(self, node: str) -> dict[str, Any]:
        """Aiohttp request options for a request to ``node``.

        With TLS: this agent's client context, and the peer's certificate must name
        ``node`` (whatever address or proxy the URL points at).
        """
        if self.tls is None:
            return {}
        return {"ssl": self.tls.client_context(), "server_hostname": agent_name(node)}

    def observe_rtt(self, node: str, seconds: float, weight: float = 0.3) -> None:
        """Fold a new round-trip measurement into the peer's smoothed RTT."""
        peer = self.peers.get(node)
        if peer is None:
            return
        peer.rtt = seconds if peer.rtt is None else (1 - weight) * peer.rtt + weight * seconds

    def nearest(self, nodes: Iterable[str]) -> list[str]:
        """Known peers among ``nodes``, nearest first (measured RTT, then same zone)."""
        known = [self.peers[n] for n in nodes if n in self.peers and n != self.node]

        def distance(peer: PeerInfo) -> tuple[int, float, int, str]:
            unmeasured = 1 if peer.rtt is None else 0
            other_zone = 0 if self.zone and peer.zone == self.zone else 1
            return unmeasured, peer.rtt or 0.0, other_zone, peer.node

        return [p.node for p in sorted(known, key=distance)]
