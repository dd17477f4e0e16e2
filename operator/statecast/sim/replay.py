"""The replay loop: a policy decides each step, the trace's accesses are served, we count.

Each step ``t`` (``step_s`` seconds):

1. replicas on nodes that went down are lost;
2. the policy returns the replicas it wants during ``t`` (it has seen demand up to
   ``t - 1``); new replicas start copying and serve locally once the copy is done
   (``state_bytes / bandwidth`` seconds: a replica added late misses that part of the
   step), removed ones stop at once;
3. the step's accesses are served: locally for the ready fraction of a node's own
   replica, else by the nearest replica ready by mid-step (same zone, other zone),
   else by the source of truth (``no_replica_ms``);
4. after the warm-up, latencies go into a histogram (exact mean and p99), and
   replica-hours, bytes moved (full copies plus every write times replicas) and
   actions are summed.

Everything per step is vectorised over resources and nodes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

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
        bytes_moved: full copies plus sync traffic.
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

    def metrics(self) -> dict[str, float | int]:
        """The JSON-facing numbers."""
        return {
            "local_hit_ratio": round(self.local_hit_ratio, 4),
            "mean_latency_ms": round(self.mean_latency_ms, 4),
            "p99_latency_ms": round(self.p99_latency_ms, 4),
            "replica_hours": round(self.replica_hours, 2),
            "bytes_moved": int(self.bytes_moved),
            "actions": self.actions,
            "elapsed_s": round(self.elapsed_s, 3),
        }


def _zone_latency(trace: Trace, config: SimConfig) -> tuple[FloatArray, npt.NDArray[np.intp]]:
    names = sorted(set(trace.zones))
    lat = config.latency
    matrix = np.array([[lat.between(a, b) for b in names] for a in names], dtype=np.float64)
    zone_of = np.array([names.index(z) for z in trace.zones], dtype=np.intp)
    return matrix, zone_of


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
    zone_ms, zone_of = _zone_latency(trace, config)
    onehot = np.zeros((n_nodes, zone_ms.shape[0]))
    onehot[np.arange(n_nodes), zone_of] = 1.0
    node_zone_ms = zone_ms[zone_of]  # (nodes, zones): from each node to each zone
    values = np.unique(np.concatenate([zone_ms.ravel(), [config.latency.no_replica_ms]]))
    histogram = np.zeros(len(values))
    local_ms = config.latency.local_ms
    copy_s = trace.state_bytes / config.bandwidth_bytes_per_s
    sync_per_step = trace.writes_per_min * dt / 60.0 * config.bytes_per_write

    replicas = np.zeros((n_res, n_nodes), dtype=np.bool_)
    ready_at = np.full((n_res, n_nodes), np.inf)
    created = np.zeros((n_res, n_nodes))
    focus = focus_index(trace, config)
    per_step = np.zeros(steps, dtype=np.int64)
    placement = np.zeros((n_nodes, steps), dtype=np.bool_)
    local_total = 0.0
    replica_hours = bytes_moved = 0.0
    actions = 0

    for t in range(steps):
        now = t * dt
        available = trace.available[:, t]
        lost = replicas & ~available[None, :]
        replicas[lost] = False
        ready_at[lost] = np.inf
        ready = ready_at <= now
        desired = policy.decide(t, replicas.copy(), ready, now - created)
        desired = np.asarray(desired, dtype=np.bool_) & available[None, :]
        # Make before break: never drop the last ready copy before a new one is ready.
        orphaned = ~(desired & ready).any(axis=1) & ready.any(axis=1)
        for r in np.flatnonzero(orphaned):
            desired[r, np.flatnonzero(ready[r])[0]] = True
        adds = desired & ~replicas
        removes = replicas & ~desired
        ready_at = np.where(adds, now + copy_s[:, None], ready_at)
        ready_at[removes] = np.inf
        created[adds] = now
        replicas = desired
        per_step[t] = int(replicas.sum())
        placement[:, t] = replicas[focus]
        if t < config.warmup_steps:
            continue
        demand = trace.demand[:, :, t]
        local_share = np.clip(((t + 1) * dt - ready_at) / dt, 0.0, 1.0)
        serving = ready_at <= now + dt / 2  # remote reads use copies done by mid-step
        zone_has = (serving.astype(np.float64) @ onehot) > 0  # (resources, zones)
        remote = np.where(zone_has[:, None, :], node_zone_ms[None, :, :], np.inf).min(axis=2)
        remote = np.where(np.isinf(remote), config.latency.no_replica_ms, remote)
        local = demand * local_share
        local_total += float(local.sum())
        far = demand - local
        histogram += np.bincount(
            np.searchsorted(values, remote).ravel(), weights=far.ravel(), minlength=len(values)
        )
        replica_hours += per_step[t] * dt / 3600.0
        bytes_moved += float((adds * trace.state_bytes[:, None]).sum())
        bytes_moved += float((sync_per_step * replicas.sum(axis=1)).sum())
        actions += int(adds.sum() + removes.sum())

    total = local_total + float(histogram.sum())
    weights = np.concatenate([[local_total], histogram])
    latencies = np.concatenate([[local_ms], values])
    mean = float(weights @ latencies / total) if total > 0 else 0.0
    order = np.argsort(latencies, kind="stable")
    cumulative = np.cumsum(weights[order])
    at = min(int(np.searchsorted(cumulative, 0.99 * total)), len(order) - 1)
    p99 = float(latencies[order][at]) if total > 0 else 0.0
    return PolicyResult(
        policy=policy.name,
        local_hit_ratio=local_total / total if total > 0 else 0.0,
        mean_latency_ms=mean,
        p99_latency_ms=p99,
        replica_hours=replica_hours,
        bytes_moved=bytes_moved,
        actions=actions,
        elapsed_s=time.perf_counter() - started,
        timeline=Timeline(per_step, focus, placement),
    )
