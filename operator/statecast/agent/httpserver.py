"""A small HTTP/1.1 server for the Agent API, built on asyncio and httptools.

A local read is the agent's hot path and most of its cost is HTTP, not the store:
aiohttp's web stack spends ~200 µs a request on this class of machine where the store
lookup takes a few. This server keeps only what the agent needs and parses with
llhttp (through httptools, the parser uvicorn uses):

- keep-alive and pipelining (answers go out in request order; a handler that needs to
  wait runs as a task while later requests queue behind it);
- ``Content-Length`` and chunked request bodies, a body limit answered with 413 before
  the body is read, a limit on the request line and headers (431),
  ``Expect: 100-continue``;
- flow control: reading pauses while the peer does not read answers or too many
  requests are queued; answering is bounded per event-loop turn (``turn_budget``
  seconds over all connections, then the rest waits for the next turn), so a client
  pipelining hundreds of writes cannot hold the loop for everyone else (connections
  that waited are served round robin); idle connections close after ``idle_timeout``
  (found by a periodic sweep: no timer is made or cancelled per request);
- graceful close: stop accepting, let running handlers finish, then close.

A handler takes a :class:`Request` and returns a :class:`Response`, or an awaitable of
one; synchronous handlers answer without creating a task. Errors the server itself
detects (malformed request, body or headers too large, upgrade asked) are answered as
``{"error": {"code", "message"}}`` like every Agent API error, after the answers to
earlier requests; then the connection is half-closed and what the client still sends
is read and dropped for a moment before closing, so the client reads the error rather
than a reset. An exception escaping a handler is logged and answered with 500.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from http import HTTPStatus
from typing import cast

import httptools

__all__ = [
    "Answer",
    "Handler",
    "HttpServer",
    "Request",
    "Response",
    "StreamResponse",
    "error_response",
]

log = logging.getLogger(__name__)

_JSON = "application/json"
_MAX_QUEUED = 32
_LINGER_SECONDS = 2.0
_IDLE_SWEEPS = 4  # sweeps per idle timeout
_REASONS = {s.value: s.phrase.encode() for s in HTTPStatus}
_METHODS = {m.encode(): m for m in ("GET", "PUT", "POST", "DELETE", "HEAD", "OPTIONS", "PATCH")}


class Request:
    """One parsed request.

    Attributes:
        method: ``GET``, ``PUT``...
        target: The request target as sent (percent-encoded path and query).
        path: The percent-encoded path (without the query).
        headers: Header names lower-cased; repeated headers joined with ``, ``.
        body: The whole body (decoded from chunked transfer encoding if it was).
        remote: The peer's address, ``host:port``.
    """

    __slots__ = ("body", "headers", "method", "path", "remote", "target")

    def __init__(
        self, method: str, target: str, headers: dict[str, str], body: bytes, remote: str = ""
    ) -> None:
        self.method, self.target, self.headers, self.body = method, target, headers, body
        self.path = target.partition("?")[0]
        self.remote = remote


class Response:
    """An answer: status, body, content type and extra headers.

    ``headers`` is a dict of header names to values; ``raw_headers`` holds header lines
    already encoded (each ``Name: value`` and CRLF), for headers a handler sends with
    every answer and encodes once.
    """

    __slots__ = ("body", "content_type", "headers", "raw_headers", "status")

    def __init__(
        self,
        body: bytes = b"",
        status: int = 200,
        headers: dict[str, str] | None = None,
        content_type: str = _JSON,
        raw_headers: bytes = b"",
    ) -> None:
        self.body, self.status, self.content_type = body, status, content_type
        self.headers = headers
        self.raw_headers = raw_headers

    def encode(self, keep_alive: bool, http10: bool) -> bytes:
        """The status line, headers and body as they go on the wire."""
        start = _STARTS.get((self.status, self.content_type))
        if start is None:
            start = _start(self.status, self.content_type)
        extra = self.raw_headers
        if self.headers:
            extra += "".join(f"{k}: {v}\r\n" for k, v in self.headers.items()).encode("latin-1")
        if not keep_alive:
            extra += b"Connection: close\r\n"
        elif http10:
            extra += b"Connection: keep-alive\r\n"
        return b"%b%d\r\n%b\r\n%b" % (start, len(self.body), extra, self.body)


#: (status, content type) -> the answer's first bytes, up to the Content-Length value.
_STARTS: dict[tuple[int, str], bytes] = {}


def _start(status: int, content_type: str) -> bytes:
    reason = _REASONS.get(status, b"Unknown")
    start = b"HTTP/1.1 %d %b\r\nContent-Type: %b\r\nContent-Length: " % (
        status,
        reason,
        content_type.encode("latin-1"),
    )
    if len(_STARTS) < 256:
        _STARTS[status, content_type] = start
    return start


class StreamResponse:
    """An answer whose body is produced as it goes, sent with chunked encoding.

    Args:
        chunks: The body, piece by piece; an empty piece sends nothing. The connection
            answers nothing else until it ends; it is closed (``aclose``) when the
            client goes away or the server closes.
        status: The status code.
        headers: Extra headers.
        content_type: The body's type.
    """

    __slots__ = ("chunks", "content_type", "headers", "status")

    def __init__(
        self,
        chunks: AsyncIterator[bytes],
        status: int = 200,
        headers: dict[str, str] | None = None,
        content_type: str = "application/x-ndjson",
    ) -> None:
        self.chunks, self.status, self.headers = chunks, status, headers
        self.content_type = content_type

    def head(self) -> bytes:
        """The status line and headers (chunked transfer encoding)."""
        reason = _REASONS.get(self.status, b"Unknown")
        extra = "".join(f"{k}: {v}\r\n" for k, v in (self.headers or {}).items())
        return b"HTTP/1.1 %d %b\r\nContent-Type: %b\r\nTransfer-Encoding: chunked\r\n%b\r\n" % (
            self.status,
            reason,
            self.content_type.encode("latin-1"),
            extra.encode("latin-1"),
        )


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> Response:
    """The Agent API's error answer: ``{"error": {"code", "message"}}``."""
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    return Response(body, status, headers)


