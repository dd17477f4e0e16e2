"""Scenarios with randomised shapes, for property tests and a benchmark of their own.

:func:`random_shape` draws a :class:`Shape` (3-100 nodes in 1-5 zones, 1-4 resources of
1-256 MiB, write rates, step length, days) and the demand's character: how concentrated
it is on few nodes, whether the busy nodes move (and how often), bursts, a daily and a
weekly cycle, job pods that come and go (the trace then carries them), nodes that
leave and join. :func:`generate` turns a shape into a :class:`Trace`; both are
deterministic per seed. Nothing here was fitted to a policy: the ranges are what
clusters look like, drawn uniformly or log-uniformly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from statecast.sim.trace import MIB, Trace

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

STEPS_S = (300.0, 900.0, 3600.0)


@dataclass(frozen=True)
class Shape:
    """What a generated scenario looks like.

    Attributes:
        nodes: number of nodes.
        zones: number of zones (nodes dealt round-robin).
        resources: number of resources.
        step_s: seconds per step.
        days: length.
        concentration: Dirichlet concentration of each resource's node weights (small:
            a few nodes issue most reads; large: every node alike).
        moves: times the busy nodes change (new weights, each over ``move_steps``).
        move_steps: how long each change takes, in steps (1: at once).
        bursts: flash crowds (10-50x on 1-3 nodes for 30 min to 3 h).
        daily: amplitude of the daily cycle in [0, 1].
        weekly: weekends at a third of weekdays.
        pods: demand follows job pods (the trace carries them).
        churn: nodes that leave for a while (their demand goes elsewhere).
        rate: mean accesses per step per resource, over all nodes.
    """

    nodes: int
    zones: int
    resources: int
    step_s: float
    days: int
    concentration: float
    moves: int
    move_steps: int
    bursts: int
    daily: float
    weekly: bool
    pods: bool
    churn: int
    rate: float


def random_shape(rng: np.random.Generator, small: bool = False) -> Shape:
    """Draw a shape; ``small`` keeps it fast (3-8 nodes, 1-2 resources, 2-3 days).

    Otherwise 3-100 nodes (log-uniform), 1-4 resources, 2-5 days (2-3 at 5-minute steps).
    """
    nodes = int(rng.integers(3, 9)) if small else int(np.exp(rng.uniform(np.log(3), np.log(101))))
    step_s = float(rng.choice(STEPS_S[1:] if small else STEPS_S))
    return Shape(
        nodes=nodes,
        zones=int(rng.integers(1, min(nodes, 5) + 1)),
        resources=int(rng.integers(1, 3 if small else 5)),
        step_s=step_s,
        days=int(rng.integers(2, 4)) if small else int(rng.integers(2, 6 if step_s > 300 else 4)),
        concentration=float(np.exp(rng.uniform(np.log(0.05), np.log(5.0)))),
        moves=int(rng.integers(0, 5)),
        move_steps=int(
            rng.choice([1, max(1, round(3600 / step_s)), max(1, round(6 * 3600 / step_s))])
        ),
        bursts=int(rng.integers(0, 3)),
        daily=float(rng.uniform(0.0, 1.0)),
        weekly=bool(rng.random() < 0.3),
        pods=bool(rng.random() < 0.3),
        churn=int(rng.integers(0, 3)) if nodes > 3 else 0,
        rate=float(np.exp(rng.uniform(np.log(20.0), np.log(20_000.0)))) * step_s / 300.0,
    )


def _weights(rng: np.random.Generator, shape: Shape, steps: int) -> FloatArray:
    """Node weights per resource and step (rows sum to 1), moving ``moves`` times."""
    alpha = np.full(shape.nodes, shape.concentration)
    current = rng.dirichlet(alpha, size=shape.resources)
    weights = np.repeat(current[:, :, None], steps, axis=2)
    for start in np.sort(rng.integers(steps // 4, steps, size=shape.moves)):
        target = rng.dirichlet(alpha, size=shape.resources)
        span = np.arange(steps - start)
        blend = np.clip((span + 1) / shape.move_steps, 0.0, 1.0)
        weights[:, :, start:] = weights[:, :, start:] * (1 - blend) + target[:, :, None] * blend
    return weights


def _cycles(shape: Shape, steps: int) -> FloatArray:
    """The daily (and weekly) factor per step, mean about 1."""
    hours = np.arange(steps) * shape.step_s / 3600.0
    bump = np.exp(-0.5 * ((((hours % 24.0) - 14.0 + 12.0) % 24.0 - 12.0) / 4.0) ** 2)
    factor = (1.0 - shape.daily) + shape.daily * 2.5 * bump
    if shape.weekly:
        factor = factor * np.where((hours // 24.0) % 7 >= 5, 0.33, 1.0)
    return np.asarray(factor / factor.mean(), dtype=np.float64)


def _bursts(rng: np.random.Generator, shape: Shape, rate: FloatArray) -> None:
    """Flash crowds, in place: 10-50x on 1-3 nodes of one resource for 30 min to 3 h."""
    steps = rate.shape[2]
    for _ in range(shape.bursts):
        r = int(rng.integers(shape.resources))
        hit = rng.choice(shape.nodes, size=min(shape.nodes, int(rng.integers(1, 4))), replace=False)
        length = max(1, round(rng.uniform(1800, 3 * 3600) / shape.step_s))
        start = int(rng.integers(0, max(1, steps - length)))
        boost = rng.uniform(10, 50) * rate[r].sum(axis=0).mean() / shape.nodes
        rate[r, hit, start : start + length] += boost


def _pods(rng: np.random.Generator, shape: Shape, steps: int) -> IntArray:
    """Job pods per (resource, node, step): Poisson starts, 15 min to 3 h runs, random nodes."""
    pods = np.zeros((shape.resources, shape.nodes, steps), dtype=np.int64)
    for r in range(shape.resources):
        at_once = rng.uniform(0.5, max(1.0, shape.nodes / 3))
        mean_run = rng.uniform(900, 3 * 3600) / shape.step_s
        starts = rng.poisson(at_once / max(mean_run, 1.0), size=steps)
        for t in np.flatnonzero(starts):
            for _ in range(int(starts[t])):
                run = max(1, round(rng.exponential(mean_run)))
                pods[r, int(rng.integers(shape.nodes)), t : t + run] += 1
    return pods


def generate(shape: Shape, seed: int, name: str | None = None) -> Trace:
    """The trace of ``shape`` (deterministic per ``seed``)."""
    rng = np.random.default_rng(seed)
    steps = int(shape.days * 86_400 / shape.step_s)
    nodes = tuple(f"node-{i:03d}" for i in range(shape.nodes))
    zones = tuple(f"zone-{chr(ord('a') + i % shape.zones)}" for i in range(shape.nodes))
    scale = shape.rate * rng.lognormal(0.0, 1.0, size=shape.resources)
    weights = _weights(rng, shape, steps)
    rate = scale[:, None, None] * weights * _cycles(shape, steps)[None, None, :]
    pods = None
    if shape.pods:
        pods = _pods(rng, shape, steps)
        per_pod = scale / max(float(pods.sum(axis=(1, 2)).mean()) / steps, 1.0)
        rate = 0.2 * rate + 0.8 * pods * per_pod[:, None, None]
    _bursts(rng, shape, rate)
    available = np.ones((shape.nodes, steps), dtype=np.bool_)
    for _ in range(shape.churn):
        node = int(rng.integers(shape.nodes))
        start = int(rng.integers(steps // 3, steps))
        available[node, start : start + int(rng.integers(steps // 10, steps // 2))] = False
    if pods is not None:
        pods = pods * available[None, :, :]
    demand = rng.poisson(rate * available[None, :, :]).astype(np.float64)
    sizes = np.exp(rng.uniform(np.log(MIB), np.log(256 * MIB), size=shape.resources))
    writes = np.exp(rng.uniform(np.log(0.1), np.log(100.0), size=shape.resources))
    lowest = rng.integers(1, min(3, shape.nodes) + 1, size=shape.resources)
    return Trace(
        name=name or f"generated-{seed}",
        demand=demand,
        resources=tuple(f"res-{i}" for i in range(shape.resources)),
        nodes=nodes,
        zones=zones,
        step_s=shape.step_s,
        available=available,
        state_bytes=np.asarray(np.round(sizes), dtype=np.float64),
        writes_per_min=np.asarray(np.round(writes, 1), dtype=np.float64),
        min_replicas=np.asarray(lowest, dtype=np.int64),
        max_replicas=np.zeros(shape.resources, dtype=np.int64),
        pods=pods,
    )


def scenario_of(seed: int, small: bool = False) -> Trace:
    """The generated scenario number ``seed`` (its shape and demand drawn from the seed)."""
    shape = random_shape(np.random.default_rng([seed, 1]), small)
    return generate(shape, seed, f"generated-{seed:02d}")
