"""The replicas a resource lost lately, kept in its status so that restarts remember them.

The planner does not place a copy back on a node it removed one from within two
cooldowns (its hysteresis), and prices a copy back within the agents' warm retention
at the writes it missed (:mod:`statecast.core.warm`). The operator used to remember
those removals in memory only, so a restarted operator (or the peer taking over)
forgot them and could churn; ``status.recentRemovals`` keeps them with the resource.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from statecast.api.shared_resource import SharedResourceSpec
from statecast.api.units import parse_duration

__all__ = ["horizon", "recent_removals", "recently_removed"]


def horizon(spec: SharedResourceSpec, warm_retention_s: float = 0.0) -> float:
    """Seconds a removal is remembered: two cooldowns, or the agents' warm retention.

    The planner's hysteresis needs two cooldowns; a copy back on the node within the
    agents' warm retention (``STATECAST_AGENT_WARM_RETENTION``) costs only the writes it
    missed, which the planner prices from the same memory.
    """
    return max(2 * parse_duration(spec.replication.cooldown).total_seconds(), warm_retention_s)


def _when(raw: Any) -> dt.datetime | None:
    if isinstance(raw, dt.datetime):
        return raw if raw.tzinfo else raw.replace(tzinfo=dt.UTC)
    if isinstance(raw, str) and raw:
        try:
            return dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            return None
    return None


def recently_removed(status: Mapping[str, Any], now: dt.datetime, keep: float) -> dict[str, float]:
    """Node -> seconds since a replica there was removed, for removals within ``keep`` s."""
    ages: dict[str, float] = {}
    for row in status.get("recentRemovals") or []:
        when = _when(row.get("time")) if isinstance(row, Mapping) else None
        node = row.get("node") if isinstance(row, Mapping) else None
        if when is None or not isinstance(node, str):
            continue
        age = (now - when).total_seconds()
        if 0 <= age < keep:
            ages[node] = min(age, ages.get(node, age))
    return ages


def recent_removals(
    status: Mapping[str, Any], removed: Iterable[str], now: dt.datetime, keep: float
) -> list[dict[str, str]]:
    """``status.recentRemovals`` after removing ``removed`` now: the last one per node."""
    ages = recently_removed(status, now, keep)
    for node in removed:
        ages[node] = 0.0
    return [
        {
            "node": node,
            "time": (now - dt.timedelta(seconds=age)).isoformat().replace("+00:00", "Z"),
        }
        for node, age in sorted(ages.items())
    ]
