"""The client's sans-I/O core: which agent next, what each outcome means, what an answer says.

No sockets here. The blocking :class:`~statecast.client.sync_client.Client` and the
asyncio :class:`~statecast.client.async_client.AsyncClient` are thin shells around one
:class:`ClientCore`. The Agent API's operations are :class:`Call` values (method, path,
body, whether a resend is safe, how to read the answer), made by :func:`get_call`,
:func:`put_call`, ... For each call a shell takes an :class:`Attempt` and drives it::

    attempt = core.attempt(call)
    while (trip := attempt.next_trip()) is not None:
        attempt.outcome(round_trip(trip))  # a Response, or Failed(Failure.X, error)
    return attempt.result()                # the value, or raises a RequestError

A shell's only decisions are its transport's: how to send a :class:`Trip`, and which
of its exceptions mean :attr:`Failure.NOT_SENT` or :attr:`Failure.MAYBE_SENT`.

One attempt, agent by agent (``retry`` is the call's: off for a write that must not be
applied twice, such as an increment):

=====================================================  =================  ===============
what happened at an agent                              ``retry``          no ``retry``
=====================================================  =================  ===============
never reached it (refused: ``Failure.NOT_SENT``)       next agent         next agent
may have reached it (reset, timeout, closed, garbled:  next agent         stop: no agent
``Failure.MAYBE_SENT``)                                                   reachable (a write:
                                                                          ``outcome_unknown``)
answered 503 with a code of :data:`NOT_APPLIED`       next agent; that   next agent; that
(it applied nothing)                                   503 if no better   503 if no better
answered another 503 (it says it applied nothing)      next agent; that   raise it
                                                       503 if no better
answered 503 ``outcome_unknown`` (it may apply)        raise it           raise it
answered another 4xx or 5xx                            raise it           raise it
answered 2xx                                           return it          return it
=====================================================  =================  ===============

When no agent is left, the call fails with the best refusal, unless a write may have
reached an agent that did not answer: then ``outcome_unknown`` (another agent's refusal
does not say the first one applied nothing).

A named write (PUT, DELETE) sent on after an agent may have received it carries
``Statecast-Maybe-Applied-At: *`` and, when it knows their nodes (learned from
:data:`PEERS_CALL`'s answer), ``Statecast-Tried-Agents``: the agents it may have
reached (agents of before session 12 ignore it and ask every replica). The eventual
replica it reaches first asks those agents (without them: the resource's other
replicas) whether
one applied it (then answers that first answer and applies nothing), and answers
``outcome_unknown`` when one cannot be asked; an agent that sent it on to a replica
says so, and then every replica is asked. Applied at two replicas, the second copy's
newer stamp would overwrite a write acknowledged in between (see
``statecast.agent.named_writes``). Until session 12 the client sent ``*`` alone: any
replica of the resource down made its resend ``outcome_unknown``.

A strong resource's leader, learned from ``Statecast-Leader`` on a forwarded answer, is
tried first for that resource (forgotten on ``not_leader``, ``no_leader`` or
``epoch_opening``). An agent that failed is set aside for a few seconds
(:class:`Endpoints`); after the
first answer the core asks that agent for its peers once (:data:`PEERS_CALL`), to fail
over to them. Errors map to one exception per status (:func:`~statecast.client.errors.error_for`).
The core is safe to share across threads: each request has its own attempt, and the
shared endpoint state is locked only while it is read or changed, never across a round
trip.
"""

from __future__ import annotations

import enum
import json
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, NamedTuple, TypeVar

from statecast.client.credentials import default_token
from statecast.client.discovery import agent_urls
from statecast.client.endpoints import Endpoints, key_path, peers_from
from statecast.client.errors import RequestError, UnavailableError, error_for

__all__ = [
    "NOT_APPLIED",
    "PEERS_CALL",
    "Attempt",
    "Call",
    "ClientCore",
    "ClientShell",
    "Failed",
    "Failure",
    "GarbledAnswerError",
    "Response",
    "Siblings",
    "Trip",
    "delete_call",
    "get_call",
    "increment_call",
    "items_call",
    "put_call",
    "siblings_call",
]

T = TypeVar("T")

