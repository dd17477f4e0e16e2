"""The bytes-dear runs (session 20, ``sweeps.BYTES_DEAR``): bytes moved priced thousands
of times a copy's, copies kept a day or a week - groupcache's corner, where a copy is made
once and kept, and a rarely written resource's copies cost almost no bytes."""

from __future__ import annotations

import numpy as np
from bench.sim import declared_order

from statecast.sim import SimConfig, Trace, replay
from statecast.sim.policies import Static
from statecast.sim.scenarios import scenario
from statecast.sim.sweeps import (
    BYTES_DEAR,
    BYTES_DEAR_COPY,
    BYTES_DEAR_HOLD,
    HOLDING_COOLDOWNS,
    PREDICTIVE,
    Setting,
    variants,
)
from tests.unit._placement_helpers import predictive_run, quiet_and_busy

WEEK = HOLDING_COOLDOWNS[1]


def _two_resources() -> Trace:
    """Two 8 MiB resources read alike on six nodes of three zones; one written 0.1 times a
    minute, the other 60 times (a copy of it costs its write stream, 3.5 MiB an hour)."""
    demand = np.random.default_rng(0).poisson(2000.0, size=(2, 6, 96)).astype(float)
    return quiet_and_busy("quiet-and-busy", demand)


def test_the_bytes_dear_runs_are_new_labels_outside_the_equal_count_order() -> None:
    labels = [s.label for s in BYTES_DEAR]
    assert (
        len(set(labels)) == len(BYTES_DEAR) == 2 * 2 * len(BYTES_DEAR_HOLD) * len(BYTES_DEAR_COPY)
    )
    assert not set(labels) & {s.label for s in PREDICTIVE}
    assert not set(labels) & set(declared_order())
    for setting in BYTES_DEAR:
        assert setting.cooldown in HOLDING_COOLDOWNS and setting.copy >= 4096.0
        assert not setting.demand_priced and not setting.hand_off
    chosen = [v.label for v in variants(scenario("drift"), ("predictive",))]
    assert set(labels) <= set(chosen)


def test_dear_bytes_keep_copies_of_the_rarely_written_resource_only() -> None:
    # Local-first at copies x16,384 kept a week: the quiet resource on all six nodes,
    # the busy one at its min of 1 - more than half the reads local at static's bytes
    # (the busy one's write stream to its one copy), where copies at their price hold
    # both everywhere and move six times the bytes.
    trace = _two_resources()
    config = SimConfig(warmup_steps=24)
    hours = (trace.steps - config.warmup_steps) * trace.step_s / 3600.0
    static = replay(trace, Static(), config)

    def run(setting: Setting) -> tuple[float, float, float]:
        return predictive_run(trace, config, setting)

    dear = Setting(1 / 16, 2.0**14, local=True, cooldown=WEEK)
    assert dear in BYTES_DEAR
    held, local, moved = run(dear)
    assert held == 7 * hours  # six copies of the quiet resource, one of the busy
    assert local > static.local_hit_ratio + 0.3
    assert moved < 1.02 * static.bytes_moved
    cheap_held, cheap_local, cheap_moved = run(Setting(1 / 16, cooldown=WEEK))
    assert cheap_held == 12 * hours and cheap_local == 1.0
    assert cheap_moved > 5 * moved
