"""The picture of a :class:`~statecast.kubectl.timeline.Timeline` (matplotlib).

Top: demand per zone (accesses per interval) with the forecast band in the zone's
colour. Bottom: one row per node, a bar where it held a replica, labelled with the
reason it was placed. matplotlib is the ``plot`` extra, imported only here.

Exceptions::

    Exception
    └── PlotError    matplotlib is missing, or there is nothing to draw
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

from statecast.kubectl.timeline import FloatArray, Timeline

__all__ = ["PlotError", "plot_timeline"]

_COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown")


class PlotError(Exception):
    """No picture could be drawn; the message says why."""


def plot_timeline(timeline: Timeline, path: Path, *, relative: bool = True) -> None:
    """Write ``timeline`` as a PNG at ``path``.

    Args:
        timeline: what to draw.
        path: the PNG to write.
        relative: label the time axis in minutes before ``timeline.now`` (otherwise in
            seconds since the first point).

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
    colour = {z: _COLOURS[i % len(_COLOURS)] for i, z in enumerate(zones)}
    origin = timeline.now if relative else _first(timeline)
    scale = 60.0 if relative else 1.0

    def x(values: npt.ArrayLike) -> FloatArray:
        return (np.asarray(values, dtype=np.float64) - origin) / scale

    nodes = sorted({s.node for s in timeline.spans}, key=lambda n: (_zone_of(timeline, n), n))
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(12, 4.5 + 0.35 * max(len(nodes), 3)), sharex=True,
        gridspec_kw={"height_ratios": [3, max(1.2, 0.35 * len(nodes))]},
    )  # fmt: skip
    for zone in zones:
        demand = timeline.demand.get(zone)
        if demand is not None and len(timeline.times):
            top.step(x(timeline.times), demand, where="pre", color=colour[zone], lw=1.6,
                     label=f"{zone or 'no zone'} demand")  # fmt: skip
        band = timeline.bands.get(zone)
        if band is not None and len(band.times):
            top.fill_between(x(band.times), band.lower, band.upper, step="post",
                             color=colour[zone], alpha=0.18)  # fmt: skip
            top.step(x(band.times), band.mean, where="post", color=colour[zone], lw=1.0,
                     ls="--", label=f"{zone or 'no zone'} forecast (band)")  # fmt: skip
    top.set_ylabel(f"accesses per {timeline.interval_s:g}s")
    top.set_ylim(bottom=0)
    top.legend(loc="upper left", fontsize=8, ncol=max(1, len(zones)))
    top.grid(alpha=0.3)
    title = timeline.title + ("\n" + "\n".join(timeline.notes) if timeline.notes else "")
    top.set_title(title, fontsize=10)
    right = x(np.array([timeline.now]))[0]
    for row, node in enumerate(nodes):
        for span in (s for s in timeline.spans if s.node == node):
            start = x(np.array([span.start]))[0]
            end = right if span.end is None else x(np.array([span.end]))[0]
            bottom.barh(
                row, end - start, left=start, height=0.6, color=colour[span.zone], alpha=0.8
            )
            if span.reason:
                bottom.text(start, row, f" {span.reason}", va="center", fontsize=7)
    bottom.set_yticks(
        range(len(nodes)), [f"{n} ({_zone_of(timeline, n)})" for n in nodes], fontsize=8
    )
    bottom.set_ylim(-0.6, max(len(nodes), 1) - 0.4)
    bottom.invert_yaxis()
    bottom.set_xlabel("minutes before now" if relative else "seconds")
    bottom.set_ylabel("replicas")
    bottom.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _zone_of(timeline: Timeline, node: str) -> str:
    return next((s.zone for s in timeline.spans if s.node == node), "")


def _first(timeline: Timeline) -> float:
    candidates = [float(timeline.times[0])] if len(timeline.times) else []
    candidates += [s.start for s in timeline.spans]
    candidates += [float(b.times[0]) for b in timeline.bands.values() if len(b.times)]
    return min(candidates, default=timeline.now)
