"""Property tests (hypothesis) of everything the agent parses from the network or disk.

Whatever the bytes, each parser either returns or refuses with the error its callers
turn into a 4xx answer (or, on disk, a PersistenceError): never another exception, a
500, a hang or a wrong parse. Bounded for CI: ``max_examples`` per property, derandomized.

- the HTTP server's request parsing (heads, Content-Length and chunked bodies, split
  anywhere, pipelined), driven through its protocol object with a recording transport;
- the JSON body codec and depth check, path segments and keys;
- the peer messages (push, sync, hand-off, strong append and fence) and CRDT entries;
- write-ahead log records and snapshot sections with valid checksums but any content.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import re
import struct
import tempfile
import zlib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from statecast.agent import logfile, snapshotfile
from statecast.agent.errors import BadRequestError, PersistenceError
from statecast.agent.httpserver import HttpServer, Request, Response, _Connection
from statecast.agent.server import _json_body, _parse_json, _segments, _too_deep
from statecast.agent.strong_link import decode_append, decode_fence
from statecast.agent.wire import (
    decode_hand_off,
    decode_push,
    decode_sync_reply,
    decode_sync_request,
    decode_vector_reply,
    encode_push,
    encode_sync_request,
)
from statecast.core.clock import HybridClock
from statecast.core.crdt import DeltaMap, MalformedEntryError, decode_entry, encode_entry

FUZZ = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

#: Any JSON document.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)
#: Bytes that are often JSON, often nearly JSON, sometimes garbage.
bodies = st.one_of(
    json_values.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=200),
    st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
)
DEEP = [b"[" * 100_000, b'{"a":' * 50_000, b"[" * 70 + b"]" * 70]


# --- the HTTP server ----------------------------------------------------------------


class RecordingTransport(asyncio.Transport):
    """What a connection writes, and whether it closed."""

    def __init__(self) -> None:
        super().__init__()
        self.out = bytearray()
        self.closed = False
        self.reading = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.9", 40000) if name == "peername" else default

    def write(self, data: Any) -> None:
        self.out += data

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = True

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        pass


_STATUS = re.compile(rb"HTTP/1\.1 (\d{3}) [^\r\n]*\r\n")


def _answers(raw: bytes) -> list[tuple[int, bytes]]:
    """Split what the server wrote into (status, body) answers; fail on anything else."""
    answers, at = [], 0
    while at < len(raw):
        if raw.startswith(b"HTTP/1.1 100 Continue\r\n\r\n", at):
            at += 25
            continue
        line = _STATUS.match(raw, at)
        assert line is not None, raw[at : at + 200]
        head_end = raw.index(b"\r\n\r\n", at) + 4
        head = raw[at:head_end].decode("latin-1").lower()
        length = int(re.search(r"content-length: (\d+)", head).group(1))  # type: ignore[union-attr]
        answers.append((int(line.group(1)), raw[head_end : head_end + length]))
        at = head_end + length
    return answers


def _serve(
    chunks: list[bytes], max_body: int = 256
) -> tuple[list[Request], list[tuple[int, bytes]]]:
    """Feed ``chunks`` to one connection of a server that echoes; what it saw and answered."""
    seen: list[Request] = []

    def handler(request: Request) -> Any:
        seen.append(request)
        body = json.dumps({"n": len(seen), "size": len(request.body)}).encode()
        if request.path.endswith("/slow"):

            async def later() -> Response:
                await asyncio.sleep(0)
                return Response(body)

            return later()
        return Response(body)

    async def run() -> bytes:
        server = HttpServer(
            handler,
            max_body=max_body,
            max_head=512,
            body_limit=lambda path: 16 if path.startswith(b"/small") else max_body,
            max_buffered=4 * max_body,
        )
        transport = RecordingTransport()
        conn = _Connection(server)
        conn.connection_made(transport)
        for chunk in chunks:
            if transport.closed:
                break
            conn.data_received(chunk)
            for _ in range(3):
                await asyncio.sleep(0)
        for _ in range(10):
            await asyncio.sleep(0)
        conn.connection_lost(None)
        assert server.buffered == 0  # every body byte held is released
        return bytes(transport.out)

    out = asyncio.run(run())
    return seen, _answers(out)


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    pieces, last = [], 0
    for point in [*points, len(data)]:
        pieces.append(data[last:point])
        last = point
    return [p for p in pieces if p]


@FUZZ
@given(data=st.binary(max_size=600), cuts=st.lists(st.integers(0, 10_000), max_size=6))
@example(data=b"GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", cuts=[])
@example(data=b"PUT /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffff\r\n", cuts=[])
@example(data=b"GET / HTTP/1.1\r\nUpgrade: h2c\r\nConnection: upgrade\r\n\r\n", cuts=[5])
def test_any_bytes_get_well_formed_answers_and_never_a_500(data: bytes, cuts: list[int]) -> None:
    _, answers = _serve(_split(data, cuts))
    for status, body in answers:
        assert status != 500
        if status >= 400:
            error = json.loads(body)["error"]
            assert isinstance(error["code"], str) and isinstance(error["message"], str)


http_requests = st.tuples(
    st.sampled_from(["GET", "PUT", "POST", "DELETE"]),
    st.sampled_from(["/v1/a/b/k", "/slow", "/small/x", "/v1/a/b/%E2%82%AC?watch=0"]),
    st.binary(max_size=300),
    st.none() | st.lists(st.integers(1, 64), min_size=1, max_size=5),  # chunk sizes
)


def _encode(method: str, path: str, body: bytes, chunking: list[int] | None) -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: agent\r\n".encode()
    if chunking is None:
        return head + b"Content-Length: %d\r\n\r\n" % len(body) + body
    out, at, i = [head + b"Transfer-Encoding: chunked\r\n\r\n"], 0, 0
    while at < len(body):
        size = chunking[i % len(chunking)]
        piece = body[at : at + size]
        out.append(b"%x\r\n%b\r\n" % (len(piece), piece))
        at, i = at + size, i + 1
    out.append(b"0\r\n\r\n")
    return b"".join(out)


@FUZZ
@given(
    requests=st.lists(http_requests, min_size=1, max_size=5),
    cuts=st.lists(st.integers(0, 10_000), max_size=8),
)
def test_pipelined_requests_split_anywhere_are_parsed_exactly(
    requests: list[tuple[str, str, bytes, list[int] | None]], cuts: list[int]
) -> None:
    wire = b"".join(_encode(*r) for r in requests)
    seen, answers = _serve(_split(wire, cuts))
    # Requests up to the first one over its limit are served as sent; that one gets 413
    # and closes the connection.
    expected = []
    for method, path, body, _ in requests:
        limit = 16 if path.startswith("/small") else 256
        if len(body) > limit:
            break
        expected.append((method, path, body))
    assert [(r.method, r.target, r.body) for r in seen] == expected
    assert [s for s, _ in answers[: len(expected)]] == [200] * len(expected)
    if len(expected) < len(requests):
        assert answers[len(expected)][0] == 413
        assert json.loads(answers[len(expected)][1])["error"]["code"] == "too_large"
        assert len(answers) == len(expected) + 1


# --- JSON bodies, paths, keys -------------------------------------------------------


def _depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    return 0


@FUZZ
@given(raw=bodies)
def test_a_json_body_is_accepted_or_refused_with_400(raw: bytes) -> None:
    for parse in (lambda: _parse_json(raw, 8), lambda: _json_body(raw, 8)):
        code = None
        try:
            parse()
        except BadRequestError as err:
            code = err.code
        assert code in (None, "malformed_json", "too_deep")


@pytest.mark.parametrize("raw", DEEP)
def test_deep_json_is_refused_as_too_deep(raw: bytes) -> None:
    with pytest.raises(BadRequestError) as err:
        _parse_json(raw, 64)
    assert err.value.code in ("too_deep", "malformed_json")


@FUZZ
@given(value=json_values, limit=st.integers(1, 6))
def test_the_depth_check_agrees_with_the_nesting(value: Any, limit: int) -> None:
    assert _too_deep(json.dumps(value).encode(), limit) is (_depth(value) > limit)


@FUZZ
@given(path=st.text(max_size=80))
@example(path="/v1/a/b/%FF")
@example(path="/v1/a/b/%00")
@example(path="/v1/a/b/%")
def test_a_path_decodes_or_is_refused_with_400(path: str) -> None:
    try:
        parts = _segments(path)
    except BadRequestError:
        return
    assert all(not re.search(r"[\x00-\x1f\x7f]", p) for p in parts) or "%" not in path


# --- peer messages and entries ------------------------------------------------------


def _only_bad_request(decode: Any, raw: bytes) -> None:
    with contextlib.suppress(BadRequestError):
        decode(raw)


peer_decoders = [
    decode_push,
    decode_sync_request,
    decode_sync_reply,
    decode_hand_off,
    decode_vector_reply,
    decode_append,
    decode_fence,
]


def _message_like(sender: Any, numbers: Any, entries: Any) -> bytes:
    raw = {
        "from": sender, "sender": sender, "leader": sender, "first": numbers, "last": numbers,
        "vv": {"a": numbers}, "mode": "full", "entries": entries, "epoch": numbers,
        "prev": {"epoch": numbers, "index": numbers}, "commit": numbers,
    }  # fmt: skip
    return json.dumps(raw).encode()


message_bodies = bodies | st.builds(
    _message_like,
    json_values,
    st.integers(-(1 << 70), 1 << 70) | json_values,
    st.dictionaries(st.text(max_size=5), json_values, max_size=3) | json_values,
)


@FUZZ
@given(raw=message_bodies, which=st.sampled_from(peer_decoders))
@example(raw=DEEP[0], which=decode_push)
@example(raw=DEEP[0], which=decode_sync_request)
@example(raw=DEEP[0], which=decode_append)
@example(raw=DEEP[0], which=decode_fence)
def test_a_peer_message_decodes_or_is_refused_with_400(raw: bytes, which: Any) -> None:
    _only_bad_request(which, raw)


entry_like = st.one_of(
    json_values,
    st.tuples(
        st.just("l"),
        st.integers(-1, 1 << 70),
        st.integers(-1, 1 << 30),
        st.text(max_size=300),
        st.integers(-1, 1 << 50),
        st.none() | st.text(),
    ).map(list),
    st.tuples(st.just("k"), json_values, json_values).map(list),
)


@FUZZ
@given(raw=entry_like)
def test_an_entry_decodes_or_is_malformed(raw: Any) -> None:
    try:
        entry = decode_entry(raw)
    except MalformedEntryError:
        return
    assert decode_entry(encode_entry(entry)) == entry


@FUZZ
@given(entries=st.dictionaries(st.text(max_size=8), entry_like, max_size=3))
def test_a_push_of_entries_is_joined_or_refused_with_400(entries: dict[str, Any]) -> None:
    body = json.dumps({"from": "n2", "first": 1, "last": 1, "entries": entries}).encode()
    try:
        message = decode_push(body)
    except BadRequestError:
        return
    again = decode_push(encode_push("n2", 1, 1, message.entries))
    assert again.entries == message.entries
    assert decode_sync_request(encode_sync_request("n2", {"a": 1})).vector == {"a": 1}


# --- disk: log records and snapshots ------------------------------------------------


def _segment(payloads: list[bytes]) -> bytes:
    frames = [struct.pack("<II", len(p), zlib.crc32(p)) + p for p in payloads]
    return logfile.MAGIC + b"".join(frames)


log_payloads = st.one_of(
    st.binary(min_size=1, max_size=120),
    st.builds(lambda tail: b"\x01\x02n2" + struct.pack("<QQ", 1, 2) + tail, st.binary(max_size=60)),
    st.builds(lambda tail: b"\x02\x01\x00\x02n2" + b"\x01" * 8 + tail, st.binary(max_size=60)),
)


@FUZZ
@given(payloads=st.lists(log_payloads, min_size=1, max_size=3))
def test_a_log_record_with_a_valid_checksum_replays_or_is_a_persistence_error(
    payloads: list[bytes],
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "log-1.bin"
        path.write_bytes(_segment(payloads))
        with contextlib.suppress(PersistenceError):
            list(logfile.read_segment(path))


def _snapshot_parts(data: bytes) -> list[tuple[int, int]]:
    """(start, length) of the header JSON and of every section's payload."""
    at = len(snapshotfile.MAGIC)
    length, _ = struct.unpack_from("<II", data, at)
    parts = [(at + 8, length)]
    at += 8 + length
    while at < len(data):
        _, length, _ = struct.unpack_from("<BII", data, at)
        parts.append((at + 9, length))
        at += 9 + length
    return parts


