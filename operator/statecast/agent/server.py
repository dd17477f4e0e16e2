"""The agent's HTTP API: the Agent API for pods and the peer protocol for agents.

Application routes (JSON over HTTP, see DESIGN.md "Agent API")::

    GET    /v1/{namespace}/{resource}/{key}            value; Statecast-Served: local|remote
    PUT    /v1/{namespace}/{resource}/{key}            body: JSON value -> {"version", "seq"}
    DELETE /v1/{namespace}/{resource}/{key}
    POST   /v1/{namespace}/{resource}/{key}/increment  body: {"by": n} -> {"value", "version"}
    GET    /v1/{namespace}/{resource}                  the whole map
    GET    /v1/stats  /v1/agents  /healthz  /readyz  /metrics

Peer routes: ``POST /v1/peer/push/{ns}/{res}``, ``POST /v1/peer/sync/{ns}/{res}``,
``GET /v1/peer/ping``, and for strong resources ``POST /v1/peer/strong/append/{ns}/{res}``
and ``POST /v1/peer/strong/fence/{ns}/{res}`` (matched before the application routes).
Requests for a strong resource go to :class:`~statecast.agent.strong_routes.StrongRoutes`.
Path segments are percent-decoded, so a key may hold any character. Errors are
``{"error": {"code", "message"}}``.

An access is counted for demand once the request is valid and reaches the local
replica, whatever its outcome (a read of a missing key is still demand); a request
forwarded to another node's replica is counted as ``remote`` when that replica answers.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import parse_qs, unquote

import aiohttp
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from statecast.agent.errors import (
    AgentError,
    BadRequestError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    PayloadTooLargeError,
    UnavailableError,
)
from statecast.agent.httpserver import (
    Answer,
    HttpServer,
    Request,
    Response,
    StreamResponse,
    answer_start,
    error_response,
)
from statecast.agent.named_writes import (
    ANY_REPLICA,
    KNOWS_SENT_ON,
    MAX_NAME,
    MAYBE_APPLIED_AT,
    REFUSED,
    REQUEST_ID,
    SENT_ON,
    TRIED_AGENTS,
    AskElsewhere,
    Named,
    NamedWrites,
    Remembered,
    maybe_applied_at,
    request_name,
    tried_agents,
)
from statecast.agent.runtime import Agent
from statecast.agent.store import LocalWrite, ReplicaStore
from statecast.agent.strong_routes import StrongRoutes
from statecast.agent.trust import forwarded_by_peer
from statecast.agent.wire import (
    DELTA_ONLY_CHECKED,
    DELTA_ONLY_HEADER,
    NEEDS_FULL_COPY,
    SYNC_LINES,
    SyncLines,
    SyncRequest,
    decode_hand_off,
    decode_push,
    decode_sync_request,
    encode_sync_lines,
    encode_sync_reply,
    read_hand_off_lines,
    sync_lines_steps,
    sync_reply_steps,
)
from statecast.api.types import Ref
from statecast.core.crdt import Entry, SyncPayload, Visible
from statecast.core.crdt.entry import latest_stamp
from statecast.core.crdt.replica_id import node_of as node_of_replica
from statecast.core.pki import OPERATOR_NAME, node_of
from statecast.core.strong.log import Operation
from statecast.core.strong.machine import FORWARDED

__all__ = [
    "FORWARDED_BY",
    "SERVED",
    "SERVED_BY",
    "SIBLINGS",
    "VERSION",
    "AgentApi",
    "build_server",
]

log = logging.getLogger(__name__)

SERVED = "Statecast-Served"
SERVED_BY = "Statecast-Served-By"
SIBLINGS = "Statecast-Siblings"
FORWARDED_BY = "Statecast-Forwarded-By"
#: Asked for with ``Statecast-Want-Version``: the latest stamp of a key's state.
VERSION = "Statecast-Version"
_WANT_VERSION = "statecast-want-version"
_FORWARDED_BY = FORWARDED_BY.lower()
_PASSED_HEADERS = (SIBLINGS, SERVED_BY, VERSION)

Result = Answer | Awaitable[Answer]
Route = Callable[[Request, list[str]], Result]

#: The application routes: authenticated and authorized when the agent's auth is on.
_APPLICATION = frozenset(("map", "key", "increment"))
#: A full sync answer of more entries than this is encoded in steps (loop turns).
_ENCODE_ON_LOOP = 4096
#: Entries per object of a sync answer in one JSON object encoded in steps.
_ENCODE_BATCH = 256
#: Encoding of large sync answers per loop turn, over every answer in progress: at most
#: this many steps (a step is a line, 256 entries, ~0.5 ms) and this many seconds; each
#: answer in progress gets at least one step a turn. Before, a worker thread encoded
#: them: the loop, on the same core, waited up to the 1 ms switch interval for the
#: interpreter lock at every callback: turns of 10-26 ms while a full sync of a million
#: keys was encoded.
_ENCODE_STEPS = 4
_ENCODE_TURN = 0.002


class _EncodeTurn:
    """The encoding steps granted in the current loop turn, over all answers."""

    __slots__ = ("_granted", "_started")

    def __init__(self) -> None:
        self._granted: int | None = None
        self._started = 0.0

    def grant(self, first: bool) -> bool:
        """May an answer encode one more step now? Always for its ``first`` of a turn."""
        if self._granted is None:
            self._granted, self._started = 0, time.perf_counter()
            asyncio.get_running_loop().call_soon(self._end)
        if not first and (
            self._granted >= _ENCODE_STEPS or time.perf_counter() - self._started > _ENCODE_TURN
        ):
            return False
        self._granted += 1
        return True

    def _end(self) -> None:
        self._granted = None


#: The routes of agents and the operator: only on the mutual-TLS listener when TLS is on.
_PEER = frozenset(
    ("ping", "peer_push", "peer_sync", "peer_handoff", "peer_named", "strong_append",
     "strong_fence")
)  # fmt: skip

#: Route patterns, matched in order; None is a path parameter.
_PATTERNS: list[tuple[tuple[str | None, ...], str]] = [
    (("healthz",), "healthz"),
    (("readyz",), "readyz"),
    (("metrics",), "metrics"),
    (("v1", "stats"), "stats"),
    (("v1", "agents"), "agents"),
    (("v1", "peer", "ping"), "ping"),
    (("v1", "peer", "push", None, None), "peer_push"),
    (("v1", "peer", "sync", None, None), "peer_sync"),
    (("v1", "peer", "handoff", None, None), "peer_handoff"),
    (("v1", "peer", "named", None, None), "peer_named"),
    (("v1", "peer", "strong", "append", None, None), "strong_append"),
    (("v1", "peer", "strong", "fence", None, None), "strong_fence"),
    (("v1", None, None), "map"),
    (("v1", None, None, None), "key"),
    (("v1", None, None, None, "increment"), "increment"),
]
_BY_LENGTH: dict[int, list[tuple[tuple[str | None, ...], str]]] = {}
for _pattern, _name in _PATTERNS:
    _BY_LENGTH.setdefault(len(_pattern), []).append((_pattern, _name))


def _match(parts: list[str]) -> str | None:
    """The name of the first route whose pattern matches ``parts``."""
    for pattern, name in _BY_LENGTH.get(len(parts), ()):
        for expected, part in zip(pattern, parts):  # noqa: B905 (same lengths)
            if expected is not None and expected != part:
                break
        else:
            return name
    return None


def _json(value: object, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(value).encode(), headers=headers)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


#: A JSON string with nothing to unescape or check: printable ASCII, no quote, no backslash.
_PLAIN_STRING = re.compile(rb'"[ !#-\[\]-~]*"')
#: A JSON string token (to take brackets inside strings out of a depth count).
_STRING_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"')
#: An innermost array or object: brackets with no bracket inside.
_INNERMOST = re.compile(rb"\[[^\[\]{}]*\]|\{[^\[\]{}]*\}")
#: C0 controls and DEL: never part of a key, namespace or resource name.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _too_deep(raw: bytes, limit: int) -> bool:
    """True when ``raw`` (valid JSON) nests arrays and objects deeper than ``limit``.

    Free for most values (fewer brackets than the limit); otherwise innermost pairs
    are taken away one level per pass, at most ``limit`` passes, each a C-speed scan.
    """
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False
    text = _STRING_TOKEN.sub(b'""', raw)
    for _ in range(limit):
        text, found = _INNERMOST.subn(b"0", text)
        if not found:
            return False
    return b"[" in text or b"{" in text


def _parse_json(raw: bytes, limit: int) -> Any:
    """Parse a JSON body; 400 when it is not JSON or nests deeper than ``limit``."""
    try:
        value = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except RecursionError as err:
        raise BadRequestError(f"JSON nested deeper than {limit} levels", "too_deep") from err
    except (ValueError, UnicodeDecodeError) as err:
        raise BadRequestError(f"malformed JSON: {err}", "malformed_json") from err
    if _too_deep(raw, limit):
        raise BadRequestError(f"JSON nested deeper than {limit} levels", "too_deep")
    return value


def _json_body(raw: bytes, max_depth: int) -> bytes:
    if _PLAIN_STRING.fullmatch(raw):  # the common value: valid as it is, no parse needed
        return raw
    _parse_json(raw, max_depth)
    return raw.strip()


def _render(value: Visible) -> tuple[bytes, dict[str, str]]:
    if isinstance(value, bytes):
        return value, {}
    if isinstance(value, int):
        return str(value).encode(), {}
    assert isinstance(value, tuple)
    return b"[" + b",".join(value) + b"]", {SIBLINGS: str(len(value))}


def _unknown_there(status: int, payload: bytes) -> bool:
    """A forwarded request's answer saying the agent there does not know the resource."""
    return status == 404 and b'"unknown_resource"' in payload[:200]


