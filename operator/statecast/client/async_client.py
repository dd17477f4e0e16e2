"""The asyncio client: a thin shell of aiohttp around the sans-I/O core.

Every decision (which agent, fail over or not, what an answer means) is the core's
(:mod:`statecast.client.core`); this module only sends a :class:`~statecast.client.core.Trip`
through a pooled session and says what aiohttp's exceptions mean.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Concatenate, ParamSpec, TypeVar

import aiohttp

from statecast.client import core
from statecast.client.core import (
    Call,
    ClientShell,
    Failed,
    Failure,
    GarbledAnswerError,
    Response,
    Trip,
)

__all__ = ["AsyncClient"]

P = ParamSpec("P")
T = TypeVar("T")


def _operation(
    make: Callable[P, Call[T]],
) -> Callable[Concatenate[AsyncClient, P], Awaitable[T]]:
    """A client coroutine that runs the call ``make`` builds (its docstring is the method's)."""

    async def method(self: AsyncClient, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return await self.call(make(*args, **kwargs))

    method.__doc__ = make.__doc__
    return method


class AsyncClient(ClientShell):
    """An asyncio client of the Agent API; use ``async with`` or call :meth:`close`.

    Args:
        urls: Agents to use (default: from the environment).
        timeout: Seconds per request.
        discover_peers: Ask the first agent for the others, to fail over to them.
    """

    def _open(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the session."""
        if self._session is not None:
            await self._session.close()

    # --- the shell ------------------------------------------------------------------
    async def call(self, call: Call[T]) -> T:
        """Run one Agent API call (see :mod:`statecast.client.core`).

        Raises:
            RequestError: An agent answered with an error (a subclass per status), or
                (``UnavailableError``) no agent could be reached.
        """
        attempt = self.core.attempt(call)
        while (trip := attempt.next_trip()) is not None:
            attempt.outcome(await self._trip(trip))
        return attempt.result()

    async def request(
        self, method: str, path: str, body: bytes | None = None, *, retry: bool = True
    ) -> Response:
        """Send to the first agent that answers; raise on an error answer (see :meth:`call`)."""
        return await self.call(Call(method, path, body, retry, lambda answer: answer))

    async def _trip(self, trip: Trip) -> Response | Failed:
        try:
            return await self._round_trip(trip)
        except aiohttp.ClientConnectorError as err:  # never reached the agent
            return Failed(Failure.NOT_SENT, err)
        except (aiohttp.ClientError, TimeoutError, GarbledAnswerError) as err:
            return Failed(Failure.MAYBE_SENT, err)

    async def _round_trip(self, trip: Trip) -> Response:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                connector=aiohttp.TCPConnector(limit=100),
            )
        headers = dict(trip.headers)
        if trip.body is not None:
            headers["Content-Type"] = "application/json"
        async with self._session.request(
            trip.method, trip.url + trip.path, data=trip.body, headers=headers
        ) as reply:
            return Response.of(reply.status, await reply.read(), reply.headers.get)

    # --- the Agent API --------------------------------------------------------------
    get = _operation(core.get_call)
    get_siblings = _operation(core.siblings_call)
    put = _operation(core.put_call)
    delete = _operation(core.delete_call)
    increment = _operation(core.increment_call)
    items = _operation(core.items_call)
