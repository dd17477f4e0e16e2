"""The local-hit bound on hand-made traces whose answer can be worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from statecast.sim.bounds import local_hit_bound
from tests.unit.test_sim_replay import small_trace

STEPS = 10
HOURS_PER_REPLICA = STEPS * 60.0 / 3600.0  # small_trace has 60-second steps


def three_nodes() -> np.ndarray:
    demand = np.zeros((1, 3, STEPS))
    demand[0, 0], demand[0, 1], demand[0, 2] = 100.0, 50.0, 10.0  # zones a, a, b
    return demand


@pytest.mark.parametrize(
    ("replicas", "spread", "expected"),
    [
        (2, True, 110 / 160),  # the floor keeps zone b: n0 and n2
        (2, False, 150 / 160),  # without the spread: the two hottest
        (3, True, 1.0),  # one more replica a step serves everything
        (2.5, True, (110 + 25) / 160),  # half a replica a step: n1 on half the steps
    ],
)
def test_bound_places_the_floor_then_the_hottest_pairs(
    replicas: float, spread: bool, expected: float
) -> None:
    trace = small_trace(three_nodes(), ("a", "a", "b"), min_replicas=2)
    got = local_hit_bound(trace, replicas * HOURS_PER_REPLICA, spread=spread)
    assert got == pytest.approx(expected)


def test_budget_goes_where_demand_is_across_steps() -> None:
    demand = np.zeros((1, 2, STEPS))
    demand[0, 0, :5] = 100.0  # n0 busy in the first half
    demand[0, 1, 5:] = 100.0  # n1 busy in the second half
    trace = small_trace(demand, ("a", "b"), min_replicas=0)
    assert local_hit_bound(trace, 1 * HOURS_PER_REPLICA) == pytest.approx(1.0)
    assert local_hit_bound(trace, 0.5 * HOURS_PER_REPLICA) == pytest.approx(0.5)


def test_warmup_and_lost_nodes_are_not_counted() -> None:
    demand = three_nodes()
    available = np.ones((3, STEPS), dtype=bool)
    available[0, 5:] = False
    demand[0, 0, 5:] = 0.0
    trace = small_trace(demand, ("a", "a", "b"), min_replicas=2, available=available)
    # After step 5 the floor is n1 and n2: everything local.
    assert local_hit_bound(trace, 1.0, warmup_steps=5) == pytest.approx(1.0)
    assert local_hit_bound(small_trace(np.zeros((1, 2, 3)), ("a", "b")), 1.0) == 0.0