def _maybe_applied(status: int, payload: bytes) -> bool:
    """A forwarded write's answer saying it may apply there (503 ``outcome_unknown``)."""
    return status == 503 and b'"outcome_unknown"' in payload[:200]


#: A request target naming a key with nothing to decode: the plain GET's (fast_get).
_SEGMENT = rb"([^/?#%\x00-\x20\x7f-\xff]+)"
_PLAIN_KEY = re.compile(rb"/v1/" + _SEGMENT + rb"/" + _SEGMENT + rb"/" + _SEGMENT)


def _segments(path: str) -> list[str]:
    """The percent-decoded segments of an absolute path."""
    if not path.startswith("/"):
        raise BadRequestError("the request target must be an absolute path")
    if "%" not in path:
        return path[1:].split("/")
    try:
        parts = [unquote(part, errors="strict") for part in path[1:].split("/")]
    except UnicodeDecodeError as err:
        raise BadRequestError(f"path is not UTF-8: {err}") from err
    if any(_CONTROL.search(part) for part in parts):
        raise BadRequestError("path has a control character", "bad_key")
    return parts


class AgentApi:
    """Routes requests to the agent: the handler of :class:`HttpServer`.

    Args:
        agent: The agent served.
    """

    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        self.limits = agent.config.limits
        self._depth = self.limits.max_json_depth
        self._auth = agent.config.auth
        self._tls = agent.config.tls
        #: The headers of an answer from this node's replica, encoded once.
        self._served = f"{SERVED}: local\r\n{SERVED_BY}: {agent.node}\r\n".encode("latin-1")
        self._ok = answer_start(200)  # a plain GET's answer (fast_get)
        self.strong = StrongRoutes(agent, _FORWARDED_BY)
        #: The answers of named eventual writes applied here lately (a resend's answer).
        self.named = NamedWrites()
        #: Asks the replicas a write sent on may have reached whether they applied it.
        self.elsewhere = AskElsewhere(agent.node, agent.directory, self._session)
        #: Node -> until when (monotonic) forwards try it last: it did not answer one.
        self._set_aside: dict[str, float] = {}
        self._encode_turn = _EncodeTurn()  # (large sync answers encoded in steps)
        self._routes: dict[str, dict[str, Route]] = {
            "healthz": {"GET": self.healthz},
            "readyz": {"GET": self.readyz},
            "metrics": {"GET": self.metrics},
            "stats": {"GET": self.stats},
            "agents": {"GET": self.agents},
            "ping": {"GET": self.ping},
            "peer_push": {"POST": self.peer_push},
            "peer_sync": {"POST": self.peer_sync},
            "peer_handoff": {"POST": self.peer_handoff},
            "peer_named": {"POST": self.peer_named},
            "strong_append": {"POST": self.strong_append},
            "strong_fence": {"POST": self.strong_fence},
            "map": {"GET": self.get_map},
            "key": {"GET": self.get, "PUT": self.put, "DELETE": self.delete},
            "increment": {"POST": self.increment},
        }

    def __call__(self, request: Request) -> Result:
        """Answer ``request`` (at once when no handler has to wait)."""
        started = time.perf_counter()
        name = "unmatched"
        try:
            parts = _segments(request.path)
            matched = _match(parts)
            if matched is None:
                raise NotFoundError(f"no route for {request.path}", "not_found")
            methods = self._routes[matched]
            name = request.method.lower() if matched == "key" else matched
            route = methods.get(request.method)
            if route is None:
                allow = ", ".join(sorted(methods))
                response = error_response(
                    405, "method_not_allowed", f"{request.method} not allowed", {"Allow": allow}
                )
                return self._answered(name, response, started)
            if self._tls and matched in _PEER:
                self._peer_only(request, matched)
            if self._auth and matched in _APPLICATION:
                pending = self._authorize(request, parts)
                if pending is not None:
                    return self._guard(name, self._after(pending, route, request, parts), started)
            result = route(request, parts)
        except AgentError as err:
            return self._answered(name, error_response(err.status, err.code, str(err)), started)
        if isinstance(result, Response | StreamResponse):
            return self._answered(name, result, started)
        return self._guard(name, result, started)

    @staticmethod
    def _peer_only(request: Request, route: str) -> None:
        """With TLS, a peer route needs a client certificate of the trust bundle.

        An agent's, or the operator's for a fence (the handshake verified it).
        """
        if request.peer is None:
            raise ForbiddenError(
                "peer routes are served on the mutual-TLS listener only", "mutual_tls_required"
            )
        operator = request.peer == OPERATOR_NAME
        if operator != (route == "strong_fence") and route != "ping":
            raise ForbiddenError(f"{request.peer} may not call {route}", "peer_not_allowed")

    def _sender(self, request: Request, sender: str) -> str:
        """``sender`` (a peer message's ``from``), once it is the certificate's node."""
        if self._tls and node_of(request.peer) != sender:
            raise ForbiddenError(
                f"the certificate names {request.peer}, not {sender!r}", "peer_mismatch"
            )
        return sender

    def _authorize(self, request: Request, parts: list[str]) -> Awaitable[None] | None:
        gate = self.agent.gate
        if gate is None:
            raise UnavailableError("the agent cannot review access yet", "not_ready")
        return gate.check(request, parts[1], parts[2])

    async def _after(
        self, pending: Awaitable[None], route: Route, request: Request, parts: list[str]
    ) -> Answer:
        await pending
        result = route(request, parts)
        if isinstance(result, Response | StreamResponse):
            return result
        return await result

    def fast_get(self, target: bytes) -> bytes | None:
        """A plain GET of a key of a local replica that has it, written and plain.

        What :meth:`get` answers for it, without the route, the :class:`Request` or the
        checks that cannot apply (no header but ``Host`` and a few alike: no near cache,
        no forward, no authorization); None for anything else (auth on, a strong or a
        remote resource, a replica catching up, a key missing, not written yet, or not a
        plain register): :meth:`__call__` answers it then.
        """
        started = time.perf_counter()
        found = _PLAIN_KEY.fullmatch(target)
        if found is None or self._auth:
            return None
        ns, res, key = found[1].decode(), found[2].decode(), found[3].decode()
        store = self.agent.stores.get((ns, res))
        if (
            store is None
            or not store.serving
            or len(key) > self.limits.max_key_bytes
            or store.unwritten(key) is not None
            or self.strong.handles((ns, res))
        ):
            return None
        value = store.get(key)
        if not isinstance(value, bytes):
            return None
        self.agent.access.count(ns, res, "get", "local")
        answer = b"%b%d\r\n%b\r\n%b" % (self._ok, len(value), self._served, value)
        self.agent.requests.answered("get", 200, time.perf_counter() - started)
        return answer

    def _answered(self, route: str, response: Answer, started: float) -> Answer:
        self.agent.requests.answered(route, response.status, time.perf_counter() - started)
        return response

    async def _guard(self, route: str, pending: Awaitable[Answer], started: float) -> Answer:
        response: Answer
        try:
            response = await pending
        except AgentError as err:
            response = error_response(err.status, err.code, str(err))
        return self._answered(route, response, started)

    # --- helpers ------------------------------------------------------------------
    def _key(self, parts: list[str]) -> str:
        key = parts[3]
        if not key:
            raise BadRequestError("empty key", "bad_key")
        if len(key.encode()) > self.limits.max_key_bytes:
            raise BadRequestError(
                f"key longer than {self.limits.max_key_bytes} bytes", "key_too_long"
            )
        return key

    def _body(self, request: Request, limit: int) -> bytes:
        if len(request.body) > limit:
            raise PayloadTooLargeError(f"value larger than {limit} bytes")
        return request.body

    def _reader(self, request: Request, parts: list[str]) -> ReplicaStore | None:
        """The local replica to read from or write to; None to forward the request.

        A replica that has not caught up with its peers since it was opened (a new
        replica still syncing or seeding) does not answer: an empty new copy must not
        answer "not found" for keys that exist, and a write must not take an event
        number of this node that its peers may already hold from an earlier copy. The
        request goes to another replica, or, when there is none to ask (or it was
        forwarded here), gets a 503 to retry.

        Raises:
            UnavailableError: the local replica is catching up and no other can answer.
        """
        store = self._local(parts)
        if store is None or store.serving:
            return store
        others = self.agent.directory.nearest(self.agent.locations.get(store.spec.ref, ()))
        if others and _FORWARDED_BY not in request.headers:
            return None
        ns, res = store.spec.ref
        self.agent.requests.syncing(ns, res)
        raise UnavailableError(f"the replica of {ns}/{res} here is catching up", "replica_syncing")

    def _local(self, parts: list[str]) -> ReplicaStore | None:
        ref = (parts[1], parts[2])
        store = self.agent.stores.get(ref)
        if store is None and ref not in self.agent.specs:
            if not self.agent.resources_known:  # just started: it may be one of ours
                raise UnavailableError("the agent is loading its replicas", "not_ready")
            if not self.agent.surely_unknown(ref):  # made moments ago, not listed here yet?
                raise UnavailableError("the agent is looking for this resource", "not_ready")
            raise NotFoundError(f"unknown resource {ref[0]}/{ref[1]}", "unknown_resource")
        return store

    async def _forward(self, request: Request, parts: list[str], operation: str) -> Response:
        ns, res = parts[1], parts[2]
        if _FORWARDED_BY in request.headers:
            raise UnavailableError(f"no replica of {ns}/{res} here", "no_replica")
        body = self._body(request, self.limits.max_value_bytes) if request.body else None
        # replicas a write may have reached, not answered (the client's, then ours)
        maybe_at = list(maybe_applied_at(request)) if request.method in _NAMED else []
        # the client's "*" with the agents it tried: passed on (not when "*" is ours)
        tried = ",".join(tried_agents(request)) if ANY_REPLICA in maybe_at else ""
        earlier = self._sending_on(request, parts, operation, maybe_at)
        if earlier is not None:
            return earlier
        if maybe_at.count(ANY_REPLICA) > 1:  # sent on from here before: anywhere
            tried = ""
        candidates = self._forward_order((ns, res))
        session = self.agent.replication.session
        refused: tuple[bytes, dict[str, str]] | None = None
        forwarded = self._forwarded_headers(request)
        sent_on = len(maybe_at)
        for node in candidates:
            url = f"{self.agent.directory.url(node)}{request.target}"
            headers = forwarded
            if maybe_at:  # sent on: the replica asks those first (see named_writes)
                headers = {**forwarded, MAYBE_APPLIED_AT: ",".join(maybe_at)}
                if tried:
                    headers[TRIED_AGENTS] = tried
            try:
                async with session.request(
                    request.method,
                    url,
                    data=body,
                    headers=headers,
                    **self.agent.directory.options(node),
                ) as reply:
                    payload = await reply.read()
                    headers = {h: reply.headers[h] for h in _PASSED_HEADERS if h in reply.headers}
                    status = reply.status
            except (aiohttp.ClientError, TimeoutError) as err:
                log.debug("event=forward_failed node=%s error=%s", node, err)
                self.agent.requests.forward_failed(ns, res, "unreachable")
                self._set_aside[node] = time.monotonic() + FORWARD_SET_ASIDE
                if operation in _NOT_RESENT and not isinstance(err, aiohttp.ClientConnectorError):
                    # it may have reached that replica and been applied there: sent to
                    # the next one too it could count twice (the client resends none)
                    message = f"{node} did not answer: the {operation} may or may not apply"
                    raise UnavailableError(message, "outcome_unknown") from err
                if request.method != "GET" and not isinstance(err, aiohttp.ClientConnectorError):
                    maybe_at.append(node)
                continue
            # (a 503 outcome_unknown, a write that may apply there, is passed back as is)
            refused_there = status == 503 and not _maybe_applied(status, payload)
            if refused_there or _unknown_there(status, payload):
                # that replica cannot answer now (catching up, or it has not learned of
                # the resource yet): the next one
                log.debug("event=forward_unavailable node=%s status=%d", node, status)
                self.agent.requests.forward_failed(ns, res, "unavailable")
                if status == 503:
                    refused = (payload, headers)
                continue
            if status < 500:
                self.agent.access.count(ns, res, operation, "remote")
            headers[SERVED] = "remote"
            return Response(payload, status, headers)
        if len(maybe_at) > sent_on:  # the others' refusals do not say it was not applied there
            message = f"{maybe_at[sent_on]} did not answer: the {operation} may or may not apply"
            raise UnavailableError(message, "outcome_unknown")
        if refused is not None:  # every replica that answered refused: say why, as they did
            payload, headers = refused
            headers[SERVED] = "remote"
            return Response(payload, 503, headers)
        raise UnavailableError(f"no replica of {ns}/{res} reachable", "no_replica")

    def _session(self) -> aiohttp.ClientSession:
        return self.agent.replication.session

    def _forward_order(self, ref: Ref) -> list[str]:
        """The replicas of ``ref`` to forward to: nearest first, those set aside last.

        A replica that did not answer a forward is tried after the others for
        :data:`FORWARD_SET_ASIDE` seconds: its agent is likely down (through a proxy, a
        dead agent's connection is accepted and then closed, which looks like a request
        lost on the way), and an increment sent to it first would be answered
        ``outcome_unknown`` though another replica could have taken it.
        """
        nearest = self.agent.directory.nearest(self.agent.locations.get(ref, ()))
        now = time.monotonic()
        for node in [n for n, until in self._set_aside.items() if until <= now]:
            del self._set_aside[node]
        return sorted(nearest, key=lambda node: node in self._set_aside)  # stable

    def _forwarded_headers(self, request: Request) -> dict[str, str]:
        headers = {FORWARDED_BY: self.agent.node}
        if "authorization" in request.headers:  # the replica there checks the caller too
            headers["Authorization"] = request.headers["authorization"]
        if _WANT_VERSION in request.headers:
            headers[_WANT_VERSION] = request.headers[_WANT_VERSION]
        if request.method in ("PUT", "DELETE"):
            # aiohttp sends a PUT or DELETE again when the connection closes before the
            # answer: named, the replica there answers the resend and applies it once
            headers[REQUEST_ID] = request_name(request) or f"{FORWARDED}{uuid.uuid4().hex}"
        elif request.method != "GET" and (name := request_name(request)):
            headers[REQUEST_ID] = name  # (a read's name means nothing: not checked)
        return headers

    def _count(self, request: Request, store: ReplicaStore, operation: str) -> None:
        if not forwarded_by_peer(request, _FORWARDED_BY, self.agent.directory):
            self.agent.access.count(store.spec.namespace, store.spec.name, operation, "local")

    # --- application API ----------------------------------------------------------
    def get(self, request: Request, parts: list[str]) -> Result:
        """A key's value, from the local replica or forwarded to the nearest one."""
        key = self._key(parts)
        if self.strong.handles((parts[1], parts[2])):
            return self.strong.read(request, (parts[1], parts[2]), key)
        store = self._reader(request, parts)
        if store is None:
            return self._forward(request, parts, "get")
        self._count(request, store, "get")
        value = store.get(key)
        if _WANT_VERSION in request.headers:  # a near cache: it orders answers by stamp
            return self._versioned(store, key, value)
        if value is None:
            if store.stand_in_for:  # the key may exist in the lost copies: not a 404
                lost = ", ".join(store.stand_in_for)
                raise UnavailableError(
                    f"key {key!r} is not in this stand-in; the copies that held the state"
                    f" ({lost}) are unreachable, and their writes are merged when they return",
                    "stand_in",
                )
            raise NotFoundError(f"key {key!r} not found", "key_not_found")
        body, headers = _render(value)
        return Response(
            body, headers=headers or None, raw_headers=self._served, after=store.unwritten(key)
        )

    def _versioned(self, store: ReplicaStore, key: str, value: Visible) -> Response:
        """A GET's answer with ``Statecast-Version``: the latest stamp of the key's state."""
        entry = store.state.entry(key)
        stamp = latest_stamp(entry) if entry is not None else None
        headers = {VERSION: stamp.encode()} if stamp is not None else {}
        if value is None:
            return error_response(404, "key_not_found", f"key {key!r} not found", headers)
        body, more = _render(value)
        return Response(
            body,
            headers={**headers, **more},
            raw_headers=self._served,
            after=store.unwritten(key),
        )

    def get_map(self, request: Request, parts: list[str]) -> Result:
        """The whole map, or with ``?watch=1`` its change stream (see ``agent.watch``)."""
        if self.strong.handles((parts[1], parts[2])):
            return self.strong.read(request, (parts[1], parts[2]), None)
        query = parse_qs(request.target.partition("?")[2])
        if query.get("watch", ["0"])[-1] not in ("0", "false", ""):
            return self._watch(parts, query.get("since", [""])[-1])
        store = self._reader(request, parts)
        if store is None:
            return self._forward(request, parts, "list")
        self._count(request, store, "list")
        items = [json.dumps(k).encode() + b":" + _render(v)[0] for k, v in store.state.items()]
        body = b"{" + b",".join(items) + b"}"
        return Response(body, raw_headers=self._served, after=store.unwritten_tail)

    def _watch(self, parts: list[str], since: str) -> Result:
        store = self._local(parts)
        ns, res = parts[1], parts[2]
        if store is None:
            raise UnavailableError(f"no replica of {ns}/{res} on this node to watch", "no_replica")
        if not store.serving:
            raise UnavailableError(
                f"the replica of {ns}/{res} here is catching up", "replica_syncing"
            )
        try:
            vector = json.loads(since) if since else {}
        except ValueError as err:
            raise BadRequestError(f"since: not JSON: {err}") from err
        if not isinstance(vector, dict) or not all(
            isinstance(r, str) and isinstance(s, int) and not isinstance(s, bool) and s >= 0
            for r, s in vector.items()
        ):
            raise BadRequestError("since: a version vector (replica id -> event number) is needed")
        self._count_watch(store)
        return StreamResponse(self.agent.watch.stream(store, vector))

    def _count_watch(self, store: ReplicaStore) -> None:
        self.agent.access.count(store.spec.namespace, store.spec.name, "watch", "local")

    def put(self, request: Request, parts: list[str]) -> Result:
        """Write a JSON value."""
        key = self._key(parts)
        if self.strong.handles((parts[1], parts[2])):
            value = _json_body(self._body(request, self.limits.max_value_bytes), self._depth)
            operation = Operation("put", key, value)
            return self.strong.write(request, (parts[1], parts[2]), key, operation, "put")
        store = self._reader(request, parts)
        if store is None:
            return self._forward(request, parts, "put")
        value = _json_body(self._body(request, self.limits.max_value_bytes), self._depth)
        named = (store.ref, "put", key, request_name(request))
        remembered = self.named.get(named)
        if remembered is not None and not remembered.sent_on:  # sent again: the first answer
            return self._resent(remembered)  # (see agent.named_writes)
        if elsewhere := self._elsewhere(request, store, named):  # sent on: ask there first
            return self._asked_first(
                store, named, elsewhere, lambda: self._put_here(request, store, named, value)
            )
        return self._put_here(request, store, named, value)

    def _put_here(
        self, request: Request, store: ReplicaStore, named: Named, value: bytes
    ) -> Response:
        self._count(request, store, "put")
        # answered once its log record is written, without a task: the common, fast path
        result, written = store.put_now(named[2], value)
        body = result.to_bytes()
        self.named.remember(named, Remembered(200, body, written))
        # a failed log write answers 503 outcome_unknown: the value is in the state
        after = None if written is None else LocalWrite(written)
        return Response(body, raw_headers=self._served, after=after)

    def delete(self, request: Request, parts: list[str]) -> Result:
        """Delete a key."""
        key = self._key(parts)
        if self.strong.handles((parts[1], parts[2])):
            operation = Operation("delete", key)
            return self.strong.write(request, (parts[1], parts[2]), key, operation, "delete")
        store = self._reader(request, parts)
        if store is None:
            return self._forward(request, parts, "delete")
        named = (store.ref, "delete", key, request_name(request))
        remembered = self.named.get(named)
        if remembered is not None and not remembered.sent_on:  # sent again: as the first time
            return self._resent(remembered)  # (404 or not)
        if elsewhere := self._elsewhere(request, store, named):
            return self._asked_first(
                store, named, elsewhere, lambda: self._delete_here(request, store, named)
            )
        return self._delete_here(request, store, named)

    def _sending_on(
        self, request: Request, parts: list[str], operation: str, maybe_at: list[str]
    ) -> Response | None:
        """Before a named write is sent on: its earlier answer here, if it has one.

        A replica asking this agent whether it applied the write (the client tried this
        agent first) learns that it was sent on from here (:data:`SENT_ON`), or gets the
        promise that it never will be: a first send arriving after that promise is
        answered 503 ``not_applied``, not sent on. Sent on from here before, it goes on
        saying it may be anywhere (``*``). None: send it on.
        """
        name = request_name(request) if request.method in _NAMED else ""
        if not name:
            return None
        named = ((parts[1], parts[2]), operation, self._key(parts), name)
        remembered = self.named.get(named)
        if remembered is not None and not remembered.sent_on:
            return self._resent(remembered)  # (promised away: 503 not_applied)
        if remembered is not None:  # (a "*" of ours, even beside the client's)
            maybe_at.append(ANY_REPLICA)
        self.named.remember(named, SENT_ON)
        return None

    def _delete_here(self, request: Request, store: ReplicaStore, named: Named) -> Response:
        self._count(request, store, "delete")
        try:
            result, written = store.delete_now(named[2])
        except NotFoundError as err:
            missing = error_response(err.status, err.code, str(err))
            self.named.remember(named, Remembered(missing.status, missing.body))
            return missing
        body = result.to_bytes()
        self.named.remember(named, Remembered(200, body, written))
        after = None if written is None else LocalWrite(written)
        return Response(body, raw_headers=self._served, after=after)

    def _elsewhere(self, request: Request, store: ReplicaStore, named: Named) -> tuple[str, ...]:
        """The nodes a named write sent on may have been applied at (see named_writes)."""
        if not named[3]:
            return ()
        nodes = maybe_applied_at(request)
        tried = tried_agents(request)
        if ANY_REPLICA in nodes and tried:  # the client's "*": the agents it tried
            nodes = (*(n for n in nodes if n != ANY_REPLICA), *tried)
        remembered = self.named.get(named)
        if remembered is not None and remembered.sent_on:  # sent on from here once before
            nodes = (*nodes, ANY_REPLICA)
        if ANY_REPLICA in nodes:  # (the client's when unknown: any replica of the resource)
            return (*self.agent.locations.get(store.ref, ()), *nodes)
        return nodes

    async def _asked_first(
        self,
        store: ReplicaStore,
        named: Named,
        elsewhere: tuple[str, ...],
        apply: Callable[[], Response],
    ) -> Response:
        """A write sent on: its first answer where it was applied, else applied here.

        Raises:
            UnavailableError: ``outcome_unknown`` when a node it may have reached could
                not be asked; ``not_applied`` when this replica closed meanwhile.
        """
        everyone = self.agent.locations.get(store.ref, ())  # asked when one may have sent it on
        found = await self.elsewhere.ask(
            named, (n for n in elsewhere if n != ANY_REPLICA), everyone
        )
        if found is not None:  # applied there: its first answer, nothing applied here
            self.named.remember(named, found)
            return self._resent(found)
        remembered = self.named.get(named)  # sent here again meanwhile, or promised away
        if remembered is not None and not remembered.sent_on:
            return self._resent(remembered)
        if self.agent.stores.get(store.ref) is not store or not store.serving:
            ns, res = store.ref
            raise UnavailableError(f"the replica of {ns}/{res} here closed", "not_applied")
        return apply()

    def peer_named(self, request: Request, parts: list[str]) -> Result:
        """Whether a named eventual write was applied here (a replica it was sent on to asks).

        Applied: ``{"applied": true, "status", "body"}``, its first answer (after its log
        batch). Not: ``{"applied": false}``, and it never will be: the name is remembered
        as refused (the write, arriving late, answers 503 ``not_applied``, here or, sent
        on from here, before it goes). Sent on from here (this agent forwarded it):
        ``{"applied": false, "sentOn": true}``, the asker asks every replica. Since
        session 12 both say ``knowsSentOn`` (agents of before: the asker asks everyone).
        """
        asked = _parse_json(request.body or b"{}", 4)
        if not isinstance(asked, dict):
            raise BadRequestError("a named write: {operation, key, name}")
        operation, key, name = asked.get("operation"), asked.get("key"), asked.get("name")
        if (
            operation not in ("put", "delete")
            or not isinstance(key, str)
            or not isinstance(name, str)
            or not 0 < len(name) <= MAX_NAME
        ):
            raise BadRequestError("a named write: {operation: put|delete, key, name}")
        named = ((parts[3], parts[4]), operation, key, name)
        remembered = self.named.get(named)
        if remembered is None:  # a promise: never applied here from now on
            self.named.remember(named, REFUSED)
            remembered = REFUSED
        if remembered.sent_on:  # sent on from here: the replicas it went to may have it
            return _json({"applied": False, "sentOn": True, KNOWS_SENT_ON: True})
        if remembered.refused:
            return _json({"applied": False, KNOWS_SENT_ON: True})
        first = remembered.body.decode("utf-8", "replace")
        body = json.dumps({"applied": True, "status": remembered.status, "body": first})
        batch = remembered.batch
        return Response(body.encode(), after=None if batch is None else LocalWrite(batch))

    def _resent(self, remembered: Remembered) -> Response:
        """The answer of a named write applied before, once its log batch is done."""
        batch = remembered.batch
        after = None if batch is None else LocalWrite(batch)
        return Response(remembered.body, remembered.status, raw_headers=self._served, after=after)

    def increment(self, request: Request, parts: list[str]) -> Result:
        """Add to a counter."""
        key = self._key(parts)
        ref = (parts[1], parts[2])
        if self.strong.handles(ref):
            operation = Operation("increment", key, by=self._increment_by(request))
            return self.strong.write(request, ref, key, operation, "increment")
        store = self._reader(request, parts)
        if store is None:
            return self._forward(request, parts, "increment")
        by = self._increment_by(request)
        self._count(request, store, "increment")
        return self._incremented(store, key, by)

    def _increment_by(self, request: Request) -> int:
        raw = self._body(request, self.limits.max_value_bytes)
        parsed = _parse_json(raw or b"{}", self._depth)
        by = parsed.get("by", 1) if isinstance(parsed, dict) else None
        if not isinstance(by, int) or isinstance(by, bool) or abs(by) >= 1 << 53:
            raise BadRequestError('increment body must be {"by": <integer>}', "bad_increment")
        return by

    async def _incremented(self, store: ReplicaStore, key: str, by: int) -> Response:
        result, value = await store.increment(key, by)
        body = json.dumps({"value": value, **result.to_json()}).encode()
        return Response(body, raw_headers=self._served)

    # --- operations ---------------------------------------------------------------
    def healthz(self, request: Request, parts: list[str]) -> Result:
        """Liveness."""
        return _json({"status": "ok"})

    def readyz(self, request: Request, parts: list[str]) -> Result:
        """Readiness: the first synchronisation with peers is done."""
        if not self.agent.ready:
            raise UnavailableError("initial synchronisation not done", "not_ready")
        return _json({"status": "ready"})

    def metrics(self, request: Request, parts: list[str]) -> Result:
        """Prometheus exposition of the agent's registry."""
        return Response(generate_latest(self.agent.registry), content_type=CONTENT_TYPE_LATEST)

    def stats(self, request: Request, parts: list[str]) -> Result:
        """The compact JSON snapshot the operator samples."""
        agent = self.agent
        replicas = []
        for ref in sorted(agent.stores):
            report = agent.report(ref)
            if report is not None:
                replicas.append(
                    {
                        "namespace": report.namespace,
                        "resource": report.resource,
                        "keys": report.keys,
                        "bytes": report.bytes,
                        "versionVector": report.version_vector,
                        "lastModified": report.last_modified,
                        "lastSyncMode": report.last_sync_mode,
                        "lastSyncTime": report.last_sync_time,
                        "lagSeconds": report.lag_seconds,
                    }
                )
        return _json(
            {
                "node": agent.node,
                "zone": agent.config.zone,
                "time": time.time(),
                "startedAt": agent.access.started,
                "accesses": agent.access.snapshot(),
                "replicas": replicas,
                "sync": agent.sync_log.snapshot(),
                "retired": [
                    {"namespace": ns, "resource": name, "since": since}
                    for ns, name, since in agent.retired.rows()
                ],
                # False until the agent has looked at its data directory since it started:
                # "retired" may then lack copies an earlier run left
                "retiredComplete": agent.retired.complete,
                "peers": [
                    {"node": p.node, "rttSeconds": p.rtt}
                    for p in agent.directory.peers.values()
                    if p.rtt is not None
                ],
            }
        )

    def agents(self, request: Request, parts: list[str]) -> Result:
        """This agent's peers with their measured round-trip times (applications' URLs)."""
        peers = [
            {"node": p.node, "url": p.app_url or p.url, "zone": p.zone, "rttSeconds": p.rtt}
            for p in self.agent.directory.peers.values()
        ]
        return _json({"node": self.agent.node, "peers": peers})

    # --- peer protocol ------------------------------------------------------------
    def _peer_store(self, parts: list[str], sender: str) -> ReplicaStore:
        if self.agent.directory.url(sender) is None:
            raise ForbiddenError(f"unknown peer {sender!r}", "unknown_peer")
        ref = (parts[3], parts[4])
        store = self.agent.stores.get(ref)
        if store is None:
            raise NotFoundError(f"no replica of {ref[0]}/{ref[1]} here", "unknown_resource")
        if sender not in self.agent.locations.get(ref, ()):
            # placed there moments ago? (a failover copy's first pull): learn it now; the
            # new copy asks again shortly (Replication.first_pull)
            self.agent.recheck_placement()
            raise ForbiddenError(
                f"{sender!r} holds no replica of {ref[0]}/{ref[1]}", "replica_does_not_belong"
            )
        return store

    def _learning(self, sender: str, retry: Callable[[], Result]) -> Result | None:
        """For a sender unknown here: read the peers once more, then ``retry`` (None: known).

        A peer that just (re)started is unknown until this agent reads its Lease; its
        hand-off was refused (403 ``unknown_peer``) and retried 10 s later. The reading
        is shared and at most one a second (``PeerDirectory.may_learn``); ``retry`` must
        not ask again, so a sender still unknown then is refused.
        """
        if not self.agent.directory.may_learn(sender):
            return None
        return self._learned(retry)

    async def _learned(self, retry: Callable[[], Result]) -> Answer:
        await self.agent.directory.learn()
        answer = retry()
        return await answer if isinstance(answer, Awaitable) else answer

    def peer_push(self, request: Request, parts: list[str], learn: bool = True) -> Result:
        """Join a delta a peer pushed."""
        message = decode_push(request.body)
        # ``from`` is the origin of the events: a replica id, ``<node>#<token>`` (or the
        # node name of an agent of before)
        sender = self._sender(request, node_of_replica(message.sender))
        if learn and (
            later := self._learning(sender, lambda: self.peer_push(request, parts, False))
        ):
            return later
        store = self._peer_store(parts, sender)
        return self._pushed(
            store, sender, message.sender, (message.first, message.last), message.entries,
            len(request.body),
        )  # fmt: skip

    async def _pushed(
        self, store: ReplicaStore, sender: str, origin: str, events: tuple[int, int],
        entries: Mapping[str, Entry], size: int,
    ) -> Response:  # fmt: skip
        await store.apply_push(origin, events[0], events[1], entries)
        ns, res = store.spec.ref
        self.agent.sync_log.record((ns, res, sender, "push", "in"), size)
        return _json({"ok": True})

    def peer_sync(self, request: Request, parts: list[str], learn: bool = True) -> Result:
        """Answer a peer's version vector with a delta or a full snapshot.

        In lines (:func:`~statecast.agent.wire.encode_sync_lines`) when the peer asks for
        them, so that it can join the answer piece by piece; one JSON object otherwise.
        """
        ask = decode_sync_request(request.body)
        sender = self._sender(request, ask.sender)
        if learn and (
            later := self._learning(sender, lambda: self.peer_sync(request, parts, False))
        ):
            return later
        store = self._peer_store(parts, sender)
        if store.spec.ref in self.agent.replication.warm:
            # a reopened warm copy may hold a key whose deletion it has not seen yet:
            # what it would send (a full answer to a new copy) must not spread it
            raise UnavailableError("catching up after a return", "catching_up")
        if ask.delta_only and store.state.behind_collection(ask.vector):
            raise ConflictError(
                "a deletion you have not seen was collected here: take a fresh copy",
                NEEDS_FULL_COPY,
            )
        if len(store.state) > _ENCODE_ON_LOOP and store.state.sends_everything(ask.vector):
            return self._whole_copy(store, ask)
        return self._answer_sync(store, ask)

    async def _whole_copy(self, store: ReplicaStore, ask: SyncRequest) -> Answer:
        """A full answer of a large map, its frozen view's arrays made beforehand.

        The arrays the view copies the index into are made a step per loop turn (a cold
        copy, into fresh pages, was ~8 ms of the loop at a million keys).
        """
        for _ in store.state.prepare_image():
            await asyncio.sleep(0)
        answer = self._answer_sync(store, ask)
        return await answer if isinstance(answer, Awaitable) else answer

    def _answer_sync(self, store: ReplicaStore, ask: SyncRequest) -> Result:
        payload = store.delta_since(ask.vector)
        # a stand-in holds the source's seed, not the lost copies' state: a copy that
        # pulled from it has not caught up
        caught_up = store.serving and not store.stand_in_for
        self.agent.replication.record_ack(store.spec.ref, ask.sender, ask.vector)
        if payload.full and len(payload.entries) > _ENCODE_ON_LOOP:
            # A full answer's entries are a frozen view of the table (later writes do
            # not change it): encode it a few lines per loop turn, so the node's readers
            # do not wait seconds for a copy of a large map.
            return self._synced_in_steps(store, ask, payload, caught_up)
        if ask.lines:
            body = encode_sync_lines(payload, caught_up=caught_up)
        else:
            body = encode_sync_reply(payload, caught_up=caught_up)
        return self._synced(store, ask, payload, body)

    async def _synced_in_steps(
        self, store: ReplicaStore, ask: SyncRequest, payload: SyncPayload, caught_up: bool
    ) -> Response:
        # in pieces, never one buffer of it all (the server sends them a slice a step)
        if ask.lines:
            steps = sync_lines_steps(payload, caught_up=caught_up)
        else:
            steps = sync_reply_steps(payload, _ENCODE_BATCH, caught_up=caught_up)
        turn = self._encode_turn
        while True:
            try:
                first = True
                while turn.grant(first):
                    next(steps)
                    first = False
            except StopIteration as done:
                parts: list[bytes] = done.value
                return self._synced(store, ask, payload, parts)
            await asyncio.sleep(0)

    def _synced(
        self, store: ReplicaStore, ask: SyncRequest, payload: SyncPayload, body: bytes | list[bytes]
    ) -> Response:
        ns, res = store.spec.ref
        mode = "full" if payload.full else "delta"
        # a peer never holds an event this replica could still lose (and number again)
        kind = SYNC_LINES if ask.lines else "application/json"
        after = store.unwritten_tail
        # the asker may join it as a warm copy: it was checked (see peer_sync)
        checked = {DELTA_ONLY_HEADER: DELTA_ONLY_CHECKED} if ask.delta_only else None
        if isinstance(body, bytes):
            answer = Response(body, headers=checked, content_type=kind, after=after)
        else:
            answer = Response(headers=checked, content_type=kind, after=after, parts=body)
        self.agent.sync_log.record((ns, res, ask.sender, mode, "out"), answer.size)
        return answer

    def peer_handoff(self, request: Request, parts: list[str], learn: bool = True) -> Result:
        """Take a retired copy's writes from an agent that no longer holds a replica.

        The first message asks for this replica's vector (answered with ``"lines":
        true``: the second may come in lines); the second brings what it lacks against
        that vector, joined like a sync answer: in lines (``application/x-ndjson``) a
        step of entries per turn of the event loop, as one JSON object (agents of
        before) at once. Both answer the vector.
        """
        in_lines = request.headers.get("content-type", "").startswith(SYNC_LINES)
        if in_lines:
            sender, reader, lines = read_hand_off_lines(request.body)
        else:
            message = decode_hand_off(request.body)
            sender = message.sender
        retry = lambda: self.peer_handoff(request, parts, False)  # noqa: E731
        if learn and (later := self._learning(self._sender(request, sender), retry)):
            return later
        if self.agent.directory.url(self._sender(request, sender)) is None:
            raise ForbiddenError(f"unknown peer {sender!r}", "unknown_peer")
        ref = (parts[3], parts[4])
        store = self.agent.stores.get(ref)
        if store is None:
            raise NotFoundError(f"no replica of {ref[0]}/{ref[1]} here", "unknown_resource")
        if in_lines:
            return self._handed_off_lines(store, sender, reader, lines, len(request.body))
        if message.payload is None:
            return _json({"vv": store.version_vector.to_json(), "lines": True})
        return self._handed_off(store, sender, message.payload, len(request.body))

    async def _handed_off(
        self, store: ReplicaStore, sender: str, payload: SyncPayload, size: int
    ) -> Response:
        changed = await store.apply_sync(payload)
        return self._took(store, sender, changed, size)

    async def _handed_off_lines(
        self, store: ReplicaStore, sender: str, reader: SyncLines, lines: list[bytes], size: int
    ) -> Response:
        joining = store.joining()
        for line in lines:  # a copy of a million keys is not joined in one loop turn
            await joining.add_in_steps(reader.entries(line))
        head = reader.end()
        return self._took(store, sender, await joining.finish(head.full, head.vector), size)

    def _took(self, store: ReplicaStore, sender: str, changed: int, size: int) -> Response:
        ns, res = store.spec.ref
        self.agent.sync_log.record((ns, res, sender, "handoff", "in"), size)
        log.info(
            "event=retired_copy_received resource=%s/%s from=%s keys_changed=%d",
            ns, res, sender, changed,
        )  # fmt: skip
        return _json({"vv": store.version_vector.to_json()})

    def strong_append(self, request: Request, parts: list[str]) -> Result:
        """A strong resource's leader sends entries (or a heartbeat)."""
        return self.strong.append(request, (parts[4], parts[5]), self._sender)

    def strong_fence(self, request: Request, parts: list[str]) -> Result:
        """The operator fences a strong resource's replica for a new epoch."""
        return self.strong.fence(request, (parts[4], parts[5]))

    def ping(self, request: Request, parts: list[str]) -> Result:
        """For round-trip measurements between agents."""
        return _json({"node": self.agent.node})


