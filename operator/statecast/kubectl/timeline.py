"""Demand, forecast band and replica placement over time, per zone (pure).

A :class:`Timeline` is what :mod:`statecast.kubectl.plot` draws. ``kubectl statecast
forecast --plot`` builds one from the demand history ConfigMap, ``status.forecast``,
the Events and ``status.recentRemovals`` (:func:`resource_timeline`); ``statecast demo``
builds one from what it recorded while it ran.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from statecast.api.units import parse_duration
from statecast.core.demand_series import DemandSnapshot, ResourceDemand
from statecast.kubectl.view import ADD_OR_REMOVE, DecisionLine, ReplicaLine, parse_time

__all__ = [
    "Band",
    "PlacementSpan",
    "Timeline",
    "history_matrix",
    "placement_spans",
    "resource_timeline",
    "status_removals",
    "zone_sums",
]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class PlacementSpan:
    """A replica on a node from ``start`` to ``end`` (None: still there), in epoch seconds."""

    node: str
    zone: str
    start: float
    end: float | None
    reason: str


@dataclass(frozen=True)
class Band:
    """A zone's forecast over time: mean and bounds (accesses per interval) at ``times``."""

    times: FloatArray
    mean: FloatArray
    lower: FloatArray
    upper: FloatArray


@dataclass(frozen=True)
class Timeline:
    """Everything the picture shows.

    Attributes:
        title: the figure's title.
        interval_s: seconds per demand interval.
        times: end of each demand interval, seconds since the epoch.
        demand: zone -> accesses per interval (NaN where unknown).
        bands: zone -> the forecast band.
        spans: where replicas were.
        now: the right edge.
        notes: lines printed under the title.
        label: what ``spans`` are, for the placement panel.
        compare: more placement panels: (label, spans) each.
        marks: vertical lines: (time, label) each.
        shading: (start, end, zone) periods, e.g. which zone is busy: a thin line marks
            where each one after the first begins, in every panel.
    """

    title: str
    interval_s: float
    times: FloatArray
    demand: Mapping[str, FloatArray]
    bands: Mapping[str, Band]
    spans: tuple[PlacementSpan, ...]
    now: float
    notes: tuple[str, ...] = field(default_factory=tuple)
    label: str = "replicas"
    compare: tuple[tuple[str, tuple[PlacementSpan, ...]], ...] = field(default_factory=tuple)
    marks: tuple[tuple[float, str], ...] = field(default_factory=tuple)
    shading: tuple[tuple[float, float, str], ...] = field(default_factory=tuple)

    @property
    def zones(self) -> tuple[str, ...]:
        """Every zone that has demand, a band or a replica."""
        spans = {s.zone for s in self.spans} | {s.zone for _, c in self.compare for s in c}
        return tuple(sorted(set(self.demand) | set(self.bands) | spans))


def history_matrix(
    snapshot: DemandSnapshot, steps: int
) -> tuple[tuple[str, ...], FloatArray, FloatArray]:
    """(nodes, interval ends, accesses per node and interval) for the last ``steps`` intervals.

    NaN before a node's first sample. Raw samples not yet folded into an interval are
    counted where they fall.
    """
    demand = ResourceDemand.from_snapshot(snapshot)
    nodes = tuple(sorted(demand.since))
    last = snapshot.total.last
    newest = max((s.end for spans in snapshot.raw.values() for s in spans), default=None)
    if last is None and newest is None:
        return nodes, np.zeros(0), np.zeros((len(nodes), 0))
    interval = snapshot.interval
    end = (last + 1) * interval if last is not None else 0.0
    if newest is not None:
        end = max(end, np.ceil(newest / interval) * interval)
    steps = max(0, steps)
    ends = end - interval * np.arange(steps - 1, -1, -1, dtype=np.float64)
    return nodes, ends, demand.matrix(nodes, interval, end, steps)


def zone_sums(
    nodes: Sequence[str], values: FloatArray, zones: Mapping[str, str]
) -> dict[str, FloatArray]:
    """Per-node rows summed per zone (NaN where every node of the zone is unknown)."""
    out: dict[str, FloatArray] = {}
    for zone in sorted({zones.get(n, "") for n in nodes}):
        rows = values[[i for i, n in enumerate(nodes) if zones.get(n, "") == zone]]
        known = np.isfinite(rows).any(axis=0)
        out[zone] = np.where(known, np.nansum(rows, axis=0), np.nan)
    return out


