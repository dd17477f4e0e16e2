"""A small HTTP/1.1 keep-alive connection for the blocking client.

``http.client`` spends more time parsing headers than the agent spends answering a
local read; this connection writes the request in one ``sendall`` (Nagle off) and
parses only what the Agent API answers: a status line, headers, and a body framed by
``Content-Length`` or chunked encoding.
"""

from __future__ import annotations

import select
import socket
from collections.abc import Iterable

from statecast.client.core import GarbledAnswerError

__all__ = ["Connection", "ConnectionClosedError", "RawResponse"]

_MAX_HEADER = 64 * 1024


class ConnectionClosedError(ConnectionError):
    """The agent closed the connection before answering (e.g. an idle keep-alive)."""


class RawResponse:
    """Status, lower-cased headers and body of one answer."""

    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body


class Connection:
    """One keep-alive connection to an agent.

    Args:
        host: Agent host.
        port: Agent port.
        timeout: Seconds for connecting and for each read.
    """

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self._sock: socket.socket | None = None
        self._buf = b""

    def close(self) -> None:
        """Close the socket (a new one is opened on the next request)."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        self._buf = b""

    def _connect(self) -> socket.socket:
        sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock = sock
        return sock

    def dropped(self) -> bool:
        """Whether the agent closed this idle connection (then closed here too).

        Looked at before a request is sent on a kept-alive connection: the agent may
        have closed it while it was idle (a restart, an idle timeout). Nothing was sent
        on it yet, so a new connection may carry the request; once a request is sent, a
        close before the answer may come after the agent applied it.
        """
        if self._sock is None:
            return False
        # (a recv with MSG_DONTWAIT would still wait: Python waits for the socket's
        # timeout before any recv on a socket that has one)
        # (poll, not select: select refuses a descriptor above FD_SETSIZE, 1024, which an
        # application with many files open has)
        poller = select.poll()
        poller.register(self._sock, select.POLLIN | select.POLLHUP | select.POLLERR)
        if not poller.poll(0):
            return False  # open, nothing unread: usable
        self.close()  # closed (EOF), reset, or bytes nobody asked for: not usable
        return True

    @property
    def fresh(self) -> bool:
        """True if the next request opens a new connection."""
        return self._sock is None

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None,
        headers: Iterable[tuple[str, str]] = (),
    ) -> RawResponse:
        """Send one request (with ``headers`` beside the framing ones) and read its answer.

        Raises:
            ConnectionClosedError: The agent closed the connection without answering.
            GarbledAnswerError: The answer is not HTTP/1.1 as the agent speaks it.
            OSError: Connecting, sending or receiving failed.
        """
        sock = self._sock or self._connect()
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\n"
        head += "".join(f"{name}: {value}\r\n" for name, value in headers)
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        try:
            sock.sendall(head.encode() + b"\r\n" + (body or b""))
            return self._read_response(method)
        except (ValueError, IndexError) as err:  # a status line, length or chunk size
            self.close()
            raise GarbledAnswerError(
                f"unreadable answer from {self.host}:{self.port}: {err}"
            ) from err
        except BaseException:
            self.close()
            raise

    def _recv(self) -> bytes:
        assert self._sock is not None
        chunk = self._sock.recv(65536)
        if not chunk:
            raise ConnectionClosedError("the agent closed the connection")
        return chunk

    def _read_response(self, method: str) -> RawResponse:
        buf = self._buf
        while (end := buf.find(b"\r\n\r\n")) < 0:
            if len(buf) > _MAX_HEADER:
                raise OSError("response header too large")
            buf += self._recv()
        lines = buf[:end].decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        buf = buf[end + 4 :]
        if method == "HEAD" or status in (204, 304):
            body = b""
        elif "content-length" in headers:
            length = int(headers["content-length"])
            while len(buf) < length:
                buf += self._recv()
            body, buf = buf[:length], buf[length:]
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            body, buf = self._read_chunked(buf)
        else:  # framed by the end of the connection
            parts: list[bytes] = [buf]
            try:
                while True:
                    parts.append(self._recv())
            except ConnectionClosedError:
                pass
            body, buf = b"".join(parts), b""
            headers["connection"] = "close"
        self._buf = buf
        if headers.get("connection", "").lower() == "close":
            self.close()
        return RawResponse(status, headers, body)

    def _read_chunked(self, buf: bytes) -> tuple[bytes, bytes]:
        parts: list[bytes] = []
        while True:
            while (eol := buf.find(b"\r\n")) < 0:
                buf += self._recv()
            size = int(buf[:eol].split(b";")[0], 16)
            buf = buf[eol + 2 :]
            while len(buf) < size + 2:
                buf += self._recv()
            if size == 0:
                while (end := buf.find(b"\r\n")) < 0:
                    buf += self._recv()
                return b"".join(parts), buf[end + 2 :]
            parts.append(buf[:size])
            buf = buf[size + 2 :]
