"""Writers that offer a rate, not a round trip at a time: pipelined HTTP/1.1 PUTs.

The client library sends one request at a time and waits for its answer, so a writer's
rate is at most one over its round trip, and a Python process's threads share one
interpreter lock: four writer processes of 8 threads offered 593-738 writes/s against
the write-burst's 10,000. Here each writer keeps one keep-alive connection to its node's
agent and, every :data:`TICK` seconds, sends every write due by then at its rate
(open loop) in one ``write(2)``, up to ``depth`` requests in flight; the agent answers
pipelined requests in order (``statecast.agent.httpserver``). The rate offered is what
was sent: when ``depth`` requests wait for answers the writer sends no more until some
come back, so an agent slower than the rate shows as an offered rate below the target
(the report's ``write_rate_offered_per_s``), never as a queue growing in the client.

Every write goes into the run's history as the client library's writers record it
(start when sent, end when answered, the version the agent acknowledged), so the loss
check is the same; a connection that breaks leaves its writes in flight
indeterminate (``info``: they may have been applied).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from statecast.chaos.history import History, Operation, Outcome, outcome_of
from statecast.client.credentials import default_token
from statecast.client.endpoints import key_path

__all__ = ["TICK", "PipelinedWriter", "run_pipelined"]

#: Seconds between two batches of a writer.
TICK = 0.005
#: Seconds before a broken connection is opened again.
RECONNECT = 0.02


@dataclass
class _Sent:
    key: str
    value: dict[str, Any]
    start: float


class PipelinedWriter:
    """One open-loop writer on one connection (see the module doc).

    Args:
        url: Its node's agent.
        namespace: The resource's namespace.
        resource: The resource's name.
        keys: The run's register keys, one chosen at random per write.
        node: Its node (for the history).
        name: Its client name (values are ``{"c": name, "n": seq}``).
        rate: Writes per second it offers.
        depth: Requests in flight at most.
        rng: Chooses the keys.
        history: Where operations go.
        clock: Seconds since the run began.
        timeout: Seconds the oldest request may wait for its answer before the
            connection is taken as broken.
    """

    def __init__(
        self, url: str, namespace: str, resource: str, keys: Sequence[str], node: str,
        name: str, rate: float, depth: int, rng: random.Random, history: History,
        clock: Callable[[], float], timeout: float = 5.0,
    ) -> None:  # fmt: skip
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.namespace, self.resource = namespace, resource
        self.keys, self.node, self.name = keys, node, name
        self.rate, self.depth, self.rng = rate, depth, rng
        self.history, self.clock, self.timeout = history, clock, timeout
        self.sent = 0
        self._seq = 0
        self._flight: deque[_Sent] = deque()
        self._closing = False
        token = default_token()
        secret = token() if token is not None else None
        self._auth = f"Authorization: Bearer {secret}\r\n" if secret else ""

    def _request(self, key: str, body: bytes) -> bytes:
        path = key_path(self.namespace, self.resource, key)
        return (
            f"PUT {path} HTTP/1.1\r\nHost: {self.host}\r\n"
            f"{self._auth}Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode() + body

    async def run(self, stop: asyncio.Event) -> None:
        """Write at the rate until ``stop`` is set (reconnecting after a break)."""
        began = time.monotonic()
        while not stop.is_set():
            try:
                reader, writer = await asyncio.open_connection(self.host, self.port)
            except OSError as err:
                self._failed_attempt(type(err).__name__)
                await asyncio.sleep(RECONNECT)
                continue
            answers = asyncio.create_task(self._answers(reader))
            try:
                await self._send(writer, began, stop, answers)
            except (OSError, ConnectionError) as err:
                self._failed_attempt(type(err).__name__)
            finally:
                await self._drain(answers)
                writer.close()
            if not stop.is_set():
                await asyncio.sleep(RECONNECT)

    async def _send(
        self, writer: asyncio.StreamWriter, began: float, stop: asyncio.Event,
        answers: asyncio.Task[None],
    ) -> None:  # fmt: skip
        while not stop.is_set() and not answers.done():
            due = int((time.monotonic() - began) * self.rate) - self.sent
            batch = []
            for _ in range(max(0, min(due, self.depth - len(self._flight)))):
                self._seq += 1
                key = self.keys[self.rng.randrange(len(self.keys))]
                value = {"c": self.name, "n": self._seq}
                body = json.dumps(value, separators=(",", ":")).encode()
                self._flight.append(_Sent(key, value, self.clock()))
                batch.append(self._request(key, body))
            if batch:
                self.sent += len(batch)
                writer.write(b"".join(batch))
                await writer.drain()
            oldest = self._flight[0].start if self._flight else None
            if oldest is not None and self.clock() - oldest > self.timeout:
                raise ConnectionError("no answer in time")
            await asyncio.sleep(TICK)

    async def _answers(self, reader: asyncio.StreamReader) -> None:
        """Match each answer to the oldest request in flight, until the connection ends."""
        buffer = bytearray()
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                chunk = await reader.read(1 << 16)
                if not chunk:
                    return
                buffer += chunk
                continue
            head = bytes(buffer[:end]).decode("latin-1")
            length = _content_length(head)
            while len(buffer) < end + 4 + length:
                chunk = await reader.read(1 << 16)
                if not chunk:
                    return
                buffer += chunk
            body = bytes(buffer[end + 4 : end + 4 + length])
            del buffer[: end + 4 + length]
            if self._flight:
                self._answered(self._flight.popleft(), int(head.split(" ", 2)[1]), body)
            if self._closing and not self._flight:
                return

    def _answered(self, sent: _Sent, status: int, body: bytes) -> None:
        version = error = None
        outcome: Outcome = "ok"
        if status == 200:
            version = str(json.loads(body)["version"])
        else:
            code = _error_code(body)
            error = f"{status} {code}"
            outcome = outcome_of(status, code)
            self.history.error(self.clock(), self.name, error)
        self.history.add(
            Operation("write", self.name, self.node, sent.key, sent.start, self.clock(),
                      outcome, sent.value, version=version, error=error)
        )  # fmt: skip

    async def _drain(self, answers: asyncio.Task[None]) -> None:
        """Wait for the answers still due (briefly), then call the rest indeterminate."""
        self._closing = True  # the answers end once nothing is in flight
        if self._flight:
            await asyncio.wait({answers}, timeout=self.timeout)
        answers.cancel()
        self._closing = False
        while self._flight:
            sent = self._flight.popleft()
            self.history.add(
                Operation("write", self.name, self.node, sent.key, sent.start, self.clock(),
                          "info", sent.value, error="ConnectionError")
            )  # fmt: skip

    def _failed_attempt(self, code: str) -> None:
        self.history.error(self.clock(), self.name, code)


def _content_length(head: str) -> int:
    for line in head.split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            return int(value)
    return 0


def _error_code(body: bytes) -> str:
    try:
        return str(json.loads(body)["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return "error"


async def run_pipelined(writers: Sequence[PipelinedWriter], until: Callable[[], object]) -> None:
    """Run ``writers`` until the blocking ``until`` returns (in a thread)."""
    stop = asyncio.Event()
    tasks = [asyncio.create_task(w.run(stop)) for w in writers]
    await asyncio.to_thread(until)
    stop.set()
    await asyncio.gather(*tasks)
