"""The recording as a :class:`~statecast.kubectl.timeline.Timeline` (pure), and its PNG.

Times stay seconds from the start; the picture's axis is in days. The demand panel
shows the reads per zone each second with the operator's forecast band for the
predictive resource, the busy zone shaded; a placement panel each for the predictive
and the static resource; a dotted line where the forecast learned the day.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from statecast.demo.live import learned_at, zone_forecast, zone_reads
from statecast.demo.recording import Recording
from statecast.kubectl.plot import Axis, plot_timeline
from statecast.kubectl.timeline import Band, PlacementSpan, Timeline

__all__ = ["draw", "placement_spans", "timeline"]


def placement_spans(recording: Recording, resource: str, end: float) -> tuple[PlacementSpan, ...]:
    """Where ``resource`` held copies (any phase but Lost), from tick to tick."""
    spans: list[PlacementSpan] = []
    open_: dict[str, tuple[float, str]] = {}
    for tick in (t for t in recording.ticks if t.time <= end):
        held = {c.node: c.reason for c in tick.copies.get(resource, ()) if c.phase != "Lost"}
        for node in [n for n in open_ if n not in held]:
            start, reason = open_.pop(node)
            spans.append(
                PlacementSpan(node, recording.zones.get(node, ""), start, tick.time, reason)
            )
        for node, reason in held.items():
            open_.setdefault(node, (tick.time, reason))
    for node, (start, reason) in open_.items():
        spans.append(PlacementSpan(node, recording.zones.get(node, ""), start, end, reason))
    return tuple(sorted(spans, key=lambda s: (s.zone, s.node, s.start)))


def _bands(recording: Recording, end: float) -> dict[str, Band]:
    ticks = [t for t in recording.ticks if t.time <= end]
    times = np.array([t.time for t in ticks], dtype=np.float64)
    out: dict[str, Band] = {}
    for zone in recording.schedule.zones:
        rows = []
        for tick in ticks:
            known = any(tick.forecast.values())
            rows.append(zone_forecast(recording, tick)[zone] if known else (math.nan,) * 3)
        values = np.array(rows, dtype=np.float64).reshape(-1, 3)
        out[zone] = Band(times, values[:, 0], values[:, 1], values[:, 2])
    return out


def timeline(
    recording: Recording, end: float, notes: Sequence[str] = (), start: float = 0.0
) -> Timeline:
    """The picture's content, from ``start`` to ``end`` seconds."""
    seconds = min(recording.seconds(), int(end))
    first = max(0, int(start))
    times = np.arange(first + 1, seconds + 1, dtype=np.float64)
    per_second = [zone_reads(recording, s) for s in range(first, seconds)]
    demand = {
        zone: np.array([row[zone] for row in per_second], dtype=np.float64)
        for zone in recording.schedule.zones
    }
    by_policy = {p: r for r, p in recording.resources.items()}
    predictive, static = by_policy.get("predictive", ""), by_policy.get("static", "")
    changes = [c for c in recording.schedule.changes(end) if c.time > start]
    edges = [start, *(c.time for c in changes), end]
    zones = [recording.schedule.busy(start), *(c.zone for c in changes)]
    learned = learned_at(recording)
    return Timeline(
        title=(
            f"statecast demo: follow-the-sun demand over compressed days (1 day = "
            f"{recording.schedule.day_s:g} s) on the built-in cluster, the operator's forecast "
            "band, and where each policy held copies"
        ),
        interval_s=1.0,
        times=times,
        demand=demand,
        bands=_clip(_bands(recording, end), start),
        spans=_after(placement_spans(recording, predictive, end), start),
        now=end,
        notes=tuple(notes),
        label=f"predictive\n{predictive}",
        compare=((f"static\n{static}", _after(placement_spans(recording, static, end), start)),),
        marks=((learned, " forecast learned the day"),)
        if learned is not None and learned >= start
        else (),
        shading=tuple(zip(edges[:-1], edges[1:], zones, strict=True)),
    )


def _clip(bands: dict[str, Band], start: float) -> dict[str, Band]:
    out = {}
    for zone, band in bands.items():
        keep = band.times >= start
        out[zone] = Band(band.times[keep], band.mean[keep], band.lower[keep], band.upper[keep])
    return out


def _after(spans: tuple[PlacementSpan, ...], start: float) -> tuple[PlacementSpan, ...]:
    """The spans cut at ``start``."""
    return tuple(
        PlacementSpan(s.node, s.zone, max(s.start, start), s.end, s.reason)
        for s in spans
        if s.end is None or s.end > start
    )


def draw(
    recording: Recording, end: float, path: Path, notes: Sequence[str] = (), start: float = 0.0
) -> None:
    """Write the picture of ``[start, end]`` seconds to ``path``."""
    axis = Axis(0.0, recording.schedule.day_s, "compressed day")
    plot_timeline(timeline(recording, end, notes, start), path, axis=axis)
