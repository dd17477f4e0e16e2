"""The blocking client: one keep-alive connection per agent, failover on a dead agent."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from statecast.client.discovery import agent_urls
from statecast.client.endpoints import Endpoints, key_path, peers_from
from statecast.client.errors import RequestError, UnavailableError, error_for
from statecast.client.transport import Connection, ConnectionClosedError

__all__ = ["Client", "Response"]

_RETRYABLE = (OSError, ValueError)


class Response:
    """A raw answer: status, body and the headers that matter."""

    __slots__ = ("body", "served", "siblings", "status")

    def __init__(self, status: int, body: bytes, served: str | None, siblings: int) -> None:
        self.status, self.body, self.served, self.siblings = status, body, served, siblings


class Client:
    """A blocking client of the Agent API (one per thread, or share it: it locks).

    Args:
        urls: Agents to use (default: from the environment, see
            :func:`statecast.client.discovery.agent_urls`).
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
        self.timeout = timeout
        self.discover_peers = discover_peers
        self.last_served: str | None = None
        self._connections: dict[str, Connection] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close every connection."""
        for conn in self._connections.values():
            conn.close()
        self._connections.clear()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- transport ----------------------------------------------------------------
    def _connection(self, url: str) -> Connection:
        conn = self._connections.get(url)
        if conn is None:
            parts = urlsplit(url)
            conn = Connection(parts.hostname or "", parts.port or 80, self.timeout)
            self._connections[url] = conn
        return conn

    def _once(self, url: str, method: str, path: str, body: bytes | None) -> Response:
        conn = self._connection(url)
        reused = not conn.fresh
        try:
            reply = conn.request(method, path, body)
        except ConnectionClosedError:
            if not reused:
                raise
            reply = conn.request(method, path, body)  # an idle keep-alive the agent closed
        siblings = int(reply.headers.get("statecast-siblings", "1"))
        return Response(reply.status, reply.body, reply.headers.get("statecast-served"), siblings)

    def request(
        self, method: str, path: str, body: bytes | None = None, *, retry: bool = True
    ) -> Response:
        """Send a request to the first agent that answers; raise on an error answer.

        Args:
            method: HTTP method.
            path: Path under the agent's base URL.
            body: Request body.
            retry: Fail over to other agents on connection errors and on 503 answers
                (which an agent gives only for what it did not apply); off for
                non-idempotent requests once they may have been received.

        Raises:
            RequestError: The agent answered with an error (a subclass per status).
            UnavailableError: No agent could be reached.
        """
        with self._lock:
            last_error: Exception | None = None
            refused: RequestError | None = None
            for url in self.endpoints.order():
                try:
                    response = self._once(url, method, path, body)
                except ConnectionRefusedError as err:
                    last_error = err
                    self.endpoints.failed(url)
                    continue
                except _RETRYABLE as err:
                    last_error = err
                    self.endpoints.failed(url)
                    if not retry:
                        break
                    continue
                self.endpoints.succeeded(url)
                if self.discover_peers and not self.endpoints.peers_known:
                    self._learn_peers(url)
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

    def _learn_peers(self, url: str) -> None:
        try:
            reply = self._once(url, "GET", "/v1/agents", None)
            if reply.status == 200:
                self.endpoints.learn(peers_from(json.loads(reply.body)))
                return
        except (*_RETRYABLE, ValueError):
            pass
        self.endpoints.learn([])

    # --- the Agent API --------------------------------------------------------------
    def get(self, namespace: str, resource: str, key: str) -> Any:
        """The value of ``key`` (a list for concurrent multi-value siblings).

        Raises:
            NotFoundError: No such resource or key.
        """
        return json.loads(self.request("GET", key_path(namespace, resource, key)).body)

    def put(self, namespace: str, resource: str, key: str, value: Any) -> dict[str, Any]:
        """Write a JSON-serialisable value; return ``{"version", "seq"}``."""
        body = json.dumps(value, separators=(",", ":")).encode()
        result: dict[str, Any] = json.loads(
            self.request("PUT", key_path(namespace, resource, key), body).body
        )
        return result

    def delete(self, namespace: str, resource: str, key: str) -> None:
        """Delete ``key``.

        Raises:
            NotFoundError: No such resource or key.
        """
        self.request("DELETE", key_path(namespace, resource, key))

    def increment(self, namespace: str, resource: str, key: str, by: int = 1) -> int:
        """Add ``by`` to a counter; return its new value.

        Never resent to another agent once it may have been received, so an increment
        is never applied twice.
        """
        body = json.dumps({"by": by}).encode()
        path = key_path(namespace, resource, key, "/increment")
        return int(json.loads(self.request("POST", path, body, retry=False).body)["value"])

    def items(self, namespace: str, resource: str) -> dict[str, Any]:
        """The whole map."""
        result: dict[str, Any] = json.loads(self.request("GET", key_path(namespace, resource)).body)
        return result
