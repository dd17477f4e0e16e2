"""The simulator's self-tuner sees its hedge copies' use, as the operator's does (session 23).

The operator's learner moves the deviation threshold by the share of judged hedge
Replicas whose node read the resource (:func:`statecast.core.reconcile.tuning.observe_window`);
the simulator's had no such signal, so its tuned runs never moved the threshold. And the
reactive budget's shadow runs with the tuner on unless the tuner sets the cost weight (a
local-hit target), as the operator's does: ``predictive+threshold`` is a SharedResource's
default spec.
"""

from __future__ import annotations

import numpy as np
import pytest

from statecast.core.tuning import TunerConfig
from statecast.sim import SimConfig, replay
from statecast.sim.planned import Predictive
from statecast.sim.registry import make_policy
from statecast.sim.scenarios import scenario
from tests.unit.test_sim_replay import small_trace

CONFIG = SimConfig(bandwidth_bytes_per_s=1e12)


def started(tuner: TunerConfig | None, steps: int = 120) -> Predictive:
    """A planner policy started on four nodes, an hour's window of one-minute steps."""
    demand = np.zeros((1, 4, steps))
    demand[0, 0] = 10.0
    demand[0, 2, 30:] = 5.0  # node n2 reads from step 30 on; n3 never
    policy = Predictive(tuner=tuner)
    policy.start(small_trace(demand, ("a", "a", "b", "b")), CONFIG)
    return policy


@pytest.mark.parametrize(
    ("hedged", "expected"),
    [
        ({}, None),  # no hedge copy: no signal
        ({2: 0.0}, 1.0),  # n2's hedge read within the window
        ({3: 0.0}, 0.0),  # n3 never read
        ({2: 0.0, 3: 0.0}, 0.5),
        ({2: 2_500.0, 3: 0.0}, 0.5),  # judged: held longer than the 15-minute cooldown
        ({2: 3_500.0, 3: 0.0}, 0.0),  # n2's too young to judge: n3 alone
    ],
)
def test_the_share_of_judged_hedges_whose_node_read(
    hedged: dict[int, float], expected: float | None
) -> None:
    policy = started(TunerConfig(target_local_hit_ratio=None))
    policy._tune_steps = 60  # the tuning window: steps 0 .. 59 before the judgement at 60
    replicas = np.zeros((1, 4), dtype=bool)
    replicas[0, 0] = True
    for node, at in hedged.items():
        policy._hedged_at[0, node] = at
        replicas[0, node] = True
    assert policy._hedge_use(60, replicas) == [expected]


def test_a_hedge_used_only_before_it_was_placed_is_not_used() -> None:
    policy = started(TunerConfig(target_local_hit_ratio=None))
    policy._tune_steps = 120
    policy._hedged_at[0, 0] = 0.0  # n0 read all along
    policy._hedged_at[0, 3] = 60.0  # n3 never read
    replicas = np.array([[True, False, False, True]])
    assert policy._hedge_use(120, replicas) == [0.5]


@pytest.mark.parametrize(
    ("tuner", "shadow"),
    [
        (None, True),
        (TunerConfig(target_local_hit_ratio=None), True),  # the operator's default spec
        (TunerConfig(), False),  # a local-hit target prices copies itself
    ],
)
def test_the_budget_holds_unless_the_tuner_sets_the_cost_weight(
    tuner: TunerConfig | None, shadow: bool
) -> None:
    assert (started(tuner)._shadow is not None) is shadow


def test_the_threshold_learner_moves_the_threshold_where_hedges_are_used() -> None:
    # drift: the default prices hedge twice in its three days, both copies read: the
    # learner lowers the first resource's threshold (hedge more), the others stay at 0.5
    trace = scenario("drift")
    policy = make_policy("predictive+threshold", refresh_steps=trace.period)
    assert isinstance(policy, Predictive)
    replay(trace, policy, SimConfig(warmup_steps=trace.period, warm_retention_s=0.0))
    thresholds = [s.deviation_threshold for s in policy.tuning]
    assert thresholds[0] < 0.5 and thresholds[1:] == [0.5] * (len(thresholds) - 1)
    assert {s.cost_weight for s in policy.tuning} == {1.0}
