"""The peer protocol's JSON messages (``/v1/peer/...``), encoded and checked."""

from __future__ import annotations

import json
from collections.abc import Generator, Mapping
from dataclasses import dataclass
from typing import Any

from statecast.agent.errors import BadRequestError
from statecast.core.crdt import Entry, MalformedEntryError, SyncPayload, decode_entry, encode_entry
from statecast.core.version_vector import VersionVector

__all__ = [
    "DELTA_ONLY_CHECKED",
    "DELTA_ONLY_HEADER",
    "NEEDS_FULL_COPY",
    "PIECE_BYTES",
    "SYNC_LINES",
    "HandOff",
    "PushMessage",
    "SyncHead",
    "SyncLines",
    "SyncReply",
    "SyncRequest",
    "accepts_lines",
    "decode_hand_off",
    "decode_push",
    "decode_sync_reply",
    "decode_sync_request",
    "decode_vector_reply",
    "encode_hand_off",
    "encode_hand_off_lines",
    "encode_push",
    "encode_sync_lines",
    "encode_sync_reply",
    "encode_sync_request",
    "read_hand_off_lines",
    "run_steps",
    "sync_lines_pieces",
    "sync_lines_steps",
    "sync_reply_pieces",
    "sync_reply_steps",
]

#: The content type of a sync answer in lines (see :func:`encode_sync_lines`).
SYNC_LINES = "application/x-ndjson"
#: Entries per line of a sync answer in lines: each line is decoded and joined in one
#: step of the event loop by the replica that asked.
LINE_ENTRIES = 256
#: A large sync answer is made of pieces of about this many bytes, sent one by one.
PIECE_BYTES = 256 << 10


@dataclass(frozen=True)
class PushMessage:
    """A peer's own events ``first..last`` with the new state of the keys they touched."""

    sender: str
    first: int
    last: int
    entries: dict[str, Entry]


@dataclass(frozen=True)
class SyncReply:
    """A peer's answer to a sync request.

    Attributes:
        payload: What this replica lacked (a delta or a full snapshot) and the peer's vector.
        caught_up: Whether the peer's own replica had caught up (it serves reads) when
            it answered. A replica still syncing answers too, but what it sends may be
            less than the resource holds, so it does not make the asker caught up.
    """

    payload: SyncPayload
    caught_up: bool


#: The code of a refusal of a ``delta_only`` sync request (see :class:`SyncRequest`).
NEEDS_FULL_COPY = "needs_full_copy"
#: The header (and its value) on the answer to a ``delta_only`` sync request by an agent
#: that checked it (session 12): agents of before session 11 ignore the flag and answer
#: a delta as to anyone, which a warm copy must not join (see :class:`SyncRequest`).
DELTA_ONLY_HEADER, DELTA_ONLY_CHECKED = "Statecast-Delta-Only", "checked"


@dataclass(frozen=True)
class SyncRequest:
    """A peer asking for what it lacks, given its version vector.

    Attributes:
        lines: The peer takes the answer in lines (:func:`encode_sync_lines`); agents of
            an earlier version do not ask for it and get one JSON object.
        delta_only: The peer is a copy reopened from files kept warm (it was away): it
            is refused (409 ``needs_full_copy``) rather than answered when it may hold a
            key whose deletion was collected here (see ``DeltaMap.behind_collection``).
            Agents of before session 11 ignore it: an answer without
            :data:`DELTA_ONLY_HEADER` is not joined but taken as that refusal.
    """

    sender: str
    vector: dict[str, int]
    lines: bool = False
    delta_only: bool = False


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def _loads(body: bytes) -> Any:
    try:
        return json.loads(body)
    except RecursionError as err:  # nested deeper than the parser's stack: not a message
        raise BadRequestError("JSON nested too deep", "too_deep") from err
    except (ValueError, UnicodeDecodeError) as err:
        raise BadRequestError(f"malformed JSON: {err}") from err


def _vector(raw: Any) -> dict[str, int]:
    if not isinstance(raw, dict) or not all(
        isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in raw.values()
    ):
        raise BadRequestError("version vector must map replica ids to non-negative integers")
    return {str(r): s for r, s in raw.items()}


