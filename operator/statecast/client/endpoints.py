"""The ordered list of agents a client may use, with failed ones set aside for a while.

Part of the client's sans-I/O core (:mod:`statecast.client.core`): no sockets; safe to share
across threads (a lock guards the state, never held across a round trip).
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

__all__ = ["Endpoints", "key_path", "peers_from", "resource_of"]


@functools.lru_cache(maxsize=4096)
def _quoted(part: str) -> str:
    """``part`` as one path segment (namespaces, resources and hot keys repeat: cached)."""
    return quote(part, safe="")


def key_path(namespace: str, resource: str, key: str | None = None, suffix: str = "") -> str:
    """The Agent API path of a map or one of its keys."""
    path = f"/v1/{_quoted(namespace)}/{_quoted(resource)}"
    if key is not None:
        path += f"/{_quoted(key)}"
    return path + suffix


def resource_of(path: str) -> str:
    """``/v1/<ns>/<res>`` of an Agent API path (the key and what follows cut off)."""
    return "/".join(path.split("/")[:4])


def peers_from(agents: Any) -> list[str]:
    """Peer URLs from a ``/v1/agents`` answer, nearest (smallest RTT) first."""
    peers = agents.get("peers", []) if isinstance(agents, dict) else []
    ranked = sorted(
        (p for p in peers if isinstance(p, dict) and isinstance(p.get("url"), str)),
        key=lambda p: (p.get("rttSeconds") is None, p.get("rttSeconds") or 0.0),
    )
    return [str(p["url"]).rstrip("/") for p in ranked]


class Endpoints:
    """Agents in order of preference; a failed one is skipped for ``cooldown`` seconds.

    Args:
        urls: The configured agents (the local one first).
        cooldown: Seconds a failed agent is passed over.
    """

    def __init__(self, urls: Iterable[str], cooldown: float = 5.0) -> None:
        self.configured = [u.rstrip("/") for u in urls]
        self.peers: list[str] = []
        self.cooldown = cooldown
        self._failed: dict[str, float] = {}
        self.peers_known = False
        #: Strong resources: "/v1/<ns>/<res>" -> its leader's URL, as an agent said.
        self.leaders: dict[str, str] = {}
        #: Agent URL -> its node, as an agent said (see :meth:`learn`).
        self.nodes: dict[str, str] = {}
        self._lock = threading.Lock()

    def order(self, path: str = "") -> list[str]:
        """Agents to try: the resource's leader if known, healthy ones, then the failed."""
        with self._lock:
            leader = self.leaders.get(resource_of(path))
            first = [leader] if leader else []
            everyone = list(dict.fromkeys(first + self.configured + self.peers))
            now = time.monotonic()
            healthy = [u for u in everyone if self._failed.get(u, 0.0) <= now]
            return healthy + [u for u in everyone if u not in healthy]

    def failed(self, url: str) -> None:
        """Set an agent aside."""
        with self._lock:
            self._failed[url] = time.monotonic() + self.cooldown

    def succeeded(self, url: str) -> None:
        """An agent answered."""
        with self._lock:
            self._failed.pop(url, None)

    def learn_leader(self, path: str, url: str | None) -> None:
        """Remember (or, with None, forget) the leader of the resource ``path`` is under."""
        with self._lock:
            if url:
                self.leaders[resource_of(path)] = url.rstrip("/")
            else:
                self.leaders.pop(resource_of(path), None)

    def learn(self, peers: list[str], nodes: Mapping[str, str] | None = None) -> None:
        """Remember the other agents a healthy agent told us about (and their nodes)."""
        with self._lock:
            self.peers = list(peers)
            self.peers_known = True
            self.nodes.update(nodes or {})

    def node_of(self, url: str) -> str | None:
        """The node of the agent at ``url``, if an agent said it."""
        with self._lock:
            return self.nodes.get(url.rstrip("/"))
