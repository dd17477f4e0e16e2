"""Records of the write-ahead log: the binary format, and the JSON lines it replaced.

A segment ``log-<n>.bin`` starts with ``STCLOG`` and a format version (u16, now 1),
then holds records::

    payload length (u32 LE) | CRC-32 of the payload (u32 LE) | payload

    payload, a push:  1 | origin (u8 length, UTF-8) | first (u64) | last (u64) | entries
    payload, a sync:  2 | vector (u16 count, then per replica: u8 length, UTF-8, u64 seq)
                        | entries
    entries:          u32 count, then per entry: key (u16 length, UTF-8) | kind (u8)
                        | data (u32 length, bytes)

An entry of kind 0 is a packed LWW register as it is (no re-encoding on either side);
kind 1 is any other entry as the JSON of :func:`~statecast.core.crdt.encode_entry`.
Integers are little-endian.

Segments ``wal-<n>.log`` from before are JSON lines (``{"t": "push", "o", "f", "l",
"e"}`` or ``{"t": "sync", "v", "e"}``); they are still read, and go away with the first
snapshot written after an upgrade.

A record cut short at the end of the last segment (the process or the machine died
inside a write; it was never acknowledged) ends the replay with a warning, as does a
tail of zeros (pages allocated but never written before a power loss). A damaged
record with valid data after it is corruption: :class:`PersistenceError`.
"""

from __future__ import annotations

import json
import logging
import struct
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from statecast.agent.errors import PersistenceError
from statecast.core.crdt import (
    Entry,
    LwwRegister,
    MalformedEntryError,
    decode_entry,
    encode_entry,
)

__all__ = [
    "MAGIC",
    "WalRecord",
    "encode_entries",
    "encode_push",
    "encode_sync",
    "read_entries",
    "read_json_segment",
    "read_segment",
]

log = logging.getLogger(__name__)

#: The start of every binary segment: a name and the format version.
MAGIC = b"STCLOG" + struct.pack("<H", 1)
_FRAME = struct.Struct("<II")
_RANGE = struct.Struct("<QQ")
_SEQ = struct.Struct("<Q")
_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_PUSH, _SYNC = 1, 2
_LWW, _JSON = 0, 1


class WalRecord(NamedTuple):
    """One decoded log record (a named tuple: quick to make, a million at recovery).

    Attributes:
        entries: Key -> joined state.
        origin: For a push record, the replica whose events ``first..last`` it holds.
        first: First event of the range (push records).
        last: Last event of the range (push records).
        vector: For a sync record, the sender's version vector.
    """

    entries: dict[str, Entry]
    origin: str | None = None
    first: int = 0
    last: int = 0
    vector: dict[str, int] | None = None


def _name(text: str) -> bytes:
    name = _encoded_names.get(text)
    if name is None:
        raw = text.encode()
        if len(raw) > 0xFF:
            raise ValueError(f"replica id longer than 255 bytes: {text[:40]!r}...")
        name = bytes((len(raw),)) + raw
        if len(_encoded_names) < 4096:  # replica ids are few: node names
            _encoded_names[text] = name
    return name


_encoded_names: dict[str, bytes] = {}


def encode_entries(entries: Mapping[str, Entry]) -> bytes:
    """The entries part of a record (also a snapshot's key states)."""
    parts = [_U32.pack(len(entries))]
    for key, entry in entries.items():
        raw_key = key.encode("utf-8", "surrogatepass")
        data: bytes
        if isinstance(entry, bytes):
            kind, data = _LWW, entry
        else:
            kind, data = _JSON, json.dumps(encode_entry(entry), separators=(",", ":")).encode()
        parts.append(
            b"%b%b%c%b%b" % (_U16.pack(len(raw_key)), raw_key, kind, _U32.pack(len(data)), data)
        )
    return b"".join(parts)


def _frame(payload: bytes) -> bytes:
    return _FRAME.pack(len(payload), zlib.crc32(payload)) + payload


def encode_push(origin: str, first: int, last: int, entries: Mapping[str, Entry]) -> bytes:
    """A push record (an origin's events ``first..last``), framed."""
    if len(entries) == 1:  # a local write: one register, kept short
        ((key, entry),) = entries.items()
        if isinstance(entry, bytes):
            raw_key = key.encode("utf-8", "surrogatepass")
            payload = b"%c%b%b\x01\x00\x00\x00%b%b\x00%b%b" % (
                _PUSH,
                _name(origin),
                _RANGE.pack(first, last),
                _U16.pack(len(raw_key)),
                raw_key,
                _U32.pack(len(entry)),
                entry,
            )
            return _FRAME.pack(len(payload), zlib.crc32(payload)) + payload
    return _frame(
        b"%c%b%b%b" % (_PUSH, _name(origin), _RANGE.pack(first, last), encode_entries(entries))
    )


def encode_sync(vector: Mapping[str, int], entries: Mapping[str, Entry]) -> bytes:
    """A sync record (what a peer sent for our vector, and its vector), framed."""
    parts = [bytes((_SYNC,)), _U16.pack(len(vector))]
    for replica, seq in vector.items():
        parts.append(_name(replica) + _SEQ.pack(seq))
    parts.append(encode_entries(entries))
    return _frame(b"".join(parts))


