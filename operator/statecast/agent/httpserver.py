"""A small HTTP/1.1 server for the Agent API, built on asyncio and httptools.

A local read is the agent's hot path and most of its cost is HTTP, not the store:
aiohttp's web stack spends ~200 µs a request on this class of machine where the store
lookup takes a few. This server keeps only what the agent needs and parses with
llhttp (through httptools, the parser uvicorn uses):

- keep-alive and pipelining (answers go out in request order; a handler that needs to
  wait runs as a task while later requests queue behind it; reading pauses while a
  connection has more than 32 requests or ``_MAX_QUEUED_BYTES`` of bodies queued);
- ``Content-Length`` and chunked request bodies, a body limit decided per request from
  its head (``body_limit(path)``, so an application route and a peer route can differ)
  and answered with 413 before the body is read, a limit on the request line and
  headers (431, counted over every byte of the head, whichever reads it came in),
  ``Expect: 100-continue``;
- resource bounds against hostile clients: a header deadline (``header_timeout``: the
  whole request head, or the first one on a new connection, must arrive within it,
  however slowly the bytes trickle in: 408), a body deadline (``body_timeout``: a
  request's body must arrive within it from the end of its head, however slowly it
  trickles: 408), a global connection cap
  (``max_connections``: a connection over it gets 503 and is closed) and a global cap on
  request bodies held in memory (``max_buffered``: a request that would go over it gets
  503 ``overloaded``);
- flow control: reading pauses while the peer does not read answers or too many
  requests are queued; answering, and sending the answers a log batch released, is
  bounded per event-loop turn (``turn_budget``
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
import ssl
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from http import HTTPStatus
from typing import Any, Protocol, cast

import httptools

from statecast.agent.memory import release_free_memory

__all__ = [
    "Answer",
    "Handler",
    "Hold",
    "HttpServer",
    "Request",
    "Response",
    "StreamResponse",
    "answer_start",
    "error_response",
]

log = logging.getLogger(__name__)

_JSON = "application/json"
#: Answers with a body this large are written after their head, not copied behind it.
_COPY_BODY = 1 << 16
#: A large body is handed to the transport this much at a time, each slice once the
#: one before has left (one system call never copies more): a full sync's answer of
#: ~140 MiB written at once took up to 20 MiB a ``send(2)``, ~10 ms of the loop.
_BODY_SLICE = 256 << 10
_MAX_QUEUED = 32
_MAX_QUEUED_BYTES = 4 << 20  # bodies queued on one connection before reading pauses
_SLICE = 4096  # a read that may hold request heads is parsed this much at a time
_LINGER_SECONDS = 2.0
_IDLE_SWEEPS = 4  # sweeps per idle timeout
_TRIM_AFTER = 64 << 20  # bodies held at once beyond which their memory is given back
_REASONS = {s.value: s.phrase.encode() for s in HTTPStatus}
_METHODS = {m.encode(): m for m in ("GET", "PUT", "POST", "DELETE", "HEAD", "OPTIONS", "PATCH")}
#: Headers a plain GET may carry and still be read without the parser (``fast_get``).
_PLAIN_HEADERS = frozenset((b"host", b"user-agent", b"accept", b"accept-encoding"))
_HTTP11 = b" HTTP/1.1"


class Request:
    """One parsed request.

    Attributes:
        method: ``GET``, ``PUT``...
        target: The request target as sent (percent-encoded path and query).
        path: The percent-encoded path (without the query).
        headers: Header names lower-cased; repeated headers joined with ``, ``.
        body: The whole body (decoded from chunked transfer encoding if it was).
        remote: The peer's address, ``host:port``.
        peer: Who the client is, by the certificate it presented on a mutual-TLS
            listener (its statecast identity); None on a plain listener.
    """

    __slots__ = ("body", "headers", "method", "path", "peer", "remote", "target")

    def __init__(
        self,
        method: str,
        target: str,
        headers: dict[str, str],
        body: bytes,
        remote: str = "",
        peer: str | None = None,
    ) -> None:
        self.method, self.target, self.headers, self.body = method, target, headers, body
        self.path = target.partition("?")[0]
        self.remote = remote
        self.peer = peer


class Hold(Protocol):
    """Something an answer must wait for before it is sent (a write reaching the log)."""

    @property
    def done(self) -> bool:
        """True once it happened (or failed)."""

    @property
    def error(self) -> BaseException | None:
        """Why it failed, None if it did not.

        The answer is then this error's ``status`` and ``code`` when it has them (an
        agent error: a write's 503 ``outcome_unknown``), else a 500 ``persistence``.
        """

    def then(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once done."""


