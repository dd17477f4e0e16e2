"""The application library that talks to the node-local agent (sync and async).

from statecast.client import Client
with Client() as flags:                  # STATECAST_AGENT, else HOST_IP:7420
    flags.put("default", "flags", "beta", {"on": True})
    flags.get("default", "flags", "beta")
"""

from statecast.client.async_client import AsyncClient
from statecast.client.cached import CachedResource
from statecast.client.core import Call, ClientCore, Response, Siblings
from statecast.client.discovery import agent_urls
from statecast.client.errors import (
    BadRequestError,
    ConflictError,
    NoAgentError,
    NotFoundError,
    RequestError,
    StatecastError,
    TooLargeError,
    UnavailableError,
)
from statecast.client.sync_client import Client

__all__ = [
    "AsyncClient",
    "BadRequestError",
    "CachedResource",
    "Call",
    "Client",
    "ClientCore",
    "ConflictError",
    "NoAgentError",
    "NotFoundError",
    "RequestError",
    "Response",
    "Siblings",
    "StatecastError",
    "TooLargeError",
    "UnavailableError",
    "agent_urls",
]