Answer = Response | StreamResponse
Handler = Callable[[Request], "Answer | Awaitable[Answer]"]


class _BodyTooLargeError(Exception):
    """Raised inside a parser callback to stop reading an oversized body."""


class _Incoming:
    """The request being parsed."""

    __slots__ = ("body", "headers", "size", "url")

    def __init__(self) -> None:
        self.url = b""
        self.headers: dict[str, str] = {}
        self.body: list[bytes] = []
        self.size = 0


class _Connection(asyncio.Protocol):
    """One client connection: parse, queue, answer in order."""

    def __init__(self, server: HttpServer) -> None:
        self._server = server
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._remote = ""
        self._incoming = _Incoming()
        self._queue: deque[tuple[Request, bool, bool]] = deque()
        self._task: asyncio.Task[None] | None = None
        self._streaming = False
        self._resumed: asyncio.Future[None] | None = None
        self._seen = server.sweeps  # the idle sweep that last saw this connection busy
        self._reading = True
        self._writable = True
        self._closing = False
        self._too_large = False
        self._failed: Response | None = None
        self._in_head = False
        self._head_bytes = 0
        self._draining = False

    # --- asyncio.Protocol ----------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast("asyncio.Transport", transport)  # uvloop's is not a subclass
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple) and len(peer) >= 2:
            self._remote = f"{peer[0]}:{peer[1]}"
        self._server.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._server.connections.discard(self)
        self._transport = None
        self._queue.clear()
        if self._streaming and self._task is not None:
            self._task.cancel()  # nobody reads the stream any more

    def data_received(self, data: bytes) -> None:
        if self._draining:
            return
        self._seen = self._server.sweeps
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._refuse(error_response(501, "upgrade_unsupported", "protocol upgrade"))
        except httptools.HttpParserError as err:
            if self._too_large:
                limit = self._server.max_body
                self._refuse(error_response(413, "too_large", f"body larger than {limit} bytes"))
            else:
                self._refuse(error_response(400, "bad_request", f"malformed HTTP request: {err}"))
        else:
            if self._in_head:  # count what the parser buffers until the headers end
                self._head_bytes += len(data)
                if self._head_bytes > self._server.max_head:
                    limit = self._server.max_head
                    message = f"request line and headers longer than {limit} bytes"
                    self._refuse(error_response(431, "headers_too_large", message))

    def pause_writing(self) -> None:
        self._writable = False
        self._pause_reading()

    def resume_writing(self) -> None:
        self._writable = True
        if self._resumed is not None and not self._resumed.done():
            self._resumed.set_result(None)
        self._pump()
        self._maybe_resume_reading()

    # --- parser callbacks ----------------------------------------------------------
    def on_message_begin(self) -> None:
        self._incoming = _Incoming()
        self._in_head, self._head_bytes = True, 0

    def on_url(self, url: bytes) -> None:
        self._incoming.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        headers = self._incoming.headers
        headers[key] = f"{headers[key]}, {text}" if key in headers else text

    def on_headers_complete(self) -> None:
        self._in_head = False
        headers = self._incoming.headers
        length = headers.get("content-length")
        limit = self._server.max_body
        if length is not None and length.isdigit() and int(length) > limit:
            self._too_large = True
            raise _BodyTooLargeError
        if headers.get("expect", "").lower() == "100-continue" and self._transport is not None:
            self._transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, body: bytes) -> None:
        incoming = self._incoming
        incoming.size += len(body)
        if incoming.size > self._server.max_body:
            self._too_large = True
            raise _BodyTooLargeError
        incoming.body.append(body)

    def on_message_complete(self) -> None:
        incoming = self._incoming
        method = self._parser.get_method()
        request = Request(
            _METHODS.get(method) or method.decode("ascii"),
            incoming.url.decode("latin-1"),
            incoming.headers,
            b"".join(incoming.body),
            self._remote,
        )
        http10 = self._parser.get_http_version() == "1.0"
        self._queue.append((request, self._parser.should_keep_alive(), http10))
        if len(self._queue) > _MAX_QUEUED:
            self._pause_reading()
        self._pump()

    # --- answering -----------------------------------------------------------------
    @property
    def _idle(self) -> bool:
        return not self._queue and self._task is None

    def _pump(self) -> None:
        """Answer queued requests in order until one has to wait or the turn is over."""
        while self._queue and self._task is None and self._writable and not self._closing:
            if self._server.turn_spent():
                self._server.defer(self)
                break
            request, keep_alive, http10 = self._queue.popleft()
            try:
                result = self._server.handler(request)
            except Exception:
                log.exception(
                    "event=handler_failed method=%s path=%s", request.method, request.path
                )
                result = error_response(500, "internal", "internal error")
            if isinstance(result, Response):
                self._write(result, keep_alive, http10)
            elif isinstance(result, StreamResponse):
                self._task = asyncio.ensure_future(self._stream(result, request))
            else:
                self._task = asyncio.ensure_future(
                    self._finish(result, request, keep_alive, http10)
                )
        if self._failed is not None and self._idle:
            failed, self._failed = self._failed, None
            self._write(failed, keep_alive=False, http10=False, linger=True)
        self._maybe_resume_reading()

    async def _finish(
        self, pending: Awaitable[Answer], request: Request, keep_alive: bool, http10: bool
    ) -> None:
        response: Answer
        try:
            response = await pending
        except Exception:
            log.exception("event=handler_failed method=%s path=%s", request.method, request.path)
            response = error_response(500, "internal", "internal error")
        if isinstance(response, StreamResponse):
            await self._stream(response, request)
            return
        self._task = None
        self._write(response, keep_alive, http10)
        self._pump()

    async def _stream(self, response: StreamResponse, request: Request) -> None:
        """Send a streamed answer until it ends, then close the connection."""
        transport = self._transport
        self._streaming = True
        try:
            if transport is None or transport.is_closing():
                return
            transport.write(response.head())
            async for chunk in response.chunks:
                if transport.is_closing():
                    return
                if chunk:
                    transport.write(b"%x\r\n%b\r\n" % (len(chunk), chunk))
                    self._seen = self._server.sweeps
                if not self._writable:  # the client reads slower than we write: wait
                    self._resumed = asyncio.get_running_loop().create_future()
                    await self._resumed
            if not transport.is_closing():
                transport.write(b"0\r\n\r\n")
        except Exception:
            log.exception("event=stream_failed path=%s", request.path)
        finally:
            aclose = getattr(response.chunks, "aclose", None)
            if aclose is not None:
                await aclose()
            self._streaming = False
            self._task = None
            self._closing = True
            self._queue.clear()
            if transport is not None:
                transport.close()  # a stream is the connection's last answer

    def _write(
        self, response: Response, keep_alive: bool, http10: bool, linger: bool = False
    ) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        self._seen = self._server.sweeps
        keep_alive = keep_alive and not self._server.closing
        transport.write(response.encode(keep_alive, http10))
        if keep_alive:
            return
        self._closing = True
        self._queue.clear()
        if linger and transport.can_write_eof():
            # The client may still be sending what we refused: closing now with unread
            # bytes would reset the connection and lose the answer. Half-close, read and
            # drop what comes for a moment, then close.
            transport.write_eof()
            self._draining = True
            transport.resume_reading()
            self._reading = True
            asyncio.get_running_loop().call_later(_LINGER_SECONDS, transport.close)
        else:
            transport.close()

    def _refuse(self, response: Response) -> None:
        """Answer an error the request stream caused (after earlier answers), then close."""
        self._failed = response
        self._pause_reading()
        self._pump()

    # --- flow control and timeouts -------------------------------------------------
    def _pause_reading(self) -> None:
        if self._reading and self._transport is not None and not self._transport.is_closing():
            self._transport.pause_reading()
            self._reading = False

    def _maybe_resume_reading(self) -> None:
        if (
            not self._reading
            and self._writable
            and not self._closing
            and self._failed is None
            and len(self._queue) <= _MAX_QUEUED // 2
            and self._transport is not None
            and not self._transport.is_closing()
        ):
            self._transport.resume_reading()
            self._reading = True

    def sweep(self, sweeps: int, idle_sweeps: int) -> None:
        """Close if idle and not seen busy for ``idle_sweeps`` sweeps (the idle timeout)."""
        if self._idle and sweeps - self._seen >= idle_sweeps and self._transport is not None:
            self._transport.close()

    def resume(self) -> None:
        """Go on answering after a turn's budget ran out."""
        self._pump()

    def end_stream(self) -> None:
        """End a streamed answer in progress (the server is closing)."""
        if self._streaming and self._task is not None:
            self._task.cancel()

    def close_when_idle(self) -> bool:
        """Close now if no request is in flight; return True if closed."""
        if self._idle and self._transport is not None:
            self._transport.close()
            return True
        return False

    def abort(self) -> None:
        """Close at once, dropping anything in flight."""
        if self._transport is not None:
            self._transport.abort()


