"""Latency-valued sweep runs can price holding per replica-hour, the frontiers' budget.

The frontiers compare policies at equal replica-hours. A latency-valued predictive run
prices holding per GiB-hour, so it spends replica-hours on the small resources: on
generated-12 (6.7-235 MiB) a run at 688 rh held 414 rh of the 6.7 MiB resource and 59 of
the 235 MiB one, where reactive's run at 694 rh held 173 and 157 - and was 2.9 % faster.
``Setting.per_replica`` (``PlannerPolicy.holding_per_replica``) prices a replica of every
resource alike, as local-first runs always have; off, every earlier run is unchanged.
"""

from __future__ import annotations

import numpy as np
import pytest

from statecast.sim import SimConfig, Trace, replay
from statecast.sim.planned import ForecastCache, PerfectForecast
from statecast.sim.policies import Policy
from statecast.sim.sweeps import (
    NEAR_FREE,
    PER_REPLICA_DEAR,
    PREDICTIVE,
    Setting,
    predictive_variant,
)

BoolArray = np.ndarray
READS = (4000.0, 2000.0, 1000.0, 500.0, 250.0, 120.0)


def _two_sizes() -> Trace:
    """A 1 MiB and a 255 MiB resource read alike on six nodes in three zones, no writes."""
    steps = 24
    demand = np.zeros((2, len(READS), steps))
    demand[:, :, :] = np.array(READS)[None, :, None]
    return Trace(
        name="two-sizes",
        demand=demand,
        resources=("small", "large"),
        nodes=tuple(f"n{i}" for i in range(len(READS))),
        zones=("z0", "z1", "z2", "z0", "z1", "z2"),
        step_s=300.0,
        available=np.ones((len(READS), steps), dtype=np.bool_),
        state_bytes=np.array([1.0, 255.0]) * 2**20,
        writes_per_min=np.zeros(2),
        min_replicas=np.ones(2, dtype=np.int64),
        max_replicas=np.zeros(2, dtype=np.int64),
    )


class _Recorded:
    """A policy whose every decision is kept (resources x nodes per step)."""

    def __init__(self, policy: Policy) -> None:
        self.policy, self.name, self.decisions = policy, policy.name, list[BoolArray]()

    def start(self, trace: Trace, config: SimConfig) -> None:
        self.policy.start(trace, config)

    def decide(self, t: int, replicas: BoolArray, ready: BoolArray, age_s: BoolArray) -> BoolArray:
        desired = np.asarray(self.policy.decide(t, replicas, ready, age_s), dtype=np.bool_)
        self.decisions.append(desired.copy())
        return desired


def _copies(per_replica: bool | None, weight: float) -> list[int]:
    """Replica-steps per resource of the planner fed the true demand."""
    policy = PerfectForecast(demand_priced=False, storage_weight=weight)
    policy.holding_per_replica = per_replica
    recorded = _Recorded(policy)
    replay(_two_sizes(), recorded, SimConfig())
    return [int(n) for n in np.array(recorded.decisions).sum(axis=(0, 2))]


def test_priced_per_replica_hour_resources_read_alike_get_the_same_copies() -> None:
    # Per GiB-hour (every run before) the 1 MiB resource gets more copies than the 255 MiB
    # one read exactly alike; per replica-hour both get the same (failed before: the knob
    # did not exist, so both rows read like the first).
    for weight, by_gib, by_replica in ((1.0, [144, 72], [72, 72]), (16.0, [120, 24], [24, 24])):
        assert _copies(None, weight) == by_gib
        assert _copies(False, weight) == by_gib
        assert _copies(True, weight) == by_replica


def test_the_knob_reaches_the_planner_and_leaves_every_earlier_run_alone() -> None:
    trace = _two_sizes()
    config = SimConfig()
    prices = {}
    for setting in (
        Setting(4.0, NEAR_FREE),
        Setting(4.0, NEAR_FREE, per_replica=True),
        Setting(4.0, NEAR_FREE, local=True),
    ):
        policy = predictive_variant(trace, ForecastCache(), setting).make()
        policy.start(trace, config)
        costs = policy._costs  # type: ignore[attr-defined]
        prices[setting.label] = [c.ms_per_gib_hour for c in costs]
    latency, per_replica, local = prices.values()
    assert latency[0] == latency[1]  # per GiB-hour: one price a GiB
    assert per_replica == local  # per replica-hour, as local-first prices it
    # every replica at the price of one of the mean size (128 MiB)
    assert per_replica[0] == pytest.approx(128 * latency[0])
    assert per_replica[1] == pytest.approx(128 / 255 * latency[1])


def test_labels_of_earlier_settings_are_unchanged_and_the_grid_adds_per_replica_runs() -> None:
    assert Setting(8.0).label == "predictive hold x8 copy x1"
    assert Setting(8.0, per_replica=True).label == "predictive hold x8 copy x1 per-replica"
    added = [s for s in PREDICTIVE if s.per_replica and s not in PER_REPLICA_DEAR]
    assert added and not any(s.local for s in added)  # local-first prices so already
    for copy in (NEAR_FREE, 1 / 16):
        holds = sorted(s.hold for s in added if s.copy == copy)
        assert holds[0] <= 1 / 1024 and holds[-1] >= 2.0
        assert max(np.diff(np.log2(holds))) <= 1.0, holds  # no chord across a 4x step
    first = PREDICTIVE.index(added[0])
    block = PREDICTIVE[first : first + len(added)]
    assert all(s.per_replica for s in block)  # appended: earlier runs keep their order
    assert len({s.label for s in PREDICTIVE}) == len(PREDICTIVE)


def test_the_per_replica_line_with_near_free_copies_steps_by_sqrt2() -> None:
    # Session 13: a 2x step of the per-replica holding price could halve a run's
    # replica-hours (generated-37: x2 528 rh, x4 308) and leave a rival's run under the
    # chord (failed before: the line stepped by 2x and PER_REPLICA_FINE did not exist).
    from statecast.sim.sweeps import PER_REPLICA, PER_REPLICA_FINE

    line = sorted(s.hold for s in PREDICTIVE if s.per_replica and s.copy == NEAR_FREE)
    assert max(np.diff(np.log2(line))) == pytest.approx(0.5)
    assert line[0] == pytest.approx(2**-10.5) and line[-1] == pytest.approx(2**1.5)
    first = PREDICTIVE.index(PER_REPLICA[0])  # added right after session 12's line
    assert PREDICTIVE[first : first + len(PER_REPLICA) + len(PER_REPLICA_FINE)] == (
        *PER_REPLICA,
        *PER_REPLICA_FINE,
    )
    assert PER_REPLICA_FINE[-1].label == "predictive hold x2.83 copy x0.000244 per-replica"
    assert len({s.label for s in PREDICTIVE}) == len(PREDICTIVE)