#: Seconds a replica that did not answer a forward is tried after the others.
FORWARD_SET_ASIDE = 3.0

#: Operations a forward never sends to a second replica once the first may have received
#: them (applied twice they would count twice), as the client library resends none.
_NOT_RESENT = frozenset({"increment"})
#: Methods of the eventual writes a forward names (and says where they may have arrived).
_NAMED = frozenset({"PUT", "DELETE"})

_PEER_PREFIX = b"/v1/peer/"


def build_server(agent: Agent, identify: Callable[[Any], str | None] | None = None) -> HttpServer:
    """The HTTP server answering for ``agent`` (call ``start(host, port)`` on it).

    ``identify`` makes it the mutual-TLS listener's (the client certificate's identity).

    A request's body limit is decided from its path before a byte of the body is
    read: ``maxPeerBodyBytes`` for the peer routes, ``maxValueBytes`` for the rest. With
    ``tls``, the plain listener refuses every peer route (403), so it reads no peer body
    larger than an application one: anyone who reaches the port could otherwise make
    it hold 256 MiB before the refusal.
    """
    limits = agent.config.limits
    peer, application = limits.max_peer_body_bytes, limits.max_value_bytes
    if agent.config.tls and identify is None:
        peer = application

    def body_limit(path: bytes) -> int:
        return peer if path.startswith(_PEER_PREFIX) else application

    api = AgentApi(agent)
    return HttpServer(
        api,
        fast_get=api.fast_get,
        max_body=max(peer, application),
        body_limit=body_limit,
        header_timeout=limits.header_timeout_seconds,
        body_timeout=limits.body_timeout_seconds,
        max_connections=limits.max_connections,
        max_buffered=limits.max_buffered_bytes,
        identify=identify,
    )