def _reseal(data: bytearray, parts: list[tuple[int, int]]) -> None:
    """Recompute every checksum, so damage reaches the decoding, not the CRC check."""
    for start, length in parts:  # the CRC is the 4 bytes before each payload
        struct.pack_into("<I", data, start - 4, zlib.crc32(bytes(data[start : start + length])))


def _a_snapshot() -> bytes:
    state = DeltaMap("n1", clock=HybridClock("n1", lambda: 1_700_000_000_000))
    for i in range(5):
        state.put(f"k{i}", b'"v%d"' % i)
    state.increment("c", 3)
    state.delete("k0")
    out = io.BytesIO()
    snapshotfile.write_image(out, state.image(), 3)
    return out.getvalue()


SNAPSHOT = _a_snapshot()


@FUZZ
@given(
    changes=st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(0, 255)), max_size=4),
    header=st.none() | st.dictionaries(st.sampled_from(
        ["vv", "wal", "keys", "states", "writers", "floors", "maxSeen", "payloadBytes",
         "clock", "liveBytes"]), json_values | st.integers(-(1 << 64), 1 << 64), max_size=4),
)  # fmt: skip
def test_a_snapshot_damaged_behind_its_checksums_loads_or_is_a_persistence_error(
    changes: list[tuple[int, int]], header: dict[str, Any] | None
) -> None:
    data = bytearray(SNAPSHOT)
    parts = _snapshot_parts(bytes(data))
    if header is not None:  # the header's fields, changed (a valid JSON header)
        start, length = parts[0]
        fields = {**json.loads(data[start : start + length]), **header}
        raw = json.dumps(fields).encode()
        data[start - 8 : start + length] = struct.pack("<II", len(raw), 0) + raw
        parts = _snapshot_parts(bytes(data))
    for where, value in changes:  # bytes inside the payloads
        start, length = parts[where % len(parts)]
        if length:
            data[start + (where // len(parts)) % length] = value
    _reseal(data, parts)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "snapshot.bin"
        path.write_bytes(bytes(data))
        with contextlib.suppress(PersistenceError):
            snapshotfile.read_image(path)


def test_the_damaged_snapshot_fixture_is_read_when_undamaged() -> None:
    data = bytearray(SNAPSHOT)
    _reseal(data, _snapshot_parts(SNAPSHOT))
    assert bytes(data) == SNAPSHOT
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "snapshot.bin"
        path.write_bytes(SNAPSHOT)
        image, wal = snapshotfile.read_image(path)
    assert wal == 3 and len(image.entries) == 6
