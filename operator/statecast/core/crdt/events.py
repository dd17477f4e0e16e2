"""The recent events of one origin replica, for delta sync: a bounded ring of (seq, key).

A ``deque[tuple[int, str]]`` costs a tuple and an int object per event (about 100 bytes
before the key); this ring keeps the sequence numbers in a flat ``array`` (8 bytes each)
beside a list of keys, overwrites the oldest event once full, and holds each key once
(an earlier event of a key recorded again is freed).
"""

from __future__ import annotations

import heapq
from array import array
from collections.abc import Iterator
from itertools import chain, compress, repeat
from operator import is_not
from typing import cast

__all__ = ["EventRing", "LatestEvents"]


class EventRing:
    """The last ``limit`` events recorded for one origin, oldest first, one per key.

    The index answers "which keys changed after sequence number n", so an event of a key
    that has a later event in the ring says nothing more: recording a key again frees
    the slot of its earlier event (the slot stays taken until the ring comes round to
    it, but holds no key). The ring therefore holds one ``str`` per distinct key in it,
    not one per event: a workload that rewrites a few keys keeps ``limit`` slots of 16
    bytes, not ``limit`` copies of its keys (the soak's holders grew ~140 bytes per
    operation until the ring was full). The evicted sequence number of a freed slot is
    not reported: its key is still covered by its later event.

    Args:
        limit: How many events (slots) are kept.
    """

    __slots__ = ("_keys", "_limit", "_live", "_seqs", "_start")

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self._limit = limit
        self._seqs = array("q")
        self._keys: list[str | None] = []
        #: Key -> the slot of its event (every key held by a slot, and only those).
        self._live: dict[str, int] = {}
        self._start = 0

    def __len__(self) -> int:
        """Events held (slots freed by a later event of their key not counted)."""
        return len(self._live)

    @property
    def slots(self) -> int:
        """Slots taken, freed ones included (at most ``limit``)."""
        return len(self._keys)

    def append(self, seq: int, key: str) -> int | None:
        """Record an event; return the sequence number of the event it evicted, if any.

        An event no later than the one held for its key changes nothing.
        """
        live = self._live
        held = live.get(key)
        if held is not None:
            if self._seqs[held] >= seq:
                return None
            key = self._keys[held] or key  # keep the one string object already held
            self._keys[held] = None
        if len(self._keys) < self._limit:
            live[key] = len(self._keys)
            self._seqs.append(seq)
            self._keys.append(key)
            return None
        i = self._start
        evicted, gone = self._seqs[i], self._keys[i]
        if gone is not None:
            del live[gone]
        self._seqs[i] = seq
        self._keys[i] = key
        live[key] = i
        self._start = (i + 1) % self._limit
        return evicted if gone is not None else None

    def __iter__(self) -> Iterator[tuple[int, str]]:
        seqs, keys, start = self._seqs, self._keys, self._start
        for i in chain(range(start, len(keys)), range(start)):
            key = keys[i]
            if key is not None:
                yield seqs[i], key

    def export(self) -> tuple[array[int], list[str]]:
        """The events oldest first: sequence numbers and keys (copies).

        Made by slices and C-level filters, no Python step per event: a snapshot takes
        it on the event loop (65,536 events took 30 ms event by event, about 1 ms so).
        """
        start = self._start
        keys, seqs = (
            self._keys[start:] + self._keys[:start],
            self._seqs[start:] + self._seqs[:start],
        )
        if len(self._live) < len(keys):  # freed slots: left out
            held = list(map(is_not, keys, repeat(None)))
            seqs, keys = array("q", compress(seqs, held)), list(compress(keys, held))
        return seqs, cast(list[str], keys)

    def keys_after(self, known: int) -> Iterator[str]:
        """Keys of the events with a sequence number above ``known`` (each once)."""
        seqs, keys = self._seqs, self._keys
        for i in range(len(keys)):
            key = keys[i]
            if key is not None and seqs[i] > known:
                yield key


class LatestEvents:
    """The greatest ``limit`` events of a stream, holding no more than that many at once.

    Args:
        limit: How many events are kept.
    """

    __slots__ = ("_heap", "_limit", "floor")

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._heap: list[tuple[int, str]] = []
        #: The greatest sequence number left out (0: none).
        self.floor = 0

    def add(self, seq: int, key: str) -> None:
        """Offer one event."""
        heap = self._heap
        if len(heap) < self._limit:
            heapq.heappush(heap, (seq, key))
            return
        if seq < heap[0][0]:  # below every kept event: left out at once
            dropped = seq
        else:
            dropped, _ = heapq.heappushpop(heap, (seq, key))
        self.floor = max(self.floor, dropped)

    def ring(self) -> EventRing:
        """The kept events as a ring, oldest first."""
        ring = EventRing(self._limit)
        for seq, key in sorted(self._heap):
            ring.append(seq, key)
        return ring
