"""Built-in synthetic scenarios: where demand comes from, and how it moves.

Every scenario but ``concentrated`` has 5-minute steps, twelve nodes in three zones,
three 64 MiB resources of different popularity, Poisson noise on a smooth rate, and a
fixed seed (same trace every run).

=================  =============================================================
``follow-the-sun``  each zone's demand peaks at its own office hours, 8 h apart
``weekly``          a daily cycle with quiet weekends, the same in every zone
``flash-crowd``     a steady day, then one resource's demand jumps 30x on two
                    nodes of one zone for two hours (ramp of 15 minutes)
``drift``           demand slides from the nodes of zone a to those of zone c
``scale-out``       four new nodes join on day 2 and pods move onto them
``node-loss``       two nodes of zone a die on day 2.5; their pods restart on
                    the other nodes of zone a
``batch-jobs``      job pods read the state for 15-45 minutes each on whichever
                    node the scheduler picks: demand moves within minutes, and
                    the trace carries the pods (the operator's pod watch)
``concentrated``    three months of hourly steps, eight nodes; one node issues
                    93 % of every resource's reads (issue 11's trace)
=================  =============================================================

In all but ``batch-jobs`` the readers are clients spread over every node (random
weights), not pods the operator could see; ``batch-jobs`` is the scenario where
demand follows pods.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from statecast.api.units import DAY_S
from statecast.sim.errors import TraceError
from statecast.sim.trace import MIB, Trace

FloatArray = npt.NDArray[np.float64]

STEP_S = 300.0
DAY = int(DAY_S / STEP_S)
ZONES = ("zone-a", "zone-b", "zone-c")
#: Mean accesses per step summed over nodes, per resource.
SCALE = np.array([4000.0, 2000.0, 1000.0])
#: 2015-03-02 00:00 UTC, a Monday (weekly scenario starts on a Monday).
START_S = 1_425_254_400.0


def _cluster(n_nodes: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    nodes = tuple(f"node-{i:02d}" for i in range(n_nodes))
    zones = tuple(ZONES[i % len(ZONES)] for i in range(n_nodes))
    return nodes, zones


def _daily(t: FloatArray, peak_hour: float | FloatArray, width_h: float = 4.0) -> FloatArray:
    """A smooth daily bump in [0, 1] peaking at ``peak_hour`` (circular in the day)."""
    hours = (t * STEP_S / 3600.0) % 24.0
    delta = (hours - peak_hour + 12.0) % 24.0 - 12.0
    return np.asarray(np.exp(-0.5 * (delta / width_h) ** 2), dtype=np.float64)


def _weights(rng: np.random.Generator, n_res: int, n_nodes: int) -> FloatArray:
    w = rng.gamma(1.0, 1.0, size=(n_res, n_nodes))
    return np.asarray(w / w.sum(axis=1, keepdims=True), dtype=np.float64)


def _finish(
    name: str,
    rate: FloatArray,
    nodes: tuple[str, ...],
    zones: tuple[str, ...],
    rng: np.random.Generator,
    available: npt.NDArray[np.bool_] | None = None,
    pods: npt.NDArray[np.int64] | None = None,
) -> Trace:
    n_res, n_nodes, steps = rate.shape
    hourly = rng.lognormal(0.0, 0.15, size=(n_res, n_nodes, steps // 12 + 1))
    noisy = rate * np.repeat(hourly, 12, axis=2)[:, :, :steps]
    avail = np.ones((n_nodes, steps), dtype=np.bool_) if available is None else available
    demand = rng.poisson(noisy * avail[None, :, :]).astype(np.float64)
    return Trace(
        name=name,
        demand=demand,
        resources=tuple(f"res-{i}" for i in range(n_res)),
        nodes=nodes,
        zones=zones,
        step_s=STEP_S,
        available=avail,
        state_bytes=np.full(n_res, 64.0 * MIB),
        writes_per_min=np.full(n_res, 10.0),
        min_replicas=np.full(n_res, 2, dtype=np.int64),
        max_replicas=np.zeros(n_res, dtype=np.int64),
        start_s=START_S,
        pods=pods,
    )


def follow_the_sun(days: int = 4, n_nodes: int = 12, seed: int = 1) -> Trace:
    """Each zone's demand peaks at its own office hours, eight hours apart."""
    rng = np.random.default_rng(seed)
    nodes, zones = _cluster(n_nodes)
    t = np.arange(days * DAY, dtype=np.float64)
    peak = np.array([9.0 + 8.0 * ZONES.index(z) for z in zones])
    shape = 0.05 + _daily(t[None, :], peak[:, None], 3.0)  # (nodes, steps)
    w = _weights(rng, len(SCALE), n_nodes) * len(ZONES)
    rate = SCALE[:, None, None] * w[:, :, None] * shape[None, :, :]
    return _finish("follow-the-sun", rate, nodes, zones, rng)


