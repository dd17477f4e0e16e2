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

Records are found through an open-addressing hash index (:mod:`.slots`): per slot the
record's offset in the arena (0: empty; the arena starts with one unused byte) and the
low 32 bits of the key's ``hash()``, which skips most key comparisons and lets the index
grow without reading the arena. Linear probing at a load of at most 0.6.

**No pauses.** Neither growing the index nor reclaiming dead records stops the table
for a pass over every key (at a million keys those passes took 0.6 s and 1-1.7 s):

- The index grows *incrementally* (:class:`.slots.Migration`): the old index stays
  beside one twice its size and drains into it, a few slots on every write and more in
  :meth:`EntryTable.step`, which the owner calls between other work.
- An overwrite with an entry of the same length (the usual overwrite of a same-size
  value) rewrites the record in place; a shorter one too, and the rest of its bytes
  become a dead *filler* record (a head with an empty key) unless they are too few for
  a head, in which case the entry is appended like a longer one. A longer entry is
  appended and the old record counted dead. Once dead bytes are more than half of the
  arena, a *cleaner* walks the arena from its start, sliding each live record down
  over the dead ones before it (a record is live if the index points at it) and
  pointing its slot at the new place, a few records per write and more per
  :meth:`EntryTable.step`; when it reaches the end, the pages freed at the top go back
  to the kernel, a slice per step (one call for all of them held the loop ~10 ms). The
  copy is paid for by the writes that made the garbage, spread over them, and the
  arena never exists twice.

Rare entries (:class:`~statecast.core.crdt.entry.KeyState`: counters, multi-value
registers) stay objects in a small side dict; a key is in exactly one of the two.

