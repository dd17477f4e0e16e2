"""The blocking client: a thin shell of sockets around the sans-I/O core.

Every decision (which agent, fail over or not, what an answer means) is the core's
(:mod:`statecast.client.core`); this module only sends a :class:`~statecast.client.core.Trip`
over a keep-alive connection and says what its exceptions mean. One client may be shared
by many threads: each request takes an idle connection to its agent from a pool (or
opens one) and gives it back, so threads wait on no lock during a round trip.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec, TypeVar
from urllib.parse import urlsplit

from statecast.client import core
from statecast.client.cached import CachedResource
from statecast.client.core import Call, ClientShell, Failed, Failure, Response, Trip
from statecast.client.transport import Connection, ConnectionClosedError

__all__ = ["Client", "Response"]

P = ParamSpec("P")
T = TypeVar("T")

#: Methods a request of which may be sent again when a kept-alive connection closes
#: before its answer (the Agent API's only POST, an increment, would count twice).
_RESENDABLE = frozenset({"GET", "HEAD", "PUT", "DELETE"})


def _operation(make: Callable[P, Call[T]]) -> Callable[Concatenate[Client, P], T]:
    """A client method that runs the call ``make`` builds (its docstring is the method's)."""

    def method(self: Client, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return self.call(make(*args, **kwargs))

    method.__doc__ = make.__doc__
    return method


class Client(ClientShell):
    """A blocking client of the Agent API, safe to share between threads.

    Args:
        urls: Agents to use (default: from the environment, see
            :func:`statecast.client.discovery.agent_urls`).
        timeout: Seconds per request.
        discover_peers: Ask the first agent for the others, to fail over to them.
    """

    def _open(self) -> None:
        self._idle: dict[str, list[Connection]] = {}
        self._pool = threading.Lock()  # guards _idle only, never held across a round trip

    def close(self) -> None:
        """Close the idle connections (those in use close when their request ends)."""
        with self._pool:
            idle, self._idle = self._idle, {}
        for connections in idle.values():
            for conn in connections:
                conn.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the shell ------------------------------------------------------------------
    def call(self, call: Call[T]) -> T:
        """Run one Agent API call (see :mod:`statecast.client.core`).

        Raises:
            RequestError: An agent answered with an error (a subclass per status), or
                (``UnavailableError``) no agent could be reached.
        """
        attempt = self.core.attempt(call)
        while (trip := attempt.next_trip()) is not None:
            attempt.outcome(self._trip(trip))
        return attempt.result()

    def request(
        self, method: str, path: str, body: bytes | None = None, *, retry: bool = True
    ) -> Response:
        """Send a request to the first agent that answers; raise on an error answer.

        Args:
            method: HTTP method.
            path: Path under the agent's base URL.
            body: Request body.
            retry: Fail over to other agents once one may have received it (off for
                requests that must not be applied twice).
        """
        return self.call(Call(method, path, body, retry, _answer))

    def _trip(self, trip: Trip) -> Response | Failed:
        try:
            return self._round_trip(trip)
        except ConnectionRefusedError as err:
            return Failed(Failure.NOT_SENT, err)
        except OSError as err:  # reset, timeout, closed, garbled: it may have arrived
            return Failed(Failure.MAYBE_SENT, err)

    def _round_trip(self, trip: Trip) -> Response:
        conn = self._checkout(trip.url)
        conn.dropped()  # closed while idle: the request goes on a new connection
        reused = not conn.fresh
        try:
            reply = conn.request(trip.method, trip.path, trip.body, trip.headers)
        except ConnectionClosedError:
            # closed as the request went out: an idle close just then, or the agent
            # died after it read it (and may have applied it). Sent again only if
            # sending it twice does no harm: never an increment (POST).
            if not reused or trip.method not in _RESENDABLE:
                raise
            reply = conn.request(trip.method, trip.path, trip.body, trip.headers)
        self._checkin(trip.url, conn)
        return Response.of(reply.status, reply.body, reply.headers.get)

    def _checkout(self, url: str) -> Connection:
        with self._pool:
            idle = self._idle.get(url)
            if idle:
                return idle.pop()
        parts = urlsplit(url)
        return Connection(parts.hostname or "", parts.port or 80, self.timeout)

    def _checkin(self, url: str, conn: Connection) -> None:
        with self._pool:
            self._idle.setdefault(url, []).append(conn)

    def cached(self, namespace: str, resource: str, **options: Any) -> CachedResource:
        """``namespace/resource`` through a near cache in this process (opt-in, per resource).

        Options: ``max_keys``, ``max_bytes``, ``max_staleness`` (see
        :class:`~statecast.client.cached.CachedResource`). Close it when done.
        """
        return CachedResource(self, namespace, resource, **options)

    # --- the Agent API --------------------------------------------------------------
    get = _operation(core.get_call)
    get_siblings = _operation(core.siblings_call)
    put = _operation(core.put_call)
    delete = _operation(core.delete_call)
    increment = _operation(core.increment_call)
    items = _operation(core.items_call)


def _answer(response: Response) -> Response:
    return response
