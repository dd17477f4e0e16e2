"""The baseline policies: ``static``, ``full`` and ``reactive`` (the operator's rule).

A policy sees the trace only up to the current step (``perfect-forecast`` is the exception, in
:mod:`statecast.sim.planned`) and returns, for every resource and node, whether a
replica should be there during the step.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import numpy.typing as npt

from statecast.core.reactive import HeatBatch, HeatStats, choose_by_heat
from statecast.sim.config import SimConfig
from statecast.sim.trace import Trace

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


class Policy(Protocol):
    """What :func:`statecast.sim.replay.replay` drives."""

    name: str

    def start(self, trace: Trace, config: SimConfig) -> None:
        """Reset for a replay of ``trace``."""

    def decide(self, t: int, replicas: BoolArray, ready: BoolArray, age_s: FloatArray) -> BoolArray:
        """Desired replicas (resources x nodes) for step ``t``, seeing demand before ``t``."""


def zone_order(zones: tuple[str, ...]) -> list[int]:
    """Node indices interleaved by zone (one of each zone, then the next of each zone)."""
    by_zone: dict[str, list[int]] = {}
    for i, z in enumerate(zones):
        by_zone.setdefault(z, []).append(i)
    order: list[int] = []
    queues = [by_zone[z] for z in sorted(by_zone)]
    while any(queues):
        for q in queues:
            if q:
                order.append(q.pop(0))
    return order


def enforce_bounds(
    desired: BoolArray, score: FloatArray, trace: Trace, available: BoolArray
) -> BoolArray:
    """Fill every resource up to its min (new zones first, then by score) and trim to max."""
    count = desired.sum(axis=1)
    high = np.where(trace.max_replicas > 0, trace.max_replicas, trace.n_nodes)
    for r in np.flatnonzero((count < trace.min_replicas) | (count > high)):
        row = desired[r]
        if count[r] > high[r]:
            keep = sorted(np.flatnonzero(row), key=lambda i: (-score[r, i], i))[: high[r]]
            row[:] = False
            row[keep] = True
            continue
        while row.sum() < trace.min_replicas[r]:
            covered = {trace.zones[i] for i in np.flatnonzero(row)}
            options = [i for i in np.flatnonzero(available & ~row)]
            if not options:
                break
            best = max(options, key=lambda i: (trace.zones[i] not in covered, score[r, i], -i))
            row[best] = True
    return desired


def consumers(trace: Trace, t: int) -> BoolArray:
    """Nodes running a consumer pod of each resource at step ``t`` (resources x nodes).

    Every policy gives them a copy, as the operator does whatever its policy (DESIGN:
    pre-replication for consumer pods), so that all are held to the same requirements.
    """
    if trace.pods is None:
        return np.zeros((trace.n_resources, trace.n_nodes), dtype=np.bool_)
    return np.asarray((trace.pods[:, :, t] > 0) & trace.available[None, :, t], dtype=np.bool_)


class Static:
    """``min`` replicas on fixed nodes spread over zones, moved only when a node is lost.

    Plus a copy on each node running a consumer pod while it runs (pre-replication).
    """

    name = "static"

    def start(self, trace: Trace, config: SimConfig) -> None:
        """Remember the trace; the fixed choice is made from the node order, not demand."""
        self._trace = trace
        rank = np.zeros(trace.n_nodes)
        rank[zone_order(trace.zones)] = -np.arange(trace.n_nodes, dtype=np.float64)
        self._score = np.broadcast_to(rank, (trace.n_resources, trace.n_nodes))
        self._owners = np.zeros((trace.n_resources, trace.n_nodes), dtype=np.bool_)

    def decide(self, t: int, replicas: BoolArray, ready: BoolArray, age_s: FloatArray) -> BoolArray:
        """Keep the fixed nodes that live; refill to min in the fixed order; add consumers."""
        available = self._trace.available[:, t]
        self._owners = enforce_bounds(
            self._owners & available[None, :], self._score, self._trace, available
        )
        return self._owners | consumers(self._trace, t)


class Full:
    """A replica of every resource on every live node."""

    name = "full"

    def start(self, trace: Trace, config: SimConfig) -> None:
        """Remember the trace."""
        self._trace = trace

    def decide(self, t: int, replicas: BoolArray, ready: BoolArray, age_s: FloatArray) -> BoolArray:
        """Every live node."""
        available = self._trace.available[:, t]
        return np.broadcast_to(available, replicas.shape).copy()


class Reactive:
    """The operator's reactive rule (:func:`statecast.core.reactive.choose_by_heat`).

    Every step, each (resource, node) pair's access rate over the last ``window_s`` is
    compared with the mean and standard deviation of the rates of all active pairs; a
    pair more than ``k_sigma`` deviations above the mean is hot and gets a replica, as
    does a node running a consumer pod (when the trace has pods). A replica that has
    not been hot for ``grace_s`` (default: the configured cooldown) is removed. ``min``,
    ``max`` and the zone floor hold.
    """

    name = "reactive"

    def __init__(
        self, window_s: float = 900.0, grace_s: float | None = None, k_sigma: float = 1.0
    ) -> None:
        self.window_s = window_s
        self.grace_s = grace_s
        self.k_sigma = k_sigma

    def start(self, trace: Trace, config: SimConfig) -> None:
        """Reset the windows and the last-hot times."""
        self._trace = trace
        self._window = max(1, round(self.window_s / trace.step_s))
        self._grace_s = config.cooldown_s if self.grace_s is None else self.grace_s
        shape = (trace.n_resources, trace.n_nodes)
        self._sum = np.zeros(shape)
        self._last_hot = np.full(shape, np.nan)
        #: why the last decision wants each copy (:class:`~statecast.core.reactive.Why`)
        self.last_why = np.zeros(shape, dtype=np.int8)
        names = sorted(set(trace.zones))
        self._zone_id = np.array([names.index(z) for z in trace.zones], dtype=np.intp)

    def decide(self, t: int, replicas: BoolArray, ready: BoolArray, age_s: FloatArray) -> BoolArray:
        """Hot pairs and consumers get replicas; pairs cold for the grace period lose theirs."""
        trace = self._trace
        demand = trace.demand
        if t >= 1:
            self._sum += demand[:, :, t - 1]
        if t > self._window:
            self._sum -= demand[:, :, t - 1 - self._window]
        rate = self._sum / (min(max(t, 1), self._window) * trace.step_s)
        available = trace.available[:, t]
        stats = HeatStats.of_array(rate[:, available])
        batch = HeatBatch(
            rates=rate,
            threshold=stats.threshold(self.k_sigma),
            eligible=available,
            holding=replicas,
            last_hot=self._last_hot,
            consumers=consumers(trace, t),
            zone_id=self._zone_id,
            min_replicas=trace.min_replicas,
            max_replicas=trace.max_replicas,
        )
        choice = choose_by_heat(batch, now=t * trace.step_s, grace_s=self._grace_s)
        self._last_hot = choice.last_hot
        self.last_why = choice.why
        return choice.wanted