def weekly(days: int = 9, n_nodes: int = 12, seed: int = 2) -> Trace:
    """A daily cycle in every zone, with weekends at a third of weekdays."""
    rng = np.random.default_rng(seed)
    nodes, zones = _cluster(n_nodes)
    t = np.arange(days * DAY, dtype=np.float64)
    weekday = (t // DAY) % 7
    factor = np.where(weekday >= 5, 0.33, 1.0)
    shape = (0.15 + _daily(t, 14.0, 4.0)) * factor
    rate = SCALE[:, None, None] * _weights(rng, len(SCALE), n_nodes)[:, :, None] * shape
    return _finish("weekly", rate, nodes, zones, rng)


def flash_crowd(days: int = 4, n_nodes: int = 12, seed: int = 3) -> Trace:
    """A steady daily cycle, then a 30x flash crowd on two nodes of one zone for two hours."""
    rng = np.random.default_rng(seed)
    nodes, zones = _cluster(n_nodes)
    steps = days * DAY
    t = np.arange(steps, dtype=np.float64)
    shape = 0.3 + 0.7 * _daily(t, 14.0, 4.0)
    w = _weights(rng, len(SCALE), n_nodes)
    rate = SCALE[:, None, None] * w[:, :, None] * shape
    onset = int(2.5 * DAY) + int(rng.integers(0, DAY // 2))
    ramp = np.clip((t - onset) / 3.0, 0.0, 1.0) * np.clip((onset + 24 + 12 - t) / 12.0, 0.0, 1.0)
    crowd = [i for i, z in enumerate(zones) if z == "zone-b"][:2]
    for i in crowd:
        rate[2, i] += 30.0 * SCALE[2] / n_nodes * ramp
    return _finish("flash-crowd", rate, nodes, zones, rng)


def drift(days: int = 5, n_nodes: int = 12, seed: int = 4) -> Trace:
    """Demand slides over the days from the nodes of zone a to those of zone c."""
    rng = np.random.default_rng(seed)
    nodes, zones = _cluster(n_nodes)
    t = np.arange(days * DAY, dtype=np.float64)
    progress = t / t[-1]
    share = {"zone-a": 1.0 - progress, "zone-b": 0.3 + 0.0 * progress, "zone-c": progress}
    by_node = np.stack([share[z] for z in zones]) + 0.02
    shape = 0.4 + 0.6 * _daily(t, 14.0, 4.0)
    w = _weights(rng, len(SCALE), n_nodes) * len(ZONES)
    rate = SCALE[:, None, None] * w[:, :, None] * by_node[None, :, :] * shape
    return _finish("drift", rate, nodes, zones, rng)


def scale_out(days: int = 4, n_nodes: int = 12, seed: int = 5) -> Trace:
    """Pods scale out onto four new nodes on day 2; part of the demand follows them."""
    rng = np.random.default_rng(seed)
    nodes, zones = _cluster(n_nodes)
    steps = days * DAY
    t = np.arange(steps, dtype=np.float64)
    new = np.arange(n_nodes - 4, n_nodes)
    join = 2 * DAY + DAY // 3
    available = np.ones((n_nodes, steps), dtype=np.bool_)
    available[new, :join] = False
    shape = 0.3 + 0.7 * _daily(t, 14.0, 4.0)
    w = _weights(rng, len(SCALE), n_nodes)
    w[:, new] = 0.0
    w /= w.sum(axis=1, keepdims=True)
    moved = np.clip((t - join) / 12.0, 0.0, 1.0) * 0.6  # 60% of demand moves in an hour
    rate = SCALE[:, None, None] * w[:, :, None] * (1.0 - moved) * shape
    rate[:, new, :] += SCALE[:, None, None] / len(new) * moved * shape
    return _finish("scale-out", rate, nodes, zones, rng, available)


def node_loss(days: int = 4, n_nodes: int = 12, seed: int = 6) -> Trace:
    """Two nodes of zone a die on day 2.5; their pods restart on zone a's other nodes."""
    rng = np.random.default_rng(seed)
    nodes, zones = _cluster(n_nodes)
    steps = days * DAY
    t = np.arange(steps, dtype=np.float64)
    zone_a = [i for i, z in enumerate(zones) if z == "zone-a"]
    w = _weights(rng, len(SCALE), n_nodes)
    dead = sorted(zone_a, key=lambda i: -w[0, i])[:2]  # the two busiest of zone a die
    rest = [i for i in zone_a if i not in dead]
    death = int(2.5 * DAY)
    available = np.ones((n_nodes, steps), dtype=np.bool_)
    available[dead, death:] = False
    shape = 0.3 + 0.7 * _daily(t, 14.0, 4.0)
    rate = SCALE[:, None, None] * w[:, :, None] * shape
    after = t >= death
    for r in range(len(SCALE)):
        lost = w[r, dead].sum()
        for i in rest:
            rate[r, i, after] += SCALE[r] * lost / len(rest) * shape[after]
    return _finish("node-loss", rate, nodes, zones, rng, available)


#: Jobs of each resource running at once, on average over the day.
JOBS_AT_ONCE = np.array([3.0, 2.0, 1.0])
#: Job run time in steps, inclusive: 15 to 45 minutes.
JOB_STEPS = (3, 9)


def _schedule_jobs(
    starts: npt.NDArray[np.int64], rng: np.random.Generator, n_nodes: int
) -> npt.NDArray[np.int64]:
    """Pods per (resource, node, step) for jobs starting at ``starts`` (resources, steps).

    Each job runs ``JOB_STEPS`` steps (uniform) on the node with the fewest running
    pods at its start (ties broken at random), as the default scheduler's spreading
    would place it.
    """
    n_res, steps = starts.shape
    pods = np.zeros((n_res, n_nodes, steps), dtype=np.int64)
    load = np.zeros((n_nodes, steps), dtype=np.int64)
    for t in range(steps):
        for r in range(n_res):
            for _ in range(int(starts[r, t])):
                run = int(rng.integers(JOB_STEPS[0], JOB_STEPS[1] + 1))
                idle = np.flatnonzero(load[:, t] == load[:, t].min())
                node = int(rng.choice(idle))
                pods[r, node, t : t + run] += 1
                load[node, t : t + run] += 1
    return pods


def batch_jobs(days: int = 4, n_nodes: int = 12, seed: int = 7) -> Trace:
    """Job pods read the state for 15-45 minutes each, wherever the scheduler puts them.

    Jobs of each resource start at random (Poisson, more in working hours; 3, 2 and 1
    running at once on average), run 15 to 45 minutes on the least busy node and
    read 3-4 times a second while they run; 2 % of the demand comes from clients on
    every node. The busiest nodes change every few minutes, so a policy that waits to
    see heat is always late.
    """
    rng = np.random.default_rng(seed)
    nodes, zones = _cluster(n_nodes)
    steps = days * DAY
    t = np.arange(steps, dtype=np.float64)
    shape = 0.2 + _daily(t, 14.0, 4.0)
    mean_run = (JOB_STEPS[0] + JOB_STEPS[1]) / 2.0
    starts = rng.poisson(JOBS_AT_ONCE[:, None] / mean_run * shape / shape.mean())
    pods = _schedule_jobs(starts, rng, n_nodes)
    per_job = 0.98 * SCALE / JOBS_AT_ONCE
    background = 0.02 * SCALE[:, None, None] * _weights(rng, len(SCALE), n_nodes)[:, :, None]
    rate = pods * per_job[:, None, None] + background * shape / shape.mean()
    return _finish("batch-jobs", rate, nodes, zones, rng, pods=pods)


def concentrated(days: int = 90, n_nodes: int = 8, seed: int = 8) -> Trace:
    """One node issues 93 % of every resource's reads, for three months of hourly steps.

    Three resources of 20 MB with 5 writes a minute; eight nodes in three zones. The
    busy node (``node-04``, zone b) reads each resource about 2.5 times a minute on
    average (a daily cycle, quiet at night, and day-to-day jitter); the other seven
    share the rest. The replicas a plain spread puts on ``node-00`` and ``node-01``
    serve it from the same zone: a planner must move one to be local.
    """
    rng = np.random.default_rng(seed)
    nodes, zones = _cluster(n_nodes)
    steps = days * 24
    t = np.arange(steps, dtype=np.float64)
    hours = t % 24.0
    shape = 0.35 + np.exp(-0.5 * (((hours - 14.0 + 12.0) % 24.0 - 12.0) / 4.0) ** 2)
    shape /= shape.mean()
    share = np.full(n_nodes, 0.07 / (n_nodes - 1))
    share[4] = 0.93
    per_resource = np.array([170.0, 160.0, 150.0])  # reads per hour, all nodes together
    daily = rng.lognormal(0.0, 0.2, size=(3, n_nodes, days))
    rate = per_resource[:, None, None] * share[None, :, None] * shape * np.repeat(daily, 24, axis=2)
    return Trace(
        name="concentrated",
        demand=rng.poisson(rate).astype(np.float64),
        resources=("res-0", "res-1", "res-2"),
        nodes=nodes,
        zones=zones,
        step_s=3600.0,
        available=np.ones((n_nodes, steps), dtype=np.bool_),
        state_bytes=np.full(3, 20e6),
        writes_per_min=np.full(3, 5.0),
        min_replicas=np.full(3, 2, dtype=np.int64),
        max_replicas=np.zeros(3, dtype=np.int64),
        start_s=START_S,
    )


SCENARIOS: dict[str, Callable[[], Trace]] = {
    "follow-the-sun": follow_the_sun,
    "weekly": weekly,
    "flash-crowd": flash_crowd,
    "drift": drift,
    "scale-out": scale_out,
    "node-loss": node_loss,
    "batch-jobs": batch_jobs,
    "concentrated": concentrated,
}
#: Scenarios in which demand moves between nodes (the ">= 10 points" target).
MOVING = ("follow-the-sun", "flash-crowd", "drift", "scale-out", "node-loss", "batch-jobs")


def scenario(name: str) -> Trace:
    """Build a built-in scenario by name.

    Raises:
        TraceError: when no scenario has that name.
    """
    try:
        return SCENARIOS[name]()
    except KeyError:
        known = ", ".join(SCENARIOS)
        raise TraceError(f"unknown scenario {name!r} (known: {known})") from None
