"""The replicas a resource lost lately, kept in its status so that restarts remember them.

The planner does not place a copy back on a node it removed one from within two
cooldowns (its hysteresis), and prices a copy back within the agents' warm retention
at the writes it missed (:mod:`statecast.core.warm`). The operator used to remember
those removals in memory only, so a restarted operator (or the peer taking over)
forgot them and could churn; ``status.recentRemovals`` keeps them with the resource.

A copy removed because it was lost with its node (reason ``failover``) was never
handed off: its files may be gone with the node, and a copy back there is a full copy.
Its row says ``lost: true`` (:func:`lost_removals`), and the planner prices it so.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from statecast.api.shared_resource import SharedResourceSpec
from statecast.api.units import parse_duration

__all__ = ["horizon", "lost_removals", "recent_removals", "recently_removed"]


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
    return {node: age for node, (age, _) in _rows(status, now, keep).items()}


def lost_removals(status: Mapping[str, Any], now: dt.datetime, keep: float) -> frozenset[str]:
    """The nodes among :func:`recently_removed` whose last removal lost the copy with the node."""
    return frozenset(node for node, (_, lost) in _rows(status, now, keep).items() if lost)


def _rows(
    status: Mapping[str, Any], now: dt.datetime, keep: float
) -> dict[str, tuple[float, bool]]:
    """Node -> (seconds since its last removal within ``keep`` s, whether that one was lost)."""
    rows: dict[str, tuple[float, bool]] = {}
    for row in status.get("recentRemovals") or []:
        when = _when(row.get("time")) if isinstance(row, Mapping) else None
        node = row.get("node") if isinstance(row, Mapping) else None
        if when is None or not isinstance(node, str):
            continue
        age = (now - when).total_seconds()
        if 0 <= age < keep and (node not in rows or age < rows[node][0]):
            rows[node] = (age, row.get("lost") is True)
    return rows


def recent_removals(
    status: Mapping[str, Any],
    removed: Iterable[str],
    now: dt.datetime,
    keep: float,
    lost: Collection[str] = (),
) -> list[dict[str, Any]]:
    """``status.recentRemovals`` after removing ``removed`` now: the last one per node.

    ``lost``: the nodes of ``removed`` whose copy was lost with the node (reason
    ``failover``); their rows say ``lost: true``.
    """
    rows = _rows(status, now, keep)
    for node in removed:
        rows[node] = (0.0, node in lost)
    out: list[dict[str, Any]] = []
    for node, (age, gone) in sorted(rows.items()):
        when = (now - dt.timedelta(seconds=age)).isoformat().replace("+00:00", "Z")
        out.append({"node": node, "time": when, **({"lost": True} if gone else {})})
    return out
