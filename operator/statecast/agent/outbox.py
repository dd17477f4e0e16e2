"""Local writes of one resource waiting to be pushed, with a cursor per peer replica.

Every peer replica drains the same log at its own pace, so a slow or dead peer delays
nobody else. Peers that keep up ask for the same range and get the same
:class:`PushBatch` object (so its encoding can be shared). The log is trimmed up to the
slowest cursor and capped: a peer further behind than ``limit`` writes loses its place
and is brought up to date by anti-entropy instead, like a peer that was resting after
a failed push.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from statecast.core.crdt import Delta

__all__ = ["Outbox", "PushBatch"]


@dataclass(frozen=True, eq=False)
class PushBatch:
    """Consecutive local events ``first..last`` and the latest state of the keys they touched.

    Attributes:
        first: The first event's sequence number.
        last: The last event's sequence number.
        entries: Key -> state after the last event touching it.
        end: The log position just after the batch (the peer's cursor once it is sent).
    """

    first: int
    last: int
    entries: Delta
    end: int


class Outbox:
    """The push log of one resource.

    Args:
        limit: Most writes kept for a peer that is behind.
    """

    def __init__(self, limit: int = 4096) -> None:
        self.limit = limit
        self._base = 0
        self._log: list[tuple[int, Delta]] = []
        self._cursors: dict[str, int] = {}
        self._shared: tuple[int, int, PushBatch] | None = None

    @property
    def _end(self) -> int:
        return self._base + len(self._log)

    @property
    def peers(self) -> set[str]:
        """The peers with a place in the log."""
        return set(self._cursors)

    def __len__(self) -> int:
        return len(self._log)

    def add(self, seq: int, delta: Delta, peers: Iterable[str]) -> None:
        """Log a local write for ``peers``; a peer not yet in the log starts with it."""
        for peer in peers:
            self._cursors.setdefault(peer, self._end)
        self._log.append((seq, delta))
        if len(self._log) > self.limit:
            self._drop_before(self._end - self.limit)

    def pending(self, peer: str) -> bool:
        """True if ``peer`` has writes to be sent."""
        cursor = self._cursors.get(peer)
        return cursor is not None and cursor < self._end

    def take(self, peer: str) -> PushBatch | None:
        """Everything ``peer`` has not been sent yet, as one batch (None if nothing)."""
        start = self._cursors.get(peer)
        end = self._end
        if start is None or start >= end:
            return None
        if self._shared is not None and self._shared[:2] == (start, end):
            return self._shared[2]
        events = self._log[start - self._base :]
        entries: Delta = {}
        for _, delta in events:
            entries.update(delta)
        batch = PushBatch(events[0][0], events[-1][0], entries, end)
        self._shared = (start, end, batch)
        return batch

    def sent(self, peer: str, batch: PushBatch) -> None:
        """``peer`` acknowledged ``batch``."""
        if peer in self._cursors:
            self._cursors[peer] = max(self._cursors[peer], batch.end)
            self._trim()

    def forget(self, peer: str) -> None:
        """Drop ``peer``'s place (it failed; anti-entropy will bring it up to date)."""
        if self._cursors.pop(peer, None) is not None:
            self._trim()

    def _trim(self) -> None:
        low = min(self._cursors.values(), default=self._end)
        if low > self._base:
            del self._log[: low - self._base]
            self._base = low

    def _drop_before(self, position: int) -> None:
        for peer, cursor in self._cursors.items():
            if cursor < position:
                self._cursors[peer] = position
        self._trim()
