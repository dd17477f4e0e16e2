"""Rarely written resources held on every node (issue 11, session 24, gc24).

``PlacementSpec.everywhere_copy_days``: a resource whose full copy moves at least that
many days of one replica's write stream is held on every ready node with room (up to
``max``), and no cost stage removes those copies; other resources, and the knob at 0,
plan as before. Found against groupcache on seen generated-10, whose hot caches held a
180 MB resource written 3 times a minute on every node through two node losses (no copy
made again), where our runs at its service copied it again after each loss. Each case
with the knob on failed before (the field did not exist).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from statecast.core.placement import (
    ActionKind,
    PlanInput,
    Reason,
    StateProfile,
    copy_outlasts_stream,
    plan,
)
from statecast.sim import SimConfig, Trace, replay
from statecast.sim.planned import ForecastCache
from statecast.sim.sweeps import (
    EVERYWHERE_DAYS,
    FLOOR,
    PREDICTIVE,
    Setting,
    everywhere_held,
    family_settings,
    predictive_variant,
)
from tests.unit._placement_helpers import MIB, QUIET, everywhere_input

#: 64 MiB written 60 times a minute: a copy is 0.76 days of one replica's stream.
BUSY = StateProfile(64 * MIB, 60.0)


@pytest.mark.parametrize(
    ("inputs", "nodes"),
    [
        # off: the copy where the reads are, nothing else
        (everywhere_input(0.0), ("x",)),
        # a copy outweighs 45.5 days of its stream: on every node
        (everywhere_input(30.0), ("d", "p", "q", "x")),
        (everywhere_input(45.0), ("d", "p", "q", "x")),
        # ... not 100 days: as off
        (everywhere_input(100.0), ("x",)),
        # a busy resource (0.76 days) is planned as before
        (everywhere_input(3.0, state=BUSY), ("x",)),
        (everywhere_input(0.5, state=BUSY), ("d", "p", "q", "x")),
        # a resource never written qualifies at any day count
        (everywhere_input(1e9, state=StateProfile(64 * MIB)), ("d", "p", "q", "x")),
        # a node not ready gets none
        (everywhere_input(30.0, down="q"), ("d", "p", "x")),
        # up to max, the copy already held kept
        (everywhere_input(30.0, maximum=2), ("d", "x")),
        # copies on idle nodes, held a day: removed for cost when off, kept when on
        (everywhere_input(0.0, held=("x", "p", "q")), ("x",)),
        (everywhere_input(30.0, held=("x", "p", "q")), ("d", "p", "q", "x")),
    ],
)
def test_everywhere_holds_a_rarely_written_resource_on_every_ready_node(
    inputs: PlanInput, nodes: tuple[str, ...]
) -> None:
    assert tuple(sorted(plan(inputs).nodes)) == nodes


def test_a_copy_held_everywhere_says_so() -> None:
    # session 25: its own reason (before: ``minimum``, with a detail saying why)
    added = plan(everywhere_input(30.0)).of_kind(ActionKind.ADD)
    assert {(a.node, a.reason) for a in added} == {
        ("d", Reason.EVERYWHERE),
        ("p", Reason.EVERYWHERE),
        ("q", Reason.EVERYWHERE),
    }
    assert all("every node" in a.detail for a in added)


@pytest.mark.parametrize(
    ("state", "days", "outlasts"),
    [
        (QUIET, 0.0, False),  # off
        (QUIET, 45.0, True),
        (QUIET, 46.0, False),
        (BUSY, 0.7, True),
        (BUSY, 0.8, False),
        (StateProfile(0, 1.0), 1.0, False),  # an empty resource's copy moves nothing
        (StateProfile(MIB), 1e9, True),  # never written
    ],
)
def test_a_copy_outlasts_so_many_days_of_its_stream(
    state: StateProfile, days: float, outlasts: bool
) -> None:
    assert copy_outlasts_stream(state, days) is outlasts


def _trace() -> Trace:
    """Two 64 MiB resources on four nodes in two zones, hourly, two days; node 3 leaves
    after a day. The quiet one is written once a minute (45.5 days a copy), the busy one 60
    times (0.76 days); each is read by node 0 only."""
    steps, nodes = 48, 4
    demand = np.zeros((2, nodes, steps))
    demand[:, 0, :] = 1000.0
    available = np.ones((nodes, steps), dtype=bool)
    available[3, 24:] = False
    return Trace(
        name="quiet-and-busy",
        demand=demand,
        resources=("quiet", "busy"),
        nodes=tuple(f"n{i}" for i in range(nodes)),
        zones=("a", "a", "b", "b"),
        step_s=3600.0,
        available=available,
        state_bytes=np.full(2, 64.0 * MIB),
        writes_per_min=np.array([1.0, 60.0]),
        min_replicas=np.ones(2, dtype=np.int64),
        max_replicas=np.zeros(2, dtype=np.int64),
    )


def test_a_run_holds_the_quiet_resource_everywhere_and_copies_it_once() -> None:
    trace = _trace()
    config = SimConfig(warmup_steps=0)
    cache = ForecastCache()
    placements = []
    for days in (0.0, 30.0):
        policy = predictive_variant(trace, cache, Setting(FLOOR, FLOOR, everywhere=days)).make()
        policy.start(trace, config)
        replicas = np.zeros((2, 4), dtype=bool)
        held = []
        for t in range(trace.steps):
            replicas = policy.decide(t, replicas, replicas, np.full((2, 4), 86400.0))
            replicas &= trace.available[:, t][None, :]
            held.append(replicas.copy())
        placements.append(np.array(held))
    off, on = placements
    assert (on[:, 0, :] == trace.available.T).all()  # the quiet one on every node up
    assert (on[:, 1, :] == off[:, 1, :]).all()  # the busy one as before
    assert off[:, 0, :].sum(axis=1).max() == 1
    # the node that leaves takes a copy the others hold: none made again (replayed)
    run = replay(
        trace,
        predictive_variant(trace, cache, Setting(FLOOR, FLOOR, everywhere=30.0)).make(),
        config,
    )
    assert run.bytes_full_copies - run.bytes_moved == 0
    copies = run.bytes_moved - _streams(trace, config, on)
    assert copies == pytest.approx(5 * 64 * MIB)  # 4 of the quiet, 1 of the busy


def _streams(trace: Trace, config: SimConfig, held: np.ndarray) -> float:
    per_step = trace.writes_per_min * trace.step_s / 60.0 * config.bytes_per_write
    return float((held.sum(axis=2) * per_step[None, :]).sum())


def test_the_family_runs_each_day_count_that_holds_a_new_set_of_resources() -> None:
    trace = _trace()
    settings = everywhere_held(trace)
    # 3 days selects the quiet resource alone, as 10 and 30 do; 100 selects none
    assert {s.everywhere for s in settings} == {EVERYWHERE_DAYS[0]}
    labels = [s.label for s in settings]
    assert len(set(labels)) == len(labels) == 14
    assert all(label.endswith(" everywhere>=3d") for label in labels)
    assert not set(labels) & {s.label for s in PREDICTIVE}
    assert family_settings(trace, ["everywhere-held"]) == settings
    # with every resource written hard no day count selects any: no runs
    busy = replace(trace, writes_per_min=np.array([60.0, 60.0]))
    assert everywhere_held(busy) == ()
