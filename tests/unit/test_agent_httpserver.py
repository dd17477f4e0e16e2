"""The agent's HTTP/1.1 server over real sockets: framing, ordering, limits, errors."""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from statecast.agent.httpserver import HttpServer, Request, Response
from statecast.core.pki import agent_name
from statecast.pki.certs import issue, new_authority
from statecast.pki.contexts import TlsMaterial

Serve = Callable[[HttpServer], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]


async def echo(request: Request) -> Response:
    """Answer with what was asked; ``/slow`` waits first, ``/boom`` fails."""
    if request.path == "/slow":
        await asyncio.sleep(0.2)
    if request.path == "/boom":
        raise RuntimeError("handler bug")
    body = {"method": request.method, "target": request.target, "body": request.body.decode()}
    return Response(json.dumps(body).encode(), headers={"X-Path": request.path})


def sync_echo(request: Request) -> Response | Awaitable[Response]:
    """Synchronous for most paths (answered without a task), async for ``/slow``."""
    if request.path in ("/slow", "/boom"):
        return echo(request)
    return Response(request.path.encode(), content_type="text/plain")


@pytest.fixture
async def server() -> AsyncIterator[HttpServer]:
    srv = HttpServer(sync_echo, max_body=1024, idle_timeout=0.5)
    await srv.start("127.0.0.1", 0)
    yield srv
    await srv.close(grace=1)


async def connect(srv: HttpServer) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", srv.port)


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers, body


async def test_keep_alive_serves_several_requests_on_one_connection(server):
    reader, writer = await connect(server)
    for path in ("/a", "/b", "/c"):
        writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        status, headers, body = await read_response(reader)
        assert (status, body, headers.get("connection")) == (200, path.encode(), None)
    writer.close()


