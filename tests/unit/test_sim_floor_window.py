"""The floor's window belief in the sweep: a knob that reaches the planner, appended settings.

``Setting.floor_window`` (-> ``PlannerPolicy.spec`` -> ``PlacementSpec.floor_window_s``):
at ``min`` the copies are placed by each node's reads over a window and the horizon
(:func:`statecast.core.placement.board.window_demand`). 0 is every earlier run. Each test
failed before (the knob did not exist).
"""

from __future__ import annotations

import numpy as np
import pytest

from statecast.sim import SimConfig, Trace, replay
from statecast.sim.planned import ForecastCache
from statecast.sim.sweeps import (
    FLOOR,
    FLOOR_WINDOW,
    NEAR_FREE,
    PREDICTIVE,
    Setting,
    predictive_variant,
)


def _noisy_floor() -> Trace:
    """One resource at ``min`` 1 on three nodes in three zones, five-minute steps, a day.

    Node b reads 3 a step throughout; node c reads nothing but 9 every sixth step (1.5 a
    step); node a reads 1 a step. The copy belongs on b, which reads most over any hour.
    """
    steps = 288
    demand = np.zeros((1, 3, steps))
    demand[0, 0, :] = 1.0
    demand[0, 1, :] = 3.0
    demand[0, 2, 5::6] = 9.0
    return Trace(
        name="noisy-floor",
        demand=demand,
        resources=("r",),
        nodes=("a", "b", "c"),
        zones=("z0", "z1", "z2"),
        step_s=300.0,
        available=np.ones((3, steps), dtype=np.bool_),
        state_bytes=np.array([2.0**20]),
        writes_per_min=np.zeros(1),
        min_replicas=np.ones(1, dtype=np.int64),
        max_replicas=np.zeros(1, dtype=np.int64),
    )


def _run(setting: Setting) -> tuple[float, float]:
    trace = _noisy_floor()
    config = SimConfig(warm_retention_s=0.0, warmup_steps=48)
    result = replay(trace, predictive_variant(trace, ForecastCache(), setting).make(), config)
    return result.replica_hours, result.local_hit_ratio


def test_the_knob_reaches_the_planner_spec() -> None:
    trace = _noisy_floor()
    for window in (0.0, 3600.0):
        policy = predictive_variant(trace, ForecastCache(), Setting(FLOOR, floor_window=window))
        built = policy.make()
        built.start(trace, SimConfig())
        assert [s.floor_window_s for s in built._specs] == [window]  # type: ignore[attr-defined]


def test_at_the_floor_the_window_holds_the_copy_on_the_busiest_node() -> None:
    # b reads 3 of every 5.5 reads a step (54.5 %): held on b over the hour's window
    hours, local = _run(Setting(FLOOR, NEAR_FREE, floor_window=3600.0))
    assert hours == pytest.approx(20.0)  # min 1 after the 4-hour warm-up: the floor, nothing added
    assert local > 0.54
    # the forecast's belief (every earlier run) follows c's spikes of 9 and the sole copy
    # chases them: 27 % local
    _, before = _run(Setting(FLOOR, NEAR_FREE))
    assert before < 0.3


def test_labels_of_earlier_settings_are_unchanged_and_the_floor_runs_are_appended() -> None:
    assert Setting(FLOOR, NEAR_FREE).label == "predictive hold x1e+06 copy x0.000244"
    assert Setting(FLOOR, 1 / 16, local=True, floor_window=3600.0).label == (
        "predictive hold x1e+06 copy x0.0625 local-first floor=3600s"
    )
    # appended, earlier ones in order (later sessions' settings append after them)
    first = PREDICTIVE.index(FLOOR_WINDOW[0])
    assert PREDICTIVE[first : first + len(FLOOR_WINDOW)] == FLOOR_WINDOW
    assert all(s.hold == FLOOR and s.floor_window > 0 for s in FLOOR_WINDOW)
    assert not any(s.floor_window for s in PREDICTIVE[:first])
    assert len({s.label for s in PREDICTIVE}) == len(PREDICTIVE)
