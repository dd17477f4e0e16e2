"""The hash index of an :class:`~statecast.core.crdt.table.EntryTable`: slot arrays and moves.

An index is two flat arrays of slots, per slot the low 32 bits of the key's hash and the
offset of its record in the arena (0: empty), with linear probing. Deletion shifts the
rest of the probe run back over the hole (no tombstones), which keeps the invariant every
lookup relies on: all slots between a key's home slot and the slot holding it are full.

Slot arrays live in anonymous memory maps viewed as ``memoryview`` of unsigned ints: a
new array of any size costs no time (the kernel hands out zeroed pages as they are
first written), where a million-slot ``array`` takes milliseconds to fill with zeros.

**Incremental rehashing.** When the index grows, the old array is not copied into one
twice its size in one go (at a million keys that was 0.6 s during which nothing else
ran): a :class:`Migration` keeps the old index beside the new one and moves its entries
a few at a time, on each write and in the caller's background steps, as Redis does.
Lookups try the new index, then the old one. Entries move a *cluster* at a time (a
maximal run of full slots, from the empty slot before it to the empty slot after it):
every key's home slot is in its own cluster, so after whole clusters have moved, each
key is either wholly in the old index, reachable from its home, or in the new one.
Nothing is inserted into the old index while it drains, so its clusters only shrink,
and a deletion there (which shifts entries inside one cluster) cannot move an entry
into the part already drained.
"""

from __future__ import annotations

import mmap

__all__ = [
    "Migration",
    "copy_slots",
    "new_slots",
    "place",
    "remove",
    "touch_slots",
    "widen",
]

_ZEROS = memoryview(bytes(1 << 20))


def new_slots(capacity: int, wide: bool = False) -> memoryview:
    """``capacity`` zeroed slots of 4 bytes (``wide``: 8), allocated lazily."""
    size = capacity * (8 if wide else 4)
    # Private, not shared: anonymous private pages are zero until written, then counted.
    raw = memoryview(mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE))
    return raw.cast("Q") if wide else raw.cast("I")


def copy_slots(slots: memoryview, into: memoryview | None = None) -> memoryview:
    """A copy of a slot array (one memcpy).

    Args:
        slots: The array to copy.
        into: An array of the same length and width to copy into (one whose pages were
            touched before, see :func:`touch_slots`); None: a fresh one.
    """
    if into is None or len(into) != len(slots) or into.format != slots.format:
        into = new_slots(len(slots), slots.format == "Q")
    into[:] = slots
    return into


def touch_slots(slots: memoryview, start: int, stop: int) -> None:
    """Write zeros over bytes ``[start, stop)`` of a fresh slot array (at most 1 MiB).

    A fresh array's pages are made by the kernel at their first write, a page fault
    each: copying a million-key index into fresh arrays costs 5-10 ms of those against
    about 1 ms of copying. Touching the pages ahead, a slice at a time, leaves only the
    copy for the moment it must happen.
    """
    raw = slots.cast("B")
    raw[start:stop] = _ZEROS[: stop - start]


def widen(slots: memoryview) -> memoryview:
    """The same slots as 8-byte numbers, for an arena that outgrows 4 GiB.

    One pass over the slots, once in a table's life (an index of tens of millions of
    slots takes seconds; a new index made past 1 GiB of arena is wide from the start).
    """
    wide = new_slots(len(slots), wide=True)
    for i, value in enumerate(slots):
        if value:
            wide[i] = value
    return wide


def place(hashes: memoryview, offsets: memoryview, mask: int, h: int, offset: int) -> int:
    """Put ``(h, offset)`` in the first free slot from its home; return the slot."""
    i = h & mask
    while offsets[i]:
        i = (i + 1) & mask
    hashes[i] = h
    offsets[i] = offset
    return i


def remove(hashes: memoryview, offsets: memoryview, mask: int, i: int) -> None:
    """Empty slot ``i`` and shift the rest of its probe run back over it."""
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


class Migration:
    """An old index being drained into a new one (see the module docstring).

    Args:
        hashes: The old index's hashes.
        offsets: The old index's offsets.
    """

    __slots__ = ("at", "end", "hashes", "mask", "offsets")

    def __init__(self, hashes: memoryview, offsets: memoryview) -> None:
        self.hashes, self.offsets = hashes, offsets
        self.mask = len(offsets) - 1
        start = 0
        while offsets[start]:  # an empty slot: no cluster runs across it
            start += 1
        #: The next old slot to look at (counting on from ``start``, wrapping at ``end``).
        self.at = start
        self.end = start + len(offsets)

    def copy(
        self, hashes: memoryview | None = None, offsets: memoryview | None = None
    ) -> Migration:
        """A frozen copy (for a view of the table), with copies of the arrays if not given."""
        copy = Migration.__new__(Migration)
        copy.hashes = copy_slots(self.hashes) if hashes is None else hashes
        copy.offsets = copy_slots(self.offsets) if offsets is None else offsets
        copy.mask, copy.at, copy.end = self.mask, self.at, self.end
        return copy

    @property
    def done(self) -> bool:
        """True once every old slot has been looked at."""
        return self.at >= self.end

    def drain(self, hashes: memoryview, offsets: memoryview, mask: int, budget: int) -> int:
        """Move old slots into the new index; return how many were looked at.

        Stops once ``budget`` slots were looked at and a cluster has ended.
        """
        old_hashes, old_offsets, old_mask = self.hashes, self.offsets, self.mask
        at, end = self.at, self.end
        looked = 0
        while at < end:
            i = at & old_mask
            at += 1
            looked += 1
            offset = old_offsets[i]
            if offset:
                h = old_hashes[i]
                j = h & mask
                while offsets[j]:
                    j = (j + 1) & mask
                hashes[j] = h
                offsets[j] = offset
                old_offsets[i] = 0
            elif looked >= budget:
                break  # stop only on an empty slot: a cluster moves whole
        self.at = at
        return looked