def _entries(raw: Any) -> dict[str, Entry]:
    if not isinstance(raw, dict):
        raise BadRequestError("entries must be an object")
    try:
        return {str(k): decode_entry(e) for k, e in raw.items()}
    except MalformedEntryError as err:
        raise BadRequestError(str(err)) from err


def _sender(raw: Any) -> str:
    sender = raw.get("from") if isinstance(raw, dict) else None
    if not isinstance(sender, str) or not sender:
        raise BadRequestError("missing sender ('from')")
    return sender


def encode_push(sender: str, first: int, last: int, entries: Mapping[str, Entry]) -> bytes:
    """Encode a push."""
    enc = {k: encode_entry(e) for k, e in entries.items()}
    return _dumps({"from": sender, "first": first, "last": last, "entries": enc})


def decode_push(body: bytes) -> PushMessage:
    """Decode and check a push.

    Raises:
        BadRequestError: The body is not a valid push.
    """
    raw = _loads(body)
    sender = _sender(raw)
    first, last = raw.get("first"), raw.get("last")
    if not isinstance(first, int) or not isinstance(last, int) or not 0 < first <= last:
        raise BadRequestError("push needs 0 < first <= last")
    return PushMessage(sender, first, last, _entries(raw.get("entries")))


def encode_sync_request(
    sender: str, vector: Mapping[str, int], *, lines: bool = False, delta_only: bool = False
) -> bytes:
    """Encode a sync request.

    ``lines``: ask for the answer in lines; ``delta_only``: see :class:`SyncRequest`.
    """
    raw: dict[str, Any] = {"from": sender, "vv": dict(vector)}
    if lines:
        raw["lines"] = True
    if delta_only:
        raw["delta_only"] = True
    return _dumps(raw)


def decode_sync_request(body: bytes) -> SyncRequest:
    """Decode and check a sync request.

    Raises:
        BadRequestError: The body is not a valid sync request.
    """
    raw = _loads(body)
    return SyncRequest(
        _sender(raw),
        _vector(raw.get("vv")),
        raw.get("lines") is True,
        raw.get("delta_only") is True,
    )


def encode_sync_reply(payload: SyncPayload, batch: int = 4096, *, caught_up: bool = True) -> bytes:
    """Encode the answer to a sync request (``caught_up``: see :class:`SyncReply`).

    The bytes of :func:`sync_reply_pieces`, joined.
    """
    return b"".join(sync_reply_pieces(payload, batch, caught_up=caught_up))


def sync_reply_pieces(
    payload: SyncPayload, batch: int = 4096, *, caught_up: bool = True, piece: int = PIECE_BYTES
) -> list[bytes]:
    """The answer to a sync request as one JSON object, in pieces of about ``piece`` bytes.

    The entries are encoded ``batch`` at a time, so a full snapshot of a large map never
    exists as a dict of encoded entries; nor as one buffer of it all (grown to ~140 MiB
    at a million keys, and copied as it grows): the server sends the pieces one by one.
    """
    return run_steps(sync_reply_steps(payload, batch, caught_up=caught_up, piece=piece))


def sync_reply_steps(
    payload: SyncPayload, batch: int = 4096, *, caught_up: bool = True, piece: int = PIECE_BYTES
) -> Generator[None, None, list[bytes]]:
    """:func:`sync_reply_pieces` a batch of entries per step (returns the pieces)."""
    mode = "full" if payload.full else "delta"
    head = _dumps(
        {
            "mode": mode,
            "caughtUp": caught_up,
            "vv": payload.version_vector.to_json(),
            "entries": {},
        }
    )
    out = _Pieces(piece)
    out.add(head[:-2])  # up to and including '"entries":{'
    chunk: dict[str, Any] = {}
    first = True
    for key, entry in payload.entries.items():
        chunk[key] = encode_entry(entry)
        if len(chunk) >= batch:
            out.add((b"" if first else b",") + _dumps(chunk)[1:-1])
            chunk.clear()
            first = False
            yield
    if chunk:
        out.add((b"" if first else b",") + _dumps(chunk)[1:-1])
    out.add(b"}}")
    return out.done()


def encode_sync_lines(
    payload: SyncPayload, per_line: int = LINE_ENTRIES, *, caught_up: bool = True
) -> bytes:
    """Encode the answer to a sync request in lines (``caught_up``: see :class:`SyncReply`).

    The bytes of :func:`sync_lines_pieces`, joined.
    """
    return b"".join(sync_lines_pieces(payload, per_line, caught_up=caught_up))