#: The header asking for a bounded-staleness read of a strong resource.
STALENESS = "Statecast-Max-Staleness"
#: 503 codes after which a write may still apply: never resent elsewhere.
INDETERMINATE = frozenset({"outcome_unknown"})
#: 503 codes that prove the agent applied nothing: it refused before any effect (a strong
#: write before its leader appended it, a request before it reached a replica that was
#: caught up, or before it was read at all). Even a call that must not be applied twice
#: (``retry`` off: an increment, a named write) goes to the next agent after one. A 503
#: with another code (an older agent's, or one this list does not know) ends such a call.
NOT_APPLIED = frozenset(
    {"not_leader", "no_leader", "epoch_opening", "no_quorum", "not_applied",
     "storage_unavailable", "replica_syncing", "not_ready", "no_replica",
     "auth_unavailable", "overloaded", "too_many_connections"}
)  # fmt: skip
#: The header naming a write: resent with the same id after an unknown outcome, a
#: strong resource's write is applied at most once.
REQUEST_ID = "Statecast-Request-Id"
#: The header a named eventual write sent on after a broken connection carries: it may
#: have been applied at some replica (``*``), which the replica it reaches asks first.
MAYBE_APPLIED_AT = "Statecast-Maybe-Applied-At"
#: Beside ``Statecast-Maybe-Applied-At: *``: the nodes of the agents a write sent on
#: may have reached (agents of before ignore it and ask every replica).
TRIED_AGENTS = "Statecast-Tried-Agents"
#: 503 codes that say the agent asked is not (or no longer) a strong resource's leader.
NOT_LEADER = frozenset({"not_leader", "no_leader", "epoch_opening"})


class Response(NamedTuple):
    """An agent's answer: status, body, and the headers that matter.

    Attributes:
        status: HTTP status.
        body: the body.
        served: ``Statecast-Served`` (``local`` or ``remote``; None when absent).
        siblings: ``Statecast-Siblings``: how many concurrent values a multi-value read
            returned (1 otherwise).
        version: ``Statecast-Version``: the version stamp the agent answered with, when
            the call asked for it (None otherwise).
        leader: ``Statecast-Leader``: a strong resource's leader, when the agent forwarded
            the request there (the client goes to it directly next time).
    """

    status: int
    body: bytes
    served: str | None = None
    siblings: int = 1
    version: str | None = None
    leader: str | None = None

    @classmethod
    def of(cls, status: int, body: bytes, headers: Callable[[str], str | None]) -> Response:
        """An answer from its status, body and a header lookup (any case of the name).

        Raises:
            GarbledAnswerError: ``Statecast-Siblings`` is not a count.
        """
        siblings = headers("statecast-siblings") or "1"
        if not siblings.isdigit():
            raise GarbledAnswerError(f"Statecast-Siblings is not a count: {siblings[:40]!r}")
        served, version = headers("statecast-served"), headers("statecast-version")
        return cls(status, body, served, int(siblings), version, headers("statecast-leader"))


class GarbledAnswerError(ConnectionError):
    """An agent's answer could not be read.

    A transport error: the request may have been applied, so only a call that is safe
    to repeat goes to another agent.
    """


class Failure(enum.Enum):
    """What a failed round trip means for the request."""

    NOT_SENT = "not-sent"
    """The agent was never reached (connection refused): any request may go elsewhere."""
    MAYBE_SENT = "maybe-sent"
    """The agent may have received it (reset, timeout, closed, garbled answer): only a
    request that is safe to repeat goes elsewhere."""


class Call(NamedTuple, Generic[T]):
    """One Agent API operation, ready to send, and how to read its answer.

    Attributes:
        method: HTTP method.
        path: path under the agent's base URL.
        body: request body (JSON), None for none.
        retry: whether it may be sent to another agent once one may have received it.
        read: the result from a successful answer.
        headers: extra request headers, as (name, value) pairs.
        ok_statuses: error statuses that are answers too: ``read`` gets them (a near
            cache reads the version of a 404).
    """

    method: str
    path: str
    body: bytes | None
    retry: bool
    read: Callable[[Response], T]
    headers: tuple[tuple[str, str], ...] = ()
    ok_statuses: frozenset[int] = frozenset()


