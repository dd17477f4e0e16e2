"""What ``kubectl statecast forecast`` shows (pure).

The operator's forecast beside the demand it sampled.
The forecast comes from ``status.forecast`` (the busiest nodes, accesses per interval
averaged over the horizon); the demand from the history the operator saves in the
ConfigMap ``statecast-history-<resource>`` (every 5 minutes by default, so it may be a
few minutes old: the view says how old).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from statecast.api.units import parse_duration
from statecast.core.demand_series import DemandSnapshot
from statecast.kubectl.timeline import history_matrix
from statecast.kubectl.view import Obj, node_zones, parse_time, replica_lines, spread_label

__all__ = ["ForecastView", "NodeLine", "ZoneTotal", "forecast_view", "recent_means"]


@dataclass(frozen=True)
class NodeLine:
    """One node: its recent demand, its forecast (None where the status lists none)."""

    node: str
    zone: str
    recent: float | None
    mean: float | None
    lower: float | None
    upper: float | None
    replica: bool


@dataclass(frozen=True)
class ZoneTotal:
    """A zone's sums over its nodes (bounds summed: not a band of the sum)."""

    zone: str
    recent: float | None
    mean: float | None
    lower: float | None
    upper: float | None
    replicas: int


@dataclass(frozen=True)
class ForecastView:
    """Everything ``forecast RESOURCE`` prints."""

    namespace: str
    name: str
    interval_s: float
    horizon_s: float
    level: float
    model: str
    generated_at: dt.datetime | None
    history_note: str
    nodes: tuple[NodeLine, ...]
    zones: tuple[ZoneTotal, ...]


def recent_means(snapshot: DemandSnapshot, steps: int) -> dict[str, float]:
    """Each node's mean accesses per interval over the last ``steps`` intervals it covers."""
    nodes, _, values = history_matrix(snapshot, steps)
    out: dict[str, float] = {}
    for row, node in enumerate(nodes):
        known = values[row][np.isfinite(values[row])]
        if known.size:
            out[node] = float(known.mean())
    return out


def _sum(values: Iterable[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return float(sum(known)) if known else None


def forecast_view(
    resource: Obj,
    replicas: Iterable[Obj],
    nodes: Iterable[Obj] | None,
    history: DemandSnapshot | None,
    history_note: str,
) -> ForecastView:
    """The forecast view of one resource.

    Args:
        resource: the SharedResource.
        replicas: its Replica objects.
        nodes: every Node, or None when they may not be listed.
        history: the decoded demand history, or None when there is none (or unreadable).
        history_note: one line saying where the history came from and how old it is.
    """
    spec = resource.get("spec") or {}
    status = resource.get("status") or {}
    prediction = spec.get("prediction") or {}
    interval = parse_duration(str(prediction.get("interval") or "1m")).total_seconds()
    horizon = parse_duration(str(prediction.get("horizon") or "15m")).total_seconds()
    zones = node_zones(nodes or [], spread_label(resource))
    rows = replica_lines(resource, replicas, zones)
    for r in rows:
        zones.setdefault(r.node, r.zone)
    held = {r.node for r in rows if r.phase != "Lost"}
    forecast = status.get("forecast") or {}
    predicted = {str(n.get("node")): n for n in forecast.get("nodes") or []}
    steps = max(1, round(horizon / interval))
    recent = recent_means(history, steps) if history is not None else {}
    names = sorted(set(predicted) | set(recent) | held)
    lines = []
    for node in names:
        entry: Mapping[str, object] = predicted.get(node, {})
        lines.append(
            NodeLine(
                node=node,
                zone=zones.get(node, ""),
                recent=recent.get(node),
                mean=_float(entry.get("mean")),
                lower=_float(entry.get("lower")),
                upper=_float(entry.get("upper")),
                replica=node in held,
            )
        )
    lines.sort(key=lambda n: (-(n.mean or 0.0), -(n.recent or 0.0), n.node))
    totals = []
    for zone in sorted({n.zone for n in lines} | set(zones.values())):
        members = [n for n in lines if n.zone == zone]
        totals.append(
            ZoneTotal(
                zone=zone,
                recent=_sum(n.recent for n in members),
                mean=_sum(n.mean for n in members),
                lower=_sum(n.lower for n in members),
                upper=_sum(n.upper for n in members),
                replicas=sum(n.replica for n in members),
            )
        )
    meta = resource.get("metadata") or {}
    return ForecastView(
        namespace=str(meta.get("namespace") or ""),
        name=str(meta.get("name") or ""),
        interval_s=interval,
        horizon_s=horizon,
        level=float(prediction.get("level") or 0.9),
        model=str(forecast.get("model") or ""),
        generated_at=parse_time(forecast.get("generatedAt")),
        history_note=history_note,
        nodes=tuple(lines),
        zones=tuple(totals),
    )


def _float(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None
