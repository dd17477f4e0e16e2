"""Version vectors and dots: which events of which replica a state has seen.

A *dot* ``(replica, seq)`` names the ``seq``-th event made by ``replica``. A
:class:`VersionVector` maps each replica to the highest ``seq`` such that every event of
that replica up to ``seq`` is included in a state.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

__all__ = ["Dot", "VersionVector"]


class Dot(NamedTuple):
    """One event: the ``seq``-th made by ``replica`` (``seq`` starts at 1)."""

    replica: str
    seq: int


@dataclass(frozen=True)
class VersionVector(Mapping[str, int]):
    """An immutable version vector; missing replicas count as 0.

    Attributes:
        entries: Replica id -> highest contiguous event sequence seen.
    """

    entries: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, entries: Mapping[str, int]) -> VersionVector:
        """Build from a mapping, dropping zero entries (they carry no information)."""
        return cls({r: s for r, s in entries.items() if s > 0})

    def __getitem__(self, replica: str) -> int:
        return self.entries[replica]

    def __iter__(self) -> Iterator[str]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def get_seq(self, replica: str) -> int:
        """Highest contiguous sequence seen from ``replica`` (0 if none)."""
        return self.entries.get(replica, 0)

    def covers(self, dot: Dot) -> bool:
        """True if the event ``dot`` is included."""
        return dot.seq <= self.entries.get(dot.replica, 0)

    def join(self, other: Mapping[str, int]) -> VersionVector:
        """Pointwise maximum: the events seen by either."""
        merged = dict(self.entries)
        for replica, seq in other.items():
            if seq > merged.get(replica, 0):
                merged[replica] = seq
        return VersionVector(merged)

    def dominates(self, other: Mapping[str, int]) -> bool:
        """True if every event in ``other`` is included in this vector."""
        return all(seq <= self.entries.get(r, 0) for r, seq in other.items())

    def total(self) -> int:
        """Number of events included (sum of the entries)."""
        return sum(self.entries.values())

    def to_json(self) -> dict[str, int]:
        """A plain ``{replica: seq}`` dict, sorted by replica."""
        return {r: self.entries[r] for r in sorted(self.entries) if self.entries[r] > 0}