def read_entries(data: bytes | memoryview, at: int) -> tuple[dict[str, Entry], int]:
    """Decode an entries part starting at ``at``; return them and where it ended.

    Raises:
        MalformedEntryError: a KeyState's JSON is not an entry.
        ValueError, struct.error: the bytes are not an entries part.
    """
    (count,) = _U32.unpack_from(data, at)
    at += 4
    entries: dict[str, Entry] = {}
    for _ in range(count):
        size = data[at] | (data[at + 1] << 8)
        key = bytes(data[at + 2 : at + 2 + size]).decode("utf-8", "surrogatepass")
        at += 2 + size
        kind = data[at]
        (length,) = _U32.unpack_from(data, at + 1)
        raw = bytes(data[at + 5 : at + 5 + length])
        if len(raw) != length:
            raise ValueError("entry cut short")
        at += 5 + length
        entries[key] = LwwRegister(raw) if kind == _LWW else decode_entry(json.loads(raw))
    return entries, at


_names: dict[bytes, str] = {}


def _read_name(data: bytes, at: int) -> tuple[str, int]:
    end = at + 1 + data[at]
    raw = data[at + 1 : end]
    name = _names.get(raw)
    if name is None:
        name = _names[raw] = raw.decode()
        if len(_names) > 4096:  # replica ids are few; keep the cache small anyway
            _names.clear()
    return name, end


def _decode(payload: bytes) -> WalRecord:
    kind = payload[0]
    if kind == _PUSH:
        origin, at = _read_name(payload, 1)
        first, last = _RANGE.unpack_from(payload, at)
        entries, _ = read_entries(payload, at + 16)
        return WalRecord(entries, origin, first, last)
    if kind == _SYNC:
        (count,) = _U16.unpack_from(payload, 1)
        at, vector = 3, {}
        for _ in range(count):
            replica, at = _read_name(payload, at)
            (vector[replica],) = _SEQ.unpack_from(payload, at)
            at += 8
        entries, _ = read_entries(payload, at)
        return WalRecord(entries, vector=vector)
    raise ValueError(f"unknown record kind {kind}")


def read_segment(path: Path) -> Iterator[WalRecord]:
    """The records of a binary segment, in order (see the module docstring for a torn tail).

    Raises:
        PersistenceError: Not a segment of a known format, or a damaged record inside.
    """
    data = path.read_bytes()
    if len(data) < len(MAGIC) and MAGIC.startswith(data):
        return  # created, then cut before its header was written (a crash, a full disk)
    if data[: len(MAGIC)] != MAGIC:
        raise PersistenceError(f"{path}: not a statecast log segment of format 1")
    at, end = len(MAGIC), len(data)
    while at < end:
        problem = None
        if end - at < _FRAME.size:
            problem = "record head cut short"
        else:
            length, crc = _FRAME.unpack_from(data, at)
            stop = at + _FRAME.size + length
            if not length:
                problem = "empty record"  # never written: a record has at least its kind
            elif stop > end:
                problem = "record cut short"
            else:
                payload = data[at + _FRAME.size : stop]
                if zlib.crc32(payload) != crc:
                    problem = "checksum mismatch"
        if problem is not None:
            _torn(path, data, at, problem)
            return
        try:
            yield _decode(payload)
        except (
            ValueError,
            KeyError,
            TypeError,
            IndexError,
            struct.error,
            MalformedEntryError,
        ) as err:
            raise PersistenceError(f"{path}: bad record at byte {at}: {err}") from err
        at = stop


def _torn(path: Path, data: bytes, at: int, problem: str) -> None:
    """A bad record: the torn tail of a crash, or corruption (raised)."""
    rest = data[at:]
    if len(rest) >= _FRAME.size:
        length, _ = _FRAME.unpack_from(rest)
        reaches_end = _FRAME.size + length >= len(rest)
    else:
        reaches_end = True
    if reaches_end or not rest.strip(b"\0"):
        log.warning(
            "event=wal_torn_tail path=%s at=%d bytes=%d problem=%s", path, at, len(rest), problem
        )
        return
    raise PersistenceError(f"{path}: damaged record at byte {at} ({problem}) with data after it")


def _decode_json(raw: Any) -> WalRecord:
    entries = {str(k): decode_entry(e) for k, e in raw["e"].items()}
    if raw["t"] == "push":
        return WalRecord(entries, str(raw["o"]), int(raw["f"]), int(raw["l"]))
    return WalRecord(entries, vector={str(r): int(s) for r, s in raw["v"].items()})


def read_json_segment(path: Path) -> Iterator[WalRecord]:
    """The records of a JSON-lines segment of before (a torn last line is skipped).

    Raises:
        PersistenceError: A line other than the last is not a record.
    """
    with path.open("rb") as handle:
        lines = handle.read().split(b"\n")
    for number, line in enumerate(lines):
        if not line:
            continue
        try:
            yield _decode_json(json.loads(line))
        except (ValueError, KeyError, TypeError, MalformedEntryError) as err:
            if number >= len(lines) - 2:
                log.warning("event=wal_torn_tail path=%s", path)
                return
            raise PersistenceError(f"corrupt log {path} line {number + 1}: {err}") from err
