"""What the demo saw: placement and forecasts each tick, reads each second (pure data).

Times are seconds from the start of the demand. A :class:`Recording` is filled by the
load generator (:meth:`Recording.read`, from its threads) and by the cluster watcher
(:meth:`Recording.tick`, :meth:`Recording.decision`); the outcome, the live view and
the picture only read it.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

from statecast.demo.sun import Schedule

__all__ = ["Copy", "Decision", "NodeBand", "Reads", "Recording", "Tick"]


@dataclass(frozen=True)
class Copy:
    """One replica of a resource as seen at a tick."""

    node: str
    zone: str
    phase: str
    reason: str


@dataclass(frozen=True)
class NodeBand:
    """The operator's forecast for one node: accesses per interval, mean over the horizon."""

    node: str
    mean: float
    lower: float
    upper: float


@dataclass(frozen=True)
class Tick:
    """The cluster at one moment: per resource, its copies, its forecast and the model."""

    time: float
    copies: Mapping[str, tuple[Copy, ...]]
    forecast: Mapping[str, tuple[NodeBand, ...]] = field(default_factory=dict)
    model: Mapping[str, str] = field(default_factory=dict)

    def ready_zones(self, resource: str) -> frozenset[str]:
        """Zones holding a Ready copy of ``resource``."""
        return frozenset(c.zone for c in self.copies.get(resource, ()) if c.phase == "Ready")

    def ready_nodes(self, resource: str) -> frozenset[str]:
        """Nodes holding a Ready copy of ``resource``."""
        return frozenset(c.node for c in self.copies.get(resource, ()) if c.phase == "Ready")


@dataclass
class Reads:
    """The reads of one resource on one node during one second."""

    local: int = 0
    remote: int = 0
    errors: int = 0


@dataclass(frozen=True)
class Decision:
    """An Event the operator posted about a resource."""

    time: float
    resource: str
    reason: str
    message: str


@dataclass
class Recording:
    """Everything the demo observed.

    Attributes:
        schedule: the demand it drove.
        zones: node -> zone.
        resources: resource -> its replication policy.
    """

    schedule: Schedule
    zones: Mapping[str, str]
    resources: Mapping[str, str]
    ticks: list[Tick] = field(default_factory=list)
    reads: dict[tuple[str, str, int], Reads] = field(default_factory=dict)
    latencies: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    decisions: list[Decision] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def read(self, resource: str, node: str, t: float, served: str | None, ms: float) -> None:
        """Count one read (``served`` None: it failed)."""
        with self._lock:
            bucket = self.reads.setdefault((resource, node, int(t)), Reads())
            if served == "local":
                bucket.local += 1
            elif served is None:
                bucket.errors += 1
            else:
                bucket.remote += 1
            if served is not None:
                self.latencies.setdefault(resource, []).append((t, ms))

    def tick(self, tick: Tick) -> None:
        """Add what the cluster looked like at ``tick.time``."""
        with self._lock:
            self.ticks.append(tick)

    def decision(self, decision: Decision) -> None:
        """Add an Event (once: the watcher may see it again)."""
        with self._lock:
            if decision not in self.decisions:
                self.decisions.append(decision)

    def at(self, t: float) -> Tick | None:
        """The last tick at or before ``t``."""
        ticks = list(self.ticks)
        i = bisect.bisect_right([tick.time for tick in ticks], t)
        return ticks[i - 1] if i else None

    def seconds(self) -> int:
        """Seconds of reads recorded."""
        with self._lock:
            return 1 + max((s for _, _, s in self.reads), default=-1)

    def snapshot(
        self,
    ) -> tuple[dict[tuple[str, str, int], Reads], dict[str, list[tuple[float, float]]]]:
        """A consistent copy of the reads and latencies (for another thread to read)."""
        with self._lock:
            reads = {k: Reads(v.local, v.remote, v.errors) for k, v in self.reads.items()}
            return reads, {k: list(v) for k, v in self.latencies.items()}
