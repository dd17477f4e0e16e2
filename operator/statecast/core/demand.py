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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

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
    """

    node: str
    started_at: float
    time: float
    counts: Mapping[tuple[str, str, str], int]


@dataclass(frozen=True)
class DemandStep:
    """Accesses one node made to one resource between two samples."""

    node: str
    start: float
    end: float
    local: int
    remote: int

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
    return {
        ref: DemandStep(current.node, start, current.time, local, remote)
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

    def forget(self, keep: Iterable[Ref]) -> None:
        """Drop the series of resources not in ``keep``."""
        kept = set(keep)
        for ref in [r for r in self._series if r not in kept]:
            del self._series[ref]

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
