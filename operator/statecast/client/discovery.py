"""Finding the node-local agent from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping

from statecast.client.errors import NoAgentError

__all__ = ["DEFAULT_PORT", "agent_urls"]

DEFAULT_PORT = 7420


def _as_url(address: str) -> str:
    address = address.strip().rstrip("/")
    return address if "://" in address else f"http://{address}"


def agent_urls(environ: Mapping[str, str] | None = None) -> list[str]:
    """The agents to talk to, the local one first.

    ``STATECAST_AGENT`` (a URL or ``HOST:PORT``, several separated by commas) wins;
    otherwise the node's address ``HOST_IP`` (from the downward API) with
    ``STATECAST_AGENT_PORT`` (default 7420).

    Raises:
        NoAgentError: Neither variable is set.
    """
    env = os.environ if environ is None else environ
    explicit = env.get("STATECAST_AGENT", "").strip()
    if explicit:
        return [_as_url(a) for a in explicit.split(",") if a.strip()]
    host = env.get("HOST_IP", "").strip()
    if host:
        port = env.get("STATECAST_AGENT_PORT", str(DEFAULT_PORT)).strip()
        return [f"http://{host}:{port}"]
    raise NoAgentError("no agent address: set STATECAST_AGENT or HOST_IP")
