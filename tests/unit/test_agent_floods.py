"""Floods of slow and large requests: the body deadline, and memory given back after a burst."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

from statecast.agent.httpserver import HttpServer, Request, Response


async def _until(condition: Callable[[], bool]) -> None:
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition never met")


def echo(request: Request) -> Response:
    return Response(json.dumps({"size": len(request.body)}).encode())


async def read_answer(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    status = int((await reader.readline()).split()[1])
    headers = {}
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode().partition(":")
        headers[name.lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers, body


async def test_a_body_trickling_in_gets_408_at_the_body_deadline_and_others_are_served():
    srv = HttpServer(echo, max_body=4096, idle_timeout=30, header_timeout=30, body_timeout=0.5)
    await srv.start("127.0.0.1", 0)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
        writer.write(b"PUT /a HTTP/1.1\r\nHost: x\r\nContent-Length: 4000\r\n\r\n")
        answer = asyncio.ensure_future(read_answer(reader))
        other_reader, other = await asyncio.open_connection("127.0.0.1", srv.port)
        sent = 0
        while not answer.done() and sent < 4000:  # a byte every 20 ms: 80 s for the body
            writer.write(b"x")
            sent += 1
            await asyncio.sleep(0.02)
            if sent % 10 == 0:  # another client meanwhile: answered at once
                other.write(b"PUT /b HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nok")
                assert (await read_answer(other_reader))[0] == 200
        status, headers, body = await answer
        assert (status, json.loads(body)["error"]["code"]) == (408, "request_timeout")
        assert headers["connection"] == "close"
        assert sent < 4000  # cut, not answered once the body was whole
        assert await reader.read() == b""  # closed after the refusal
        assert srv.buffered == 0  # the partial body is not held
        writer.close()
        other.close()
    finally:
        await srv.close(grace=1)


async def test_a_body_sent_in_pieces_within_the_deadline_is_served():
    srv = HttpServer(echo, max_body=4096, body_timeout=5)
    await srv.start("127.0.0.1", 0)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
        writer.write(b"PUT /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in range(5):
            writer.write(b"3\r\nabc\r\n")
            await asyncio.sleep(0.05)
        writer.write(b"0\r\n\r\n")
        status, _, body = await read_answer(reader)
        assert (status, json.loads(body)) == (200, {"size": 15})
        writer.close()
    finally:
        await srv.close(grace=1)


async def test_after_a_burst_of_bodies_their_memory_is_given_back(monkeypatch):
    from statecast.agent import httpserver

    trims = []
    monkeypatch.setattr(httpserver, "_TRIM_AFTER", 1000)
    monkeypatch.setattr(httpserver, "release_free_memory", lambda: trims.append(1) or True)
    srv = HttpServer(echo, max_body=1 << 20, header_timeout=0.2)  # a sweep every 50 ms
    await srv.start("127.0.0.1", 0)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
        writer.write(b"PUT /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" + b"x" * 5000)
        assert (await read_answer(reader))[0] == 200
        await asyncio.sleep(0.3)
        assert trims == [1]  # once: the burst is over, nothing new held
        assert srv.buffered == 0
        writer.close()
    finally:
        await srv.close(grace=1)


async def test_the_bodies_of_closed_connections_are_not_kept_until_a_full_collection():
    """A connection, its parser and its transport refer to each other, so the cyclic GC
    frees them only in a full collection: a flood of large bodies on connections that
    closed kept the agent at 1.2 GiB after it (issue 15's flood, 2026-12-05) while
    nothing was held. The body pieces are dropped when a request is complete and when
    its connection is lost."""
    import gc
    import tracemalloc

    srv = HttpServer(echo, max_body=16 << 20, header_timeout=5)
    await srv.start("127.0.0.1", 0)
    body = b"x" * (4 << 20)
    gc.disable()  # as between two full collections
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for complete in (True, True, True, False, False):
            reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
            writer.write(b"PUT /a HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body))
            writer.write(body if complete else body[: len(body) // 2])
            if complete:
                assert (await read_answer(reader))[0] == 200
            else:  # half a body, then the client goes
                await _until(lambda: srv.buffered >= len(body) // 2)
            writer.close()
            await writer.wait_closed()
        await _until(lambda: not srv.connections)
        held = tracemalloc.get_traced_memory()[0] - before
        assert srv.buffered == 0
        assert held < len(body), f"{held / 2**20:.1f} MiB still held"
    finally:
        tracemalloc.stop()
        gc.enable()
        await srv.close(grace=1)


def test_with_tls_the_plain_listener_reads_no_large_peer_body(tmp_path):
    from statecast.agent.config import AgentConfig
    from statecast.agent.runtime import Agent
    from statecast.agent.server import build_server

    config = AgentConfig(node="n1", data_dir=tmp_path, tls=True, peer_listen="127.0.0.1:0")
    agent = Agent(config)
    limits = config.limits
    plain, mutual = build_server(agent), build_server(agent, identify=lambda cert: "n2")
    push = b"/v1/peer/push/apps/flags"
    assert plain.body_limit(push) == limits.max_value_bytes  # refused 403 there anyway
    assert mutual.body_limit(push) == limits.max_peer_body_bytes
    assert build_server(Agent(AgentConfig(node="n1", data_dir=tmp_path))).body_limit(push) == (
        limits.max_peer_body_bytes
    )
