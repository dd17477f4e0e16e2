"""Follow-the-sun demand, compressed: which zone's readers are busy at each moment.

A day of ``day_s`` seconds is split into one office shift per zone, in order; during
its shift each node of the busy zone reads ``peak`` times a second, every other node
``background`` times a second. Shifts change at once (an office opening), so a copy
can only be in the next zone when the shift changes if it was put there by a forecast:
no gradual ramp gives it away.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Schedule", "ZoneChange"]


@dataclass(frozen=True)
class ZoneChange:
    """Demand moves to ``zone`` at ``time`` (seconds from the start)."""

    time: float
    zone: str


@dataclass(frozen=True)
class Schedule:
    """The demand of every node over time.

    Attributes:
        zones: the zones in the order the sun visits them.
        day_s: seconds per compressed day.
        peak: reads per second of each node of the busy zone.
        background: reads per second of each other node.
    """

    zones: tuple[str, ...]
    day_s: float
    peak: float = 20.0
    background: float = 0.5

    def busy(self, t: float) -> str:
        """The zone whose shift it is at ``t`` seconds from the start."""
        phase = (t / self.day_s) % 1.0
        return self.zones[min(int(phase * len(self.zones)), len(self.zones) - 1)]

    def rate(self, zone: str, t: float) -> float:
        """Reads per second of one node of ``zone`` at ``t``."""
        return self.peak if zone == self.busy(t) else self.background

    def day(self, t: float) -> float:
        """``t`` in days."""
        return t / self.day_s

    def changes(self, until: float) -> tuple[ZoneChange, ...]:
        """Every shift change after the start and before ``until``."""
        shift = self.day_s / len(self.zones)
        count = math.ceil(until / shift)
        return tuple(
            ZoneChange(k * shift, self.zones[k % len(self.zones)])
            for k in range(1, count)
            if k * shift < until
        )
