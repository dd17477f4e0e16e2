"""Who is calling and what they may do: authentication and authorization of the Agent API.

An application pod sends a projected ServiceAccount token (audience ``statecast``) as
``Authorization: Bearer <token>``. The agent asks the API server:

- a **TokenReview** (with the audience) says who the token belongs to; a missing,
  expired, revoked or other-audience token is answered 401 ``unauthenticated``;
- a **SubjectAccessReview** says whether that user may ``get`` (reads, the map, the
  change stream), ``update`` (put, increment) or ``delete`` the ``sharedresources/data``
  subresource of the resource (group ``statecast.io``, in the resource's namespace,
  named after it); a refusal is answered 403 ``forbidden`` with the API server's reason.

Both answers are cached (a token's for ``token_ttl`` seconds, never past the token's
own expiry when the review names it; a decision, per token, for ``access_ttl``
seconds, denials as well as grants), so a request whose token and decision are cached
is checked with two dict lookups and stays on the server's synchronous fast path; only a
miss waits for
the API server (in a thread, with the other requests served meanwhile). Concurrent
misses for the same token or decision share one review.

The reviews themselves go through a :class:`Reviewer` (the real one in
:mod:`statecast.agent.auth_kube`), so this module stays free of the Kubernetes client.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Protocol

from statecast.agent.errors import AgentError, ForbiddenError, UnavailableError
from statecast.agent.httpserver import Request

__all__ = [
    "AUDIENCE",
    "Gate",
    "Identity",
    "Reviewer",
    "TokenVerdict",
    "UnauthenticatedError",
    "verb_of",
]

#: The audience the agents accept tokens for.
AUDIENCE = "statecast"
_BEARER = "bearer "
_MAX_CACHED = 100_000  # entries per cache; beyond it the cache is emptied (rare)


class UnauthenticatedError(AgentError):
    """No valid token: 401."""

    status = 401
    code = "unauthenticated"


@dataclass(frozen=True)
class Identity:
    """Who a token belongs to, as the TokenReview said."""

    user: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: tuple[tuple[str, tuple[str, ...]], ...] = ()


@dataclass(frozen=True)
class TokenVerdict:
    """A TokenReview's answer: an identity, or the reason there is none."""

    identity: Identity | None
    reason: str = ""
    expires_at: float | None = None  # the token's own expiry (Unix seconds), if known


class Reviewer(Protocol):
    """Asks the API server (blocking calls; the gate runs them in a thread)."""

    def review_token(self, token: str, audience: str) -> TokenVerdict:
        """A TokenReview of ``token`` for ``audience``."""
        ...

    def review_access(
        self, identity: Identity, namespace: str, resource: str, verb: str
    ) -> tuple[bool, str]:
        """A SubjectAccessReview: (allowed, reason)."""
        ...


def verb_of(method: str) -> str:
    """The RBAC verb on ``sharedresources/data`` an Agent API method needs."""
    if method in ("GET", "HEAD"):
        return "get"
    if method == "DELETE":
        return "delete"
    return "update"


class Gate:
    """Checks application requests; the verdicts are cached briefly.

    Args:
        reviewer: Asks the API server.
        audience: The token audience accepted.
        token_ttl: Seconds a TokenReview's answer is reused.
        access_ttl: Seconds a SubjectAccessReview's answer is reused.
    """

    def __init__(
        self,
        reviewer: Reviewer,
        *,
        audience: str = AUDIENCE,
        token_ttl: float = 60.0,
        access_ttl: float = 10.0,
    ) -> None:
        self.reviewer = reviewer
        self.audience = audience
        self.token_ttl = token_ttl
        self.access_ttl = access_ttl
        self._tokens: dict[str, tuple[float, TokenVerdict]] = {}
        #: (token, namespace, resource, verb) -> (until, allowed, reason).
        self._access: dict[tuple[str, str, str, str], tuple[float, bool, str]] = {}
        self._pending: dict[object, asyncio.Future[None]] = {}
        #: Reviews asked of the API server (tokens, access), for metrics and tests.
        self.reviews = [0, 0]

    def check(self, request: Request, namespace: str, resource: str) -> Awaitable[None] | None:
        """None when ``request`` may go on now; an awaitable when a review is needed.

        Raises:
            UnauthenticatedError: no token, or a cached verdict that it is not valid.
            ForbiddenError: a cached decision that the caller may not.
        """
        header = request.headers.get("authorization", "")
        token = header[7:]
        if header[:7].lower() != _BEARER or not token:
            raise UnauthenticatedError("a bearer token (audience statecast) is needed")
        now = time.monotonic()
        verb = verb_of(request.method)
        cached = self._tokens.get(token)
        key = (token, namespace, resource, verb)
        decided = self._access.get(key)
        if cached is None or cached[0] <= now or decided is None or decided[0] <= now:
            return self._review(key)
        _decide(decided[1], decided[2], _identity(cached[1]), key)
        return None

    async def _review(self, key: tuple[str, str, str, str]) -> None:
        verdict = await self._token(key[0])
        identity = _identity(verdict)
        await self._shared(key, self._ask_access, (identity, key))
        _, allowed, reason = self._access[key]
        _decide(allowed, reason, identity, key)

    async def _token(self, token: str) -> TokenVerdict:
        cached = self._tokens.get(token)
        if cached is None or cached[0] <= time.monotonic():
            await self._shared(("token", token), self._ask_token, token)
        return self._tokens[token][1]

    async def _shared(self, key: object, ask: object, arg: object) -> None:
        """Run one review for ``key`` however many requests wait for it."""
        pending = self._pending.get(key)
        if pending is None:
            pending = asyncio.ensure_future(ask(arg))  # type: ignore[operator]
            self._pending[key] = pending
            pending.add_done_callback(lambda _: self._pending.pop(key, None))
        await asyncio.shield(pending)

    async def _ask_token(self, token: str) -> None:
        self.reviews[0] += 1
        try:
            verdict = await asyncio.to_thread(self.reviewer.review_token, token, self.audience)
        except Exception as err:  # the API server is unreachable: say so, cache nothing
            raise UnavailableError(f"cannot review the token: {err}", "auth_unavailable") from err
        until = time.monotonic() + self.token_ttl
        if verdict.expires_at is not None:
            until = min(until, time.monotonic() + verdict.expires_at - time.time())
        if len(self._tokens) >= _MAX_CACHED:
            self._tokens.clear()
        self._tokens[token] = (until, verdict)

    async def _ask_access(self, asked: tuple[Identity, tuple[str, str, str, str]]) -> None:
        self.reviews[1] += 1
        identity, key = asked
        _, namespace, resource, verb = key
        try:
            allowed, reason = await asyncio.to_thread(
                self.reviewer.review_access, identity, namespace, resource, verb
            )
        except Exception as err:
            raise UnavailableError(f"cannot review access: {err}", "auth_unavailable") from err
        if len(self._access) >= _MAX_CACHED:
            self._access.clear()
        self._access[key] = (time.monotonic() + self.access_ttl, allowed, reason)


def _identity(verdict: TokenVerdict) -> Identity:
    if verdict.identity is None:
        reason = verdict.reason or "the token is not valid"
        raise UnauthenticatedError(f"token not accepted: {reason}")
    return verdict.identity


def _decide(allowed: bool, reason: str, identity: Identity, key: tuple[str, str, str, str]) -> None:
    if allowed:
        return
    _, namespace, resource, verb = key
    because = f": {reason}" if reason else ""
    raise ForbiddenError(
        f"{identity.user} may not {verb} sharedresources/data {resource!r} in namespace "
        f"{namespace!r}{because}",
        "forbidden",
    )