def _json(response: Response) -> Any:
    return json.loads(response.body)


def _nothing(_: Response) -> None:
    return None


def _value(response: Response) -> int:
    return int(json.loads(response.body)["value"])


def _encode(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Siblings:
    """The concurrent values of a multi-value key: writes that did not see each other.

    Not a list, so that it cannot pass for a stored value that happens to be one: a
    ``merge: multi-value`` key keeps every concurrent write until a write that has seen
    them all (``put`` after reading them) replaces them.

    Attributes:
        values: The values, in the order the agent gave them (at least two from
            :meth:`~statecast.client.Client.get`; one or more from ``get_siblings``).
    """

    values: tuple[Any, ...]


def _value_or_siblings(response: Response) -> Any:
    value = json.loads(response.body)
    if response.siblings > 1 and isinstance(value, list):
        return Siblings(tuple(value))
    return value


def _siblings(response: Response) -> Siblings:
    value = json.loads(response.body)
    if response.siblings > 1 and isinstance(value, list):
        return Siblings(tuple(value))
    return Siblings((value,))


def get_call(
    namespace: str, resource: str, key: str, *, max_staleness: float | None = None
) -> Call[Any]:
    """The value of ``key``; a :class:`Siblings` when a multi-value key holds several.

    ``max_staleness`` (strong resources): accept a value at most that many seconds behind
    the leader's, so a follower near the client may answer; None: linearizable.

    Raises:
        NotFoundError: No such resource or key.
    """
    headers = () if max_staleness is None else ((STALENESS, f"{max_staleness:g}"),)
    path = key_path(namespace, resource, key)
    return Call("GET", path, None, True, _value_or_siblings, headers)


def siblings_call(namespace: str, resource: str, key: str) -> Call[Siblings]:
    """Every concurrent value of ``key``, always as :class:`Siblings` (one or more).

    Raises:
        NotFoundError: No such resource or key.
    """
    return Call("GET", key_path(namespace, resource, key), None, True, _siblings)


def _named() -> tuple[tuple[str, str], ...]:
    """A ``Statecast-Request-Id`` for one call, the same on every agent it is sent to.

    A PUT or DELETE is sent to the next agent after a connection broke (it may have
    arrived), and HTTP libraries send them again on a new connection: on a strong
    resource, named, the leader applies the write once and answers the first outcome
    (unnamed, it could apply twice and overwrite a write made in between). The
    ``try:`` start puts it among the ids a leader remembers for a short while only.
    """
    return ((REQUEST_ID, f"try:{uuid.uuid4().hex}"),)


def put_call(namespace: str, resource: str, key: str, value: Any) -> Call[dict[str, Any]]:
    """Write a JSON-serialisable value; the answer is ``{"version", "seq"}``."""
    path = key_path(namespace, resource, key)
    return Call("PUT", path, _encode(value), True, _json, _named())


def delete_call(namespace: str, resource: str, key: str) -> Call[None]:
    """Delete ``key``.

    Raises:
        NotFoundError: No such resource or key.
    """
    return Call("DELETE", key_path(namespace, resource, key), None, True, _nothing, _named())


def increment_call(namespace: str, resource: str, key: str, by: int = 1) -> Call[int]:
    """Add ``by`` to a counter; the answer is its new value.

    Never resent to another agent once it may have been received, so an increment is
    never applied twice.
    """
    path = key_path(namespace, resource, key, "/increment")
    return Call("POST", path, _encode({"by": by}), False, _value)


def items_call(namespace: str, resource: str) -> Call[dict[str, Any]]:
    """The whole map."""
    return Call("GET", key_path(namespace, resource), None, True, _json)


def _peers(response: Response) -> list[str]:
    return peers_from(json.loads(response.body)) if response.status == 200 else []


def _nodes(response: Response, url: str) -> dict[str, str]:
    """Agent URL -> its node, from a ``/v1/agents`` answer given by the agent at ``url``."""
    try:
        answer = json.loads(response.body) if response.status == 200 else {}
    except ValueError:
        return {}
    if not isinstance(answer, dict):
        return {}
    found: dict[str, str] = {}
    if isinstance(answer.get("node"), str) and url:
        found[url.rstrip("/")] = answer["node"]
    for peer in answer.get("peers") or ():
        if isinstance(peer, dict) and isinstance(peer.get("url"), str) and peer.get("node"):
            found[peer["url"].rstrip("/")] = str(peer["node"])
    return found


#: The agents an agent knows (``GET /v1/agents``), nearest first.
PEERS_CALL: Call[list[str]] = Call("GET", "/v1/agents", None, True, _peers)


class Trip(NamedTuple):
    """One round trip for a shell to make: a request to one agent."""

    url: str
    method: str
    path: str
    body: bytes | None
    headers: tuple[tuple[str, str], ...] = ()


class Failed(NamedTuple):
    """A round trip that brought no answer, as a shell reports it."""

    failure: Failure
    error: BaseException


_UNSET: Any = object()


class Attempt(Generic[T]):
    """One call's walk over the agents: a state machine a shell drives (see the table).

    A shell loops ``while (trip := attempt.next_trip()) is not None``, makes the trip
    and reports its :meth:`outcome` (the :class:`Response`, or :class:`Failed`), then
    returns :meth:`result`. After the first answer the attempt may ask the same agent for
    its peers (:data:`PEERS_CALL`) before deciding on that answer.

    Args:
        core: the client's shared state.
        call: the operation.
    """

    def __init__(self, core: ClientCore, call: Call[T]) -> None:
        self.core, self.call = core, call
        self._urls = iter(core.endpoints.order(call.path))
        self._url = ""
        self._held: Response | None = None  # the call's answer, while the peers are asked
        self._stopped = False
        self._maybe_sent = False  # a write may have reached an agent that did not answer
        self._maybe_at: list[str] = []  # the agents it may have reached (their URLs)
        self._last_error: BaseException | None = None
        self._refused: RequestError | None = None
        self._value: T = _UNSET
        self._error: RequestError | None = None

    def next_trip(self) -> Trip | None:
        """The next round trip to make (None: done; take :meth:`result`)."""
        if self._value is not _UNSET or self._error is not None:
            return None
        if self._held is not None:
            return Trip(self._url, PEERS_CALL.method, PEERS_CALL.path, None)
        url = None if self._stopped else next(self._urls, None)
        if url is None:
            # a write that may have reached an agent that did not answer is not "refused"
            refused = None if self._maybe_sent else self._refused
            self._error = refused or self._unreachable()
            return None
        self._url = url
        call = self.call
        headers = call.headers
        if self._maybe_sent and any(name == REQUEST_ID for name, _ in headers):
            headers = (*headers, (MAYBE_APPLIED_AT, "*"))  # (see the module docstring)
            if tried := self._tried():
                headers = (*headers, (TRIED_AGENTS, tried))
        token = self.core.token() if self.core.token is not None else None
        if token:
            headers = (*headers, ("Authorization", f"Bearer {token}"))
        return Trip(url, call.method, call.path, call.body, headers)

    def outcome(self, result: Response | Failed) -> None:
        """What the last trip brought."""
        if self._held is not None:  # the peers' answer
            self.core.learned(result if isinstance(result, Response) else None, self._url)
            held, self._held = self._held, None
            self._decide(held)
        elif isinstance(result, Failed):
            self._last_error = result.error
            self.core.endpoints.failed(self._url)
            if result.failure is Failure.MAYBE_SENT:
                self._maybe_sent = self.call.method != "GET"
                self._stopped = not self.call.retry
                self._maybe_at.append(self._url)
        else:
            self.core.endpoints.succeeded(self._url)
            if self.core.discover_peers and not self.core.endpoints.peers_known:
                self._held = result
            else:
                self._decide(result)

    def _tried(self) -> str:
        """The nodes of the agents the write may have reached ("": one is not known)."""
        nodes = [self.core.endpoints.node_of(url) for url in self._maybe_at]
        known = [n for n in nodes if n]
        return ",".join(dict.fromkeys(known)) if known and len(known) == len(nodes) else ""

    def _unreachable(self) -> UnavailableError:
        """No answer from any agent: ``no_agent``, or ``outcome_unknown``.

        ``outcome_unknown`` when a write may have reached an agent that did not answer
        (it can still be applied: it must not count as refused).
        """
        if self._maybe_sent:
            message = f"no agent answered; the write may have arrived: {self._last_error}"
            return UnavailableError(0, "outcome_unknown", message)
        return UnavailableError(0, "no_agent", f"no agent reachable: {self._last_error}")

    def _decide(self, response: Response) -> None:
        endpoints = self.core.endpoints
        if response.leader:  # a strong resource's leader: go there directly next time
            endpoints.learn_leader(self.call.path, response.leader)
        refused = error_for(response.status, response.body) if response.status == 503 else None
        if refused is not None and refused.code in NOT_LEADER:
            endpoints.learn_leader(self.call.path, None)
        if response.status in self.call.ok_statuses:
            self._value = self.call.read(response)
        elif refused is not None and self._next_after(refused):
            self._refused = refused  # not applied there: ask the next
        elif response.status >= 400:
            self._error = error_for(response.status, response.body)
        else:
            self._value = self.call.read(response)
            self.core.last_served = response.served

    def _next_after(self, refused: RequestError) -> bool:
        """Whether the call goes to the next agent after the 503 ``refused``."""
        if refused.code in INDETERMINATE:
            return False
        return self.call.retry or refused.code in NOT_APPLIED

    def result(self) -> T:
        """The call's result.

        Raises:
            RequestError: an agent answered with an error, or (``UnavailableError``)
                none could be reached.
        """
        if self._error is not None:
            raise self._error
        if self._value is _UNSET:
            raise RuntimeError("the attempt is not finished: drive it with next_trip()")
        return self._value


class ClientCore:
    """What a client shares between requests: the agents and what it learned of them.

    Args:
        urls: the configured agents, the local one first.
        discover_peers: ask the first agent that answers for the others.
        cooldown: seconds a failed agent is passed over.
        token: gives the bearer token to send (a ServiceAccount token for the audience
            ``statecast``; see :mod:`statecast.client.credentials`), or None to send none.
    """

    def __init__(
        self,
        urls: Iterable[str],
        *,
        discover_peers: bool = True,
        cooldown: float = 5.0,
        token: Callable[[], str | None] | None = None,
    ) -> None:
        self.endpoints = Endpoints(urls, cooldown)
        self.token = token
        self.discover_peers = discover_peers
        self.last_served: str | None = None
        """``Statecast-Served`` of the last successful answer (of any thread's request)."""

    def attempt(self, call: Call[T]) -> Attempt[T]:
        """A new attempt at ``call``."""
        return Attempt(self, call)

    def learned(self, response: Response | None, url: str = "") -> None:
        """The answer to :data:`PEERS_CALL` (None: it failed): remember the peers it names.

        An unreadable or failed answer counts as "no peers", so it is not asked again.
        Their nodes are remembered too (and the node of ``url``, the agent that answered):
        a write sent on after one of them may have received it names it.
        """
        try:
            peers = PEERS_CALL.read(response) if response is not None else []
        except (ValueError, TypeError):
            peers = []
        self.endpoints.learn(peers, _nodes(response, url) if response is not None else {})


class ClientShell:
    """What the blocking and the asyncio client share: the core and the settings.

    Args:
        urls: Agents to use (default: from the environment, see
            :func:`statecast.client.discovery.agent_urls`).
        timeout: Seconds per request.
        discover_peers: Ask the first agent for the others, to fail over to them.
        token: Gives the bearer token to send; by default the projected ServiceAccount
            token's file when there is one (:func:`statecast.client.credentials.default_token`).
    """

    def __init__(
        self,
        urls: Iterable[str] | None = None,
        *,
        timeout: float = 5.0,
        discover_peers: bool = True,
        token: Callable[[], str | None] | None = None,
    ) -> None:
        self.core = ClientCore(
            agent_urls() if urls is None else urls,
            discover_peers=discover_peers,
            token=token if token is not None else default_token(),
        )
        self.timeout = timeout
        self._open()

    def _open(self) -> None:
        """Set up the shell's transport state (called by ``__init__``)."""

    @property
    def last_served(self) -> str | None:
        """``Statecast-Served`` of the last successful answer (``local`` or ``remote``)."""
        return self.core.last_served
