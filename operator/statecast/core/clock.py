"""Hybrid logical clocks (Kulkarni et al., "Logical Physical Clocks").

A :class:`Stamp` orders events across replicas: wall-clock milliseconds first, then a
logical counter that breaks ties within a millisecond (and keeps the order causal when a
replica's clock lags a stamp it has seen), then the replica id as the final tie-break, so
two distinct events never compare equal.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import NamedTuple

__all__ = ["MAX_LOGICAL", "HybridClock", "Stamp", "wall_clock_ms"]

#: The logical counter never passes this (registers pack it in 24 bits): the clock moves
#: its wall part one millisecond ahead instead, which keeps every stamp increasing.
MAX_LOGICAL = (1 << 24) - 1


class Stamp(NamedTuple):
    """A hybrid logical timestamp; tuples compare field by field.

    Attributes:
        wall: Physical time in milliseconds since the epoch (the largest seen).
        logical: Counter for events within the same ``wall`` millisecond.
        replica: Id of the replica that made the event (final tie-break).
    """

    wall: int
    logical: int
    replica: str

    def encode(self) -> str:
        """Render as ``wall.logical.replica`` (the form the Agent API shows)."""
        return f"{self.wall}.{self.logical}.{self.replica}"


def wall_clock_ms() -> int:
    """Milliseconds since the epoch from the system clock."""
    return time.time_ns() // 1_000_000


class HybridClock:
    """A replica's hybrid logical clock.

    Args:
        replica: The id stamped into every :class:`Stamp` this clock makes.
        now_ms: Source of physical time in milliseconds (injectable for tests).
    """

    __slots__ = ("_logical", "_now_ms", "_wall", "replica")

    def __init__(self, replica: str, now_ms: Callable[[], int] = wall_clock_ms) -> None:
        self.replica = replica
        self._now_ms = now_ms
        self._wall = 0
        self._logical = 0

    def tick(self) -> Stamp:
        """Return a stamp for a local event, greater than every stamp made or seen."""
        now = self._now_ms()
        if now > self._wall:
            self._wall, self._logical = now, 0
        elif self._logical < MAX_LOGICAL:
            self._logical += 1
        else:
            self._wall, self._logical = self._wall + 1, 0
        return Stamp(self._wall, self._logical, self.replica)

    def observe(self, remote: Stamp) -> None:
        """Move the clock past a stamp received from another replica."""
        self.observe_at(remote.wall, remote.logical)

    def observe_at(self, wall: int, logical: int) -> None:
        """Move the clock past ``(wall, logical)`` (a stamp's time, without its replica)."""
        if wall > self._wall or (wall == self._wall and logical > self._logical):
            self._wall, self._logical = wall, logical

    def peek(self) -> Stamp:
        """The last stamp made or seen, without advancing the clock."""
        return Stamp(self._wall, self._logical, self.replica)
