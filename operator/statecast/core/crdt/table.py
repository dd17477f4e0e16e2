"""A compact key -> entry table: the state of a :class:`DeltaMap` without an object per key.

A million keys held as a ``dict[str, bytes]`` cost about 150 bytes of Python objects per
key on top of the data (the dict slot, a ``str`` and a ``bytes`` header). Here the
common entry, a packed LWW register (:mod:`statecast.core.crdt.lww`), lives as a record
in one *arena* (an anonymous private ``mmap``: untouched pages cost no memory, and a
slice of it is already ``bytes``)::

    key length (u16 LE) | entry length (u32 LE) | key (UTF-8) | stored register

where the stored register is the packed one with its replica id (``length | id``, often
a 30-60 byte node name) replaced by the replica's number in a table of writers (one
byte; the 256th writer and later keep their id inline after a 0xFF byte). A read of a
value copies it straight out of the arena; a whole register is rebuilt on demand.

Records are found through an open-addressing hash index of two flat arrays
(``array.array``): per slot the record's offset in the arena (0: empty; the arena
starts with one unused byte) and the low 32 bits of the key's ``hash()``, which skips
most key comparisons and lets the index grow without reading the arena. Linear
probing, the index doubles at a load of 0.6,
deletion shifts the rest of the probe run back (no tombstone slots). An overwrite with an
entry of the same length (the usual overwrite of a same-size value) or a shorter one
rewrites the record in place (a shorter one leaves its tail dead); a longer one appends
a new record and counts the old one as dead; the arena is rewritten without its dead
records once they are more than half of it, so the copy is paid for by the writes that
made the garbage (amortised O(1) per write).

Rare entries (:class:`~statecast.core.crdt.entry.KeyState`: counters, multi-value
registers) stay objects in a small side dict; a key is in exactly one of the two.

:meth:`EntryTable.view` is a frozen, consistent copy of the table that shares the arena:
it copies only the index arrays (8 bytes a slot) and the side dict. While any view is
alive the table never rewrites a record in place (it appends instead), and compaction
builds a new arena, so what a view reads never changes: a snapshot can be written from
a view in a worker thread while writes go on. Hashes are Python's ``hash()`` of the key
by default: valid inside one process only, never persisted.
"""

from __future__ import annotations

import mmap
import struct
import weakref
from array import array
from collections.abc import Callable, ItemsView, Iterator, Mapping, MutableMapping
from typing import Any, overload

from statecast.core.crdt import lww
from statecast.core.crdt.entry import Entry, KeyState
from statecast.core.crdt.lww import LwwRegister

__all__ = ["EntryTable", "EntryView", "KeyHash"]

#: The hash of a key (any int; its low 32 bits are used).
KeyHash = Callable[[str], int]

_HEAD = struct.Struct("<HI")
_HEAD_SIZE = _HEAD.size
_unpack_head = _HEAD.unpack_from
_pack_head_into = _HEAD.pack_into
_PAGE = mmap.PAGESIZE
_KEY_ERRORS = "surrogatepass"  # any str a dict would take, lone surrogates from JSON too
_HASH_MASK = 0xFFFFFFFF
_MAX_KEY = 0xFFFF
_MAX_ENTRY = 0xFFFFFFFF
_MAX_LOAD = 0.6
_HEADER = lww.HEADER_BYTES
_HAS_VALUE = _HEADER - 2  # offsets inside a packed register (see lww)
_REPLICA_AT = _HEADER - 1  # register: the replica id's length; record: the replica's number
_INLINE = 0xFF  # record: the replica id follows inline, as in the register
_NUMBERS = [bytes((n,)) for n in range(_INLINE)]
_NARROW_LIMIT = 0xFFFFFFFF  # offsets fit the 4-byte index while the arena is smaller


def _empty_index(capacity: int, typecode: str) -> array[int]:
    return array(typecode, bytes(capacity * array(typecode).itemsize))


