"""Demand per resource and node from the agents' cumulative access counters.

Each agent reports, since it started, how many accesses the pods of its node made to
each resource, served locally or by a remote replica (``/v1/stats``). The operator
samples those counters; :func:`step` turns two samples of one agent into the accesses
made in between (a restarted agent starts again from zero: its new counts are the
step), and :class:`DemandHistory` keeps them per resource and node, summed per
interval over days (:mod:`statecast.core.demand_series`), from which
:meth:`DemandHistory.local_hit_ratio` answers the share of accesses served locally over
a recent window and :meth:`DemandHistory.matrix` the demand per interval.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from statecast.api.types import Ref
from statecast.core.demand_series import Cursor, DemandSnapshot, ResourceDemand, Span

__all__ = ["AgentSample", "DemandHistory", "DemandStep", "step"]


@dataclass(frozen=True)
class AgentSample:
    """One reading of an agent's counters.

    Attributes:
        node: The agent's node.
        started_at: When the agent's counters started (a new value: it restarted).
        time: When the sample was taken (seconds since the epoch).
        counts: (namespace, resource, served) -> cumulative accesses, every operation.
        writes: (namespace, resource) -> cumulative writes (put, delete, increment).
        rtts: peer node -> the agent's smoothed round-trip time to it, in seconds
            (the peers it has measured).
    """

    node: str
    started_at: float
    time: float
    counts: Mapping[tuple[str, str, str], int]
    writes: Mapping[tuple[str, str], int] = field(default_factory=dict)
    rtts: Mapping[str, float] = field(default_factory=dict)


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
    """Demand per resource and node, aggregated per interval, days long.

    Each resource's demand lives in a :class:`~statecast.core.demand_series.ResourceDemand`:
    numpy rings of per-interval sums (a day at the resource's interval, at most
    :data:`~statecast.core.demand_series.MAX_STEPS` intervals, and hourly sums for
    weeks), samples kept raw only
    until their interval closes. A resource is binned at ``interval`` seconds until
    :meth:`set_interval` says otherwise.

    Args:
        interval: seconds per interval for resources not configured yet.
    """

    def __init__(self, interval: float = 60.0) -> None:
        self.interval = interval
        self._resources: dict[Ref, ResourceDemand] = {}

    def _demand(self, ref: Ref) -> ResourceDemand:
        demand = self._resources.get(ref)
        if demand is None:
            demand = self._resources[ref] = ResourceDemand(self.interval)
        return demand

    def refs(self) -> list[Ref]:
        """The resources something is held for."""
        return list(self._resources)

    def set_interval(self, ref: Ref, interval: float, window: int | None = None) -> None:
        """Aggregate ``ref`` per ``interval`` seconds (what is held is spread onto it).

        ``window``: the intervals its forecast reads
        (:func:`~statecast.core.demand_series.history_steps`): the coarse ring holds
        that far back (:meth:`~statecast.core.demand_series.ResourceDemand.hold_for`).
        """
        demand = self._demand(ref)
        if abs(demand.interval - interval) > 1e-9:
            demand = self._resources[ref] = demand.resampled(interval)
        if window is not None:
            demand.hold_for(window)

    def interval_of(self, ref: Ref) -> float:
        """Seconds per interval of ``ref``'s history."""
        demand = self._resources.get(ref)
        return self.interval if demand is None else demand.interval

    def add(self, steps: Mapping[Ref, DemandStep]) -> None:
        """Record one agent's steps."""
        for ref, demand in steps.items():
            self._demand(ref).add(
                demand.node,
                Span(demand.start, demand.end, demand.local, demand.remote, demand.writes),
            )

    def add_sample(self, previous: AgentSample | None, current: AgentSample) -> None:
        """Record the accesses of one agent since its previous sample.

        Per resource, the step starts from the counters last recorded for that resource
        and node when the agent has not restarted since (so a history restored after an
        operator restart continues exactly), else from :func:`step`'s answer.
        """
        for ref, demand_step in step(previous, current).items():
            self.add_step(ref, demand_step, current)

    def add_step(self, ref: Ref, demand_step: DemandStep, current: AgentSample) -> None:
        """Record one resource's part of an agent's sample (see :meth:`add_sample`).

        Touches only ``ref``'s history: callers may record different resources at once.
        """
        demand = self._demand(ref)
        now = _cursor(current, ref)
        was = demand.cursors.get(current.node)
        if (
            was is not None
            and was.started_at == now.started_at
            and was.time <= now.time
            and min(now.local - was.local, now.remote - was.remote, now.writes - was.writes) >= 0
        ):
            demand_step = DemandStep(
                current.node, was.time, now.time,
                now.local - was.local, now.remote - was.remote, now.writes - was.writes,
            )  # fmt: skip
        demand.cursors[current.node] = now
        self.add({ref: demand_step})

    def add_pods(self, ref: Ref, time: float, pods: Mapping[str, int]) -> None:
        """Record that from ``time`` on ``ref`` has ``pods`` consumer pods per node.

        Only changes are kept; nothing is kept for a resource that never had a pod, and
        an observation older than the last is ignored.
        """
        if ref in self._resources or any(n > 0 for n in pods.values()):
            self._demand(ref).add_pods(time, pods)

    def pod_matrix(
        self, ref: Ref, nodes: Sequence[str], interval: float, end: float, steps: int
    ) -> npt.NDArray[np.float64]:
        """Consumer pods per node, averaged over each of the ``steps`` intervals before ``end``.

        Shape ``(len(nodes), steps)``, oldest first, like :meth:`matrix`: a pod present
        for half an interval counts 0.5 there. A count holds until the next change; before
        the first one recorded there were no pods.
        """
        demand = self._resources.get(ref)
        if demand is None:
            return np.zeros((len(nodes), steps))
        return demand.pod_matrix(nodes, interval, end, steps)

    def nodes_of(self, ref: Ref) -> frozenset[str]:
        """The nodes ``ref`` has demand or consumer pods on in its history."""
        demand = self._resources.get(ref)
        return frozenset() if demand is None else demand.nodes()

    def first_known(self, ref: Ref) -> float | None:
        """Start of the oldest interval ``ref``'s history knows (see :meth:`matrix`)."""
        demand = self._resources.get(ref)
        return None if demand is None else demand.first_known()

    def fine_from(self, ref: Ref) -> float | None:
        """Start of the oldest interval ``ref``'s history holds at its own interval.

        See :meth:`~statecast.core.demand_series.ResourceDemand.fine_from`.
        """
        demand = self._resources.get(ref)
        return None if demand is None else demand.fine_from()

    def drop(self, ref: Ref) -> None:
        """Drop one resource's history."""
        self._resources.pop(ref, None)

    def forget(self, keep: Iterable[Ref]) -> None:
        """Drop the history of resources not in ``keep``."""
        kept = set(keep)
        for ref in [r for r in self._resources if r not in kept]:
            del self._resources[ref]

    def matrix(
        self, ref: Ref, nodes: Sequence[str], interval: float, end: float, steps: int
    ) -> npt.NDArray[np.float64]:
        """Accesses per node and per ``interval``, for the ``steps`` intervals before ``end``.

        Shape ``(len(nodes), steps)``, oldest first. A sample's accesses are spread evenly
        over the time it covers, so samples that straddle a boundary count on both sides.
        Intervals before a node's first sample, and older than the history holds, are NaN
        (unknown, not zero). Asked at the resource's own interval, on its boundaries, the
        answer is the stored sums themselves; otherwise they are spread onto the grid asked.
        """
        demand = self._resources.get(ref)
        if demand is None:
            return np.full((len(nodes), steps), np.nan)
        return demand.matrix(nodes, interval, end, steps)

    def rates(self, window: float, end: float) -> dict[Ref, dict[str, float]]:
        """Accesses per second of each resource's nodes over the ``window`` before ``end``.

        Only resources whose history began ``window`` before ``end`` or earlier answer;
        a node first sampled within the window counts as idle before then.
        """
        out: dict[Ref, dict[str, float]] = {}
        for ref in self.refs():
            rates = self.rates_of(ref, window, end)
            if rates is not None:
                out[ref] = rates
        return out

    def rates_of(self, ref: Ref, window: float, end: float) -> dict[str, float] | None:
        """One resource's part of :meth:`rates` (None: its history began too late)."""
        demand = self._resources.get(ref)
        if demand is None or not demand.since or min(demand.since.values()) > end - window:
            return None
        nodes = sorted(demand.since)
        sums = demand.matrix(nodes, window, end, 1)[:, 0]
        return {
            node: float(total) / window
            for node, total in zip(nodes, sums, strict=True)
            if not np.isnan(total)
        }

    def writes_per_minute(self, ref: Ref, since: float, now: float) -> float:
        """Writes to ``ref`` per minute, from every node, between ``since`` and ``now``.

        Whole intervals count: the window starts at the interval holding ``since``.
        """
        demand = self._resources.get(ref)
        writes = 0.0 if demand is None else demand.recent(since)[2]
        return 60.0 * writes / max(now - since, 1.0)

    def local_hit_ratio(self, ref: Ref, since: float) -> float | None:
        """Share of the accesses to ``ref`` served locally after ``since``.

        Samples not yet folded count when they end after ``since``; folded intervals when
        they end after it. Windows up to an hour (:data:`RECENT_S`) are answered. None when
        there were no accesses in that window.
        """
        demand = self._resources.get(ref)
        if demand is None:
            return None
        local, total, _ = demand.recent(since)
        return local / total if total > 0 else None

    def snapshot(self, ref: Ref, keep: int | None = None) -> DemandSnapshot | None:
        """What is held for ``ref`` (the newest ``keep`` intervals of it); None: nothing."""
        demand = self._resources.get(ref)
        if demand is None or not (demand.since or demand.pod_changes or demand.cursors):
            return None
        return demand.snapshot(keep)

    def restore(self, ref: Ref, snapshot: DemandSnapshot) -> None:
        """Replace what is held for ``ref`` by a snapshot (at the snapshot's interval)."""
        self._resources[ref] = ResourceDemand.from_snapshot(snapshot)


def _cursor(sample: AgentSample, ref: Ref) -> Cursor:
    namespace, resource = ref
    return Cursor(
        sample.started_at,
        sample.time,
        sample.counts.get((namespace, resource, "local"), 0),
        sample.counts.get((namespace, resource, "remote"), 0),
        sample.writes.get(ref, 0),
    )