async def test_pipelined_requests_are_answered_in_order_behind_a_slow_one(server):
    reader, writer = await connect(server)
    writer.write(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /fast HTTP/1.1\r\nHost: x\r\n\r\n")
    first = await read_response(reader)
    second = await read_response(reader)
    assert json.loads(first[2])["target"] == "/slow"
    assert second[2] == b"/fast"
    writer.close()


async def test_chunked_body_is_decoded(server):
    reader, writer = await connect(server)
    writer.write(
        b"PUT /slow?x=1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    )
    status, _, body = await read_response(reader)
    assert status == 200
    assert json.loads(body) == {"method": "PUT", "target": "/slow?x=1", "body": "hello world"}
    writer.close()


async def test_expect_continue_gets_100_before_the_body(server):
    reader, writer = await connect(server)
    writer.write(
        b"PUT /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n"
    )
    interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert interim.startswith(b"HTTP/1.1 100 Continue")
    writer.write(b"ok")
    status, _, body = await read_response(reader)
    assert (status, json.loads(body)["body"]) == (200, "ok")
    writer.close()


async def test_declared_body_over_the_limit_is_refused_before_it_is_sent(server):
    reader, writer = await connect(server)
    writer.write(b"PUT /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n")
    status, headers, body = await read_response(reader)
    assert status == 413
    assert json.loads(body)["error"]["code"] == "too_large"
    assert headers["connection"] == "close"
    assert await reader.read() == b""  # closed
    writer.close()


async def test_chunked_body_growing_over_the_limit_is_refused(server):
    reader, writer = await connect(server)
    chunk = b"x" * 600
    writer.write(b"PUT /slow HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
    writer.write(b"258\r\n" + chunk + b"\r\n" + b"258\r\n" + chunk + b"\r\n")
    status, _, _ = await read_response(reader)
    assert status == 413
    writer.close()


async def test_endless_headers_are_refused_with_431(server):
    reader, writer = await connect(server)
    writer.write(b"GET /a HTTP/1.1\r\nHost: x\r\nX-Big: ")
    for _ in range(40):  # 80 KiB of one header value, never finished
        writer.write(b"y" * 2048)
        await writer.drain()
    status, headers, body = await read_response(reader)
    assert (status, json.loads(body)["error"]["code"]) == (431, "headers_too_large")
    assert headers["connection"] == "close"
    writer.close()


async def test_malformed_request_gets_400_and_the_connection_closes(server):
    reader, writer = await connect(server)
    writer.write(b"THIS IS NOT HTTP\r\n\r\n")
    status, headers, body = await read_response(reader)
    assert (status, json.loads(body)["error"]["code"]) == (400, "bad_request")
    assert headers["connection"] == "close"
    writer.close()


async def test_answers_before_a_malformed_request_still_go_out(server):
    reader, writer = await connect(server)
    writer.write(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\nBROKEN\r\n\r\n")
    assert (await read_response(reader))[0] == 200
    assert (await read_response(reader))[0] == 400
    writer.close()


async def test_http10_closes_unless_keep_alive_is_asked(server):
    reader, writer = await connect(server)
    writer.write(b"GET /a HTTP/1.0\r\n\r\n")
    status, headers, _ = await read_response(reader)
    assert (status, headers["connection"]) == (200, "close")
    writer.close()
    reader, writer = await connect(server)
    writer.write(b"GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    _, headers, _ = await read_response(reader)
    assert headers["connection"] == "keep-alive"
    writer.close()


async def test_a_failing_handler_answers_500_and_keeps_serving(server):
    reader, writer = await connect(server)
    writer.write(b"GET /boom HTTP/1.1\r\nHost: x\r\n\r\nGET /after HTTP/1.1\r\nHost: x\r\n\r\n")
    status, _, body = await read_response(reader)
    assert (status, json.loads(body)["error"]["code"]) == (500, "internal")
    assert (await read_response(reader))[2] == b"/after"
    writer.close()


async def test_idle_connection_is_closed_after_the_timeout(server):
    reader, writer = await connect(server)
    writer.write(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
    await read_response(reader)
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()


async def test_close_lets_a_running_request_finish():
    """A request running when close begins is answered (Connection: close), then the port
    refuses. The handler holds until close has begun: no sleep decides the order."""
    entered, release = asyncio.Event(), asyncio.Event()

    async def held(request: Request) -> Response:
        entered.set()
        await release.wait()
        return await echo(request)

    srv = HttpServer(held, max_body=1024)
    await srv.start("127.0.0.1", 0)
    port = srv.port
    reader, writer = await connect(srv)
    writer.write(b"GET /held HTTP/1.1\r\nHost: x\r\n\r\n")
    await asyncio.wait_for(entered.wait(), 5)
    closing = asyncio.create_task(srv.close(grace=5))
    await asyncio.sleep(0)  # close begins: it marks the server closing before it waits
    assert srv.closing
    release.set()
    status, headers, _ = await read_response(reader)
    await closing
    assert (status, headers["connection"]) == (200, "close")
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", port)
    writer.close()


async def test_a_long_pipeline_is_answered_over_several_loop_turns_in_order():
    """A client pipelining many costly requests does not hold the event loop: once a
    turn's budget is spent, the rest waits while the loop runs other callbacks."""
    order: list[str] = []
    loop = asyncio.get_running_loop()

    def costly(request: Request) -> Response:
        if not order:  # the first request: something else asks for the loop now
            loop.call_soon(order.append, "other callback")
        until = time.perf_counter() + 0.0005  # each answer costs at least 0.5 ms
        while time.perf_counter() < until:
            pass
        order.append(request.path)
        return Response(request.path.encode(), content_type="text/plain")

    srv = HttpServer(costly, max_body=1024, turn_budget=0.001)
    await srv.start("127.0.0.1", 0)
    try:
        reader, writer = await connect(srv)
        paths = [f"/{i}" for i in range(20)]
        writer.write(b"".join(f"GET {p} HTTP/1.1\r\nHost: x\r\n\r\n".encode() for p in paths))
        answers = [(await read_response(reader))[2].decode() for _ in paths]
        writer.close()
    finally:
        await srv.close(grace=1)
    assert answers == paths
    assert [p for p in order if p != "other callback"] == paths
    # the budget (1 ms) is spent after at most three answers: the other callback ran
    # long before the last request was answered
    assert order.index("other callback") <= 4


async def test_a_zero_turn_budget_still_answers_one_request_a_turn():
    """A budget smaller than one answer still makes progress: each turn answers at least
    one queued request and sends at least one held answer (it answered nothing before)."""
    gate = Gate()

    def handler(request: Request) -> Response:
        after = gate if request.path.startswith("/held") else None
        return Response(request.path.encode(), content_type="text/plain", after=after)

    srv = HttpServer(handler, max_body=1024, turn_budget=0.0)
    await srv.start("127.0.0.1", 0)
    try:
        reader, writer = await connect(srv)
        paths = [f"/{i}" for i in range(5)] + [f"/held-{i}" for i in range(5)]
        writer.write(b"".join(f"GET {p} HTTP/1.1\r\nHost: x\r\n\r\n".encode() for p in paths))
        gate.open()
        answers = [(await asyncio.wait_for(read_response(reader), 5))[2].decode() for _ in paths]
        writer.close()
    finally:
        await srv.close(grace=1)
    assert answers == paths


async def test_a_connection_behind_a_long_pipeline_is_not_starved():
    """Connections that wait for the next turn are served round robin: a second client's
    request is answered long before the first client's pipeline is done."""
    order: list[str] = []

    def costly(request: Request) -> Response:
        until = time.perf_counter() + 0.0005
        while time.perf_counter() < until:
            pass
        order.append(request.path)
        return Response(b"", content_type="text/plain")

    srv = HttpServer(costly, max_body=1024, turn_budget=0.001)
    await srv.start("127.0.0.1", 0)
    try:
        loaders = [await connect(srv) for _ in range(3)]
        probe_reader, probe_writer = await connect(srv)
        for n, (_, writer) in enumerate(loaders):
            batch = [f"GET /load-{n}-{i} HTTP/1.1\r\nHost: x\r\n\r\n" for i in range(30)]
            writer.write("".join(batch).encode())
        await asyncio.sleep(0.01)  # the loaders' pipelines are queued at the server
        probe_writer.write(b"GET /probe HTTP/1.1\r\nHost: x\r\n\r\n")
        await read_response(probe_reader)
        for reader, writer in loaders:
            for _ in range(30):
                await read_response(reader)
            writer.close()
        probe_writer.close()
    finally:
        await srv.close(grace=1)
    assert len(order) == 91
    # 90 loader requests of >= 0.5 ms; the probe waits a few turns, not for all of them
    assert order.index("/probe") < 60


# --- hostile input: limits decided from the head, deadlines, caps (issue 15) ----------


async def test_a_head_over_the_limit_is_refused_even_when_one_read_completes_it(server):
    reader, writer = await connect(server)
    big = b"y" * (80 * 1024)
    writer.write(b"GET /a HTTP/1.1\r\nHost: x\r\nX-Big: " + big + b"\r\n\r\n")
    status, _, body = await read_response(reader)
    assert (status, json.loads(body)["error"]["code"]) == (431, "headers_too_large")
    writer.close()


async def test_many_pipelined_requests_in_one_read_are_not_taken_for_one_long_head(server):
    reader, writer = await connect(server)
    request = b"GET /p HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"z" * 1000 + b"\r\n\r\n"
    writer.write(request * 100)  # ~100 KiB of heads, each well under the limit
    for _ in range(100):
        assert (await read_response(reader))[0] == 200
    writer.close()


async def test_a_head_trickling_in_byte_by_byte_gets_408_at_the_header_deadline():
    srv = HttpServer(sync_echo, max_body=1024, idle_timeout=5, header_timeout=0.4)
    await srv.start("127.0.0.1", 0)
    try:
        reader, writer = await connect(srv)
        started = time.monotonic()
        answer = asyncio.ensure_future(read_response(reader))
        for byte in b"GET /a HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"s" * 200:
            if answer.done():
                break
            writer.write(bytes([byte]))
            await asyncio.sleep(0.05)  # every byte well inside the idle timeout
        status, headers, body = await answer
        assert (status, json.loads(body)["error"]["code"]) == (408, "request_timeout")
        assert headers["connection"] == "close"
        assert time.monotonic() - started < 4  # the deadline, not the idle timeout
        writer.close()
    finally:
        await srv.close(grace=1)


async def test_a_connection_over_the_cap_gets_503_and_the_others_are_served():
    srv = HttpServer(sync_echo, max_body=1024, max_connections=2)
    await srv.start("127.0.0.1", 0)
    try:
        first, second = await connect(srv), await connect(srv)
        await asyncio.sleep(0.05)
        reader, writer = await connect(srv)
        writer.write(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
        status, headers, body = await read_response(reader)
        assert (status, json.loads(body)["error"]["code"]) == (503, "too_many_connections")
        assert headers["connection"] == "close"
        first[1].write(b"GET /b HTTP/1.1\r\nHost: x\r\n\r\n")
        assert (await read_response(first[0]))[2] == b"/b"
        for _, w in (first, second, (reader, writer)):
            w.close()
    finally:
        await srv.close(grace=1)


def _limit(path: bytes) -> int:
    return 1 << 20 if path.startswith(b"/peer/") else 100


async def test_the_body_limit_is_decided_per_route_before_the_body_is_read():
    srv = HttpServer(sync_echo, max_body=1 << 20, body_limit=_limit)
    await srv.start("127.0.0.1", 0)
    try:
        reader, writer = await connect(srv)
        # only the head is sent: the refusal cannot wait for the body
        writer.write(b"PUT /app HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\n\r\n")
        status, _, body = await read_response(reader)
        assert (status, json.loads(body)["error"]["code"]) == (413, "too_large")
        writer.close()
        reader, writer = await connect(srv)
        writer.write(
            b"PUT /peer/x HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\n\r\n" + b"p" * 2000
        )
        assert (await read_response(reader))[0] == 200
        writer.close()
    finally:
        await srv.close(grace=1)


async def test_bodies_held_over_the_global_cap_get_503_and_are_released_once_answered():
    gate = asyncio.Event()

    async def held(request: Request) -> Response:
        await gate.wait()
        return Response(b"done")

    srv = HttpServer(held, max_body=1000, max_buffered=1500)
    await srv.start("127.0.0.1", 0)
    try:
        put = b"PUT /a HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + b"b" * 1000
        first = await connect(srv)
        first[1].write(put)
        await asyncio.sleep(0.1)
        assert srv.buffered == 1000
        second = await connect(srv)
        second[1].write(put)
        status, _, body = await read_response(second[0])
        assert (status, json.loads(body)["error"]["code"]) == (503, "overloaded")
        gate.set()
        assert (await read_response(first[0]))[2] == b"done"
        assert srv.buffered == 0
        for _, w in (first, second):
            w.close()
    finally:
        await srv.close(grace=1)


class Gate:
    """What an answer holds on to (like a log batch), opened by the test."""

    def __init__(self) -> None:
        self.done = False
        self.error: BaseException | None = None
        self._callbacks: list[Callable[[], None]] = []

    def then(self, callback: Callable[[], None]) -> None:
        if self.done:
            callback()
        else:
            self._callbacks.append(callback)

    def open(self, error: BaseException | None = None) -> None:
        self.done, self.error = True, error
        for callback in self._callbacks:
            callback()


async def _held_server(gate: Gate, handled: list[str]) -> HttpServer:
    def handler(request: Request) -> Response:
        handled.append(request.path)
        if request.path == "/write":
            return Response(b"written", content_type="text/plain", after=gate)
        return Response(request.path.encode(), content_type="text/plain")

    srv = HttpServer(handler, max_body=1024)
    await srv.start("127.0.0.1", 0)
    return srv


async def _until(condition: Callable[[], bool]) -> None:
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition never met")


async def test_a_held_answer_lets_later_requests_run_and_still_goes_out_first():
    """An answer that waits for its write does not stop its connection reading and
    answering what was pipelined after it, nor other connections; it is sent first."""
    gate, handled = Gate(), []
    srv = await _held_server(gate, handled)
    try:
        reader, writer = await connect(srv)
        writer.write(
            b"PUT /write HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
            b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        await _until(lambda: handled == ["/write", "/next"])
        other_reader, other_writer = await connect(srv)
        other_writer.write(b"GET /other HTTP/1.1\r\nHost: x\r\n\r\n")
        assert (await read_response(other_reader))[2] == b"/other"
        assert not reader.at_eof() and len(reader._buffer) == 0  # type: ignore[attr-defined]
        gate.open()
        assert (await read_response(reader))[::2] == (200, b"written")
        assert (await read_response(reader))[::2] == (200, b"/next")
        writer.close()
        other_writer.close()
    finally:
        await srv.close(grace=1)


async def test_a_held_answer_whose_write_failed_becomes_a_500_and_the_next_follow():
    gate, handled = Gate(), []
    srv = await _held_server(gate, handled)
    try:
        reader, writer = await connect(srv)
        writer.write(
            b"PUT /write HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
            b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        await _until(lambda: handled == ["/write", "/next"])
        gate.open(OSError(28, "No space left on device"))
        status, _, body = await read_response(reader)
        assert (status, json.loads(body)["error"]["code"]) == (500, "persistence")
        assert (await read_response(reader))[::2] == (200, b"/next")
        writer.close()
    finally:
        await srv.close(grace=1)


async def test_answers_a_log_batch_released_go_out_over_several_loop_turns_in_order():
    """Hundreds of answers held for one log batch are sent a turn's budget at a time:
    other callbacks run between, and the answers still go out in request order."""
    count = 400  # sending them takes far longer than the 1 µs budget
    gate = Gate()
    sent_in_turn: list[int] = []
    loop = asyncio.get_running_loop()

    def handler(request: Request) -> Response:
        return Response(request.path.encode(), content_type="text/plain", after=gate)

    srv = HttpServer(handler, max_body=1024, turn_budget=1e-6)
    await srv.start("127.0.0.1", 0)
    try:
        reader, writer = await connect(srv)
        paths = [f"/{i}" for i in range(count)]
        put = "PUT {} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
        writer.write("".join(put.format(p) for p in paths).encode())
        await _until(lambda: len(srv.connections) == 1)  # (the server may not have it yet)
        conn = next(iter(srv.connections))
        await _until(lambda: len(conn._held) == count)
        loop.call_soon(lambda: sent_in_turn.append(count - len(conn._held)))
        gate.open()  # the whole batch is written
        answers = [(await read_response(reader))[2].decode() for _ in paths]
        writer.close()
    finally:
        await srv.close(grace=1)
    assert answers == paths
    assert sent_in_turn and sent_in_turn[0] < count  # not all in the turn the batch ended


BIG = 32 << 20  # a full sync's answer of a large map (a million keys: ~140 MiB)


def _tls_pair() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context and a client context trusting it (for ``agent_name("node-0")``)."""
    authority = new_authority(time.time(), 3600)
    pair = issue(authority, agent_name("node-0"), time.time(), 3600)
    material = TlsMaterial()
    material.load(pair.cert, pair.key, authority.cert)
    return material.listening_context(), material.client_context()


def _big_server(parts: bool) -> HttpServer:
    """``/big`` answers ``BIG`` bytes (in parts or as one body); other paths echo."""
    body = bytes(range(256)) * (BIG // 256)

    def handler(request: Request) -> Response:
        if request.path != "/big":
            return Response(request.path.encode(), content_type="text/plain")
        if parts:
            return Response(parts=[body[: BIG // 3], body[BIG // 3 :]])
        return Response(body)

    return HttpServer(handler, max_body=1024)


@pytest.mark.parametrize(("parts", "tls"), [(False, False), (True, False), (True, True)])
async def test_a_large_body_is_handed_to_the_transport_a_slice_at_a_time(parts, tls):
    """A large answer to a client that reads slowly is given to the transport a slice at
    a time, each once the one before has left, so no single write(2) copies tens of MiB
    (before: one write of the whole body; a full sync's holder had a ~10 ms loop turn);
    the answer after it follows in order, and the bytes arrive whole."""
    from statecast.agent.httpserver import _BODY_SLICE

    srv = _big_server(parts)
    server_tls, client_tls = _tls_pair() if tls else (None, None)
    await srv.start("127.0.0.1", 0, server_tls)
    try:
        if client_tls is None:
            reader, writer = await connect(srv)
        else:  # (before the high water mark was 1: the answer never came over TLS)
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", srv.port, ssl=client_tls, server_hostname=agent_name("node-0")
            )
        writer.write(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\nGET /after HTTP/1.1\r\nHost: x\r\n\r\n")
        await _until(lambda: len(srv.connections) == 1)
        conn = next(iter(srv.connections))
        await _until(lambda: conn._transport.get_write_buffer_size() > 0)  # the client lags
        for _ in range(20):  # loop turns while the client does not read
            # at most one slice (over TLS, with its records' framing)
            assert conn._transport.get_write_buffer_size() <= _BODY_SLICE + 4096
            await asyncio.sleep(0.005)
        status, _, body = await read_response(reader)
        after = await read_response(reader)
        writer.close()
    finally:
        await srv.close(grace=1)
    assert (status, len(body), body[:512]) == (200, BIG, bytes(range(256)) * 2)
    assert body == bytes(range(256)) * (BIG // 256)
    assert after[2] == b"/after"


async def test_a_large_body_then_close_arrives_whole():
    """HTTP/1.0 without keep-alive: the connection closes only after the last slice."""
    srv = _big_server(parts=True)
    await srv.start("127.0.0.1", 0)
    try:
        reader, writer = await connect(srv)
        writer.write(b"GET /big HTTP/1.0\r\n\r\n")
        status, headers, body = await read_response(reader)
        assert await asyncio.wait_for(reader.read(), 5) == b""  # then closed
        writer.close()
    finally:
        await srv.close(grace=1)
    assert (status, headers.get("connection"), len(body)) == (200, "close", BIG)