class Response:
    """An answer: status, body, content type and extra headers.

    ``headers`` is a dict of header names to values; ``raw_headers`` holds header lines
    already encoded (each ``Name: value`` and CRLF), for headers a handler sends with
    every answer and encodes once. ``after``: the answer is sent only once that is done
    (a write's log record written); the connection goes on reading and answering the
    requests after it meanwhile, and sends their answers after this one, in order.
    ``parts``: the body in pieces, instead of ``body`` (never joined into one buffer;
    a large body is sent a slice per step either way).
    """

    __slots__ = (
        "after", "body", "content_type", "headers", "parts", "raw_headers", "size", "status",
    )  # fmt: skip

    def __init__(
        self,
        body: bytes = b"",
        status: int = 200,
        headers: dict[str, str] | None = None,
        content_type: str = _JSON,
        raw_headers: bytes = b"",
        after: Hold | None = None,
        parts: list[bytes] | None = None,
    ) -> None:
        self.body, self.status, self.content_type = body, status, content_type
        self.headers = headers
        self.raw_headers = raw_headers
        self.after = after
        self.parts = parts
        #: The body's length in bytes.
        self.size = len(body) if parts is None else sum(map(len, parts))

    def encode(self, keep_alive: bool, http10: bool, body: bool = True) -> bytes:
        """The status line, headers and body as they go on the wire (``body``: with it).

        The body of an answer given in ``parts`` is never in it.
        """
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
        return b"%b%d\r\n%b\r\n%b" % (start, self.size, extra, self.body if body else b"")


#: (status, content type) -> the answer's first bytes, up to the Content-Length value.
_STARTS: dict[tuple[int, str], bytes] = {}


def answer_start(status: int, content_type: str = _JSON) -> bytes:
    """An answer's first bytes, up to its ``Content-Length`` value.

    A keep-alive HTTP/1.1 answer with extra header lines ``extra`` (each ending in
    CRLF) is the start, the body's length in digits, CRLF, ``extra``, CRLF, the body.
    """
    return _start(status, content_type)


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


def _failed_write(error: BaseException) -> Response:
    """The answer of a held request whose hold failed.

    The error's status and code if it carries them (an agent error), else 500
    ``persistence``.
    """
    status, code = getattr(error, "status", None), getattr(error, "code", None)
    if isinstance(status, int) and isinstance(code, str):
        return error_response(status, code, str(error))
    return error_response(500, "persistence", str(error))


class _RefusedError(Exception):
    """Raised inside a parser callback to stop reading a request that is refused."""


def _too_large(limit: int) -> Response:
    return error_response(413, "too_large", f"body larger than {limit} bytes")


