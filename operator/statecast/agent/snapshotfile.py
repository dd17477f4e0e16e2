"""A replica's snapshot file: the binary format, and the JSON lines it replaced.

``snapshot.bin`` holds a :class:`~statecast.core.crdt.MapImage`, laid out so that
loading it is mostly copying::

    "STCSNP" | format version (u16, now 1)
    header:   length (u32) | CRC-32 (u32) | JSON: version vector, the last log segment
              it covers ("wal"), record and key-state counts, the writers the records
              number, floors and greatest sequence numbers per origin, payload bytes,
              the clock
    sections: kind (u8) | length (u32) | CRC-32 (u32) | payload, then kind 0 (the end)
      1 records:    u32 n | n x u32 where each record starts | n x u16 key lengths
                    | the records as the entry table stores them (about 1 MiB a section)
      2 key states: counters and multi-value registers (the log's entries encoding)
      3 tombstones: u32 n | n x (u16 length | key)
      4 events:     one origin's recent events: name (u8 length) | u32 n | n x u64 seq
                    | n x (u16 length | key)
      5 arena:      a piece of the entry table's arena as it is (live and dead records)
      6 live:       u32 n | n x u64 where each live record starts in the arena pieces
                    | n x u16 its key's length

A snapshot holds either records (1) or arena pieces and the live records' places (5, 6):
the latter when at most a quarter of the arena is dead (one copy instead of a pass
over every record; the cleaner reclaims the dead part after loading).

Integers are little-endian. Records are copied into the arena as they are, and only the
hash index is rebuilt (one pass over the keys: hashes are per process). A snapshot is
complete only with its end section and as many records as its header says; a section
whose checksum fails, or a missing end, is a :class:`PersistenceError` (snapshots are
written to a temporary file, fsynced and renamed, so a crash never leaves half of one).

``snapshot.json`` from before (a header line ``{"vv", "wal"}`` then ``[key, entry]`` per
line) is still read; the next snapshot replaces it.
"""

from __future__ import annotations

import json
import struct
import sys
import zlib
from array import array
from pathlib import Path
from typing import IO, Any

from statecast.agent.errors import PersistenceError
from statecast.agent.logfile import encode_entries, read_entries
from statecast.core.crdt import MalformedEntryError, MapImage, decode_entry
from statecast.core.crdt.table import EntryTable

__all__ = ["MAGIC", "read_image", "read_json_snapshot", "write_image"]

#: The start of every snapshot: a name and the format version.
MAGIC = b"STCSNP" + struct.pack("<H", 1)
_HEAD = struct.Struct("<II")
_SECTION = struct.Struct("<BII")
_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_END, _RECORDS, _STATES, _TOMBSTONES, _EVENTS, _ARENA, _LIVE = 0, 1, 2, 3, 4, 5, 6
#: Up to this share of dead bytes in the arena, a snapshot copies the arena as it is
#: (one copy) rather than record by record (a pass in Python over every key).
RAW_GARBAGE = 0.25
_BIG_ENDIAN = sys.byteorder == "big"


def _le(values: array[int]) -> bytes:
    if _BIG_ENDIAN:
        values = array(values.typecode, values)
        values.byteswap()
    return values.tobytes()


def _from_le(typecode: str, raw: bytes | memoryview) -> array[int]:
    values = array(typecode)
    values.frombytes(raw)
    if _BIG_ENDIAN:
        values.byteswap()
    return values


def _keys(keys: list[str]) -> bytes:
    parts = []
    for key in keys:
        raw = key.encode("utf-8", "surrogatepass")
        parts.append(_U16.pack(len(raw)) + raw)
    return b"".join(parts)


def _read_keys(data: memoryview, at: int, count: int) -> tuple[list[str], int]:
    keys = []
    for _ in range(count):
        size = data[at] | (data[at + 1] << 8)
        keys.append(bytes(data[at + 2 : at + 2 + size]).decode("utf-8", "surrogatepass"))
        at += 2 + size
    return keys, at


class _Writer:
    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle
        self.size = 0

    def write(self, data: bytes) -> None:
        self.handle.write(data)
        self.size += len(data)

    def section(self, kind: int, *parts: bytes) -> None:
        crc = 0
        for part in parts:
            crc = zlib.crc32(part, crc)
        self.write(_SECTION.pack(kind, sum(len(p) for p in parts), crc))
        for part in parts:
            self.write(part)


def write_image(handle: IO[bytes], image: MapImage, wal: int) -> int:
    """Write ``image`` (whose entries are a view) covering log segments ``<= wal``.

    Safe in a worker thread: the image is frozen. Returns the bytes written.
    """
    entries = image.entries
    states = entries.states()
    header = json.dumps(
        {
            "vv": image.version_vector,
            "wal": wal,
            "keys": len(entries) - len(states),
            "states": len(states),
            "writers": entries.writers,
            "floors": image.floors,
            "maxSeen": image.max_seen,
            "payloadBytes": image.payload_bytes,
            "liveBytes": entries.arena_bytes - 1 - entries.dead_bytes,
            "clock": list(image.clock),
        }
    ).encode()
    out = _Writer(handle)
    out.write(MAGIC + _HEAD.pack(len(header), zlib.crc32(header)) + header)
    if entries.garbage <= RAW_GARBAGE:  # mostly live: copy the arena as it is
        for chunk in entries.arena_chunks():
            out.section(_ARENA, chunk)
        starts, key_sizes = entries.live_records()
        out.section(_LIVE, _U32.pack(len(starts)), _le(starts), _le(key_sizes))
    else:
        for data, starts, key_sizes in entries.record_blocks():
            if len(data) > 0xFFFFFFFF:
                raise ValueError("a record block over 4 GiB")
            out.section(
                _RECORDS, _U32.pack(len(starts)), _le(array("I", starts)), _le(key_sizes), data
            )
    if states:
        out.section(_STATES, encode_entries(states))
    if image.tombstones:
        out.section(_TOMBSTONES, _U32.pack(len(image.tombstones)), _keys(image.tombstones))
    for origin, (seqs, keys) in image.events.items():
        name = origin.encode()
        out.section(
            _EVENTS,
            bytes((len(name),)) + name + _U32.pack(len(seqs)),
            _le(array("Q", seqs)),
            _keys(keys),
        )
    out.section(_END)
    return out.size


