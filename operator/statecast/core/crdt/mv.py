"""Multi-value register: concurrent writes kept as siblings.

A write supersedes every sibling the writing replica has seen; siblings written
concurrently (neither saw the other) are all kept until a later write that has seen
them. The causal context of the register is a per-replica maximum of the dots of the
events on this key: a replica's events on one key are sequential, so seeing event
``(r, n)`` of the key implies seeing all of ``r``'s earlier events on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from statecast.core.clock import Stamp

__all__ = ["MvRegister", "Sibling"]


class Sibling(NamedTuple):
    """One concurrently written value with the event that wrote it."""

    replica: str
    seq: int
    wall: int
    logical: int
    value: bytes

    @property
    def stamp(self) -> Stamp:
        """The hybrid stamp of the write."""
        return Stamp(self.wall, self.logical, self.replica)


def _covered(context: Mapping[str, int], replica: str, seq: int) -> bool:
    return seq <= context.get(replica, 0)


def _join_context(a: Mapping[str, int], b: Mapping[str, int]) -> dict[str, int]:
    merged = dict(a)
    for replica, seq in b.items():
        if seq > merged.get(replica, 0):
            merged[replica] = seq
    return merged


@dataclass(frozen=True)
class MvRegister:
    """A multi-value register state.

    Attributes:
        siblings: The live values, sorted by dot.
        context: Replica -> highest event on this key seen (dots of writes and deletes).
        cleared: Stamp of the latest delete seen, if any (orders it against counters).
    """

    siblings: tuple[Sibling, ...] = ()
    context: Mapping[str, int] = field(default_factory=dict)
    cleared: Stamp | None = None

    def write(self, stamp: Stamp, seq: int, value: bytes | None) -> MvRegister:
        """This replica writes (or deletes, ``value`` None) having seen every sibling."""
        context = _join_context(self.context, {stamp.replica: seq})
        if value is None:
            cleared = stamp if self.cleared is None else max(self.cleared, stamp)
            return MvRegister((), context, cleared)
        sibling = Sibling(stamp.replica, seq, stamp.wall, stamp.logical, value)
        return MvRegister((sibling,), context, self.cleared)

    def join(self, other: MvRegister) -> MvRegister:
        """Keep a sibling unless the other side has seen its write and dropped it."""
        mine = {(s.replica, s.seq): s for s in self.siblings}
        theirs = {(s.replica, s.seq): s for s in other.siblings}
        kept = [s for d, s in mine.items() if d in theirs or not _covered(other.context, *d)]
        kept += [s for d, s in theirs.items() if d not in mine and not _covered(self.context, *d)]
        kept.sort(key=lambda s: (s.replica, s.seq))
        if self.cleared is None or (other.cleared is not None and other.cleared > self.cleared):
            cleared = other.cleared
        else:
            cleared = self.cleared
        return MvRegister(tuple(kept), _join_context(self.context, other.context), cleared)

    def latest(self) -> Stamp | None:
        """The greatest stamp of a live sibling or delete (None if never written)."""
        stamps = [s.stamp for s in self.siblings]
        if self.cleared is not None:
            stamps.append(self.cleared)
        return max(stamps) if stamps else None