def placement_spans(
    decisions: Iterable[DecisionLine],
    replicas: Iterable[ReplicaLine],
    zones: Mapping[str, str],
    start: float,
    now: float,
) -> tuple[PlacementSpan, ...]:
    """Where replicas were between ``start`` and ``now``.

    From the add/remove Events and the replicas that exist now.
    A remove without an add since ``start`` closes a span that began before it; a
    replica that exists now without an add opens at its creation (or ``start``); an
    add that was never removed stays open.
    """
    open_: dict[str, tuple[float, str]] = {}
    spans: list[PlacementSpan] = []
    timed = sorted((d for d in decisions if d.time is not None and d.node), key=_when)
    for d in timed:
        t = _when(d)
        action = (
            "add"
            if d.reason == "ReplicaAdded"
            else "remove"
            if d.reason == "ReplicaRemoved"
            else ""
        )
        reason = _reason_of(d.message)
        if action == "add" and d.node not in open_:
            open_[d.node] = (max(t, start), reason)
        elif action == "remove":
            began, why = open_.pop(d.node, (start, ""))
            if t >= start:
                spans.append(PlacementSpan(d.node, zones.get(d.node, ""), began, t, why))
    for r in replicas:
        if r.node not in open_:
            created = r.created.timestamp() if r.created else start
            open_[r.node] = (max(created, start), r.reason)
    current = {r.node for r in replicas}
    for node, (began, why) in open_.items():
        spans.append(
            PlacementSpan(node, zones.get(node, ""), began, None if node in current else now, why)
        )
    return tuple(sorted(spans, key=lambda s: (s.zone, s.node, s.start)))


def _when(d: DecisionLine) -> float:
    return d.time.timestamp() if d.time is not None else 0.0


def _reason_of(message: str) -> str:
    match = ADD_OR_REMOVE.match(message)
    return match["reason"] if match else ""


def status_band(
    forecast: Mapping[str, object], zones: Mapping[str, str], horizon_s: float
) -> dict[str, Band]:
    """``status.forecast`` as a flat band per zone over ``[generatedAt, + horizon]``.

    The status holds each listed node's forecast averaged over the horizon, so the band
    is flat; the nodes it does not list (not among the busiest) count as none.
    """
    made = parse_time(forecast.get("generatedAt"))
    nodes = forecast.get("nodes")
    if made is None or not isinstance(nodes, list):
        return {}
    sums: dict[str, list[float]] = {}
    for entry in nodes:
        zone = zones.get(str(entry.get("node")), "")
        acc = sums.setdefault(zone, [0.0, 0.0, 0.0])
        for i, key in enumerate(("mean", "lower", "upper")):
            acc[i] += float(entry.get(key, 0.0))
    t0 = made.timestamp()
    times = np.array([t0, t0 + horizon_s])
    return {
        zone: Band(times, np.full(2, m), np.full(2, lo), np.full(2, hi))
        for zone, (m, lo, hi) in sums.items()
    }


#: Seconds within which a ReplicaRemoved Event and a ``status.recentRemovals`` row of
#: the same node are one removal.
SAME_REMOVAL_S = 10.0


def status_removals(
    status: Mapping[str, object], decisions: Iterable[DecisionLine]
) -> tuple[DecisionLine, ...]:
    """``status.recentRemovals`` as removal decisions, for those no Event reported.

    Since session 10 the operator posts no Event for its routine removals (predicted,
    hedge, cost, rebalance); the status keeps the last removal of each node for two
    cooldowns, so the picture closes those copies' spans from it (before, a routine
    removal left no trace: the copy vanished from the picture).
    """
    posted = [
        (d.node, d.time.timestamp())
        for d in decisions
        if d.reason == "ReplicaRemoved" and d.time is not None
    ]
    rows = status.get("recentRemovals")
    found: list[DecisionLine] = []
    for row in rows if isinstance(rows, list) else []:
        if not isinstance(row, Mapping):
            continue
        node, when = row.get("node"), parse_time(row.get("time"))
        if not isinstance(node, str) or when is None:
            continue
        t = when.timestamp()
        if any(n == node and abs(at - t) <= SAME_REMOVAL_S for n, at in posted):
            continue
        found.append(DecisionLine(when, "Normal", "ReplicaRemoved", "", node))
    return tuple(found)


def resource_timeline(
    resource: Mapping[str, object],
    replicas: Sequence[ReplicaLine],
    decisions: Sequence[DecisionLine],
    zones: Mapping[str, str],
    history: DemandSnapshot | None,
    now: dt.datetime,
    window_s: float,
) -> Timeline:
    """The timeline of a resource over the last ``window_s`` seconds, up to ``now``."""
    spec = resource.get("spec")
    status = resource.get("status")
    spec = spec if isinstance(spec, Mapping) else {}
    status = status if isinstance(status, Mapping) else {}
    prediction = spec.get("prediction") or {}
    interval = parse_duration(str(prediction.get("interval") or "1m")).total_seconds()
    horizon = parse_duration(str(prediction.get("horizon") or "15m")).total_seconds()
    t_now = now.timestamp()
    if history is not None:
        steps = max(1, round(window_s / history.interval))
        nodes, times, values = history_matrix(history, steps)
        demand = zone_sums(nodes, values, zones)
        interval = history.interval
    else:
        times, demand = np.zeros(0), {}
    forecast = status.get("forecast")
    bands = status_band(forecast, zones, horizon) if isinstance(forecast, Mapping) else {}
    meta = resource.get("metadata")
    name = str(meta.get("name")) if isinstance(meta, Mapping) else ""
    return Timeline(
        title=f"{name}: demand per zone, the operator's forecast band, and replicas",
        interval_s=interval,
        times=times,
        demand=demand,
        bands=bands,
        spans=placement_spans(
            (*decisions, *status_removals(status, decisions)),
            replicas,
            zones,
            t_now - window_s,
            t_now,
        ),
        now=t_now,
    )
