"""PN-counter with observed reset.

Each replica keeps its own monotone increment and decrement totals (and the dot of its
last increment); the join takes the pointwise maximum. A delete records the totals it
observed as a *reset* baseline (also joined by maximum), so the visible value after a
delete counts only increments the delete did not see: concurrent increments survive.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from statecast.core.clock import Stamp

__all__ = ["PnCounter", "Slot"]


class Slot(NamedTuple):
    """One replica's contribution: totals added and subtracted, dot of its last change."""

    up: int
    down: int
    seq: int

    def join(self, other: Slot) -> Slot:
        """Pointwise maximum (each field only grows at its owner)."""
        return Slot(max(self.up, other.up), max(self.down, other.down), max(self.seq, other.seq))


def _join_slots(a: Mapping[str, Slot], b: Mapping[str, Slot]) -> dict[str, Slot]:
    merged = dict(a)
    for replica, slot in b.items():
        mine = merged.get(replica)
        merged[replica] = slot if mine is None else mine.join(slot)
    return merged


@dataclass(frozen=True)
class PnCounter:
    """A counter state.

    Attributes:
        slots: Replica -> its contribution.
        reset: Replica -> the contribution observed by the latest deletes; ``seq`` of a
            deleting replica's slot is its latest delete event, so the delete keeps its
            dot in the key's causal context even when its register write loses.
        last: Stamp of the latest increment seen (orders the counter against writes).
    """

    slots: Mapping[str, Slot] = field(default_factory=dict)
    reset: Mapping[str, Slot] = field(default_factory=dict)
    last: Stamp | None = None

    def value(self) -> int:
        """The visible total: everything counted minus what deletes observed."""
        total = 0
        for replica, slot in self.slots.items():
            base = self.reset.get(replica)
            total += slot.up - slot.down
            if base is not None:
                total -= base.up - base.down
        return total

    def increment(self, stamp: Stamp, seq: int, by: int) -> PnCounter:
        """Add ``by`` (negative to subtract) at replica ``stamp.replica``."""
        slots = dict(self.slots)
        mine = slots.get(stamp.replica, Slot(0, 0, 0))
        if by >= 0:
            slots[stamp.replica] = Slot(mine.up + by, mine.down, seq)
        else:
            slots[stamp.replica] = Slot(mine.up, mine.down - by, seq)
        last = stamp if self.last is None else max(self.last, stamp)
        return PnCounter(slots, self.reset, last)

    def reset_observed(self, replica: str, seq: int) -> PnCounter:
        """Forget everything counted so far: a delete, event ``seq`` of ``replica``."""
        reset = _join_slots(self.reset, self.slots)
        mine = reset.get(replica, Slot(0, 0, 0))
        reset[replica] = Slot(mine.up, mine.down, max(mine.seq, seq))
        return PnCounter(self.slots, reset, self.last)

    def join(self, other: PnCounter) -> PnCounter:
        """Pointwise maximum of slots and resets; the latest stamp."""
        if self.last is None or (other.last is not None and other.last > self.last):
            last = other.last
        else:
            last = self.last
        return PnCounter(
            _join_slots(self.slots, other.slots), _join_slots(self.reset, other.reset), last
        )
