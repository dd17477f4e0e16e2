"""A clock the tests move by hand, for code that takes ``clock=`` (monotonic seconds)."""

from __future__ import annotations


class ManualClock:
    """Calling it gives ``now``; a test sets ``now`` or adds to it to let time pass."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