class HttpServer:
    """Serve ``handler`` on a TCP address.

    Args:
        handler: Turns a request into a response (or an awaitable of one).
        max_body: Largest request body accepted; larger ones get 413.
        idle_timeout: Seconds an idle keep-alive connection is kept open (closed between
            that and a quarter more: one sweep of every connection each quarter of it,
            rather than a timer per request).
        max_head: Largest request line plus headers; larger ones get 431.
        turn_budget: Seconds of answering per event-loop turn, over all connections;
            queued requests beyond it are answered in the next turn (after the loop has
            run its timers and read its sockets).
    """

    def __init__(
        self,
        handler: Handler,
        *,
        max_body: int,
        idle_timeout: float = 75.0,
        max_head: int = 64 * 1024,
        turn_budget: float = 0.002,
    ) -> None:
        self.handler = handler
        self.turn_budget = turn_budget
        self.max_body = max_body
        self.max_head = max_head
        self.idle_timeout = idle_timeout
        self.connections: set[_Connection] = set()
        self.closing = False
        #: Idle sweeps done; a connection notes the number when it is busy.
        self.sweeps = 0
        self._server: asyncio.Server | None = None
        self._sweeper: asyncio.TimerHandle | None = None
        self._turn_started: float | None = None
        self._deferred: dict[_Connection, None] = {}  # ordered: first deferred, first served

    def turn_spent(self) -> bool:
        """True when this turn's answering budget is used up (starts a turn if none is)."""
        now = time.perf_counter()
        if self._turn_started is None:
            self._turn_started = now
            asyncio.get_running_loop().call_soon(self._next_turn)
            return False
        return now - self._turn_started > self.turn_budget

    def defer(self, conn: _Connection) -> None:
        """Answer ``conn``'s queued requests in the next turn."""
        self._deferred[conn] = None

    def _next_turn(self) -> None:
        # Round robin: connections this turn had no budget left for go first next turn,
        # ahead of those it served (which defer themselves again when they use it up).
        self._turn_started = None
        waiting, self._deferred = self._deferred, {}
        unserved: dict[_Connection, None] = {}
        for conn in waiting:
            if unserved or self.turn_spent():
                unserved[conn] = None
            else:
                conn.resume()
        if unserved:
            self._deferred = unserved | self._deferred

    @property
    def port(self) -> int:
        """The port listened on (useful after binding port 0)."""
        assert self._server is not None
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def start(self, host: str, port: int) -> None:
        """Start listening."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _Connection(self), host, port, reuse_address=True
        )
        self._sweeper = loop.call_later(self.idle_timeout / _IDLE_SWEEPS, self._sweep)

    def _sweep(self) -> None:
        self.sweeps += 1
        for conn in list(self.connections):
            conn.sweep(self.sweeps, _IDLE_SWEEPS)
        loop = asyncio.get_running_loop()
        self._sweeper = loop.call_later(self.idle_timeout / _IDLE_SWEEPS, self._sweep)

    async def close(self, grace: float = 5.0) -> None:
        """Stop accepting, let running requests finish (up to ``grace`` s), close all."""
        self.closing = True
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        if self._server is not None:
            self._server.close()
        for conn in list(self.connections):
            conn.end_stream()
        deadline = asyncio.get_running_loop().time() + grace
        while self.connections and asyncio.get_running_loop().time() < deadline:
            for conn in list(self.connections):
                conn.close_when_idle()
            if self.connections:
                await asyncio.sleep(0.02)
        for conn in list(self.connections):
            conn.abort()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None
