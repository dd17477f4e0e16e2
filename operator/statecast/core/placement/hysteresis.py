"""Gates that stop flapping: a margin between adding and removing, and a cooldown.

A replica is *added* when the latency it saves at the forecast mean beats its full
cost (holding plus the copy) by the hysteresis margin. It is *removed* only when the
demand it serves (the planner passes the forecast mean, or the upper bound where the
forecast is uncertain) does not pay for holding it, less the margin, and it is older
than the cooldown. Between the two gates nothing changes, so a demand that
wobbles around the break-even point does not make replicas come and go.
"""

from __future__ import annotations


def should_add(value_ms: float, cost_ms: float, hysteresis: float) -> bool:
    """True when a new replica's expected value clears its cost by the margin."""
    return value_ms > cost_ms * (1.0 + hysteresis) and value_ms > 0.0


def should_remove(
    value_ms: float,
    holding_cost_ms: float,
    hysteresis: float,
    age_s: float,
    cooldown_s: float,
) -> bool:
    """True when a replica is past its cooldown and the value it keeps does not pay for it."""
    if age_s < cooldown_s:
        return False
    return value_ms < holding_cost_ms * (1.0 - hysteresis)


def may_readd(seconds_since_removal: float | None, cooldown_s: float) -> bool:
    """False while a node is in cooldown after a removal (unless demand is strong: caller)."""
    return seconds_since_removal is None or seconds_since_removal >= cooldown_s
