"""The client's HTTP/1.1 transport against a canned server: framing and reconnects."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from statecast.client.transport import Connection, ConnectionClosedError

ANSWERS = {
    b"/length": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nStatecast-Served: local\r\n\r\nhello",
    b"/chunked": (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3\r\nabc\r\n4;ext=1\r\ndefg\r\n0\r\n\r\n"
    ),
    b"/close": b"HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}",
    b"/until-eof": b"HTTP/1.1 200 OK\r\n\r\nthe rest",
}


@pytest.fixture
def server() -> Iterator[tuple[str, int]]:
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn:
            buf = b""
            while not stop.is_set():
                while b"\r\n\r\n" not in buf:
                    chunk = conn.recv(4096)
                    if not chunk:
                        return
                    buf += chunk
                head, _, buf = buf.partition(b"\r\n\r\n")
                path = head.split(b" ")[1]
                if path == b"/drop":
                    return  # close without answering
                conn.sendall(ANSWERS[path])
                if path in (b"/close", b"/until-eof"):
                    return

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    yield listener.getsockname()
    stop.set()
    listener.close()


def test_bodies_framed_by_length_chunks_or_end_of_connection(server):
    conn = Connection(*server, timeout=5)
    reply = conn.request("GET", "/length", None)
    assert (reply.status, reply.body, reply.headers["statecast-served"]) == (200, b"hello", "local")
    assert not conn.fresh  # kept alive
    assert conn.request("GET", "/chunked", None).body == b"abcdefg"
    assert conn.request("GET", "/length", None).body == b"hello"  # same connection, in order
    closed = conn.request("GET", "/close", None)
    assert (closed.status, closed.body, conn.fresh) == (404, b"{}", True)
    assert conn.request("GET", "/until-eof", None).body == b"the rest"
    assert conn.fresh


def test_an_agent_closing_without_answering_is_reported(server):
    conn = Connection(*server, timeout=5)
    with pytest.raises(ConnectionClosedError):
        conn.request("GET", "/drop", None)
    assert conn.fresh


def test_an_idle_close_is_seen_on_a_descriptor_above_1024() -> None:
    """An application with many files open gets sockets above FD_SETSIZE, which select()
    refuses (ValueError): the idle-close check must work there too."""
    import os
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 2048:
        pytest.skip("cannot open a descriptor above 1024 here")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 2048), hard))
    ours, theirs = socket.socketpair()
    high = socket.socket(fileno=os.dup2(ours.fileno(), 1500))
    ours.close()
    try:
        conn = Connection("127.0.0.1", 1, timeout=1.0)
        conn._sock = high
        assert not conn.dropped()  # open, nothing unread
        theirs.close()
        assert conn.dropped()  # the peer closed it while idle
    finally:
        high.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