:meth:`EntryTable.view` is a frozen, consistent copy of the table that shares the arena:
it copies only the index arrays (8 bytes a slot) and the side dict. While any view is
alive the table never rewrites a record in place (it appends instead) and the cleaner
waits, so what a view reads never changes: a snapshot can be written from a view in a
worker thread while writes go on. :meth:`EntryTable.hold` gives the same guarantee
without the copy, for a forked child that reads its own copy of the index (the arena is
a shared mapping, see ``_new_arena``). Hashes are Python's ``hash()`` of the key by default:
valid inside one process only, never persisted.
"""

from __future__ import annotations

import mmap
import os
import struct
import weakref
from array import array
from collections.abc import Callable, ItemsView, Iterable, Iterator, Mapping, MutableMapping
from typing import Any, overload

from statecast.core.crdt import lww
from statecast.core.crdt.entry import Entry, KeyState
from statecast.core.crdt.lww import LwwRegister
from statecast.core.crdt.slots import (
    Migration,
    copy_slots,
    new_slots,
    place,
    remove,
    touch_slots,
    widen,
)

__all__ = [
    "NOT_PLAIN",
    "UNCHANGED",
    "EntryTable",
    "EntryView",
    "KeyHash",
    "RecordBlock",
    "TableHold",
]

#: Items added to an array per C call where a worker thread builds large arrays.
_ARRAY_SLICE = 1 << 15

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
_NARROW_LIMIT = 0xFFFFFFFF  # offsets fit 4-byte slots while the arena is smaller
_WIDE_FROM = 1 << 30  # an index made once the arena passes 1 GiB has 8-byte offsets
#: A record looked at by the cleaner costs about as much as this many slots moved.
_RECORD_COST = 4
#: Work done by each write while the index drains or the arena is cleaned: 8 old slots
#: looked at (the index must drain before it fills again: 1.7 a write is enough) and 4
#: records (more than the one record of garbage a write can make).
_WORK_PER_WRITE = 8 + 4 * _RECORD_COST

#: What :meth:`EntryTable.merge_register` answers when it changed nothing, and when the
#: key holds a ``KeyState`` (to be joined the general way).
UNCHANGED = -2
NOT_PLAIN = -3
#: Records as stored, where each starts in the block, and each key's length in bytes.
RecordBlock = tuple[bytes, "array[int]", "array[int]"]
Found = tuple[memoryview, memoryview, int, int]  # hashes, offsets, mask, slot (-1: absent)
_MEMFD = getattr(os, "memfd_create", None)
#: Bytes of freed arena given back to the system per unit of :meth:`EntryTable.step`.
_RELEASE_PER_UNIT = _PAGE


def _new_arena(size: int) -> mmap.mmap:
    """Memory for records: pages cost RSS only once written, slices are ``bytes``.

    A shared mapping of an anonymous memory file (``memfd_create``; it grows with the
    file) where there is one, else private anonymous memory. Shared, a child forked to
    write a snapshot does not copy the arena's page tables, and the parent's writes
    after the fork take no copy-on-write fault: one process of a million keys forked
    in 1.5-1.8 ms of CPU instead of 5.1-5.7, and its next 20,000 writes took 2,200 page
    faults instead of 17,500. The child then sees what the parent writes afterwards:
    :meth:`EntryTable.hold` keeps every byte a child can read as it is. Each arena
    holds a file descriptor while it lives.
    """
    size = max(_PAGE, -(-size // _PAGE) * _PAGE)
    if _MEMFD is not None:
        try:
            fd = _MEMFD("statecast-arena", os.MFD_CLOEXEC)
        except OSError:  # out of descriptors, or forbidden: private memory will do
            pass
        else:
            try:
                os.ftruncate(fd, size)
                return mmap.mmap(fd, size, flags=mmap.MAP_SHARED)  # (it keeps its own fd)
            finally:
                os.close(fd)
    # Private anonymous, not shared anonymous memory: that one cannot grow with mremap.
    return mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE)


def _free_pages(arena: mmap.mmap, start: int, length: int) -> None:
    """Give the pages of ``[start, start + length)`` back to the system (they read 0)."""
    try:
        arena.madvise(mmap.MADV_REMOVE, start, length)  # a memory file's pages
    except OSError:  # private anonymous memory
        arena.madvise(mmap.MADV_DONTNEED, start, length)


class TableHold:
    """Keeps an :class:`EntryTable`'s records where they are until :meth:`release`.

    While held the table behaves as while a view is alive: it rewrites no record in
    place (it appends) and the cleaner waits, so every byte of the arena below its end
    at the time of the hold stays as it was. What a child forked now reads of the
    (shared) arena through its copy of the index is then the state at the fork.
    """

    __slots__ = ("__weakref__", "_release")

    def __init__(self, table: EntryTable) -> None:
        table._views.add(id(self))
        self._release = weakref.finalize(self, table._views.discard, id(self))

    def release(self) -> None:
        """Let the table rewrite and clean again (a second call does nothing)."""
        self._release()


class _Items(ItemsView[str, Entry]):
    """``items()`` that walks the records once instead of looking every key up."""

    _mapping: _Entries

    def __iter__(self) -> Iterator[tuple[str, Entry]]:
        return self._mapping.iter_items()


class _Cleaning:
    """Where the cleaner is.

    Records before ``read`` were looked at; the live ones among them were slid down to
    end at ``write``.
    """

    __slots__ = ("read", "write")

    def __init__(self) -> None:
        self.read = self.write = 1


class _Entries(Mapping[str, Entry]):
    """Lookup and iteration over an arena, an index and a side dict (read-only part)."""

    __slots__ = (
        "__weakref__",
        "_arena",
        "_count",
        "_dead",
        "_hash",
        "_hashes",
        "_mask",
        "_offsets",
        "_old",
        "_other",
        "_replicas",
        "_used",
        "_version",
    )

    _arena: mmap.mmap
    _used: int
    _dead: int  # bytes of [1, _used) no index points into
    _hashes: memoryview
    _offsets: memoryview
    _mask: int
    _old: Migration | None  # the index being drained into the one above, if any
    _count: int  # records in both indexes
    _other: dict[str, KeyState]
    _replicas: list[bytes]  # number -> the register's ``length | replica id`` bytes
    _hash: KeyHash
    _version: int

    # --- lookup ---------------------------------------------------------------------
    def _find(self, h: int, encoded: bytes) -> Found:
        """The index and slot holding the key whose hash is ``h`` (slot -1: absent)."""
        arena, size = self._arena, len(encoded)
        hashes, offsets, mask = self._hashes, self._offsets, self._mask
        old = self._old
        while True:
            i = h & mask
            while offset := offsets[i]:
                if hashes[i] == h and arena[offset] | (arena[offset + 1] << 8) == size:
                    start = offset + _HEAD_SIZE
                    if arena[start : start + size] == encoded:
                        return hashes, offsets, mask, i
                i = (i + 1) & mask
            if old is None:
                return hashes, offsets, mask, -1
            hashes, offsets, mask, old = old.hashes, old.offsets, old.mask, None

    def _offset(self, key: str) -> int:
        """Where ``key``'s record starts (0: no record)."""
        _, offsets, _, i = self._find(
            self._hash(key) & _HASH_MASK, key.encode("utf-8", _KEY_ERRORS)
        )
        return offsets[i] if i >= 0 else 0

    @overload
    def get(self, key: str, /) -> Entry | None: ...
    @overload
    def get(self, key: str, /, default: Entry) -> Entry: ...
    @overload
    def get(self, key: str, /, default: Any) -> Any: ...
    def get(self, key: str, /, default: Any = None) -> Any:
        """The entry of ``key``, or ``default``."""
        offset = self._offset(key)
        if offset:
            size, length = _unpack_head(self._arena, offset)
            return self._register_at(offset + _HEAD_SIZE + size, length)
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

    def _value_at(self, offset: int) -> bytes | None:
        """The value of the register in the record at ``offset`` (None: a delete)."""
        arena = self._arena
        size, length = _unpack_head(arena, offset)
        start = offset + _HEAD_SIZE + size
        if not arena[start + _HAS_VALUE]:
            return None
        if arena[start + _REPLICA_AT] == _INLINE:
            return arena[start + _HEADER + 1 + arena[start + _HEADER] : start + length]
        return arena[start + _HEADER : start + length]

    def value(self, key: str) -> bytes | KeyState | None:
        """What a read needs: an LWW key's value (None: deleted or absent) or a KeyState.

        Copies only the value out of the arena, not the whole register. The hot path of
        a local read: the current index is probed inline.
        """
        h = self._hash(key) & _HASH_MASK
        mask, hashes, offsets, arena = self._mask, self._hashes, self._offsets, self._arena
        i = h & mask
        encoded = None
        while offset := offsets[i]:
            if hashes[i] == h:
                if encoded is None:
                    encoded = key.encode("utf-8", _KEY_ERRORS)
                size, length = _unpack_head(arena, offset)
                start = offset + _HEAD_SIZE
                if size == len(encoded) and arena[start : start + size] == encoded:
                    start += size  # the register (inline: the hot path of every local read)
                    if not arena[start + _HAS_VALUE]:
                        return None
                    if arena[start + _REPLICA_AT] == _INLINE:
                        return arena[start + _HEADER + 1 + arena[start + _HEADER] : start + length]
                    return arena[start + _HEADER : start + length]
            i = (i + 1) & mask
        if self._old is not None and (offset := self._offset(key)):
            return self._value_at(offset)
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
        return bool(self._offset(key)) or key in self._other

    def __len__(self) -> int:
        return self._count + len(self._other)

    # --- iteration ------------------------------------------------------------------
    def _records(self) -> Iterator[tuple[int, int, int]]:
        """(offset, key length, entry length) of every record an index points to."""
        version = self._version
        arena = self._arena
        indexes = [self._offsets] if self._old is None else [self._offsets, self._old.offsets]
        for offsets in indexes:
            for offset in offsets:
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

    # --- export (snapshots) ------------------------------------------------------------
    def record_blocks(self, size: int = 1 << 20) -> Iterator[RecordBlock]:
        """The LWW records as stored, in blocks of about ``size`` bytes.

        Each block holds whole records (key length, entry length, key, register with
        its writer's number, see :attr:`writers`), with where each record starts in the
        block and its key's length: what :meth:`EntryTable.load_block` takes back.
        """
        arena = self._arena
        parts: list[bytes] = []
        starts, key_sizes = array("Q"), array("H")
        filled = 0
        for offset, key_size, length in self._records():
            span = _HEAD_SIZE + key_size + length
            parts.append(arena[offset : offset + span])
            starts.append(filled)
            key_sizes.append(key_size)
            filled += span
            if filled >= size:
                yield b"".join(parts), starts, key_sizes
                parts, starts, key_sizes, filled = [], array("Q"), array("H"), 0
        if parts:
            yield b"".join(parts), starts, key_sizes

    def arena_chunks(self, size: int = 4 << 20) -> Iterator[bytes]:
        """The arena's used bytes (live and dead records), in pieces of ``size`` bytes."""
        for start in range(1, self._used, size):
            yield self._arena[start : min(start + size, self._used)]

    def live_records(self) -> tuple[array[int], array[int]]:
        """Where each live LWW record starts, and its key's length in bytes.

        Starts count from the arena's first record (what :meth:`arena_chunks` gives).
        """
        arena = self._arena
        offsets = [offset for offset in self._offsets if offset]
        if self._old is not None:
            offsets += [offset for offset in self._old.offsets if offset]
        # Built a slice at a time: a snapshot thread making a million-item array in one
        # C call held the interpreter lock (the event loop's) for up to 30 ms.
        starts, key_sizes = array("Q"), array("H")
        for at in range(0, len(offsets), _ARRAY_SLICE):
            part = offsets[at : at + _ARRAY_SLICE]
            key_sizes.extend([arena[offset] | (arena[offset + 1] << 8) for offset in part])
            starts.extend([offset - 1 for offset in part])
        return starts, key_sizes

    @property
    def garbage(self) -> float:
        """The share of the arena's used bytes that no record the index points to holds."""
        return self._dead / max(1, self._used - 1)

    @property
    def writers(self) -> list[str]:
        """The replica ids records refer to by number, in number order."""
        return [replica[1:].decode() for replica in self._replicas]

    def states(self) -> dict[str, KeyState]:
        """The entries that are not plain LWW registers (counters, multi-value)."""
        return dict(self._other)

    @property
    def arena_bytes(self) -> int:
        """Bytes of the arena in use (live and dead records)."""
        return self._used

    @property
    def mapped_bytes(self) -> int:
        """Bytes of the arena's memory mapping (in use or not; unused pages cost no RSS)."""
        return len(self._arena)

    @property
    def dead_bytes(self) -> int:
        """Bytes of the arena holding no live record (reclaimed by the cleaner)."""
        return self._dead

    @property
    def capacity(self) -> int:
        """Slots of the (newest) index."""
        return len(self._offsets)