def _overloaded() -> Response:
    message = "too many request bodies held in memory; retry later"
    return error_response(503, "overloaded", message, {"Retry-After": "1"})


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
        self._peer: str | None = None
        self._incoming = _Incoming()
        self._queue: deque[tuple[Request, bool, bool]] = deque()
        # answers waiting for what they hold on to (Response.after), in order
        self._held: deque[tuple[Response, bool, bool]] = deque()
        # the slices of a large body not yet handed to the transport, and what to do
        # once they are (keep the connection, linger): nothing else is sent meanwhile
        self._body: deque[memoryview] = deque()
        self._body_end = (True, False)
        self._task: asyncio.Task[None] | None = None
        self._streaming = False
        self._resumed: asyncio.Future[None] | None = None
        self._seen = server.sweeps  # the idle sweep that last saw this connection busy
        self._reading = True
        self._writable = True
        self._closing = False
        self._refusal: Response | None = None  # why a parser callback stopped the parse
        self._failed: Response | None = None
        # The head being read: on a new connection the first one is awaited at once.
        self._in_head = True
        self._in_body = False
        self._body_left = 0  # body bytes still to come when the length is declared
        self._head_started = time.monotonic()
        self._head_bytes = 0  # lower bound of the head's bytes read so far
        self._head_slack = 0  # bytes of the read the head began in (may be earlier ones)
        self._head_exact = 0  # the head's size from the parser: target and headers
        self._body_started = 0.0  # when the head of the request whose body is read ended
        self._began = False
        self._limit = server.max_body
        self._buffered = 0  # body bytes of this connection's requests not yet answered
        self._draining = False

    # --- asyncio.Protocol ----------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast("asyncio.Transport", transport)  # uvloop's is not a subclass
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple) and len(peer) >= 2:
            self._remote = f"{peer[0]}:{peer[1]}"
        if self._server.identify is not None:  # TLS: the handshake is done by now
            self._peer = self._server.identify(transport.get_extra_info("peercert"))
        if len(self._server.connections) >= self._server.max_connections:
            limit = self._server.max_connections
            message = f"more than {limit} connections open; retry later"
            self._refuse(error_response(503, "too_many_connections", message))
            return
        self._server.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._server.connections.discard(self)
        self._transport = None
        # the connection, its parser and its transport refer to each other: only a full
        # collection of the cyclic GC, which may not run for minutes, frees them, so
        # what they hold (a body being read) is dropped now, not with them
        self._incoming = _Incoming()
        self._queue.clear()
        self._held.clear()
        self._body.clear()
        self._release(self._buffered)
        if self._streaming and self._task is not None:
            self._task.cancel()  # nobody reads the stream any more

    def data_received(self, data: bytes) -> None:
        if self._draining:
            return
        self._seen = self._server.sweeps
        if (
            data[:4] == b"GET "
            and data[-4:] == b"\r\n\r\n"
            and self._server.fast_get is not None
            and not self._server.closing  # (the usual way answers "Connection: close")
            and not self._in_head
            and not self._in_body
            and self._idle
            and self._writable
            and not self._closing
            and self._failed is None
            and self._plain_get(data)
        ):
            return
        size = len(data)
        if size <= _SLICE or (self._in_body and self._body_left >= size):
            self._feed(data)
            return
        # Feed a long read in slices wherever a request head may be in it, so a head's
        # bytes are counted to within a slice however many requests share the read.
        start = 0
        if self._in_body and self._body_left > 0:
            start = self._body_left
            self._feed(data[:start])
        while start < size and self._failed is None and not self._closing:
            self._feed(data[start : start + _SLICE])
            start += _SLICE

    def _plain_get(self, data: bytes) -> bool:
        """Answer ``data`` without the parser if it is one whole plain GET; True if done.

        Plain: HTTP/1.1, only headers of :data:`_PLAIN_HEADERS`, nothing before or after
        it, nothing in flight on the connection, and ``fast_get`` answers it (else the
        parser reads it as any other request). A local read's usual request: about a
        third of its CPU was the parser's callbacks and the routing.
        """
        line = data.find(b"\r\n")
        if (
            data.find(b"\r\n\r\n") != len(data) - 4
            or data[line - 9 : line] != _HTTP11
            or len(data) > self._server.max_head
        ):
            return False
        if line + 4 < len(data):
            for header in data[line + 2 : -4].split(b"\r\n"):
                name, colon, _ = header.partition(b":")
                if not colon or name.lower() not in _PLAIN_HEADERS:
                    return False
        fast_get = self._server.fast_get
        assert fast_get is not None  # (checked by the caller)
        if self._server.turn_spent():
            return False  # (queued by the parser, for the next turn)
        answer = fast_get(data[4 : line - 9])
        if answer is None:
            return False
        self._send_plain(answer)
        return True

    def _send_plain(self, answer: bytes) -> None:
        """Send a plain GET's answer."""
        assert self._transport is not None  # (not closing)
        self._transport.write(answer)

    def _feed(self, data: bytes) -> None:
        self._began = False
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._refuse(error_response(501, "upgrade_unsupported", "protocol upgrade"))
        except httptools.HttpParserError as err:
            refusal, self._refusal = self._refusal, None
            message = f"malformed HTTP request: {err}"
            self._refuse(refusal or error_response(400, "bad_request", message))
        else:
            if self._in_head:  # count what the parser buffers until the head ends
                if self._began:  # the head began in this slice, maybe after other requests
                    self._head_bytes, self._head_slack = len(data), len(data)
                else:
                    self._head_bytes += len(data)
                if self._head_bytes - self._head_slack > self._server.max_head:
                    self._refuse(self._head_too_large())

    def _head_too_large(self) -> Response:
        limit = self._server.max_head
        message = f"request line and headers longer than {limit} bytes"
        return error_response(431, "headers_too_large", message)

    def pause_writing(self) -> None:
        self._writable = False
        self._pause_reading()

    def resume_writing(self) -> None:
        self._writable = True
        if self._resumed is not None and not self._resumed.done():
            self._resumed.set_result(None)
        if self._body:
            self._send_body()
            return
        self._pump()
        self._maybe_resume_reading()

    # --- parser callbacks ----------------------------------------------------------
    def on_message_begin(self) -> None:
        self._incoming = _Incoming()
        if not self._in_head:  # a later request on the connection: its own deadline
            self._head_started = time.monotonic()
        self._in_head, self._began = True, True
        self._head_bytes = self._head_slack = self._head_exact = 0

    def on_url(self, url: bytes) -> None:
        self._incoming.url += url
        self._head_exact += len(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_exact += len(name) + len(value) + 4  # ": " and CRLF
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        headers = self._incoming.headers
        headers[key] = f"{headers[key]}, {text}" if key in headers else text

    def on_headers_complete(self) -> None:
        self._in_head, self._in_body = False, True
        self._body_started = time.monotonic()
        if self._head_exact > self._server.max_head:
            self._stop(self._head_too_large())
        incoming = self._incoming
        headers = incoming.headers
        self._limit = limit = self._server.body_limit(incoming.url.partition(b"?")[0])
        length = headers.get("content-length")
        self._body_left = 0
        if length is not None and length.isdigit():
            self._body_left = declared = int(length)
            if declared > limit:
                self._stop(_too_large(limit))
            if declared and self._server.buffered + declared > self._server.max_buffered:
                self._stop(_overloaded())
        if headers.get("expect", "").lower() == "100-continue" and self._transport is not None:
            self._transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, body: bytes) -> None:
        incoming = self._incoming
        size = len(body)
        incoming.size += size
        self._body_left -= size
        if incoming.size > self._limit:
            self._stop(_too_large(self._limit))
        if self._server.buffered + size > self._server.max_buffered:
            self._stop(_overloaded())
        self._buffered += size
        server = self._server
        server.buffered += size
        server.peak_buffered = max(server.peak_buffered, server.buffered)
        incoming.body.append(body)

    def _stop(self, refusal: Response) -> None:
        """Stop parsing: the request is refused with ``refusal``."""
        self._refusal = refusal
        raise _RefusedError

    def _release(self, size: int) -> None:
        """Body bytes no longer held (answered, or the connection is gone)."""
        if size:
            self._buffered -= size
            self._server.buffered -= size

    def on_message_complete(self) -> None:
        self._in_body = False
        incoming = self._incoming
        method = self._parser.get_method()
        body, incoming.body = b"".join(incoming.body), []  # the pieces go now
        request = Request(
            _METHODS.get(method) or method.decode("ascii"),
            incoming.url.decode("latin-1"),
            incoming.headers,
            body,
            self._remote,
            self._peer,
        )
        http10 = self._parser.get_http_version() == "1.0"
        self._queue.append((request, self._parser.should_keep_alive(), http10))
        if len(self._queue) > _MAX_QUEUED or self._buffered > _MAX_QUEUED_BYTES:
            self._pause_reading()
        self._pump()

    # --- answering -----------------------------------------------------------------
    @property
    def _idle(self) -> bool:
        return not self._queue and self._task is None and not self._held and not self._body

    def _pump(self) -> None:
        """Answer queued requests in order until one has to wait or the turn is over."""
        while (
            self._queue
            and self._task is None
            and self._writable
            and not self._body
            and not self._closing
        ):
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
                self._release(len(request.body))
                self._write(result, keep_alive, http10)
            elif isinstance(result, StreamResponse):
                self._release(len(request.body))
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
        self._release(len(request.body))
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
        hold = response.after
        if self._held or self._body or (hold is not None and not hold.done):
            if not self._held and hold is not None:
                hold.then(self._send_held)
            self._held.append((response, keep_alive, http10))
            if not keep_alive:
                self._closing = True  # answer nothing after it
            return
        if hold is not None and hold.error is not None:
            response = _failed_write(hold.error)
        self._send(response, keep_alive, http10, linger)

    def _send_held(self) -> None:
        """Send the held answers whose holds are done, in order, up to the first that is not."""
        held = self._held
        while held and not self._body:  # (a body being sent resumes when it is out)
            response, keep_alive, http10 = held[0]
            hold = response.after
            if hold is not None and not hold.done:
                hold.then(self._send_held)
                return
            if self._server.turn_spent():  # a batch of hundreds: the rest next turn
                self._server.defer(self)
                return
            held.popleft()
            if hold is not None and hold.error is not None:
                response = _failed_write(hold.error)
            self._send(response, keep_alive, http10)
        if self._failed is not None and self._idle:
            failed, self._failed = self._failed, None
            self._send(failed, keep_alive=False, http10=False, linger=True)

    def _send(
        self, response: Response, keep_alive: bool, http10: bool, linger: bool = False
    ) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        self._seen = self._server.sweeps
        keep_alive = keep_alive and not self._server.closing
        if response.parts is None and response.size < _COPY_BODY:
            transport.write(response.encode(keep_alive, http10))
            if not keep_alive:
                self._sent(keep_alive, linger)
            return
        # (a full sync's answer: not copied once more behind its head, on the loop)
        transport.write(response.encode(keep_alive, http10, body=False))
        for part in response.parts if response.parts is not None else (response.body,):
            view = memoryview(part)
            self._body.extend(view[i : i + _BODY_SLICE] for i in range(0, len(view), _BODY_SLICE))
        self._body_end = (keep_alive, linger)
        # paused while a slice has not left (high 1, not 0: a TLS transport pauses at a
        # size >= high, so at 0 it paused with nothing left and never resumed)
        transport.set_write_buffer_limits(high=1, low=0)
        self._send_body()

    def _send_body(self) -> None:
        """Hand the body's slices to the transport, each once the one before has left.

        Within the turn's answering budget; the transport's ``resume_writing`` (its
        buffer drained) or the next turn goes on. Once the last is handed over, the
        answers after it follow (behind it in the transport).
        """
        transport, body = self._transport, self._body
        while body:
            if transport is None or transport.is_closing():
                body.clear()
                return
            if not self._writable:
                return  # the slice before has not left yet: resume_writing goes on
            if self._server.turn_spent():
                self._server.defer(self)
                return
            transport.write(body.popleft())
            self._seen = self._server.sweeps
        if transport is None or transport.is_closing():
            return
        transport.set_write_buffer_limits()  # the defaults again
        self._sent(*self._body_end)
        if not self._closing:
            self.resume()

    def _sent(self, keep_alive: bool, linger: bool) -> None:
        """An answer is out: close after it unless ``keep_alive``."""
        transport = self._transport
        if keep_alive or transport is None:
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

    def sweep(self, sweeps: int, idle_sweeps: int, now: float) -> None:
        """Close if idle and not seen busy for ``idle_sweeps`` sweeps (the idle timeout).

        A request head still unfinished after the header timeout, or a body still
        unfinished after the body timeout (from the end of its head), is answered 408
        and the connection closed, however recently its last byte came.
        """
        if self._transport is None or self._failed is not None or self._closing:
            return
        if self._in_head and now - self._head_started > self._server.header_timeout:
            limit = self._server.header_timeout
            message = f"request head not received within {limit:g} s"
            self._refuse(error_response(408, "request_timeout", message))
        elif self._in_body and now - self._body_started > self._server.body_timeout:
            limit = self._server.body_timeout
            message = f"request body not received within {limit:g} s of its head"
            self._stop_reading_body()
            self._refuse(error_response(408, "request_timeout", message))
        elif self._idle and sweeps - self._seen >= idle_sweeps:
            self._transport.close()

    def _stop_reading_body(self) -> None:
        """Drop the body read so far (it will not be answered): its bytes are released."""
        incoming, self._incoming = self._incoming, _Incoming()
        self._in_body = False
        self._release(incoming.size)

    def resume(self) -> None:
        """Go on answering (and sending held answers) after a turn's budget ran out."""
        if self._body:
            self._send_body()
            return
        if self._held:
            hold = self._held[0][0].after
            if hold is None or hold.done:  # (else its hold calls _send_held when done)
                self._send_held()
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
        body_limit: The largest body of a request to a path (percent-encoded, as
            sent), decided from the head before the body is read; ``max_body`` for
            every path when not given (and never more than it).
        header_timeout: Seconds a request head may take to arrive (from its first
            byte; for a new connection, from the connection); then 408 and close.
        body_timeout: Seconds a request body may take to arrive, from the end of its
            head; then 408 and close (the body read so far is dropped).
        max_connections: Connections served at once; one more gets 503 and is closed.
        max_buffered: Request body bytes held in memory over all connections (read
            and not yet answered); a request that would go over it gets 503.
        identify: On a TLS listener, turns the client's verified certificate
            (``getpeercert()``) into :attr:`Request.peer`.
        fast_get: Answers a plain GET (HTTP/1.1, no header but Host, User-Agent,
            Accept, Accept-Encoding; one whole request in one read on a connection with
            nothing in flight) from its request target, without the parser or a
            :class:`Request`: the whole answer as it goes on the wire (keep-alive, see
            :func:`answer_start`), or None to let ``handler`` answer it as usual.
    """

    def __init__(
        self,
        handler: Handler,
        *,
        max_body: int,
        idle_timeout: float = 75.0,
        max_head: int = 64 * 1024,
        turn_budget: float = 0.002,
        body_limit: Callable[[bytes], int] | None = None,
        header_timeout: float = 10.0,
        body_timeout: float = 60.0,
        max_connections: int = 2048,
        max_buffered: int = 512 << 20,
        identify: Callable[[Any], str | None] | None = None,
        fast_get: Callable[[bytes], bytes | None] | None = None,
    ) -> None:
        self.handler = handler
        self.fast_get = fast_get
        self.identify = identify
        self.turn_budget = turn_budget
        self.max_body = max_body
        self.max_head = max_head
        self.idle_timeout = idle_timeout
        self.header_timeout = header_timeout
        self.body_timeout = body_timeout
        self.max_connections = max_connections
        self.max_buffered = max(max_buffered, max_body)
        self._body_limit = body_limit
        #: Body bytes read and not yet answered, over all connections.
        self.buffered = 0
        #: The most ``buffered`` has been since memory was last given back to the system.
        self.peak_buffered = 0
        interval = min(idle_timeout, header_timeout, body_timeout) / _IDLE_SWEEPS
        self._sweep_interval = interval
        self._idle_sweeps = max(1, round(idle_timeout / interval))
        self.connections: set[_Connection] = set()
        self.closing = False
        #: Idle sweeps done; a connection notes the number when it is busy.
        self.sweeps = 0
        self._server: asyncio.Server | None = None
        self._sweeper: asyncio.TimerHandle | None = None
        self._turn_started: float | None = None
        self._granted = 0  # units of work granted in this turn
        self._deferred: dict[_Connection, None] = {}  # ordered: first deferred, first served

    def body_limit(self, path: bytes) -> int:
        """The largest body accepted for a request to ``path``."""
        if self._body_limit is None:
            return self.max_body
        return min(self._body_limit(path), self.max_body)

    def turn_spent(self) -> bool:
        """True when this turn's answering budget is used up (starts a turn if none is).

        A caller told False does one unit of work (an answer); each turn grants at least
        one, so a budget smaller than one answer still makes progress.
        """
        if self._over_budget():
            return True
        self._granted += 1
        return False

    def _over_budget(self) -> bool:
        now = time.perf_counter()
        if self._turn_started is None:
            self._turn_started, self._granted = now, 0
            asyncio.get_running_loop().call_soon(self._next_turn)
            return False
        return self._granted > 0 and now - self._turn_started > self.turn_budget

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
            if unserved or self._over_budget():
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

    async def start(self, host: str, port: int, tls: ssl.SSLContext | None = None) -> None:
        """Start listening; with a server context ``tls``, over TLS.

        The TLS handshake must end within the header timeout.
        """
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _Connection(self),
            host,
            port,
            reuse_address=True,
            ssl=tls,
            ssl_handshake_timeout=self.header_timeout if tls is not None else None,
        )
        self._sweeper = loop.call_later(self._sweep_interval, self._sweep)

    def _sweep(self) -> None:
        self.sweeps += 1
        now = time.monotonic()
        for conn in list(self.connections):
            conn.sweep(self.sweeps, self._idle_sweeps, now)
        if self.peak_buffered > _TRIM_AFTER and self.buffered < self.peak_buffered // 4:
            # Bodies of a burst (or a flood) are gone: give their memory back to the
            # system, which the C allocator would otherwise keep for the process.
            self.peak_buffered = self.buffered
            release_free_memory()
        loop = asyncio.get_running_loop()
        self._sweeper = loop.call_later(self._sweep_interval, self._sweep)

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
