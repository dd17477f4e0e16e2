"""The recent events of one origin replica, for delta sync: a bounded ring of (seq, key).

A ``deque[tuple[int, str]]`` costs a tuple and an int object per event (about 100 bytes
before the key); this ring keeps the sequence numbers in a flat ``array`` (8 bytes each)
beside a list of keys, and overwrites the oldest event once full.
"""

from __future__ import annotations

import heapq
from array import array
from collections.abc import Iterator

__all__ = ["EventRing", "LatestEvents"]


class EventRing:
    """The last ``limit`` events recorded for one origin, oldest first.

    Args:
        limit: How many events are kept.
    """

    __slots__ = ("_keys", "_limit", "_seqs", "_start")

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self._limit = limit
        self._seqs = array("q")
        self._keys: list[str] = []
        self._start = 0

    def __len__(self) -> int:
        return len(self._keys)

    def append(self, seq: int, key: str) -> int | None:
        """Record an event; return the sequence number of the event it evicted, if any."""
        if len(self._keys) < self._limit:
            self._seqs.append(seq)
            self._keys.append(key)
            return None
        i = self._start
        evicted = self._seqs[i]
        self._seqs[i] = seq
        self._keys[i] = key
        self._start = (i + 1) % self._limit
        return evicted

    def __iter__(self) -> Iterator[tuple[int, str]]:
        seqs, keys, start = self._seqs, self._keys, self._start
        for i in range(start, len(keys)):
            yield seqs[i], keys[i]
        for i in range(start):
            yield seqs[i], keys[i]

    def export(self) -> tuple[array[int], list[str]]:
        """The events oldest first: sequence numbers and keys (copies)."""
        start = self._start
        return self._seqs[start:] + self._seqs[:start], self._keys[start:] + self._keys[:start]

    @classmethod
    def restore(cls, limit: int, seqs: array[int], keys: list[str]) -> EventRing:
        """A ring holding the last ``limit`` of these events (oldest first)."""
        if len(seqs) != len(keys):
            raise ValueError("as many sequence numbers as keys are needed")
        ring = cls(limit)
        ring._seqs = array("q", seqs[-limit:])
        ring._keys = list(keys[-limit:])
        return ring

    def keys_after(self, known: int) -> Iterator[str]:
        """Keys of the events with a sequence number above ``known``."""
        seqs, keys = self._seqs, self._keys
        for i in range(len(keys)):
            if seqs[i] > known:
                yield keys[i]


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