class _Reader:
    def __init__(self, handle: IO[bytes], path: Path) -> None:
        self.handle, self.path = handle, path

    def exactly(self, size: int) -> bytes:
        data = self.handle.read(size)
        if len(data) != size:
            raise PersistenceError(f"snapshot {self.path} cut short")
        return data

    def section(self) -> tuple[int, memoryview]:
        kind, length, crc = _SECTION.unpack(self.exactly(_SECTION.size))
        payload = self.exactly(length)
        if zlib.crc32(payload) != crc:
            raise PersistenceError(f"snapshot {self.path}: checksum mismatch in a section")
        return kind, memoryview(payload)


def _header(reader: _Reader) -> dict[str, Any]:
    if reader.exactly(len(MAGIC)) != MAGIC:
        raise PersistenceError(f"{reader.path}: not a statecast snapshot of format 1")
    length, crc = _HEAD.unpack(reader.exactly(_HEAD.size))
    raw = reader.exactly(length)
    if zlib.crc32(raw) != crc:
        raise PersistenceError(f"snapshot {reader.path}: checksum mismatch in the header")
    header: dict[str, Any] = json.loads(raw)
    return header


def _load_records(table: EntryTable, payload: memoryview) -> int:
    (count,) = _U32.unpack_from(payload)
    starts = _from_le("I", payload[4 : 4 + 4 * count])
    key_sizes = _from_le("H", payload[4 + 4 * count : 4 + 6 * count])
    table.load_block(payload[4 + 6 * count :], starts, key_sizes)
    return int(count)


def read_image(path: Path) -> tuple[MapImage, int]:
    """Load a binary snapshot: the image (its entries a table) and the last segment covered.

    Raises:
        PersistenceError: Not a snapshot, damaged, or incomplete (also when its
            checksums hold but a field is not what the writer writes).
    """
    try:
        with path.open("rb") as handle:
            reader = _Reader(handle, path)
            header = _header(reader)
            table, records, events, tombstones = _read_sections(reader, header)
        if records != header["keys"]:
            raise PersistenceError(
                f"snapshot {path}: {records} records, header says {header['keys']}"
            )
        image = MapImage(
            entries=table,
            version_vector={str(r): int(s) for r, s in header["vv"].items()},
            events=events,
            floors={str(r): int(s) for r, s in header["floors"].items()},
            max_seen={str(r): int(s) for r, s in header["maxSeen"].items()},
            tombstones=tombstones,
            payload_bytes=int(header["payloadBytes"]),
            clock=(int(header["clock"][0]), int(header["clock"][1])),
        )
        return image, int(header["wal"])
    except (
        OSError,
        ValueError,
        KeyError,
        TypeError,
        IndexError,
        AttributeError,
        OverflowError,
        struct.error,
        MalformedEntryError,  # a key state that is not an entry
    ) as err:
        raise PersistenceError(f"corrupt snapshot {path}: {err!r}") from err


_Events = dict[str, "tuple[array[int], list[str]]"]


def _read_sections(
    reader: _Reader, header: dict[str, Any]
) -> tuple[EntryTable, int, _Events, list[str]]:
    """The sections up to the end one: the table, its record count, events, tombstones."""
    table = EntryTable(capacity=int(header["keys"]))
    table.set_writers([str(w) for w in header["writers"]])
    records, tombstones = 0, list[str]()
    events: _Events = {}
    while True:
        kind, payload = reader.section()
        if kind == _END:
            return table, records, events, tombstones
        if kind == _RECORDS:
            records += _load_records(table, payload)
        elif kind == _ARENA:
            table.load_raw(payload)
        elif kind == _LIVE:
            (count,) = _U32.unpack_from(payload)
            starts = _from_le("Q", payload[4 : 4 + 8 * count])
            key_sizes = _from_le("H", payload[4 + 8 * count : 4 + 10 * count])
            table.index_raw(starts, key_sizes, int(header["liveBytes"]))
            records += count
        elif kind == _STATES:
            for key, entry in read_entries(payload, 0)[0].items():
                table[key] = entry
        elif kind == _TOMBSTONES:
            tombstones, _ = _read_keys(payload, 4, _U32.unpack_from(payload)[0])
        elif kind == _EVENTS:
            size = payload[0]
            origin = bytes(payload[1 : 1 + size]).decode()
            (count,) = _U32.unpack_from(payload, 1 + size)
            at = 5 + size
            seqs = _from_le("q", payload[at : at + 8 * count])
            events[origin] = (seqs, _read_keys(payload, at + 8 * count, count)[0])


def read_json_snapshot(path: Path) -> tuple[EntryTable, dict[str, int]]:
    """Load a JSON-lines snapshot of before: its entries and version vector.

    Raises:
        PersistenceError: It is corrupt.
    """
    entries = EntryTable()
    try:
        with path.open("rb") as handle:
            header = json.loads(handle.readline())
            for line in handle:
                key, raw = json.loads(line)
                entries[str(key)] = decode_entry(raw)
    except (ValueError, KeyError, TypeError, MalformedEntryError) as err:
        raise PersistenceError(f"corrupt snapshot {path}: {err}") from err
    return entries, {str(r): int(s) for r, s in header["vv"].items()}
