"""Errors raised by the client library.

Exception tree::

    StatecastError
    ├── NoAgentError         no agent address in the environment
    └── RequestError         the agent answered with an error (``status``, ``code``)
        ├── BadRequestError       400
        ├── NotFoundError         404 unknown resource or key
        ├── ConflictError         409
        ├── TooLargeError         413
        └── UnavailableError      503, or no agent reachable at all (status 0)
"""

from __future__ import annotations

import json

__all__ = [
    "BadRequestError",
    "ConflictError",
    "NoAgentError",
    "NotFoundError",
    "RequestError",
    "StatecastError",
    "TooLargeError",
    "UnavailableError",
    "error_for",
]


class StatecastError(Exception):
    """Base of every client error."""


class NoAgentError(StatecastError):
    """The environment names no agent (set STATECAST_AGENT or HOST_IP)."""


class RequestError(StatecastError):
    """The agent answered with an error.

    Attributes:
        status: HTTP status (0 when no agent could be reached).
        code: The error code of the JSON error body.
    """

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code


class BadRequestError(RequestError):
    """400: the request was malformed."""


class NotFoundError(RequestError):
    """404: unknown resource or key."""


class ConflictError(RequestError):
    """409: e.g. an increment on a key holding a non-counter value."""


class TooLargeError(RequestError):
    """413: the value is over the agent's size limit."""


class UnavailableError(RequestError):
    """503, or no agent reachable."""


_BY_STATUS: dict[int, type[RequestError]] = {
    400: BadRequestError,
    404: NotFoundError,
    409: ConflictError,
    413: TooLargeError,
    503: UnavailableError,
}


def error_for(status: int, body: bytes) -> RequestError:
    """The exception for an error answer."""
    code, message = "error", body.decode(errors="replace")[:200]
    try:
        error = json.loads(body)["error"]
        code, message = str(error["code"]), str(error["message"])
    except (ValueError, KeyError, TypeError):
        pass
    return _BY_STATUS.get(status, RequestError)(status, code, message)
