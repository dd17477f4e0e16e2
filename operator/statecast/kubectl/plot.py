"""The picture of a :class:`~statecast.kubectl.timeline.Timeline` (matplotlib).

Top: demand per zone (accesses per interval) with the forecast band in the zone's
colour. Below: a placement panel per policy, one row per node, a bar where it held a
replica, labelled with the reason it was placed. matplotlib is the ``plot`` extra,
imported only here.

Exceptions::

    Exception
    └── PlotError    matplotlib is missing, or there is nothing to draw
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from statecast.kubectl.timeline import FloatArray, PlacementSpan, Timeline

__all__ = ["Axis", "PlotError", "plot_timeline"]

_COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown")


class PlotError(Exception):
    """No picture could be drawn; the message says why."""


@dataclass(frozen=True)
class Axis:
    """How times (seconds since the epoch) map to the x axis: ``(t - origin) / scale``."""

    origin: float
    scale: float
    label: str


def plot_timeline(timeline: Timeline, path: Path, *, axis: Axis | None = None) -> None:
    """Write ``timeline`` as a PNG at ``path``.

    Args:
        timeline: what to draw.
        path: the PNG to write.
        axis: the time axis (default: minutes before ``timeline.now``).

    Raises:
        PlotError: matplotlib is not installed, or the timeline is empty.
    """
    try:
        import matplotlib as mpl

        mpl.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise PlotError("--plot needs matplotlib: pip install 'statecast[plot]'") from None
    zones = timeline.zones
    if not zones:
        raise PlotError("nothing to plot: no demand, forecast or replica yet")
    axis = axis or Axis(timeline.now, 60.0, "minutes before now")
    colour = {z: _COLOURS[i % len(_COLOURS)] for i, z in enumerate(zones)}

    def x(values: npt.ArrayLike) -> FloatArray:
        return (np.asarray(values, dtype=np.float64) - axis.origin) / axis.scale

    panels = [(timeline.label, timeline.spans), *timeline.compare]
    rows = [_nodes(spans) for _, spans in panels]
    heights = [3.2] + [max(1.0, 0.3 * len(r)) for r in rows]
    fig, axes = plt.subplots(
        len(heights), 1, figsize=(12, 1.2 + sum(heights)), sharex=True,
        gridspec_kw={"height_ratios": heights},
    )  # fmt: skip
    top = axes[0]
    _demand(top, timeline, zones, colour, x)
    title = timeline.title + ("\n" + "\n".join(timeline.notes) if timeline.notes else "")
    top.set_title(title, fontsize=9, loc="left")
    right = float(x([timeline.now])[0])
    for ax, (label, spans), nodes in zip(axes[1:], panels, rows, strict=True):
        _placement(ax, spans, nodes, colour, x, right, label)
    for start, _, _ in timeline.shading[1:]:  # where the busy zone changes, in every panel
        for ax in axes:
            ax.axvline(float(x([start])[0]), color="grey", lw=0.5, alpha=0.6)
    for when, label in timeline.marks:
        for ax in axes:
            ax.axvline(float(x([when])[0]), color="black", lw=0.8, ls=":")
        top.annotate(label, (float(x([when])[0]), 1.0), xycoords=("data", "axes fraction"),
                     fontsize=7, ha="left", va="top", rotation=0)  # fmt: skip
    axes[-1].set_xlabel(axis.label)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _demand(ax: Any, timeline: Timeline, zones: tuple[str, ...], colour: dict[str, str],
            x: Any) -> None:  # fmt: skip
    for zone in zones:
        demand = timeline.demand.get(zone)
        if demand is not None and len(timeline.times):
            ax.step(x(timeline.times), demand, where="pre", color=colour[zone], lw=1.4,
                    label=f"{zone or 'no zone'} demand")  # fmt: skip
        band = timeline.bands.get(zone)
        if band is not None and len(band.times):
            ax.fill_between(x(band.times), band.lower, band.upper, step="post",
                            color=colour[zone], alpha=0.12, lw=0)  # fmt: skip
            ax.step(x(band.times), band.mean, where="post", color=colour[zone], lw=1.0,
                    ls="--", label=f"{zone or 'no zone'} forecast (mean, band)")  # fmt: skip
    ax.set_ylabel(f"accesses per {timeline.interval_s:g} s")
    peak = max((float(np.nanmax(d)) for d in timeline.demand.values() if np.isfinite(d).any()),
               default=0.0)  # fmt: skip
    means = [float(np.nanmax(b.mean)) for b in timeline.bands.values() if np.isfinite(b.mean).any()]
    top = max(peak, *means, 1.0) if means else max(peak, 1.0)
    # A young forecast's band can be far wider than the demand: it is cut at the top.
    ax.set_ylim(0, 1.5 * top)
    ax.legend(loc="upper right", fontsize=7, ncol=max(1, len(zones)))
    ax.grid(alpha=0.3)


def _nodes(spans: tuple[PlacementSpan, ...]) -> list[str]:
    zone_of = {s.node: s.zone for s in spans}
    return sorted(zone_of, key=lambda n: (zone_of[n], n))


def _placement(
    ax: Any,
    spans: tuple[PlacementSpan, ...],
    nodes: list[str],
    colour: dict[str, str],
    x: Any,
    right: float,
    label: str,
) -> None:
    labelled: set[tuple[str, str]] = set()
    for row, node in enumerate(nodes):
        for span in (s for s in spans if s.node == node):
            start = float(x([span.start])[0])
            end = right if span.end is None else float(x([span.end])[0])
            ax.barh(row, end - start, left=start, height=0.6, color=colour.get(span.zone, "grey"),
                    alpha=0.8)  # fmt: skip
            if span.reason and (node, span.reason) not in labelled:
                labelled.add((node, span.reason))
                ax.text(start, row, f" {span.reason}", va="center", fontsize=6)
    zone_of = {s.node: s.zone for s in spans}
    ax.set_yticks(range(len(nodes)), [f"{n} ({zone_of[n]})" for n in nodes], fontsize=7)
    ax.set_ylim(-0.6, max(len(nodes), 1) - 0.4)
    ax.invert_yaxis()
    ax.set_ylabel(label, fontsize=8)
    ax.grid(axis="x", alpha=0.3)
