"""What a copy costs on a node that held one lately (statecast.core.warm.copy_bytes)."""

from __future__ import annotations

import math

import pytest

from statecast.core.warm import WARM_RETENTION_S, copy_bytes

MIB = 2**20


@pytest.mark.parametrize(
    ("full", "ago", "rate", "retention", "expected"),
    [
        (64 * MIB, None, 1024.0, 3600.0, 64 * MIB),  # no copy left this node: full
        (64 * MIB, 600.0, 1024.0, 3600.0, 600 * 1024.0),  # warm: the writes missed
        (64 * MIB, 0.0, 1024.0, 3600.0, 0.0),  # back in the same instant: nothing missed
        (64 * MIB, 3599.0, 1024.0, 3600.0, 3599 * 1024.0),  # just inside the retention
        # exactly the retention: the agent's clock starts at the hand-off, after the removal
        (64 * MIB, 3600.0, 1024.0, 3600.0, 3600 * 1024.0),
        (64 * MIB, 3600.5, 1024.0, 3600.0, 64 * MIB),  # the retention is over: full
        (64 * MIB, 0.0, 1024.0, 0.0, 64 * MIB),  # retention 0, back at once: still full
        (64 * MIB, 7200.0, 1024.0, 3600.0, 64 * MIB),
        (1 * MIB, 600.0, 1e6, 3600.0, 1 * MIB),  # missed more than the state: capped
        (64 * MIB, 600.0, 1024.0, 0.0, 64 * MIB),  # retention 0: every copy full (before)
        (64 * MIB, 600.0, 0.0, 3600.0, 0.0),  # a resource nobody writes
        (64 * MIB, -5.0, 1024.0, 3600.0, 64 * MIB),  # a removal "in the future": full
        (64 * MIB, math.inf, 1024.0, 3600.0, 64 * MIB),
        (64 * MIB, math.nan, 1024.0, 3600.0, 64 * MIB),
        (0.0, 600.0, 1024.0, 3600.0, 0.0),  # an empty resource costs nothing either way
    ],
)
def test_copy_bytes(
    full: float, ago: float | None, rate: float, retention: float, expected: float
) -> None:
    assert copy_bytes(full, ago, rate, retention) == pytest.approx(expected)


def test_the_default_retention_is_the_agents_hour() -> None:
    assert WARM_RETENTION_S == 3600.0
    assert copy_bytes(MIB, 10.0, 1.0) == 10.0