def _new_arena(size: int) -> mmap.mmap:
    """Anonymous memory: pages cost RSS only once written, slices are ``bytes``."""
    # Private, not the default shared mapping: a shared one cannot grow with mremap.
    return mmap.mmap(-1, max(_PAGE, -(-size // _PAGE) * _PAGE), flags=mmap.MAP_PRIVATE)


class _Items(ItemsView[str, Entry]):
    """``items()`` that walks the records once instead of looking every key up."""

    _mapping: _Entries

    def __iter__(self) -> Iterator[tuple[str, Entry]]:
        return self._mapping.iter_items()


class _Entries(Mapping[str, Entry]):
    """Lookup and iteration over an arena, an index and a side dict (read-only part)."""

    __slots__ = (
        "__weakref__",
        "_arena",
        "_count",
        "_hash",
        "_hashes",
        "_mask",
        "_offsets",
        "_other",
        "_replicas",
        "_used",
        "_version",
    )

    _arena: mmap.mmap
    _used: int
    _hashes: array[int]
    _offsets: array[int]
    _mask: int
    _count: int
    _other: dict[str, KeyState]
    _replicas: list[bytes]  # number -> the register's ``length | replica id`` bytes
    _hash: KeyHash
    _version: int

    # --- lookup ---------------------------------------------------------------------
    def _slot(self, key: str) -> int:
        """The slot holding ``key``'s record, or -1."""
        h = self._hash(key) & _HASH_MASK
        mask, hashes, offsets, arena = self._mask, self._hashes, self._offsets, self._arena
        i = h & mask
        encoded = None
        while True:
            offset = offsets[i]
            if not offset:
                return -1
            if hashes[i] == h:
                if encoded is None:
                    encoded = key.encode("utf-8", _KEY_ERRORS)
                size = len(encoded)
                start = offset + _HEAD_SIZE
                if arena[offset] | (arena[offset + 1] << 8) == size and (
                    arena[start : start + size] == encoded
                ):
                    return i
            i = (i + 1) & mask

    @overload
    def get(self, key: str, /) -> Entry | None: ...
    @overload
    def get(self, key: str, /, default: Entry) -> Entry: ...
    @overload
    def get(self, key: str, /, default: Any) -> Any: ...
    def get(self, key: str, /, default: Any = None) -> Any:
        """The entry of ``key``, or ``default`` (the hot path of a local read)."""
        h = self._hash(key) & _HASH_MASK
        mask, hashes, offsets, arena = self._mask, self._hashes, self._offsets, self._arena
        i = h & mask
        encoded = None
        while True:
            offset = offsets[i]
            if not offset:
                break
            if hashes[i] == h:
                if encoded is None:
                    encoded = key.encode("utf-8", _KEY_ERRORS)
                size, length = _unpack_head(arena, offset)
                start = offset + _HEAD_SIZE
                if size == len(encoded) and arena[start : start + size] == encoded:
                    return self._register_at(start + size, length)
            i = (i + 1) & mask
        if self._other:
            return self._other.get(key, default)
        return default

    def _register_at(self, start: int, length: int) -> LwwRegister:
        """The packed register whose stored form is at ``start`` (``length`` bytes)."""
        arena = self._arena
        number = arena[start + _REPLICA_AT]
        end = start + length
        if number == _INLINE:
            return LwwRegister(arena[start : start + _REPLICA_AT] + arena[start + _HEADER : end])
        head = arena[start : start + _REPLICA_AT]
        return LwwRegister(head + self._replicas[number] + arena[start + _HEADER : end])

    def value(self, key: str) -> bytes | KeyState | None:
        """What a read needs: an LWW key's value (None: deleted or absent) or a KeyState.

        Copies only the value out of the arena, not the whole register.
        """
        h = self._hash(key) & _HASH_MASK
        mask, hashes, offsets, arena = self._mask, self._hashes, self._offsets, self._arena
        i = h & mask
        encoded = None
        while True:
            offset = offsets[i]
            if not offset:
                break
            if hashes[i] == h:
                if encoded is None:
                    encoded = key.encode("utf-8", _KEY_ERRORS)
                size, length = _unpack_head(arena, offset)
                start = offset + _HEAD_SIZE
                if size == len(encoded) and arena[start : start + size] == encoded:
                    start += size
                    if not arena[start + _HAS_VALUE]:
                        return None
                    if arena[start + _REPLICA_AT] == _INLINE:
                        return arena[start + _HEADER + 1 + arena[start + _HEADER] : start + length]
                    return arena[start + _HEADER : start + length]
            i = (i + 1) & mask
        if self._other:
            return self._other.get(key)
        return None

    def __getitem__(self, key: str) -> Entry:
        entry = self.get(key)
        if entry is None:
            raise KeyError(key)
        return entry

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        return self._slot(key) >= 0 or key in self._other

    def __len__(self) -> int:
        return self._count + len(self._other)

    # --- iteration ------------------------------------------------------------------
    def _records(self) -> Iterator[tuple[int, int, int]]:
        """(offset, key length, entry length) of every record the index points to."""
        version = self._version
        offsets, arena = self._offsets, self._arena
        for i in range(len(offsets)):
            offset = offsets[i]
            if offset:
                size, length = _unpack_head(arena, offset)
                yield offset, size, length
                if self._version != version:
                    raise RuntimeError("EntryTable changed size during iteration")

    def __iter__(self) -> Iterator[str]:
        arena = self._arena
        for offset, size, _ in self._records():
            start = offset + _HEAD_SIZE
            yield arena[start : start + size].decode("utf-8", _KEY_ERRORS)
        yield from self._iter_other()

    def _iter_other(self) -> Iterator[str]:
        version = self._version
        for key in list(self._other):
            if self._version != version:
                raise RuntimeError("EntryTable changed size during iteration")
            yield key

    def iter_items(self) -> Iterator[tuple[str, Entry]]:
        """Every (key, entry), one record at a time (what ``items()`` iterates)."""
        arena, register_at = self._arena, self._register_at
        for offset, size, length in self._records():
            start = offset + _HEAD_SIZE
            middle = start + size
            yield arena[start:middle].decode("utf-8", _KEY_ERRORS), register_at(middle, length)
        other = self._other
        for key in self._iter_other():
            yield key, other[key]

    def items(self) -> ItemsView[str, Entry]:
        """A view whose iteration reads each record once."""
        return _Items(self)

    @property
    def arena_bytes(self) -> int:
        """Bytes of the arena in use (live and dead records)."""
        return self._used

    @property
    def capacity(self) -> int:
        """Slots of the index."""
        return len(self._offsets)


class EntryView(_Entries):
    """A frozen copy of an :class:`EntryTable` at one moment (shares its arena)."""

    __slots__ = ()

    def __init__(self, table: EntryTable) -> None:
        self._arena = table._arena
        self._replicas = table._replicas  # append-only: numbers never change
        self._used = table._used
        self._hashes = table._hashes[:]
        self._offsets = table._offsets[:]
        self._mask = table._mask
        self._count = table._count
        self._other = dict(table._other)
        self._hash = table._hash
        self._version = 0


class EntryTable(_Entries, MutableMapping[str, Entry]):
    """A ``MutableMapping[str, Entry]`` holding LWW registers in an arena (see module doc).

    Args:
        hash_fn: Hash of a key (``hash`` by default; tests inject colliding ones).
        compact_min: Dead bytes below which the arena is never compacted.
    """

    __slots__ = ("_compact_min", "_dead", "_limit", "_replica_numbers", "_views")

    def __init__(self, hash_fn: KeyHash = hash, compact_min: int = 1 << 16) -> None:
        self._hash = hash_fn
        self._compact_min = compact_min
        self._views: set[int] = set()  # ids of live views (set ops are atomic)
        self._version = 0
        self._reset()

    def _reset(self) -> None:
        self._arena = _new_arena(_PAGE)
        self._used = 1  # offset 0 marks an empty slot
        self._hashes = _empty_index(8, "I")
        self._offsets = _empty_index(8, "I")
        self._mask = 7
        self._limit = int(8 * _MAX_LOAD)
        self._count = 0
        self._dead = 0
        self._other = {}
        self._replicas = []
        self._replica_numbers: dict[bytes, int] = {}
        self._version += 1

    @property
    def dead_bytes(self) -> int:
        """Bytes of records no longer pointed to (reclaimed by compaction)."""
        return self._dead

    def view(self) -> EntryView:
        """A consistent read-only copy that later writes do not change."""
        view = EntryView(self)
        self._views.add(id(view))
        weakref.finalize(view, self._views.discard, id(view))
        return view

    # --- writing --------------------------------------------------------------------
    def _stored(self, register: bytes) -> bytes:
        """The register as a record holds it: its replica id replaced by a number."""
        end = _HEADER + register[_REPLICA_AT]
        replica = register[_REPLICA_AT:end]
        number = self._replica_numbers.get(replica)
        if number is None:
            if len(self._replicas) >= _INLINE:  # 255 writers already: keep this one inline
                return register[:_REPLICA_AT] + b"\xff" + register[_REPLICA_AT:]
            number = self._replica_numbers[replica] = len(self._replicas)
            self._replicas.append(replica)
        return register[:_REPLICA_AT] + _NUMBERS[number] + register[end:]

    def _append(self, encoded: bytes, entry: bytes) -> int:
        if len(encoded) > _MAX_KEY or len(entry) > _MAX_ENTRY:
            raise ValueError("key or entry too long for the table")
        arena = self._arena
        offset = self._used
        key_end = offset + _HEAD_SIZE + len(encoded)
        end = key_end + len(entry)
        if end > _NARROW_LIMIT and self._offsets.typecode == "I":
            self._offsets = array("Q", self._offsets)
        if end > len(arena):
            arena.resize(-(-max(end, len(arena) * 2) // _PAGE) * _PAGE)
        _pack_head_into(arena, offset, len(encoded), len(entry))
        arena[offset + _HEAD_SIZE : key_end] = encoded
        arena[key_end:end] = entry
        self._used = end
        return offset

    def __setitem__(self, key: str, entry: Entry) -> None:
        if isinstance(entry, KeyState):
            slot = self._slot(key)
            if slot >= 0:
                self._remove_slot(slot)
            self._other[key] = entry
            self._version += 1
            return
        if self._other and key in self._other:
            del self._other[key]
            self._version += 1
        stored = self._stored(entry)
        h = self._hash(key) & _HASH_MASK
        encoded = key.encode("utf-8", _KEY_ERRORS)
        mask, hashes, offsets, arena = self._mask, self._hashes, self._offsets, self._arena
        i = h & mask
        while True:
            offset = offsets[i]
            if not offset:
                break
            if hashes[i] == h:
                size, length = _unpack_head(arena, offset)
                start = offset + _HEAD_SIZE
                if size == len(encoded) and arena[start : start + size] == encoded:
                    if length >= len(stored) and not self._views:
                        # In place; a shorter register leaves its tail dead until compaction.
                        start += size
                        arena[start : start + len(stored)] = stored
                        if length > len(stored):
                            _pack_head_into(arena, offset, size, len(stored))
                            self._dead += length - len(stored)
                            self._maybe_compact()
                        return
                    new = self._append(encoded, stored)
                    self._offsets[i] = new
                    self._dead += _HEAD_SIZE + size + length
                    self._maybe_compact()
                    return
            i = (i + 1) & mask
        if self._count >= self._limit:
            self._grow()
            mask, hashes = self._mask, self._hashes
            i = h & mask
            while self._offsets[i]:
                i = (i + 1) & mask
        new = self._append(encoded, stored)
        hashes[i] = h
        self._offsets[i] = new
        self._count += 1
        self._version += 1

    def __delitem__(self, key: str) -> None:
        slot = self._slot(key)
        if slot >= 0:
            self._remove_slot(slot)
        elif key in self._other:
            del self._other[key]
            self._version += 1
        else:
            raise KeyError(key)

    def clear(self) -> None:
        """Drop every entry (views keep what they saw)."""
        self._reset()

    def _remove_slot(self, i: int) -> None:
        """Empty slot ``i`` and shift the rest of its probe run back over it."""
        mask, hashes, offsets = self._mask, self._hashes, self._offsets
        size, length = _unpack_head(self._arena, offsets[i])
        self._dead += _HEAD_SIZE + size + length
        j = i
        while True:
            j = (j + 1) & mask
            if not offsets[j]:
                break
            home = hashes[j] & mask
            # The entry at j may move to i unless its home lies cyclically in (i, j].
            inside = (i < home <= j) if i <= j else (home > i or home <= j)
            if not inside:
                hashes[i], offsets[i] = hashes[j], offsets[j]
                i = j
        hashes[i] = 0
        offsets[i] = 0
        self._count -= 1
        self._version += 1
        self._maybe_compact()

    # --- growth and compaction ------------------------------------------------------
    def _grow(self) -> None:
        old_hashes, old_offsets = self._hashes, self._offsets
        capacity = len(old_offsets) * 2
        mask = capacity - 1
        hashes = _empty_index(capacity, "I")
        offsets = _empty_index(capacity, old_offsets.typecode)
        for j in range(len(old_offsets)):
            offset = old_offsets[j]
            if offset:
                h = old_hashes[j]
                i = h & mask
                while offsets[i]:
                    i = (i + 1) & mask
                hashes[i] = h
                offsets[i] = offset
        self._hashes, self._offsets, self._mask = hashes, offsets, mask
        self._limit = int(capacity * _MAX_LOAD)
        self._version += 1

    def _maybe_compact(self) -> None:
        if self._dead > self._compact_min and 2 * self._dead > self._used:
            self.compact()

    def compact(self) -> None:
        """Rewrite the arena with only live records (views keep the old one)."""
        old, offsets = self._arena, self._offsets
        live = self._used - self._dead
        arena = _new_arena(live + live // 8)
        used = 1
        for i in range(len(offsets)):
            offset = offsets[i]
            if offset:
                size, length = _unpack_head(old, offset)
                end = used + _HEAD_SIZE + size + length
                arena[used:end] = old[offset : offset + _HEAD_SIZE + size + length]
                offsets[i] = used
                used = end
        if used <= _NARROW_LIMIT and offsets.typecode != "I":
            self._offsets = array("I", offsets)
        self._arena, self._used = arena, used
        self._dead = 0
        self._version += 1
