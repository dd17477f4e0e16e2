"""Write streams priced dear and a copy apart (session 23, ``sweeps.STREAMS_DEAR``):
groupcache's steady state, where a rarely written resource's copies are made while the
first reads show and kept, so that when the demand moves the copy is already there."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from bench.sim import declared_order

from statecast.sim import SimConfig, Trace, replay
from statecast.sim.baselines import HotCopies
from statecast.sim.planned import ForecastCache
from statecast.sim.scenarios import scenario
from statecast.sim.sweeps import (
    BYTES_DEAR,
    BYTES_DEAR_HOLD,
    HOLDING_COOLDOWNS,
    PREDICTIVE,
    STREAMS_DEAR,
    STREAMS_DEAR_COPY_WEIGHT,
    STREAMS_DEAR_PRICE,
    Setting,
    predictive_variant,
)
from tests.unit._placement_helpers import MIB, predictive_run, quiet_and_busy

WEEK = HOLDING_COOLDOWNS[1]


def _moving_quiet() -> Trace:
    """Two 8 MiB resources on six nodes of three zones, hourly. The quiet one (written 0.1
    times a minute) is read 2,000 times an hour by one node at a time - each node in turn
    for 8 hours - and 100 times by the others; the busy one (written 60 times a minute, a
    copy's stream 3.5 MiB an hour) 2,000 times an hour by every node."""
    steps, nodes = 96, 6
    rng = np.random.default_rng(0)
    turn = (np.arange(steps)[None, :] // 8) % nodes == np.arange(nodes)[:, None]
    quiet = rng.poisson(np.where(turn, 2000.0, 100.0))
    busy = rng.poisson(np.full((nodes, steps), 2000.0))
    return quiet_and_busy("moving-quiet", np.stack([quiet, busy]).astype(float))


def test_the_streams_dear_runs_are_new_labels_twinned_with_bytes_dear_runs() -> None:
    labels = [s.label for s in STREAMS_DEAR]
    assert len(set(labels)) == len(STREAMS_DEAR) == 2 * 2 * 2 * len(STREAMS_DEAR_PRICE) == 56
    assert not set(labels) & {s.label for s in (*PREDICTIVE, *BYTES_DEAR)}
    assert not set(labels) & set(declared_order())
    for setting in STREAMS_DEAR:
        assert setting.cooldown in HOLDING_COOLDOWNS and setting.hold == BYTES_DEAR_HOLD[0]
        assert setting.copy_weight in STREAMS_DEAR_COPY_WEIGHT
        assert setting.planner.copy_weight == setting.copy_weight
        assert setting.label.endswith(f" copies x{setting.copy_weight:g}")
        assert not setting.demand_priced and not setting.hand_off
        # the twin with the copy at the stream's price is a bytes-dear run (or one step
        # cheaper than those)
        twin = replace(setting, copy_weight=1.0)
        assert twin in BYTES_DEAR or twin.copy == STREAMS_DEAR_PRICE[0]
    # where the runs sit among the others: test_sim_families


def test_the_copy_weight_and_the_stream_price_reach_the_planner() -> None:
    trace = scenario("drift")
    setting = STREAMS_DEAR[-1]
    policy = predictive_variant(trace, ForecastCache(), setting).make()
    assert policy.cost_weight == setting.copy  # type: ignore[attr-defined]
    assert policy.spec.copy_weight == setting.copy_weight  # type: ignore[attr-defined]
    assert policy.cooldown_s == setting.cooldown  # type: ignore[attr-defined]


def test_a_cheap_copy_of_the_quiet_resource_is_made_before_the_demand_moves() -> None:
    # Local-first at x8,192 kept a week: with the copy at x1/16 of the stream's price the
    # quiet resource is copied to all six nodes while the warm-up's reads show, as
    # groupcache's hot copies are, and nothing is copied after: groupcache's run exactly.
    # With the copy at the stream's price (the bytes-dear run) four copies are made in the
    # warm-up and three after it, when the demand reaches a node without one: more bytes
    # and fewer local hits.
    trace = _moving_quiet()
    config = SimConfig(warmup_steps=24)
    hours = (trace.steps - config.warmup_steps) * trace.step_s / 3600.0

    def run(setting: Setting) -> tuple[float, float, float]:
        return predictive_run(trace, config, setting)

    cheap = Setting(1 / 16, 2.0**13, local=True, cooldown=WEEK, copy_weight=1 / 16)
    assert cheap in STREAMS_DEAR
    held, local, moved = run(cheap)
    assert held == 7 * hours  # six copies of the quiet resource, one of the busy
    hot = replay(trace, HotCopies(per_node=1), config)
    assert (held, local, moved) == (hot.replica_hours, hot.local_hit_ratio, hot.bytes_moved)
    twin = replace(cheap, copy_weight=1.0)
    assert twin in BYTES_DEAR
    twin_held, twin_local, twin_moved = run(twin)
    assert twin_held < held and twin_local < local
    assert twin_moved > moved + 3 * 8.0 * MIB * 0.9  # three copies after the warm-up