def sync_lines_pieces(
    payload: SyncPayload,
    per_line: int = LINE_ENTRIES,
    *,
    caught_up: bool = True,
    piece: int = PIECE_BYTES,
) -> list[bytes]:
    """The answer to a sync request in lines, in pieces of about ``piece`` bytes.

    The first line is the head (``{"mode", "caughtUp", "vv", "entries": count}``), each
    further line a JSON object of at most ``per_line`` entries. The replica that asked
    decodes and joins one line at a time (:class:`SyncLines`), so a full sync of a
    million keys is never one ``json.loads`` holding its event loop for seconds. A
    piece ends at the end of a line once it holds ``piece`` bytes or more.
    """
    return run_steps(sync_lines_steps(payload, per_line, caught_up=caught_up, piece=piece))


def sync_lines_steps(
    payload: SyncPayload,
    per_line: int = LINE_ENTRIES,
    *,
    caught_up: bool = True,
    piece: int = PIECE_BYTES,
) -> Generator[None, None, list[bytes]]:
    """:func:`sync_lines_pieces` a line per step (returns the pieces)."""
    entries = payload.entries
    head = {
        "mode": "full" if payload.full else "delta",
        "caughtUp": caught_up,
        "vv": payload.version_vector.to_json(),
        "entries": len(entries),
    }
    out = _Pieces(piece)
    out.add(_dumps(head) + b"\n")
    chunk: dict[str, Any] = {}
    for key, entry in entries.items():
        chunk[key] = encode_entry(entry)
        if len(chunk) >= per_line:
            out.add(_dumps(chunk) + b"\n")
            chunk.clear()
            yield
    if chunk:
        out.add(_dumps(chunk) + b"\n")
    return out.done()


def run_steps(steps: Generator[None, None, list[bytes]]) -> list[bytes]:
    """Run an encoding in steps to its end; its pieces."""
    while True:
        try:
            next(steps)
        except StopIteration as done:
            pieces: list[bytes] = done.value
            return pieces


class _Pieces:
    """Bytes gathered into pieces of at least ``size`` bytes (the last may be shorter)."""

    __slots__ = ("_parts", "_pieces", "_size", "_total")

    def __init__(self, size: int) -> None:
        self._size = size
        self._pieces: list[bytes] = []
        self._parts: list[bytes] = []
        self._total = 0

    def add(self, data: bytes) -> None:
        self._parts.append(data)
        self._total += len(data)
        if self._total >= self._size:
            self._pieces.append(b"".join(self._parts))
            self._parts.clear()
            self._total = 0

    def done(self) -> list[bytes]:
        if self._parts:
            self._pieces.append(b"".join(self._parts))
            self._parts.clear()
        return self._pieces


@dataclass(frozen=True)
class SyncHead:
    """The first line of a sync answer in lines: what the entries after it add up to."""

    full: bool
    vector: VersionVector
    caught_up: bool
    entries: int


class SyncLines:
    """A sync answer in lines (:func:`encode_sync_lines`), read as its bytes arrive.

    :meth:`feed` takes bytes as they come and returns the lines of entries they
    completed (the head is read at once: :attr:`head`); :meth:`entries` decodes one
    line, so that the reader decides how much it decodes in one step. :meth:`end` says
    whether the answer was whole.
    """

    __slots__ = ("_buffer", "head", "received")

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.head: SyncHead | None = None
        self.received = 0

    def feed(self, data: bytes) -> list[bytes]:
        """Take the next bytes; return the lines of entries they completed.

        Raises:
            BadRequestError: The head is not valid.
        """
        buffer = self._buffer
        searched = len(buffer)
        buffer += data
        end = buffer.rfind(b"\n", searched)
        if end < 0:
            return []
        lines = bytes(buffer[:end]).split(b"\n")
        del buffer[: end + 1]
        if self.head is None:
            self.head = _sync_head(_loads(lines.pop(0)))
        return lines

    def entries(self, line: bytes) -> dict[str, Entry]:
        """Decode and check one line of entries.

        Raises:
            BadRequestError: The line is not valid entries, or there are more entries
                than the head announced.
        """
        assert self.head is not None  # (feed returns lines only after the head)
        entries = _entries(_loads(line))
        self.received += len(entries)
        if self.received > self.head.entries:
            raise BadRequestError("sync answer holds more entries than its head says")
        return entries

    def end(self) -> SyncHead:
        """The head, once the whole answer is in.

        Raises:
            BadRequestError: The answer was cut short (no head, a line not ended, fewer
                entries than the head announced).
        """
        if self.head is None or self._buffer or self.received != self.head.entries:
            raise BadRequestError("sync answer cut short")
        return self.head


