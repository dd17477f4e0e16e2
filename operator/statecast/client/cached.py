"""A resource read through the process's near cache (the blocking shell).

>>> flags = client.cached("default", "flags", max_keys=10_000)   # opt-in, per resource
>>> flags.get("beta")          # first read: from the agent, then kept
>>> flags.get("beta")          # from this process's memory while the stream is fresh
>>> flags.put("beta", {"on": False})   # through the agent; read back at once

A daemon thread follows the agent's change stream (``GET /v1/{ns}/{res}?watch=1``) on
a socket of its own and feeds :class:`~statecast.client.nearcache.NearCache`, which
holds the values and decides what a read may take from memory (see there for the
staleness bound and the ordering rules). When the stream breaks, the thread reconnects
with the last heartbeat's version vector (the agent then sends what changed since, or
tells the cache to start over), trying the client's agents in order; meanwhile reads
go to the agent.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from typing import Any, Protocol, TypeVar
from urllib.parse import quote, urlsplit

from statecast.client import core
from statecast.client.core import Call, ClientCore, Response
from statecast.client.endpoints import key_path
from statecast.client.errors import NotFoundError, error_for
from statecast.client.nearcache import MISS, NearCache, NearCacheStats

__all__ = ["CachedResource", "Caller"]

T = TypeVar("T")


class Caller(Protocol):
    """What a cached resource needs of a client: its core and a way to run a call."""

    core: ClientCore

    def call(self, call: Call[T]) -> T:
        """Run one Agent API call."""
        ...


_WANT_VERSION = (("Statecast-Want-Version", "1"),)
_NOT_FOUND = frozenset({404})
#: Seconds without any byte from the stream after which it is taken for dead (the agent
#: sends a heartbeat every 25 ms).
STREAM_TIMEOUT = 1.0
_MAX_BACKOFF = 2.0


def _versioned(response: Response) -> tuple[bytes | None, str | None]:
    """A read's value (None: not found) and version, for the cache."""
    if response.status == 404:
        error = error_for(404, response.body)
        if error.code != "key_not_found":  # an unknown resource is an error, not an absence
            raise error
        return None, response.version
    return response.body, response.version


def _written(response: Response) -> dict[str, Any]:
    answer: dict[str, Any] = json.loads(response.body)
    return answer


