"""Errors of the node agent, each carrying the HTTP status and code it answers with.

Exception tree::

    AgentError
    ├── BadRequestError        400  malformed JSON, bad key, bad increment
    ├── ForbiddenError         403  unknown peer, a replica id that does not belong
    ├── NotFoundError          404  unknown resource or key
    ├── ConflictError          409  increment on a non-counter value
    ├── PayloadTooLargeError   413  value or body over the configured limit
    ├── UnavailableError       503  not leader / no quorum, no replica reachable
    ├── PersistenceError       500  the data directory cannot be read or written
    └── ConfigError            the agent configuration is invalid (startup only)
"""

from __future__ import annotations

__all__ = [
    "AgentError",
    "BadRequestError",
    "ConfigError",
    "ConflictError",
    "ForbiddenError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PersistenceError",
    "UnavailableError",
]


class AgentError(Exception):
    """Base of every agent error; ``status`` and ``code`` shape the JSON error answer."""

    status = 500
    code = "internal"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class BadRequestError(AgentError):
    """The request is malformed."""

    status = 400
    code = "bad_request"


class ForbiddenError(AgentError):
    """The caller may not do this (unknown peer, foreign replica id)."""

    status = 403
    code = "forbidden"


class NotFoundError(AgentError):
    """No such resource or key."""

    status = 404
    code = "not_found"


class ConflictError(AgentError):
    """The operation conflicts with the key's current value."""

    status = 409
    code = "conflict"


class PayloadTooLargeError(AgentError):
    """The value or request body is over the configured limit."""

    status = 413
    code = "too_large"


class UnavailableError(AgentError):
    """The operation cannot be served now (no quorum, no replica reachable)."""

    status = 503
    code = "unavailable"


class PersistenceError(AgentError):
    """The data directory cannot be read or written."""

    status = 500
    code = "persistence"


class ConfigError(AgentError):
    """The agent configuration is invalid."""

    status = 400
    code = "config"