def _sync_head(raw: Any) -> SyncHead:
    if not isinstance(raw, dict) or raw.get("mode") not in ("full", "delta"):
        raise BadRequestError("sync reply needs a mode")
    count = raw.get("entries")
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise BadRequestError("sync reply head needs its number of entries")
    vector = VersionVector(_vector(raw.get("vv")))
    return SyncHead(raw["mode"] == "full", vector, raw.get("caughtUp") is not False, count)


def decode_sync_reply(body: bytes) -> SyncReply:
    """Decode the answer to a sync request.

    An answer without ``caughtUp`` (an agent of an earlier version) counts as caught up,
    as every answer did before.

    Raises:
        BadRequestError: The body is not a valid answer.
    """
    raw = _loads(body)
    if not isinstance(raw, dict) or raw.get("mode") not in ("full", "delta"):
        raise BadRequestError("sync reply needs a mode")
    vector = VersionVector(_vector(raw.get("vv")))
    payload = SyncPayload(raw["mode"] == "full", _entries(raw.get("entries")), vector)
    return SyncReply(payload, raw.get("caughtUp") is not False)


@dataclass(frozen=True)
class HandOff:
    """A retired copy handed to a live replica (see :mod:`statecast.agent.retired`).

    Attributes:
        sender: The node whose retired copy it is.
        payload: What the receiver lacks, against the vector it answered before, with
            the copy's vector; None for the first message, which only asks for that vector.
    """

    sender: str
    payload: SyncPayload | None


def encode_hand_off(sender: str, payload: SyncPayload | None = None) -> bytes:
    """Encode a hand-off: the question for the receiver's vector, or the delta it lacks."""
    if payload is None:
        return _dumps({"from": sender})
    return b'{"from":' + json.dumps(sender).encode() + b"," + encode_sync_reply(payload)[1:]


def decode_hand_off(body: bytes) -> HandOff:
    """Decode and check a hand-off.

    Raises:
        BadRequestError: The body is not a valid hand-off.
    """
    raw = _loads(body)
    sender = _sender(raw)
    if "vv" not in raw:
        return HandOff(sender, None)
    if raw.get("mode") not in ("full", "delta"):
        raise BadRequestError("hand-off needs a mode")
    vector = VersionVector(_vector(raw.get("vv")))
    return HandOff(sender, SyncPayload(raw["mode"] == "full", _entries(raw.get("entries")), vector))


def encode_hand_off_lines(sender: str, payload: SyncPayload) -> bytes:
    """A hand-off's second message in lines (to a receiver that said ``"lines": true``).

    ``{"from"}``, then the delta as a sync answer in lines (:func:`encode_sync_lines`),
    which the receiver joins a line at a time.
    """
    return _dumps({"from": sender}) + b"\n" + encode_sync_lines(payload)


def read_hand_off_lines(body: bytes) -> tuple[str, SyncLines, list[bytes]]:
    """Start reading a hand-off in lines: its sender, the reader, the lines of entries.

    The caller decodes the lines with the reader (:meth:`SyncLines.entries`) and ends
    with :meth:`SyncLines.end`, which checks that the message was whole.

    Raises:
        BadRequestError: The first line has no sender, or the head is not valid.
    """
    first, _, rest = body.partition(b"\n")
    sender = _sender(_loads(first))
    reader = SyncLines()
    return sender, reader, reader.feed(rest)


def accepts_lines(body: bytes) -> bool:
    """Whether the answer to a hand-off's first message says ``"lines": true``."""
    raw = _loads(body)
    return isinstance(raw, dict) and raw.get("lines") is True


def decode_vector_reply(body: bytes) -> dict[str, int]:
    """Decode ``{"vv": {...}}``, the answer to a hand-off.

    Raises:
        BadRequestError: The body is not such an answer.
    """
    raw = _loads(body)
    return _vector(raw.get("vv") if isinstance(raw, dict) else None)