class EntryView(_Entries):
    """A frozen copy of an :class:`EntryTable` at one moment (shares its arena)."""

    __slots__ = ()

    def __init__(self, table: EntryTable, spare: list[memoryview] | None = None) -> None:
        spare = spare or []

        def copy(slots: memoryview) -> memoryview:
            for n, into in enumerate(spare):
                if len(into) == len(slots) and into.format == slots.format:
                    return copy_slots(slots, spare.pop(n))
            return copy_slots(slots)

        self._arena = table._arena
        self._replicas = table._replicas  # append-only: numbers never change
        self._used = table._used
        self._dead = table.dead_bytes
        self._hashes = copy(table._hashes)
        self._offsets = copy(table._offsets)
        self._mask = table._mask
        old = table._old
        self._old = None if old is None else old.copy(copy(old.hashes), copy(old.offsets))
        self._count = table._count
        self._other = dict(table._other)
        self._hash = table._hash
        self._version = 0


class EntryTable(_Entries, MutableMapping[str, Entry]):
    """A ``MutableMapping[str, Entry]`` holding LWW registers in an arena (see module doc).

    Args:
        hash_fn: Hash of a key (``hash`` by default; tests inject colliding ones).
        compact_min: Dead bytes below which the arena is never compacted.
        capacity: Keys expected (the index starts large enough: no growth up to it).
        work_per_write: Units of pending work (see :meth:`step`) each write does.
    """

    __slots__ = (
        "_busy",
        "_cleaning",
        "_compact_min",
        "_limit",
        "_release_end",
        "_replica_numbers",
        "_spare",
        "_views",
        "_work_per_write",
    )

    def __init__(
        self,
        hash_fn: KeyHash = hash,
        compact_min: int = 1 << 16,
        capacity: int = 0,
        work_per_write: int = _WORK_PER_WRITE,
    ) -> None:
        self._hash = hash_fn
        self._compact_min = compact_min
        self._work_per_write = work_per_write
        self._views: set[int] = set()  # ids of live views (set ops are atomic)
        self._spare: list[memoryview] = []  # arrays for the next view (prepare_view)
        self._version = 0
        self._reset(capacity)

    def _reset(self, keys: int = 0) -> None:
        capacity = 8
        while capacity * _MAX_LOAD <= keys:
            capacity *= 2
        self._arena = _new_arena(_PAGE)
        self._used = 1  # offset 0 marks an empty slot
        self._hashes = new_slots(capacity)
        self._offsets = new_slots(capacity)
        self._mask = capacity - 1
        self._limit = int(capacity * _MAX_LOAD)
        self._old = None
        self._cleaning: _Cleaning | None = None
        self._release_end = 0  # freed pages below it, above the used bytes, to give back
        self._busy = False
        self._count = 0
        self._dead = 0
        self._other = {}
        self._replicas = []
        self._replica_numbers: dict[bytes, int] = {}
        self._version += 1

    @property
    def dead_bytes(self) -> int:
        """Bytes of the arena holding no live record (reclaimed by the cleaner)."""
        cleaning = self._cleaning
        return self._dead + (cleaning.read - cleaning.write if cleaning is not None else 0)

    @property
    def busy(self) -> bool:
        """True while the index drains or the arena is being cleaned (see :meth:`step`)."""
        return self._busy

    def view(self) -> EntryView:
        """A consistent read-only copy that later writes do not change.

        It copies the index (8 bytes a slot, 16 MiB at a million keys) into the arrays
        :meth:`prepare_view` made, if their sizes still match, else into fresh ones.
        """
        spare, self._spare = self._spare, []
        view = EntryView(self, spare)
        self._views.add(id(view))
        weakref.finalize(view, self._views.discard, id(view))
        return view

    def hold(self) -> TableHold:
        """Keep every record where and as it is until the hold is released (or dropped).

        For a child process forked now: it reads the arena, which it shares with this
        process, through its own copy of the index (see :func:`_new_arena`).
        """
        return TableHold(self)

    def prepare_view(self, step_bytes: int = 1 << 20) -> Iterator[None]:
        """Make the arrays the next :meth:`view` copies the index into, a step at a time.

        The copy itself is a memcpy (about 1 ms per 8 MiB) but fresh arrays take a page
        fault per page at their first write (5-10 ms at a million keys, on the event
        loop): this makes arrays the size of the index now and touches their pages,
        ``step_bytes`` (at most 1 MiB) per step, yielding after each step so that the
        caller can let other work run between steps. The table may change meanwhile: an
        array whose size no longer matches is not used (the view then makes its own).
        """
        step_bytes = max(_PAGE, min(step_bytes, 1 << 20))
        wanted = [self._hashes, self._offsets]
        if self._old is not None:
            wanted += [self._old.hashes, self._old.offsets]
        spare = []
        for slots in wanted:
            fresh = new_slots(len(slots), slots.format == "Q")
            size = len(fresh) * fresh.itemsize
            for start in range(0, size, step_bytes):
                touch_slots(fresh, start, min(start + step_bytes, size))
                yield
            spare.append(fresh)
        self._spare = spare

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
        arena = self._arena
        offset = self._used
        key_end = offset + _HEAD_SIZE + len(encoded)
        end = key_end + len(entry)
        if end > len(arena):
            arena.resize(-(-max(end, len(arena) * 2) // _PAGE) * _PAGE)
        _pack_head_into(arena, offset, len(encoded), len(entry))
        arena[offset + _HEAD_SIZE : key_end] = encoded
        arena[key_end:end] = entry
        self._used = end
        return offset

    def __setitem__(self, key: str, entry: Entry) -> None:
        if not isinstance(entry, KeyState):
            self.put_register(key, entry)
            return
        hashes, offsets, mask, i = self._find(
            self._hash(key) & _HASH_MASK, key.encode("utf-8", _KEY_ERRORS)
        )
        if i >= 0:
            self._remove(hashes, offsets, mask, i)
        self._other[key] = entry
        self._version += 1
        if self._busy:
            self.step(self._work_per_write)

    def holds_state(self, key: str) -> bool:
        """True if ``key``'s entry is a :class:`KeyState` (not a plain register)."""
        return bool(self._other) and key in self._other

    def put_register(self, key: str, register: LwwRegister) -> int:
        """Set ``key`` to a packed LWW register.

        Returns:
            The value size of the register it replaced (0 for a delete), or -1 if there
            was none.
        """
        h = self._hash(key) & _HASH_MASK
        encoded = key.encode("utf-8", _KEY_ERRORS)
        stored = self._stored(register)
        if len(encoded) > _MAX_KEY or len(stored) > _MAX_ENTRY:
            raise ValueError("key or entry too long for the table")
        if self._other and key in self._other:
            del self._other[key]
            self._version += 1
        size = _HEAD_SIZE + len(encoded) + len(stored)
        if self._used + size > _NARROW_LIMIT and self._offsets.format != "Q":
            self._widen()
        _, offsets, _, i = self._find(h, encoded)
        if i >= 0:
            replaced = self._overwrite(offsets, i, encoded, stored)
        else:
            self._insert(h, encoded, stored)
            replaced = -1
        if self._busy:
            self.step(self._work_per_write)
        return replaced

    def merge_register(self, key: str, incoming: LwwRegister, covered: int) -> int:
        """Join a packed LWW register into ``key``'s (the last writer wins) in one lookup.

        Args:
            key: The key.
            incoming: The register to join.
            covered: Events of ``incoming``'s writer up to this number are known here:
                an absent key is not brought back by one of them (it was collected).

        Returns:
            :data:`UNCHANGED` (the key's register wins or is the same, or a collected
            key's old write), :data:`NOT_PLAIN` (the key holds a ``KeyState``: join it
            the general way), -1 (the key was absent and now holds ``incoming``), or
            the value size of the register ``incoming`` replaced.
        """
        if self._other and key in self._other:
            return NOT_PLAIN
        h = self._hash(key) & _HASH_MASK
        encoded = key.encode("utf-8", _KEY_ERRORS)
        _, offsets, _, i = self._find(h, encoded)
        if i < 0:
            if lww.seq(incoming) <= covered:
                return UNCHANGED
            self.put_register(key, incoming)
            return -1
        arena = self._arena
        start = offsets[i] + _HEAD_SIZE + len(encoded)
        head, old_head = incoming[:9], arena[start : start + 9]
        if head < old_head:
            return UNCHANGED
        if head == old_head:  # the same time: the replica id, then the event, decide
            number = arena[start + _REPLICA_AT]
            if number == _INLINE:
                size = arena[start + _HEADER]
                old_replica = arena[start + _HEADER + 1 : start + _HEADER + 1 + size]
            else:
                old_replica = self._replicas[number][1:]
            replica = incoming[_HEADER : _HEADER + incoming[_REPLICA_AT]]
            if (replica, incoming[9:15]) <= (old_replica, arena[start + 9 : start + 15]):
                return UNCHANGED
        stored = self._stored(incoming)
        if len(stored) > _MAX_ENTRY or (
            self._used + _HEAD_SIZE + len(encoded) + len(stored) > _NARROW_LIMIT
            and self._offsets.format != "Q"
        ):
            return self.put_register(key, incoming)  # refused, or the index widens first
        replaced = self._overwrite(offsets, i, encoded, stored)  # found above: no 2nd lookup
        if self._busy:
            self.step(self._work_per_write)
        return replaced

    def _overwrite(self, offsets: memoryview, i: int, encoded: bytes, stored: bytes) -> int:
        arena = self._arena
        offset = offsets[i]
        size, length = _unpack_head(arena, offset)
        start = offset + _HEAD_SIZE + size
        replaced: int = length - _HEADER  # the old value's size
        if arena[start + _REPLICA_AT] == _INLINE:
            replaced -= 1 + arena[start + _HEADER]
        tail = length - len(stored)
        if not self._views and (tail == 0 or tail >= _HEAD_SIZE):
            arena[start : start + len(stored)] = stored
            if tail:  # the rest becomes a dead filler record: the cleaner can step over it
                _pack_head_into(arena, offset, size, len(stored))
                _pack_head_into(arena, start + len(stored), 0, tail - _HEAD_SIZE)
                self._dead += tail
                self._maybe_compact()
            return replaced
        offsets[i] = self._append(encoded, stored)
        self._dead += _HEAD_SIZE + size + length
        self._maybe_compact()
        return replaced

    def _insert(self, h: int, encoded: bytes, stored: bytes) -> None:
        if self._count >= self._limit:
            self._grow()
        place(self._hashes, self._offsets, self._mask, h, self._append(encoded, stored))
        self._count += 1
        self._version += 1

    def __delitem__(self, key: str) -> None:
        hashes, offsets, mask, i = self._find(
            self._hash(key) & _HASH_MASK, key.encode("utf-8", _KEY_ERRORS)
        )
        if i >= 0:
            self._remove(hashes, offsets, mask, i)
        elif key in self._other:
            del self._other[key]
            self._version += 1
        else:
            raise KeyError(key)
        if self._busy:
            self.step(self._work_per_write)

    def clear(self) -> None:
        """Drop every entry (views keep what they saw)."""
        self._reset()

    def _remove(self, hashes: memoryview, offsets: memoryview, mask: int, i: int) -> None:
        size, length = _unpack_head(self._arena, offsets[i])
        self._dead += _HEAD_SIZE + size + length
        remove(hashes, offsets, mask, i)
        self._count -= 1
        self._version += 1
        self._maybe_compact()

    # --- loading (snapshots) ------------------------------------------------------------
    def set_writers(self, writers: list[str]) -> None:
        """Number the writers as the records about to be loaded do (an empty table only)."""
        if self._count or self._replicas:
            raise ValueError("writers can only be set on an empty table")
        for replica in writers:
            self._stored(lww.pack(0, 0, replica, 0, None))

    def load_block(
        self, data: bytes | memoryview, starts: Iterable[int], key_sizes: Iterable[int]
    ) -> None:
        """Append a block of :meth:`record_blocks` and index its records.

        The keys must be new to the table (a snapshot holds each key once); the index
        should have been sized for them (``capacity``), or it grows as it goes.
        """
        base = self._used
        if base + len(data) > _NARROW_LIMIT and self._offsets.format != "Q":
            self._widen()
        arena = self._arena
        if base + len(data) > len(arena):
            arena.resize(-(-max(base + len(data), len(arena) * 2) // _PAGE) * _PAGE)
        arena[base : base + len(data)] = data
        self._used = base + len(data)
        hash_fn, count, limit = self._hash, self._count, self._limit
        hashes, offsets, mask = self._hashes, self._offsets, self._mask
        for start, key_size in zip(starts, key_sizes, strict=True):
            if count >= limit:  # not sized for these keys: grow at once (no reads yet)
                self._count = count
                self._grow()
                self._drain(len(self._offsets))
                hashes, offsets, mask, limit = self._hashes, self._offsets, self._mask, self._limit
            offset = base + start
            key = arena[offset + _HEAD_SIZE : offset + _HEAD_SIZE + key_size]
            h = hash_fn(key.decode("utf-8", _KEY_ERRORS)) & _HASH_MASK
            i = h & mask
            while offsets[i]:
                i = (i + 1) & mask
            hashes[i] = h
            offsets[i] = offset
            count += 1
        self._count = count
        self._version += 1

    def load_raw(self, chunk: bytes | memoryview) -> None:
        """Append arena bytes of :meth:`arena_chunks` (then :meth:`index_raw`)."""
        base, end = self._used, self._used + len(chunk)
        if end > _NARROW_LIMIT and self._offsets.format != "Q":
            self._widen()
        if end > len(self._arena):
            self._arena.resize(-(-max(end, len(self._arena) * 2) // _PAGE) * _PAGE)
        self._arena[base:end] = chunk
        self._used = end

    def index_raw(self, starts: Iterable[int], key_sizes: Iterable[int], live: int) -> None:
        """Index the live records of arena bytes loaded with :meth:`load_raw`.

        ``starts`` and ``key_sizes`` are :meth:`live_records` (each key once), ``live``
        the bytes those records hold; every other byte loaded counts as dead.
        """
        arena, hash_fn, count, limit = self._arena, self._hash, self._count, self._limit
        hashes, offsets, mask = self._hashes, self._offsets, self._mask
        for start, key_size in zip(starts, key_sizes, strict=True):
            if count >= limit:  # not sized for these keys: grow at once (no reads yet)
                self._count = count
                self._grow()
                self._drain(len(self._offsets))
                hashes, offsets, mask, limit = self._hashes, self._offsets, self._mask, self._limit
            offset = start + 1
            key = arena[offset + _HEAD_SIZE : offset + _HEAD_SIZE + key_size]
            h = hash_fn(key.decode("utf-8", _KEY_ERRORS)) & _HASH_MASK
            i = h & mask
            while offsets[i]:
                i = (i + 1) & mask
            hashes[i] = h
            offsets[i] = offset
            count += 1
        self._count = count
        self._dead = self._used - 1 - live
        self._version += 1
        self._maybe_compact()

    # --- growth, cleaning: bounded steps ---------------------------------------------
    def _grow(self) -> None:
        """Start draining the index into one twice its size."""
        if self._old is not None:  # cannot happen at the per-write pace; stay correct
            self._drain(len(self._old.offsets))
        wide = self._offsets.format == "Q" or self._used > _WIDE_FROM
        capacity = len(self._offsets) * 2
        self._old = Migration(self._hashes, self._offsets)
        self._hashes = new_slots(capacity)
        self._offsets = new_slots(capacity, wide)
        self._mask = capacity - 1
        self._limit = int(capacity * _MAX_LOAD)
        self._busy = True
        self._version += 1

    def _widen(self) -> None:
        self._offsets = widen(self._offsets)
        if self._old is not None:
            self._old.offsets = widen(self._old.offsets)

    def _drain(self, budget: int) -> int:
        old = self._old
        assert old is not None
        looked = old.drain(self._hashes, self._offsets, self._mask, budget)
        if old.done:
            self._old = None
        self._version += 1
        return looked

    def _maybe_compact(self) -> None:
        if self._cleaning is None and (
            self._dead > self._compact_min and 2 * self._dead > self._used
        ):
            self._cleaning = _Cleaning()
            self._busy = True

    def step(self, budget: int = 4096) -> bool:
        """Do up to ``budget`` units of pending work; return True if more can be done now.

        An old index slot looked at is one unit, a record cleaned a few. Writes do a
        little each; the owner calls this between other work so that a quiet table
        finishes too. The cleaner waits while a view is alive.
        """
        if self._old is not None:
            budget -= self._drain(budget)
        cleaning = self._cleaning
        if cleaning is not None and budget > 0 and not self._views:
            budget -= _RECORD_COST * self._clean(cleaning, max(1, budget // _RECORD_COST))
        if self._release_end and budget > 0:
            self._release(budget * _RELEASE_PER_UNIT)
        self._busy = self._old is not None or self._cleaning is not None or self._release_end > 0
        return (
            self._old is not None
            or (self._cleaning is not None and not self._views)
            or self._release_end > 0
        )

    def _release(self, most: int) -> None:
        """Give back up to ``most`` bytes of the freed pages, from the top down.

        One ``madvise`` of all the pages a cleaning freed held the event loop ~10 ms at
        a million keys (~160 MiB): it is done a slice at a time. Only pages above the
        used bytes at this moment are given back, so records appended since are kept.
        """
        arena = self._arena
        low = -(-self._used // _PAGE) * _PAGE
        high = min(self._release_end, len(arena))
        start = max(low, high - max(_PAGE, most // _PAGE * _PAGE))
        if start < high:
            _free_pages(arena, start, high - start)
        self._release_end = start if start > low else 0

    def _clean(self, cleaning: _Cleaning, records: int) -> int:
        """Look at up to ``records`` records; slide the live ones down; how many it did."""
        arena, hash_fn, used = self._arena, self._hash, self._used
        asked = records
        read, write = cleaning.read, cleaning.write
        while records > 0 and read < used:
            size, length = _unpack_head(arena, read)
            span = _HEAD_SIZE + size + length
            encoded = arena[read + _HEAD_SIZE : read + _HEAD_SIZE + size]
            h = hash_fn(encoded.decode("utf-8", _KEY_ERRORS)) & _HASH_MASK
            _, offsets, _, i = self._find(h, encoded)
            if i >= 0 and offsets[i] == read:
                if write != read:
                    arena.move(write, read, span)
                    offsets[i] = write
                write += span
            else:
                self._dead -= span
            read += span
            records -= 1
        cleaning.read, cleaning.write = read, write
        if read >= used:
            self._used = write
            self._cleaning = None
            if -(-write // _PAGE) * _PAGE < len(arena):
                self._release_end = len(arena)  # given back a slice at a time (step)
        return asked - records

    def compact(self) -> None:
        """Reclaim every dead record now (a view alive: into a new arena, which it keeps)."""
        if not self._views:
            # A pass under way leaves what died behind it meanwhile: then one more.
            while self._cleaning is not None or self._dead:
                self._clean(self._cleaning or _Cleaning(), 1 << 62)
        else:
            old = self._arena
            arena = _new_arena(self._used - self._dead)
            used = 1
            indexes = [self._offsets] if self._old is None else [self._offsets, self._old.offsets]
            for offsets in indexes:
                for i, offset in enumerate(offsets):
                    if offset:
                        size, length = _unpack_head(old, offset)
                        end = used + _HEAD_SIZE + size + length
                        arena[used:end] = old[offset : offset + _HEAD_SIZE + size + length]
                        offsets[i] = used
                        used = end
            self._arena, self._used, self._dead, self._cleaning = arena, used, 0, None
            self._release_end = 0
        self._busy = self._old is not None or self._release_end > 0
        self._version += 1
