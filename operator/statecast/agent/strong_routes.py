"""The Agent API of strong resources: writes at the leader, linearizable reads.

:class:`StrongRoutes` answers the application routes of DESIGN.md for a resource with
``consistency: strong`` (the server hands such requests to it) and the two peer routes
of the protocol (:mod:`statecast.agent.strong_link`).

- A write (PUT, DELETE, increment) is taken by the leader only and answers the epoch
  and index of its log entry (``{"epoch", "index"}``, an increment its ``value`` too);
  any other agent forwards it to the leader (once: a forwarded request is never forwarded again) and
  passes the answer back with ``Statecast-Leader: <url>``, so a client can go there
  directly next time. A forwarded write always carries a ``Statecast-Request-Id`` (the
  client's, or one made here): aiohttp sends a PUT or DELETE again on a new connection
  when the first one closes before the answer, and the leader must apply it once and
  answer the first outcome, not overwrite a write made in between.
- A read is linearizable at the leader (:meth:`StrongReplica.read_barrier`), forwarded
  the same way. With ``Statecast-Max-Staleness: <seconds>`` the local replica answers
  if it heard from its leader within that many seconds (``Statecast-Served: local``).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import replace

import aiohttp

from statecast.agent.errors import (
    BadRequestError,
    ForbiddenError,
    NotFoundError,
    UnavailableError,
)
from statecast.agent.httpserver import Request, Response
from statecast.agent.runtime import Agent
from statecast.agent.strong import StrongReplica, outcome_error
from statecast.agent.strong_link import decode_append, decode_fence
from statecast.agent.trust import forwarded_by_peer
from statecast.core.strong.log import Operation
from statecast.core.strong.machine import FORWARDED, Value, render

__all__ = ["LEADER", "MAX_STALENESS", "StrongRoutes"]

log = logging.getLogger(__name__)

LEADER = "Statecast-Leader"
REQUEST_ID = "Statecast-Request-Id"
_REQUEST_ID = REQUEST_ID.lower()
MAX_STALENESS = "Statecast-Max-Staleness"
_MAX_STALENESS = MAX_STALENESS.lower()
_PASSED = ("Statecast-Served-By", LEADER, "Content-Type")
#: Seconds without a heartbeat after which a follower stops forwarding to its leader
#: (five heartbeats missed; a replica opened a moment ago has heard nothing yet).
LEADER_SILENT = 1.0

Ref = tuple[str, str]


def _json(value: object, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(value).encode(), headers=headers)


def _staleness(request: Request) -> float | None:
    raw = request.headers.get(_MAX_STALENESS)
    if raw is None:
        return None
    try:
        seconds = float(raw.removesuffix("s"))
    except ValueError as err:
        raise BadRequestError(f"{MAX_STALENESS} must be seconds, got {raw!r}") from err
    if not seconds >= 0:
        raise BadRequestError(f"{MAX_STALENESS} must be at least 0")
    return seconds


class StrongRoutes:
    """Routes of strong resources for ``agent``.

    Args:
        agent: The agent.
        forwarded_by: The header that marks a forwarded request (lower case).
    """

    def __init__(self, agent: Agent, forwarded_by: str) -> None:
        self.agent = agent
        self.forwarded_by = forwarded_by

    def handles(self, ref: Ref) -> bool:
        """True when ``ref`` is a strong resource this agent knows."""
        spec = self.agent.specs.get(ref)
        return spec is not None and spec.consistency == "strong"

    def _served(self) -> dict[str, str]:
        return {"Statecast-Served": "local", "Statecast-Served-By": self.agent.node}

    def _leading(self, ref: Ref) -> StrongReplica | None:
        replica = self.agent.strong.get(ref)
        return replica if replica is not None and replica.core.leader is not None else None

    # --- application routes -------------------------------------------------------
    async def write(
        self, request: Request, ref: Ref, key: str, operation: Operation, name: str
    ) -> Response:
        """A put, delete or increment: at the leader, or forwarded to it.

        With ``Statecast-Request-Id`` (at most 64 characters) a write resent after an
        unknown outcome is applied at most once.
        """
        request_id = request.headers.get(_REQUEST_ID, "")
        if len(request_id) > 64:
            raise BadRequestError(f"{REQUEST_ID} longer than 64 characters")
        if request_id:
            operation = replace(operation, request=request_id)
        replica = self._leading(ref)
        if replica is None:
            return await self._to_leader(request, ref)
        if not forwarded_by_peer(request, self.forwarded_by, self.agent.directory):
            self.agent.access.count(ref[0], ref[1], name, "local")
        entry, outcome = await replica.propose(operation)
        outcome_error(outcome, key)
        # (a write named before answers where it was applied: the first outcome)
        epoch, index = outcome.at or (entry.epoch, entry.index)
        answer: dict[str, object] = {"epoch": epoch, "index": index}
        if operation.kind == "increment":
            answer["value"] = outcome.value
        return _json(answer, self._served())

    async def read(self, request: Request, ref: Ref, key: str | None) -> Response:
        """A key (or the whole map with ``key`` None): linearizable, or bounded-stale."""
        name = "get" if key is not None else "list"
        replica = self.agent.strong.get(ref)
        staleness = _staleness(request)
        if replica is not None and staleness is not None and replica.fresh_within(staleness):
            return self._answer(request, ref, replica, key, name)
        leading = self._leading(ref)
        if leading is None:
            return await self._to_leader(request, ref)
        await leading.read_barrier()
        return self._answer(request, ref, leading, key, name)

    def _answer(
        self, request: Request, ref: Ref, replica: StrongReplica, key: str | None, name: str
    ) -> Response:
        if not forwarded_by_peer(request, self.forwarded_by, self.agent.directory):
            self.agent.access.count(ref[0], ref[1], name, "local")
        if key is None:
            items = [json.dumps(k).encode() + b":" + render(v) for k, v in replica.items()]
            return Response(b"{" + b",".join(items) + b"}", headers=self._served())
        value: Value | None = replica.get(key)
        if value is None:
            raise NotFoundError(f"key {key!r} not found", "key_not_found")
        return Response(render(value), headers=self._served())

    async def _to_leader(self, request: Request, ref: Ref) -> Response:
        """Forward to the leader the Replica objects name; 503 when there is none to ask."""
        leader = self.agent.leaders.get(ref)
        if leader is None:
            raise UnavailableError(f"{ref[0]}/{ref[1]} has no leader now", "no_leader")
        if leader == self.agent.node or self.forwarded_by in request.headers:
            replica = self.agent.strong.get(ref)
            opening = replica is not None and replica.core.leader is not None
            code = "epoch_opening" if opening else "not_leader"
            raise UnavailableError(f"{self.agent.node} does not lead {ref[0]}/{ref[1]} now", code)
        url = self.agent.directory.url(leader)
        if url is None:
            raise UnavailableError(f"the leader {leader} is unreachable", "no_leader")
        replica = self.agent.strong.get(ref)
        if replica is not None and replica.leader_silent(LEADER_SILENT):
            # Its heartbeats stopped: a write sent now would most likely end unknown.
            message = f"no word from the leader {leader} for {LEADER_SILENT:g} s"
            raise UnavailableError(message, "no_leader")
        session = self.agent.replication.session
        try:
            async with session.request(
                request.method,
                url + request.target,
                data=request.body or None,
                headers={self.forwarded_by: self.agent.node, **self._passed(request)},
                **self.agent.directory.options(leader),
            ) as reply:
                payload = await reply.read()
                headers = {h: reply.headers[h] for h in _PASSED if h in reply.headers}
                status = reply.status
        except aiohttp.ClientConnectorError as err:  # never reached it: nothing was applied
            raise UnavailableError(f"the leader {leader} is unreachable", "no_leader") from err
        except (aiohttp.ClientError, TimeoutError) as err:
            if request.method != "GET":  # it may have reached the leader
                message = f"the leader {leader} did not answer: the write may or may not apply"
                raise UnavailableError(message, "outcome_unknown") from err
            raise UnavailableError(f"the leader {leader} is unreachable", "no_leader") from err
        headers["Statecast-Served"] = "remote"
        headers[LEADER] = self.agent.directory.app_url(leader) or url
        if status < 500:
            self.agent.access.count(ref[0], ref[1], request.method.lower(), "remote")
        return Response(payload, status, headers)

    @staticmethod
    def _passed(request: Request) -> dict[str, str]:
        passed = {}
        for name, lower in (
            (MAX_STALENESS, _MAX_STALENESS),
            (REQUEST_ID, _REQUEST_ID),
            ("Authorization", "authorization"),  # the leader checks the caller too
        ):
            if (value := request.headers.get(lower)) is not None:
                passed[name] = value
        if request.method != "GET" and not passed.get(REQUEST_ID):
            # aiohttp may send it twice (see the module docstring): named, it applies once
            passed[REQUEST_ID] = f"{FORWARDED}{uuid.uuid4().hex}"
        return passed

    # --- peer routes --------------------------------------------------------------
    def _replica(self, ref: Ref) -> StrongReplica:
        replica = self.agent.strong.get(ref)
        if replica is None:
            raise NotFoundError(f"no strong replica of {ref[0]}/{ref[1]} here", "unknown_resource")
        return replica

    async def append(
        self, request: Request, ref: Ref, authenticated: Callable[[Request, str], str]
    ) -> Response:
        """A leader's entries (``authenticated`` checks the sender against the caller).

        A sender unknown here (a leader whose agent just restarted, or a new voter's:
        not in the Leases this agent last read) is looked up once more before it is
        refused, as on the eventual peer routes: the Leases are read again, shared and
        at most once a second (``PeerDirectory.may_learn``).
        """
        sender, message = decode_append(request.body)
        if authenticated(request, sender) != message.leader:
            raise BadRequestError("the sender of an append must be its leader")
        directory = self.agent.directory
        if directory.url(sender) is None and directory.may_learn(sender):
            await directory.learn()
        if directory.url(sender) is None:
            raise ForbiddenError(f"unknown peer {sender!r}", "unknown_peer")
        reply = await self._replica(ref).accept(message)
        return _json(reply.to_json())

    async def fence(self, request: Request, ref: Ref) -> Response:
        """The operator's prepare of a new epoch: promise it, answer the log position."""
        epoch = decode_fence(request.body)
        promised, position = await self._replica(ref).fence(epoch)
        replica = self._replica(ref)
        body = {
            "promised": promised,
            "epoch": replica.core.promised,
            "position": position.to_json(),
        }
        return _json(body)
