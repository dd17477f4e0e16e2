"""Demand per resource and node from the agents' cumulative access counters.

Each agent reports, since it started, how many accesses the pods of its node made to
each resource, served locally or by a remote replica (``/v1/stats``). The operator
samples those counters; :func:`step` turns two samples of one agent into the accesses
made in between (a restarted agent starts again from zero: its new counts are the
step), and :class:`DemandHistory` keeps a bounded series per resource and node, from
which :meth:`DemandHistory.local_hit_ratio` answers the share of accesses served
locally over a recent window.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

__all__ = ["AgentSample", "DemandHistory", "DemandStep", "step"]

#: (namespace, resource)
Ref = tuple[str, str]


@dataclass(frozen=True)
class AgentSample:
    """One reading of an agent's counters.

    Attributes:
        node: The agent's node.
        started_at: When the agent's counters started (a new value: it restarted).
        time: When the sample was taken (seconds since the epoch).
        counts: (namespace, resource, served) -> cumulative accesses, every operation.
        writes: (namespace, resource) -> cumulative writes (put, delete, increment).
    """

    node: str
    started_at: float
    time: float
    counts: Mapping[tuple[str, str, str], int]
    writes: Mapping[tuple[str, str], int] = field(default_factory=dict)


@dataclass(frozen=True)
class DemandStep:
    """Accesses one node made to one resource between two samples."""

    node: str
    start: float
    end: float
    local: int
    remote: int
    writes: int = 0

    @property
    def total(self) -> int:
        """Every access, wherever it was served."""
        return self.local + self.remote


def step(previous: AgentSample | None, current: AgentSample) -> dict[Ref, DemandStep]:
    """The accesses made between ``previous`` and ``current`` of one agent, per resource.

    With no previous sample (the operator just started, or the agent is new), and if the
    agent restarted in between (``started_at`` changed, or a counter went down), the
    step is everything the agent counted since it started.
    """
    restarted = (
        previous is None
        or previous.started_at != current.started_at
        or any(n < previous.counts.get(key, 0) for key, n in current.counts.items())
    )
    start = current.started_at if restarted or previous is None else previous.time
    base: Mapping[tuple[str, str, str], int] = (
        {} if restarted or previous is None else previous.counts
    )
    found: dict[Ref, list[int]] = {}
    for (namespace, resource, served), n in current.counts.items():
        made = n - base.get((namespace, resource, served), 0)
        local_remote = found.setdefault((namespace, resource), [0, 0])
        local_remote[0 if served == "local" else 1] += made
    old_writes: Mapping[tuple[str, str], int] = (
        {} if restarted or previous is None else previous.writes
    )
    return {
        ref: DemandStep(
            current.node,
            start,
            current.time,
            local,
            remote,
            current.writes.get(ref, 0) - old_writes.get(ref, 0),
        )
        for ref, (local, remote) in found.items()
    }


class DemandHistory:
    """Recent demand steps per resource and node, bounded per series.

    Args:
        limit: Steps kept per (resource, node).
    """

    def __init__(self, limit: int = 1440) -> None:
        self.limit = limit
        self._series: dict[Ref, dict[str, deque[DemandStep]]] = {}
        self._pods: dict[Ref, deque[tuple[float, dict[str, int]]]] = {}

    def add(self, steps: Mapping[Ref, DemandStep]) -> None:
        """Record one agent's steps."""
        for ref, demand in steps.items():
            nodes = self._series.setdefault(ref, {})
            series = nodes.get(demand.node)
            if series is None:
                series = nodes[demand.node] = deque(maxlen=self.limit)
            series.append(demand)

    def series(self, ref: Ref) -> Mapping[str, Iterable[DemandStep]]:
        """Node -> steps, oldest first."""
        return self._series.get(ref, {})

    def add_pods(self, ref: Ref, time: float, pods: Mapping[str, int]) -> None:
        """Record that from ``time`` on ``ref`` has ``pods`` consumer pods per node.

        Only changes are kept (at most ``limit`` per resource); nothing is kept for a
        resource that never had a pod, and an observation older than the last is ignored.
        """
        counts = {node: n for node, n in pods.items() if n > 0}
        changes = self._pods.get(ref)
        if changes is None:
            if not counts:
                return
            changes = self._pods[ref] = deque(maxlen=self.limit)
        elif changes[-1][1] == counts or time < changes[-1][0]:
            return
        changes.append((time, counts))

    def pod_matrix(
        self, ref: Ref, nodes: Sequence[str], interval: float, end: float, steps: int
    ) -> npt.NDArray[np.float64]:
        """Consumer pods per node, averaged over each of the ``steps`` intervals before ``end``.

        Shape ``(len(nodes), steps)``, oldest first, like :meth:`matrix`: a pod present
        for half an interval counts 0.5 there. A count holds until the next change; before
        the first one recorded there were no pods.
        """
        changes = self._pods.get(ref)
        out = np.zeros((len(nodes), steps))
        if not changes:
            return out
        times = np.array([t for t, _ in changes])
        edges = end - interval * np.arange(steps, -1, -1, dtype=np.float64)
        # Pod-seconds up to each change, then up to each edge, by linear interpolation.
        last = max(float(edges[-1]), float(times[-1])) + interval
        knots = np.append(times, last)
        seen = {node for _, c in changes for node in c}  # only nodes that ever ran pods
        for row, node in enumerate(nodes):
            if node not in seen:
                continue
            counts = np.array([c.get(node, 0) for _, c in changes], dtype=np.float64)
            cumulative = np.concatenate(([0.0], np.cumsum(counts * np.diff(knots))))
            out[row] = np.diff(np.interp(edges, knots, cumulative, left=0.0)) / interval
        return out

    def drop(self, ref: Ref) -> None:
        """Drop one resource's series."""
        self._series.pop(ref, None)
        self._pods.pop(ref, None)

    def forget(self, keep: Iterable[Ref]) -> None:
        """Drop the series of resources not in ``keep``."""
        kept = set(keep)
        for ref in [r for r in self._series if r not in kept]:
            del self._series[ref]
        for ref in [r for r in self._pods if r not in kept]:
            del self._pods[ref]

    def matrix(
        self, ref: Ref, nodes: Sequence[str], interval: float, end: float, steps: int
    ) -> npt.NDArray[np.float64]:
        """Accesses per node and per ``interval``, for the ``steps`` intervals before ``end``.

        Shape ``(len(nodes), steps)``, oldest first. A sample's accesses are spread evenly
        over the time it covers, so samples that straddle a boundary count on both sides.
        Intervals before a node's first sample are NaN (unknown, not zero).
        """
        out = np.full((len(nodes), steps), np.nan)
        begin = end - steps * interval
        series = self._series.get(ref, {})
        for row, node in enumerate(nodes):
            known = series.get(node)
            if not known:
                continue
            first = min(d.start for d in known)
            covered = np.arange(steps) * interval + begin + interval > first
            out[row, covered] = 0.0
            for demand in known:
                span = max(demand.end - demand.start, 1e-9)
                lo, hi = max(demand.start, begin), min(demand.end, end)
                if hi <= lo:
                    continue
                first_bin = int((lo - begin) // interval)
                last_bin = min(int((hi - begin - 1e-9) // interval), steps - 1)
                for b in range(first_bin, last_bin + 1):
                    b_lo, b_hi = begin + b * interval, begin + (b + 1) * interval
                    overlap = min(hi, b_hi) - max(lo, b_lo)
                    if overlap > 0:
                        out[row, b] = np.nan_to_num(out[row, b]) + demand.total * overlap / span
        return out

    def writes_per_minute(self, ref: Ref, since: float, now: float) -> float:
        """Writes to ``ref`` per minute, from every node, between ``since`` and ``now``."""
        writes = sum(
            d.writes
            for series in self._series.get(ref, {}).values()
            for d in series
            if d.end > since
        )
        return 60.0 * writes / max(now - since, 1.0)

    def local_hit_ratio(self, ref: Ref, since: float) -> float | None:
        """Share of the accesses to ``ref`` served locally in steps ending after ``since``.

        None when there were no accesses in that window.
        """
        local = total = 0
        for series in self._series.get(ref, {}).values():
            for demand in series:
                if demand.end > since:
                    local += demand.local
                    total += demand.total
        return local / total if total else None
