"""The asyncio client: a pooled aiohttp session, failover on a dead agent."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import aiohttp

from statecast.client.discovery import agent_urls
from statecast.client.endpoints import Endpoints, key_path, peers_from
from statecast.client.errors import RequestError, UnavailableError, error_for
from statecast.client.sync_client import Response

__all__ = ["AsyncClient"]


class AsyncClient:
    """An asyncio client of the Agent API; use ``async with`` or call :meth:`close`.

    Args:
        urls: Agents to use (default: from the environment).
        timeout: Seconds per request.
        discover_peers: Ask the first agent for the others, to fail over to them.
    """

    def __init__(
        self,
        urls: Iterable[str] | None = None,
        *,
        timeout: float = 5.0,
        discover_peers: bool = True,
    ) -> None:
        self.endpoints = Endpoints(agent_urls() if urls is None else urls)
        self.discover_peers = discover_peers
        self.last_served: str | None = None
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the session."""
        if self._session is not None:
            await self._session.close()

    def _session_now(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=self._timeout, connector=aiohttp.TCPConnector(limit=100)
            )
        return self._session

    async def _once(self, url: str, method: str, path: str, body: bytes | None) -> Response:
        headers = {"Content-Type": "application/json"} if body is not None else None
        async with self._session_now().request(
            method, url + path, data=body, headers=headers
        ) as reply:
            data = await reply.read()
            siblings = int(reply.headers.get("Statecast-Siblings", "1"))
            return Response(reply.status, data, reply.headers.get("Statecast-Served"), siblings)

    async def request(
        self, method: str, path: str, body: bytes | None = None, *, retry: bool = True
    ) -> Response:
        """Send to the first agent that answers; raise on an error answer.

        Raises:
            RequestError: The agent answered with an error.
            UnavailableError: No agent could be reached.
        """
        last_error: Exception | None = None
        refused: RequestError | None = None
        for url in self.endpoints.order():
            try:
                response = await self._once(url, method, path, body)
            except aiohttp.ClientConnectorError as err:  # never reached the agent
                last_error = err
                self.endpoints.failed(url)
                continue
            except (aiohttp.ClientError, TimeoutError) as err:
                last_error = err
                self.endpoints.failed(url)
                if not retry:
                    break
                continue
            self.endpoints.succeeded(url)
            if self.discover_peers and not self.endpoints.peers_known:
                await self._learn_peers(url)
            if response.status == 503 and retry:  # not applied there: ask the next agent
                refused = error_for(response.status, response.body)
                continue
            if response.status >= 400:
                raise error_for(response.status, response.body)
            self.last_served = response.served
            return response
        if refused is not None:
            raise refused
        raise UnavailableError(0, "no_agent", f"no agent reachable: {last_error}")

    async def _learn_peers(self, url: str) -> None:
        try:
            reply = await self._once(url, "GET", "/v1/agents", None)
            if reply.status == 200:
                self.endpoints.learn(peers_from(json.loads(reply.body)))
                return
        except (aiohttp.ClientError, TimeoutError, ValueError):
            pass
        self.endpoints.learn([])

    async def get(self, namespace: str, resource: str, key: str) -> Any:
        """The value of ``key`` (a list for concurrent multi-value siblings)."""
        return json.loads((await self.request("GET", key_path(namespace, resource, key))).body)

    async def put(self, namespace: str, resource: str, key: str, value: Any) -> dict[str, Any]:
        """Write a JSON-serialisable value; return ``{"version", "seq"}``."""
        body = json.dumps(value, separators=(",", ":")).encode()
        reply = await self.request("PUT", key_path(namespace, resource, key), body)
        result: dict[str, Any] = json.loads(reply.body)
        return result

    async def delete(self, namespace: str, resource: str, key: str) -> None:
        """Delete ``key``."""
        await self.request("DELETE", key_path(namespace, resource, key))

    async def increment(self, namespace: str, resource: str, key: str, by: int = 1) -> int:
        """Add ``by`` to a counter; return its new value (never sent twice)."""
        body = json.dumps({"by": by}).encode()
        path = key_path(namespace, resource, key, "/increment")
        reply = await self.request("POST", path, body, retry=False)
        return int(json.loads(reply.body)["value"])

    async def items(self, namespace: str, resource: str) -> dict[str, Any]:
        """The whole map."""
        result: dict[str, Any] = json.loads(
            (await self.request("GET", key_path(namespace, resource))).body
        )
        return result