class CachedResource:
    """One resource's values in this process, kept fresh by the agent's change stream.

    Args:
        client: The client whose agents to use.
        namespace: The resource's namespace.
        resource: The resource's name.
        max_keys: Keys kept at most (least recently used go first).
        max_bytes: Bytes of keys and values kept at most.
        max_staleness: Seconds without a heartbeat after which reads go to the agent.
    """

    def __init__(
        self,
        client: Caller,
        namespace: str,
        resource: str,
        *,
        max_keys: int = 100_000,
        max_bytes: int = 64 << 20,
        max_staleness: float = 0.1,
    ) -> None:
        self.client, self.namespace, self.resource = client, namespace, resource
        self.cache = NearCache(max_keys=max_keys, max_bytes=max_bytes, max_staleness=max_staleness)
        self.reconnects = 0
        self._stop = threading.Event()
        self._sock: socket.socket | None = None
        self._thread = threading.Thread(
            target=self._follow, name=f"statecast-watch-{namespace}/{resource}", daemon=True
        )
        self._thread.start()

    # --- the Agent API through the cache ------------------------------------------------
    def get(self, key: str) -> Any:
        """The value of ``key``: from memory when the cache may answer, else the agent's.

        Raises:
            NotFoundError: No such key (or resource).
        """
        found = self.cache.lookup(key)
        if isinstance(found, bytes):  # the usual case, kept short
            return json.loads(found)
        if found is MISS:
            path = key_path(self.namespace, self.resource, key)
            call = Call("GET", path, None, True, _versioned, _WANT_VERSION, _NOT_FOUND)
            try:
                value, version = self.client.call(call)
            except BaseException:
                self.cache.abandon(key)
                raise
            self.cache.fill(key, value, version)
            if value is not None:
                return json.loads(value)
        raise NotFoundError(404, "key_not_found", f"key {key!r} not found")

    def put(self, key: str, value: Any) -> dict[str, Any]:
        """Write through the agent; this process reads it back at once."""
        call = core.put_call(self.namespace, self.resource, key, value)
        answer = self.client.call(call)
        self.cache.wrote(key, call.body, answer["version"])
        return answer

    def delete(self, key: str) -> None:
        """Delete through the agent.

        Raises:
            NotFoundError: No such key (or resource).
        """
        base = core.delete_call(self.namespace, self.resource, key)
        call = Call(base.method, base.path, base.body, base.retry, _written, base.headers)
        self.cache.wrote(key, None, self.client.call(call)["version"])

    def increment(self, key: str, by: int = 1) -> int:
        """Add to a counter through the agent; return its new value."""
        base = core.increment_call(self.namespace, self.resource, key, by)
        answer = self.client.call(Call(base.method, base.path, base.body, base.retry, _written))
        value = int(answer["value"])
        self.cache.wrote(key, str(value).encode(), answer["version"])
        return value

    @property
    def stats(self) -> NearCacheStats:
        """Hits, misses, stale reads, updates from the stream, evictions, resets, gaps."""
        return self.cache.stats

    @property
    def lag(self) -> float:
        """Seconds since the agent's last heartbeat reached this process."""
        return self.cache.lag

    def close(self) -> None:
        """Stop following the stream (reads then go to the agent)."""
        self._stop.set()
        sock = self._sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout=5)
        self.cache.disconnected()

    def __enter__(self) -> CachedResource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the stream --------------------------------------------------------------------
    def _follow(self) -> None:
        """Follow the stream of the first agent that gives one, for as long as it can."""
        backoff = 0.05
        while not self._stop.is_set():
            for url in self.client.core.endpoints.order():
                heard = self.cache.stats.heartbeats
                try:
                    self._stream(url)
                except (OSError, ValueError):
                    pass
                finally:
                    self.cache.disconnected()
                if self.cache.stats.heartbeats > heard:  # it worked for a while: start over
                    backoff = 0.05
                    break
                if self._stop.is_set():
                    return
            self.reconnects += 1
            self._stop.wait(backoff)
            backoff = min(backoff * 2, _MAX_BACKOFF)

    def _stream(self, url: str) -> None:
        """Read one stream until it breaks (raises) or ends."""
        parts = urlsplit(url)
        since = self.cache.connected()
        target = key_path(self.namespace, self.resource) + "?watch=1"
        if since:
            target += "&since=" + quote(json.dumps(since, separators=(",", ":")))
        sock = socket.create_connection((parts.hostname, parts.port or 80), STREAM_TIMEOUT)
        self._sock = sock
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.sendall(f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\n\r\n".encode())
            buf = self._head(sock)
            feed = self.cache.feed
            while not self._stop.is_set():
                while (eol := buf.find(b"\r\n")) < 0:
                    buf += _recv(sock)
                size = int(buf[:eol].split(b";")[0], 16)
                if size == 0:
                    return  # the agent ended the stream
                buf = buf[eol + 2 :]
                while len(buf) < size + 2:
                    buf += _recv(sock)
                feed(buf[:size])
                buf = buf[size + 2 :]
        finally:
            self._sock = None
            sock.close()

    @staticmethod
    def _head(sock: socket.socket) -> bytes:
        """Read the answer's head; return what follows it (raises unless 200, chunked)."""
        buf = b""
        while (end := buf.find(b"\r\n\r\n")) < 0:
            if len(buf) > 65536:
                raise ValueError("answer head too large")
            buf += _recv(sock)
        head = buf[:end].decode("latin-1").lower()
        if not head.startswith("http/1.1 200") or "transfer-encoding: chunked" not in head:
            raise ValueError(f"the agent refused the stream: {head.splitlines()[0][:80]}")
        return buf[end + 4 :]


def _recv(sock: socket.socket) -> bytes:
    data = sock.recv(65536)
    if not data:
        raise ConnectionResetError("the stream closed")
    return data
