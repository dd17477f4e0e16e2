"""The replay loop: a policy decides each step, the trace's accesses are served, we count.

Each step ``t`` (``step_s`` seconds):

1. replicas on nodes that went down are lost;
2. the policy returns the replicas it wants during ``t`` (it has seen demand up to
   ``t - 1``); new replicas start copying and serve locally once the copy is done
   (``state_bytes / bandwidth`` seconds: a replica added late misses that part of the
   step), removed ones stop at once - except the last ready copy of a resource, kept
   (make before break) until a successor is ready: for that share of the step it
   serves and counts as a replica;
3. the step's accesses are served: locally for the ready fraction of a node's own
   replica, else by the nearest replica ready by mid-step (same zone, other zone),
   else by the source of truth (``no_replica_ms``);
4. after the warm-up, latencies go into a histogram (exact mean and p99), and
   replica-hours, bytes moved (copies plus every write times replicas) and actions are
   summed. A copy costs its full state, or, on a node whose copy of the resource was
   removed at most ``warm_retention_s`` ago (its files kept warm by the agent), the
   writes it missed since (:func:`statecast.core.warm.copy_bytes`); a copy lost with its
   node leaves nothing warm. Every policy is charged alike. The copy's time is the full
   copy's either way (conservative: a warm copy is ready sooner).

Everything per step is vectorised over resources and nodes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from statecast.core.warm import copy_bytes
from statecast.sim.config import SimConfig, focus_index
from statecast.sim.policies import Policy
from statecast.sim.trace import Trace

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Timeline:
    """What the plot shows: replicas over time, and the focus resource's placement.

    Attributes:
        replicas: total replicas per step, shape (steps,).
        focus: index of the recorded resource.
        placement: the focus resource's replicas, shape (nodes, steps).
    """

    replicas: npt.NDArray[np.int64]
    focus: int
    placement: BoolArray


@dataclass(frozen=True)
class PolicyResult:
    """What users would have felt under one policy, and what it cost.

    Attributes:
        policy: policy name.
        local_hit_ratio: accesses served by a replica on the caller's node / all.
        mean_latency_ms: mean access latency.
        p99_latency_ms: 99th percentile access latency.
        replica_hours: sum over steps of replicas x step length.
        bytes_moved: copies (full, or a warm copy's missed writes) plus sync traffic.
        bytes_full_copies: the same with every copy full (the accounting of
            ``warm_retention_s`` 0, counted in the same replay).
        actions: replicas added plus replicas removed.
        elapsed_s: wall time of the replay (including the policy's forecasts).
        timeline: per-step records for plots.
    """

    policy: str
    local_hit_ratio: float
    mean_latency_ms: float
    p99_latency_ms: float
    replica_hours: float
    bytes_moved: float
    actions: int
    elapsed_s: float
    timeline: Timeline
    bytes_full_copies: float = 0.0

    def metrics(self) -> dict[str, float | int]:
        """The JSON-facing numbers."""
        return {
            "local_hit_ratio": round(self.local_hit_ratio, 4),
            "mean_latency_ms": round(self.mean_latency_ms, 4),
            "p99_latency_ms": round(self.p99_latency_ms, 4),
            "replica_hours": round(self.replica_hours, 2),
            "bytes_moved": int(self.bytes_moved),
            "bytes_full_copies": int(self.bytes_full_copies),
            "actions": self.actions,
            "elapsed_s": round(self.elapsed_s, 3),
        }


def _zone_latency(trace: Trace, config: SimConfig) -> tuple[FloatArray, npt.NDArray[np.intp]]:
    names = sorted(set(trace.zones))
    lat = config.latency
    matrix = np.array([[lat.between(a, b) for b in names] for a in names], dtype=np.float64)
    zone_of = np.array([names.index(z) for z in trace.zones], dtype=np.intp)
    return matrix, zone_of


class _Meter:
    """What the replay measures after the warm-up: latencies, replica-hours, bytes, actions."""

    def __init__(self, trace: Trace, config: SimConfig) -> None:
        zone_ms, zone_of = _zone_latency(trace, config)
        self.trace, self.config = trace, config
        self.onehot = np.zeros((trace.n_nodes, zone_ms.shape[0]))
        self.onehot[np.arange(trace.n_nodes), zone_of] = 1.0
        self.node_zone_ms = zone_ms[zone_of]  # (nodes, zones): from each node to each zone
        self.values = np.unique(np.concatenate([zone_ms.ravel(), [config.latency.no_replica_ms]]))
        self.histogram = np.zeros(len(self.values))
        self.sync_per_step = trace.writes_per_min * trace.step_s / 60.0 * config.bytes_per_write
        self.local = self.replica_hours = self.bytes_moved = self.bytes_full = 0.0
        self.actions = 0

    def step(self, t: int, ready_at: FloatArray, replicas: float, transient: FloatArray) -> None:
        """Serve step ``t``'s accesses.

        Args:
            t: the step.
            ready_at: when each (resource, node) copy is ready (inf: none).
            replicas: replicas held over the step (hand-off copies by their share).
            transient: share of the step each copy kept only for a hand-off serves.
        """
        dt, latency = self.trace.step_s, self.config.latency
        now = t * dt
        demand = self.trace.demand[:, :, t]
        local_share = np.maximum(np.clip(((t + 1) * dt - ready_at) / dt, 0.0, 1.0), transient)
        serving = (ready_at <= now + dt / 2) | (transient >= 0.5)  # remote: done by mid-step
        zone_has = (serving.astype(np.float64) @ self.onehot) > 0  # (resources, zones)
        remote = np.where(zone_has[:, None, :], self.node_zone_ms[None, :, :], np.inf).min(axis=2)
        remote = np.where(np.isinf(remote), latency.no_replica_ms, remote)
        local = demand * local_share
        self.local += float(local.sum())
        far = demand - local
        self.histogram += np.bincount(
            np.searchsorted(self.values, remote).ravel(),
            weights=far.ravel(),
            minlength=len(self.values),
        )
        self.replica_hours += replicas * dt / 3600.0

    def result(self, policy: str, started: float, timeline: Timeline) -> PolicyResult:
        """The metrics."""
        total = self.local + float(self.histogram.sum())
        weights = np.concatenate([[self.local], self.histogram])
        latencies = np.concatenate([[self.config.latency.local_ms], self.values])
        mean = float(weights @ latencies / total) if total > 0 else 0.0
        order = np.argsort(latencies, kind="stable")
        cumulative = np.cumsum(weights[order])
        at = min(int(np.searchsorted(cumulative, 0.99 * total)), len(order) - 1)
        return PolicyResult(
            policy=policy,
            local_hit_ratio=self.local / total if total > 0 else 0.0,
            mean_latency_ms=mean,
            p99_latency_ms=float(latencies[order][at]) if total > 0 else 0.0,
            replica_hours=self.replica_hours,
            bytes_moved=self.bytes_moved,
            bytes_full_copies=self.bytes_full,
            actions=self.actions,
            elapsed_s=time.perf_counter() - started,
            timeline=timeline,
        )


def _hand_off(
    desired: BoolArray, replicas: BoolArray, ready: BoolArray, copy_share: FloatArray
) -> tuple[BoolArray, FloatArray]:
    """Make before break: a resource left without a ready copy keeps one until a new one is.

    Returns the copies to carry into the next step (the kept one too when its successor
    takes the whole step or there is none) and, per copy, the share of this step a kept
    copy serves before its successor is ready (0 elsewhere).
    """
    carried = desired.copy()
    transient = np.zeros(desired.shape)
    orphaned = ~(desired & ready).any(axis=1) & ready.any(axis=1)
    for r in np.flatnonzero(orphaned):
        kept = int(np.flatnonzero(ready[r])[0])
        successor = (desired[r] & ~replicas[r]).any()
        if successor and copy_share[r] < 1.0:
            transient[r, kept] = copy_share[r]
        else:
            carried[r, kept] = True
    return carried, transient


def _copies_bytes(
    trace: Trace, config: SimConfig, adds: BoolArray, now: float, removed_at: FloatArray
) -> float:
    """Bytes of this step's new copies: full, or a warm copy's missed writes."""
    write_rate = trace.writes_per_min / 60.0 * config.bytes_per_write
    total = 0.0
    for r, i in zip(*np.nonzero(adds), strict=True):
        ago = now - removed_at[r, i]
        total += copy_bytes(
            float(trace.state_bytes[r]),
            float(ago) if np.isfinite(ago) else None,
            float(write_rate[r]),
            config.warm_retention_s,
        )
    return total


def replay(trace: Trace, policy: Policy, config: SimConfig | None = None) -> PolicyResult:
    """Replay ``trace`` through ``policy`` and measure it.

    Args:
        trace: demand, nodes, zones, availability and resources.
        policy: a fresh policy object (it is reset here).
        config: latency, costs, bandwidth, warm-up; defaults when None.

    Returns:
        The metrics and the timeline.
    """
    config = config or SimConfig()
    started = time.perf_counter()
    n_res, n_nodes, steps = trace.demand.shape
    dt = trace.step_s
    policy.start(trace, config)
    meter = _Meter(trace, config)
    copy_s = trace.state_bytes / config.bandwidth_bytes_per_s
    copy_share = np.minimum(copy_s / dt, 1.0)
    replicas = np.zeros((n_res, n_nodes), dtype=np.bool_)
    ready_at = np.full((n_res, n_nodes), np.inf)
    created = np.zeros((n_res, n_nodes))
    removed_at = np.full((n_res, n_nodes), -np.inf)  # when a handed-off copy left a node
    focus = focus_index(trace, config)
    per_step = np.zeros(steps, dtype=np.int64)
    placement = np.zeros((n_nodes, steps), dtype=np.bool_)
    for t in range(steps):
        now = t * dt
        available = trace.available[:, t]
        lost = replicas & ~available[None, :]
        replicas[lost] = False
        ready_at[lost] = np.inf
        removed_at[lost] = -np.inf  # lost with its node: nothing handed off, nothing warm
        ready = ready_at <= now
        desired = policy.decide(t, replicas.copy(), ready, now - created)
        desired = np.asarray(desired, dtype=np.bool_) & available[None, :]
        carried, transient = _hand_off(desired, replicas, ready, copy_share)
        adds = carried & ~replicas
        removes = replicas & ~carried
        ready_at = np.where(adds, now + copy_s[:, None], ready_at)
        ready_at[removes] = np.inf
        created[adds] = now
        copies = _copies_bytes(trace, config, adds, now, removed_at)
        removed_at[removes] = now
        replicas = carried
        per_step[t] = int(replicas.sum())
        placement[:, t] = replicas[focus]
        if t < config.warmup_steps:
            continue
        meter.step(t, ready_at, float(replicas.sum() + transient.sum()), transient)
        sync = float((meter.sync_per_step * replicas.sum(axis=1)).sum())
        meter.bytes_moved += copies + sync
        meter.bytes_full += float((adds * trace.state_bytes[:, None]).sum()) + sync
        meter.actions += int(adds.sum() + removes.sum())
    return meter.result(policy.name, started, Timeline(per_step, focus, placement))
