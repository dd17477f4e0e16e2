"""Load an agent fast: HTTP/1.1 PUTs pipelined on a few keep-alive connections.

Used by the agent benchmark to fill a store with a million keys in seconds (the
client library sends one request at a time and would take minutes). Each connection
writes ``depth`` requests in one ``write`` and then reads as many answers; an answer
that is not 200 stops the load with its body in the error.

Also a command, so the load can come from a process of its own (pinned to the load
generator's core while something else measures)::

    python -m bench.loadgen --url http://127.0.0.2:7420 --resource bench/flags \
        --keys 1000000 --value-bytes 100
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Sequence
from urllib.parse import urlsplit

__all__ = ["json_value", "load", "put_requests"]


def json_value(size: int, fill: str = "v") -> bytes:
    """A JSON string of exactly ``size`` bytes (quotes included)."""
    return json.dumps(fill * (size - 2)).encode()


def put_requests(host: str, resource: str, keys: Sequence[str], value: bytes) -> list[bytes]:
    """The raw PUT requests writing ``value`` at each key of ``resource`` (``ns/name``)."""
    head = f"Host: {host}\r\nContent-Length: {len(value)}\r\n\r\n".encode()
    return [f"PUT /v1/{resource}/{key} HTTP/1.1\r\n".encode() + head + value for key in keys]


async def _answers(reader: asyncio.StreamReader, count: int, buffer: bytearray) -> None:
    """Read ``count`` answers (status 200 each) from ``reader``."""
    seen = 0
    while seen < count:
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            chunk = await reader.read(1 << 16)
            if not chunk:
                raise ConnectionError("the agent closed the connection")
            buffer += chunk
            continue
        head = bytes(buffer[:end])
        at = head.find(b"Content-Length: ")
        length = int(head[at + 16 : head.index(b"\r\n", at)]) if at >= 0 else 0
        while len(buffer) < end + 4 + length:
            chunk = await reader.read(1 << 16)
            if not chunk:
                raise ConnectionError("the agent closed the connection")
            buffer += chunk
        if not head.startswith(b"HTTP/1.1 200"):
            body = bytes(buffer[end + 4 : end + 4 + length])
            raise RuntimeError(f"load refused: {head.splitlines()[0]!r} {body!r}")
        del buffer[: end + 4 + length]
        seen += 1


async def _connection(host: str, port: int, requests: list[bytes], depth: int) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    buffer = bytearray()
    try:
        for start in range(0, len(requests), depth):
            batch = requests[start : start + depth]
            writer.write(b"".join(batch))
            await _answers(reader, len(batch), buffer)
    finally:
        writer.close()


async def load(
    url: str,
    resource: str,
    keys: Sequence[str],
    value: bytes,
    *,
    connections: int = 4,
    depth: int = 128,
) -> float:
    """PUT ``value`` at every key (pipelined); return the seconds it took."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    requests = put_requests(f"{host}:{port}", resource, keys, value)
    started = time.perf_counter()
    await asyncio.gather(
        *(_connection(host, port, requests[i::connections], depth) for i in range(connections))
    )
    return time.perf_counter() - started


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--resource", default="bench/flags", help="namespace/name")
    parser.add_argument("--keys", type=int, required=True, help="how many keys")
    parser.add_argument("--first", type=int, default=0, help="number of the first key")
    parser.add_argument("--value-bytes", type=int, default=100)
    parser.add_argument("--fill", default="v", help="character the value is made of")
    parser.add_argument("--connections", type=int, default=4)
    args = parser.parse_args(argv)
    keys = [f"key:{i:08d}" for i in range(args.first, args.first + args.keys)]
    value = json_value(args.value_bytes, args.fill)
    seconds = asyncio.run(load(args.url, args.resource, keys, value, connections=args.connections))
    print(json.dumps({"keys": len(keys), "seconds": seconds, "rate": len(keys) / seconds}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
