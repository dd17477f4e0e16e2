"""Last-writer-wins register: the write with the greatest hybrid stamp wins."""

from __future__ import annotations

from typing import NamedTuple

from statecast.core.clock import Stamp
from statecast.core.version_vector import Dot

__all__ = ["LwwRegister"]


class LwwRegister(NamedTuple):
    """One key's last write, flat so that a million of them stay small.

    The order of the fields is the order of the join: ``(wall, logical, replica)`` is the
    hybrid stamp with the replica-id tie-break; ``seq`` (the writer's event number) only
    orders two records of the very same event, which are equal anyway.

    Attributes:
        wall: Hybrid stamp, physical part (ms).
        logical: Hybrid stamp, logical part.
        replica: The writer (stamp tie-break and dot owner).
        seq: The writer's event number: the register's dot is ``(replica, seq)``.
        value: The JSON-encoded value, or ``None`` for a delete (tombstone).
    """

    wall: int
    logical: int
    replica: str
    seq: int
    value: bytes | None

    @classmethod
    def write(cls, stamp: Stamp, seq: int, value: bytes | None) -> LwwRegister:
        """The register state made by one write (or a delete when ``value`` is None)."""
        return cls(stamp.wall, stamp.logical, stamp.replica, seq, value)

    @property
    def stamp(self) -> Stamp:
        """The hybrid stamp of the winning write."""
        return Stamp(self.wall, self.logical, self.replica)

    @property
    def dot(self) -> Dot:
        """The event that wrote the winning value."""
        return Dot(self.replica, self.seq)

    def join(self, other: LwwRegister) -> LwwRegister:
        """The winner of the two (commutative, associative, idempotent)."""
        return self if self[:4] >= other[:4] else other
