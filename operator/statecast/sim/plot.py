"""The pictures: demand, forecast band and placement over time; frontiers per family.

matplotlib is in the ``bench`` extra and is imported only when a plot is asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from statecast.sim.errors import SimError
from statecast.sim.frontier import Point, bytes_ratios, frontier
from statecast.sim.replay import PolicyResult
from statecast.sim.trace import Trace

FloatArray = npt.NDArray[np.float64]


def plot(
    trace: Trace,
    results: Sequence[PolicyResult],
    path: Path,
    *,
    band: FloatArray | None = None,
    start: int = 0,
) -> None:
    """Draw demand and forecast band, the placement of each policy, and replica counts.

    Args:
        trace: the replayed trace.
        results: one result per policy (their timelines share the focus resource).
        path: PNG to write.
        band: the predictive policy's one-step-ahead (mean, lower, upper) per node and
            step, shape (3, nodes, steps), or None.
        start: first step drawn (the warm-up is usually left out).

    Raises:
        SimError: when matplotlib is not installed.
    """
    try:
        import matplotlib as mpl

        mpl.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise SimError("--plot needs matplotlib: pip install 'statecast[bench]'") from None
    if not results:
        raise SimError("nothing to plot")
    focus = results[0].timeline.focus
    demand = trace.demand[focus][:, start:]
    hours = (np.arange(start, trace.steps) * trace.step_s) / 3600.0
    shown = [
        r for r in results if r.policy in ("reactive", "predictive", "perfect-forecast")
    ] or list(results)
    fig, axes = plt.subplots(
        2 + len(shown), 1, figsize=(12, 3.0 + 2.2 * (1 + len(shown))), sharex=True
    )
    top = axes[0]
    busiest = np.argsort(-demand.sum(axis=1))[:3]
    colors = ["tab:blue", "tab:orange", "tab:green"]
    for color, i in zip(colors, busiest, strict=False):
        top.plot(
            hours, demand[i], color=color, lw=0.8, label=f"{trace.nodes[i]} ({trace.zones[i]})"
        )
        if band is not None:
            mean, lower, upper = (b[i, start:] for b in band)
            top.fill_between(hours, lower, upper, color=color, alpha=0.2, lw=0)
            top.plot(hours, mean, color=color, lw=0.8, ls="--")
    top.set_ylabel("accesses / step")
    top.set_title(
        f"{trace.name}: demand of {trace.resources[focus]} on its busiest nodes"
        + (" with the forecast (dashed) and its interval (band)" if band is not None else "")
    )
    top.legend(loc="upper right", fontsize=8)
    order = np.argsort([f"{z}/{n}" for z, n in zip(trace.zones, trace.nodes, strict=True)])
    share = demand[order] / np.maximum(demand.max(axis=1, keepdims=True)[order], 1.0)
    extent = (float(hours[0]), float(hours[-1]), len(order) - 0.5, -0.5)
    for ax, result in zip(axes[1:], shown, strict=False):
        ax.imshow(share, aspect="auto", cmap="Greys", extent=extent, interpolation="nearest")
        placed = result.timeline.placement[order][:, start:]
        rows, cols = np.nonzero(placed)
        ax.scatter(hours[cols], rows, s=1.5, c="tab:red", marker="s", lw=0)
        ax.set_yticks(
            range(len(order)), [f"{trace.nodes[i]} {trace.zones[i]}" for i in order], fontsize=6
        )
        ax.set_ylabel(result.policy)
        ax.set_title(
            f"{result.policy}: replicas (red) over demand (grey, per node);"
            f" local hit {result.local_hit_ratio:.2f}",
            fontsize=9,
        )
    last = axes[-1]
    for result in results:
        last.plot(hours, result.timeline.replicas[start:], lw=0.9, label=result.policy)
    last.set_ylabel("replicas (all resources)")
    last.set_xlabel("hours")
    last.legend(loc="upper right", fontsize=8, ncol=len(results))
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


#: Colours of the families on frontier plots.
FAMILY_COLOURS = {
    "predictive": "tab:red",
    "reactive": "tab:blue",
    "follow-the-workload": "tab:green",
    "groupcache": "tab:purple",
    "static": "tab:gray",
    "full": "black",
    "perfect-forecast": "tab:orange",
}


def plot_frontiers(
    title: str,
    points: Sequence[Point],
    path: Path,
    *,
    hit_bound: Sequence[tuple[float, float]] = (),
    latency_bound: Sequence[tuple[float, float]] = (),
    margins: tuple[float, float] | None = None,
) -> None:
    """Local hits, mean latency and bytes moved against replica-hours, one line per family.

    Markers are runs; lines the frontiers (:mod:`statecast.sim.frontier`); dashed grey
    the bounds at every budget (``(replica-hours, value)`` pairs). With ``margins`` (local
    hits absolute, latency relative), a fourth panel: the bytes verdict, each rival run's
    ratio of predictive's fewest bytes at its service within the margins to its own
    (:func:`~statecast.sim.frontier.bytes_ratios`; above 1 a loss, a cross at the top
    where no mix of ours serves the run).

    Raises:
        SimError: when matplotlib is not installed.
    """
    try:
        import matplotlib as mpl

        mpl.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise SimError("plots need matplotlib: pip install 'statecast[bench]'") from None
    panels = 3 if margins is None else 4
    fig, axes = plt.subplots(1, panels, figsize=(5.4 * panels, 4.6))
    families = sorted({p.family for p in points}, key=lambda f: list(FAMILY_COLOURS).index(f))
    for family in families:
        runs = [p for p in points if p.family == family]
        colour = FAMILY_COLOURS.get(family, "tab:brown")
        for ax, metric in zip(axes[:2], ("local_hit_ratio", "mean_latency_ms"), strict=True):
            ax.scatter(
                [p.replica_hours for p in runs],
                [getattr(p, metric) for p in runs],
                s=10,
                color=colour,
                alpha=0.5,
            )
            line = frontier(runs, metric)
            ax.plot(line.hours, line.values, color=colour, lw=1.4, label=family)
        line = frontier(runs, "mean_latency_ms")
        axes[2].plot(line.hours, line.bytes_moved / 2**30, color=colour, lw=1.4, marker=".")
    for ax, bound in zip(axes[:2], (hit_bound, latency_bound), strict=True):
        if bound:
            ax.plot(*zip(*bound, strict=True), color="grey", ls="--", lw=1, label="bound")
    axes[0].set_ylabel("local-hit ratio")
    axes[1].set_ylabel("mean latency (ms)")
    axes[1].set_yscale("log")
    axes[2].set_ylabel("GiB moved (runs on the latency frontier)")
    for ax in axes:
        ax.set_xlabel("replica-hours")
        ax.set_xscale("log")
        ax.grid(alpha=0.3, which="both")
    if margins is not None:
        _bytes_verdict(axes[3], points, margins)
    axes[0].legend(fontsize=7, loc="lower right")
    fig.suptitle(f"{title}: frontiers (hull of each family's sweep) and bounds", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _bytes_verdict(ax: Any, points: Sequence[Point], margins: tuple[float, float]) -> None:
    """Each rival run's bytes ratio (ours over its, at its service within the margins)."""
    ours = [p for p in points if p.family == "predictive"]
    top = 1.0
    served: dict[str, list[tuple[float, float]]] = {}
    unserved: dict[str, list[float]] = {}
    for family in FAMILY_COLOURS:
        theirs = [p for p in points if p.family == family]
        if family in ("predictive", "full", "perfect-forecast") or not theirs or not ours:
            continue
        for run, ratio in bytes_ratios(ours, theirs, *margins):
            if ratio is None:
                unserved.setdefault(family, []).append(run.replica_hours)
            else:
                served.setdefault(family, []).append((run.replica_hours, ratio))
                top = max(top, ratio)
    for family, pairs in served.items():
        hours, ratios = zip(*pairs, strict=True)
        ax.scatter(hours, ratios, s=12, color=FAMILY_COLOURS[family], alpha=0.7, label=family)
    for family, hours_lost in unserved.items():
        ax.scatter(hours_lost, [top * 1.5] * len(hours_lost), marker="x", s=18,
                   color=FAMILY_COLOURS[family])  # fmt: skip
    ax.axhline(1.0, color="black", lw=0.8)
    ax.set_yscale("log")
    ax.set_ylabel("ours / theirs, bytes at each rival run's service")
    ax.set_title("bytes verdict: above 1 we move more; x: not served", fontsize=8)
    ax.legend(fontsize=7, loc="upper right")
