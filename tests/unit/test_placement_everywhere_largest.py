"""The largest of the rarely written resources held on every node (issue 11, session 25, gc25).

``PlacementSpec.everywhere_min_bytes``: with ``everywhere_copy_days``, only a resource whose
full copy is at least that many bytes is held on every node; the others, and the knob at 0,
plan as ``everywhere_copy_days`` alone did. A copy on every node costs the same
replica-hours whatever its size, and each copy it spares saves its size. Found against
groupcache on seen generated-38, whose hot caches hold the 72 MB resource (32.5 days of its
stream a copy) on every node and not the 36 MB one (242 days): the day count alone held the
small one first, and both on every node is ``full``, over that run's replica-hours. Each
case with the knob set failed before (the field did not exist).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from statecast.core.placement import StateProfile, plan
from statecast.sim import SimConfig, Trace
from statecast.sim.planned import ForecastCache
from statecast.sim.sweeps import (
    EVERYWHERE_DAYS,
    FLOOR,
    PREDICTIVE,
    Setting,
    everywhere_held,
    everywhere_largest,
    family_settings,
    predictive_variant,
)
from tests.unit._placement_helpers import MIB, QUIET, everywhere_input

EVERY = ("d", "p", "q", "x")


@pytest.mark.parametrize(
    ("days", "least", "state", "nodes"),
    [
        # the day count alone: on every node (session 24's knob)
        (30.0, 0, QUIET, EVERY),
        # a copy at least the size asked for: on every node
        (30.0, 32 * MIB, QUIET, EVERY),
        (30.0, 64 * MIB, QUIET, EVERY),
        # ... smaller than asked: planned as without the day count
        (30.0, 64 * MIB + 1, QUIET, ("x",)),
        (30.0, 1 << 40, QUIET, ("x",)),
        # the size alone never holds a resource everywhere: the day count is off
        (0.0, 1, QUIET, ("x",)),
        # large enough but written too often for the day count: as before
        (100.0, 1, QUIET, ("x",)),
        # never written, large enough: on every node at any day count
        (1e9, 64 * MIB, StateProfile(64 * MIB), EVERY),
        (1e9, 65 * MIB, StateProfile(64 * MIB), ("x",)),
    ],
)
def test_everywhere_holds_only_a_copy_at_least_so_large(
    days: float, least: int, state: StateProfile, nodes: tuple[str, ...]
) -> None:
    assert tuple(sorted(plan(everywhere_input(days, least=least, state=state)).nodes)) == nodes


def _trace(
    sizes_mib: tuple[float, ...] = (128.0, 32.0), writes: tuple[float, ...] = (1.0, 0.05)
) -> Trace:
    """Rarely written resources on four nodes in two zones, hourly, two days, each read by
    node 0 only. By default as generated-38's: the large one written more often (128 MiB
    once a minute, 91 days of its stream a copy) than the small one (32 MiB, 455 days), so
    the day count alone holds the small one first."""
    n, steps, nodes = len(sizes_mib), 48, 4
    demand = np.zeros((n, nodes, steps))
    demand[:, 0, :] = 1000.0
    return Trace(
        name="large-and-small",
        demand=demand,
        resources=tuple(f"r{i}" for i in range(n)),
        nodes=tuple(f"n{i}" for i in range(nodes)),
        zones=("a", "a", "b", "b"),
        step_s=3600.0,
        available=np.ones((nodes, steps), dtype=bool),
        state_bytes=np.array(sizes_mib) * MIB,
        writes_per_min=np.array(writes),
        min_replicas=np.ones(n, dtype=np.int64),
        max_replicas=np.zeros(n, dtype=np.int64),
    )


def _held(trace: Trace, setting: Setting) -> np.ndarray:
    """Each step's placement (steps x resources x nodes) of ``setting``'s run."""
    config = SimConfig(warmup_steps=0)
    policy = predictive_variant(trace, ForecastCache(), setting).make()
    policy.start(trace, config)
    replicas = np.zeros((trace.n_resources, trace.n_nodes), dtype=bool)
    held = []
    for t in range(trace.steps):
        replicas = policy.decide(t, replicas, replicas, np.full(replicas.shape, 86400.0))
        held.append(replicas.copy())
    return np.array(held)


def test_a_run_holds_the_large_resource_everywhere_and_the_small_one_as_before() -> None:
    trace = _trace()
    base = Setting(FLOOR, FLOOR)
    off = _held(trace, base)
    both = _held(trace, replace(base, everywhere=3.0))
    large = _held(trace, replace(base, everywhere=3.0, everywhere_bytes=64 * MIB))
    assert both.all()  # the day count alone: both everywhere (full)
    assert large[:, 0, :].all()
    assert (large[:, 1, :] == off[:, 1, :]).all()
    assert off[:, 1, :].sum(axis=1).max() == 1


@pytest.mark.parametrize(
    ("sizes", "writes", "pairs"),
    [
        # generated-38's order: 3-30 days select both, 100 the small one; the larger
        # alone is new at 64 MiB (1-32 MiB select both)
        ((128.0, 32.0), (1.0, 0.05), [(3.0, 64 * MIB)]),
        # three: at 3 days the two largest (16 MiB), the largest (64); 100 days selects the
        # two small ones, and of them the larger alone is new at 16 MiB
        (
            (128.0, 32.0, 8.0),
            (1.0, 0.05, 0.01),
            [(3.0, 16 * MIB), (3.0, 64 * MIB), (100.0, 16 * MIB)],
        ),
        # the larger the rarer written: the day counts select every such set already
        ((128.0, 32.0), (0.05, 1.0), []),
        # one resource: every set a size selects a day count selects too
        ((128.0,), (1.0,), []),
        # two of one size: no size tells them apart
        ((64.0, 64.0), (1.0, 0.05), []),
        # written too often for any day count: none
        ((128.0, 32.0), (1000.0, 1000.0), []),
    ],
)
def test_the_family_runs_each_pair_that_holds_a_new_set_of_resources(
    sizes: tuple[float, ...], writes: tuple[float, ...], pairs: list[tuple[float, int]]
) -> None:
    trace = _trace(sizes, writes)
    settings = everywhere_largest(trace)
    chosen = sorted({(s.everywhere, s.everywhere_bytes) for s in settings})
    assert chosen == pairs
    assert len(settings) == 14 * len(pairs)
    labels = [s.label for s in settings]
    assert len(set(labels)) == len(labels)
    assert all(" copy>=" in label and "MiB" in label for label in labels)
    held = {s.label for s in everywhere_held(trace)} | {s.label for s in PREDICTIVE}
    assert not set(labels) & held
    assert family_settings(trace, ["everywhere-largest"]) == settings
    assert all(s.everywhere in EVERYWHERE_DAYS for s in settings)


def test_the_label_names_the_least_size_in_mebibytes() -> None:
    setting = Setting(FLOOR, FLOOR, everywhere=3.0, everywhere_bytes=64 * MIB)
    assert setting.label.endswith(" everywhere>=3d copy>=64MiB")
    assert setting.planner.everywhere_min_bytes == 64 * MIB
    assert Setting(FLOOR, FLOOR).planner.everywhere_min_bytes == 0
