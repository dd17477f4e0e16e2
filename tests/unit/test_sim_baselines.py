"""The two baselines from the field, on hand-made traces."""

from __future__ import annotations

import numpy as np

from statecast.sim import SimConfig, replay
from statecast.sim.baselines import FollowTheWorkload, HotCopies
from tests.unit.test_sim_replay import small_trace

FAST = SimConfig(bandwidth_bytes_per_s=1e12)


def test_follow_the_workload_moves_a_replica_to_the_busiest_node() -> None:
    demand = np.full((1, 4, 20), 1.0)
    demand[0, 3, 10:] = 100.0  # n3 (zone b) becomes the busiest at step 10
    trace = small_trace(demand, ("a", "b", "a", "b"), min_replicas=2)
    result = replay(trace, FollowTheWorkload(), FAST)
    placement = result.timeline.placement
    assert placement.sum(axis=0).tolist() == [2] * 20  # always min, never more
    assert not placement[3, :11].any()
    assert placement[3, 11:].all()  # one step of statistics (>= 30 s), then it moves
    zones = np.array(["a", "b", "a", "b"])
    for t in range(20):  # the zone floor holds throughout
        assert len(set(zones[placement[:, t]])) == 2


def test_follow_the_workload_waits_for_a_clear_lead_with_a_ratio() -> None:
    demand = np.full((1, 4, 20), 10.0)
    demand[0, 3, 10:] = 15.0  # busier, but not twice as busy as the replica's node
    trace = small_trace(demand, ("a", "b", "a", "b"), min_replicas=2)
    placement = replay(trace, FollowTheWorkload(ratio=2.0), FAST).timeline.placement
    assert not placement[3].any()


def test_groupcache_copies_on_a_remote_read_and_evicts_the_least_recently_read() -> None:
    demand = np.zeros((2, 3, 12))
    demand[0, 2, 2:6] = 5.0  # n2 reads r0 for four steps...
    demand[1, 2, 6:] = 5.0  # ...then r1
    one = small_trace(demand[:1], ("a", "b", "c"), min_replicas=1)
    placement = replay(one, HotCopies(probability=1.0), FAST).timeline.placement
    assert not placement[2, :3].any()
    assert placement[2, 3:].all()  # copied after the remote read at step 2, then kept
    both = HotCopies(probability=1.0, per_node=1)
    replay(small_trace(demand, ("a", "b", "c"), min_replicas=1), both, FAST)
    assert both._hot[:, 2].tolist() == [False, True]  # r1 evicted r0 from n2's one slot


def test_groupcache_never_copies_with_probability_zero() -> None:
    demand = np.full((1, 3, 10), 50.0)
    trace = small_trace(demand, ("a", "b", "c"), min_replicas=1)
    result = replay(trace, HotCopies(probability=0.0), FAST)
    assert result.timeline.placement.sum(axis=0).tolist() == [1] * 10
