"""A test-only setting: run the agent with its wall clock off by some seconds.

``STATECAST_TEST_CLOCK_SKEW_SECONDS=5`` (or ``-5``) in an agent's environment moves
every wall-clock reading of that agent process (``time.time`` and ``time.time_ns``:
its hybrid logical clock, its Lease renewals, its status times) by that many seconds,
as on a node whose clock has drifted; monotonic time is unchanged. ``statecast chaos
--scenario clock-skew`` uses it. Never set it in production: it exists to show what a
skewed node does to last-writer-wins ordering and to liveness judged from Leases.
"""

from __future__ import annotations

import os
import time

__all__ = ["ENVIRONMENT", "apply_from_environment"]

ENVIRONMENT = "STATECAST_TEST_CLOCK_SKEW_SECONDS"
_LIMIT = 3600.0


def apply_from_environment() -> float:
    """Skew this process's wall clock by ``$STATECAST_TEST_CLOCK_SKEW_SECONDS``.

    Returns:
        The skew applied in seconds (0 when unset).

    Raises:
        ValueError: The value is not a number of seconds within an hour.
    """
    raw = os.environ.get(ENVIRONMENT, "").strip()
    if not raw:
        return 0.0
    skew = float(raw)
    if not -_LIMIT <= skew <= _LIMIT:
        raise ValueError(f"{ENVIRONMENT} must be within +-{_LIMIT:g} s, not {raw}")
    if skew:
        skew_ns = round(skew * 1e9)
        real_time, real_time_ns = time.time, time.time_ns
        time.time = lambda: real_time() + skew
        time.time_ns = lambda: real_time_ns() + skew_ns
    return skew
