"""The bounds on hand-made traces whose answer can be worked out by hand, or by brute force."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from statecast.core.placement import LatencyModel
from statecast.sim import Trace
from statecast.sim.bounds import local_hit_bound
from statecast.sim.latency_bound import LatencyBound
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


def test_latency_bound_on_one_busy_node() -> None:
    demand = np.zeros((1, 2, STEPS))
    demand[0, 0] = 100.0
    trace = small_trace(demand, ("a", "b"), min_replicas=1)
    bound = LatencyBound(trace, LatencyModel())
    assert bound.lower(HOURS_PER_REPLICA) == pytest.approx(0.1, rel=1e-3)
    assert bound.offline(HOURS_PER_REPLICA) == pytest.approx(0.1)


def _exact_optimum(trace: Trace, latency: LatencyModel, budget: int) -> float:
    """Brute force: every feasible set per step, then the best split of the budget."""
    names = sorted(set(trace.zones))
    floor_zones = min(int(trace.min_replicas[0]), len(names))
    best_by_size: list[dict[int, float]] = []
    for t in range(trace.steps):
        d = trace.demand[0, :, t]
        sizes: dict[int, float] = {}
        for k in range(trace.n_nodes + 1):
            for held in itertools.combinations(range(trace.n_nodes), k):
                if k < trace.min_replicas[0] or len({trace.zones[j] for j in held}) < floor_zones:
                    continue
                cost = 0.0
                for i in range(trace.n_nodes):
                    if i in held:
                        cost += d[i] * latency.local_ms
                    elif held:
                        cost += d[i] * min(
                            latency.between(trace.zones[i], trace.zones[j]) for j in held
                        )
                    else:
                        cost += d[i] * latency.no_replica_ms
                sizes[k] = min(sizes.get(k, np.inf), cost)
        best_by_size.append(sizes)
    table = {0: 0.0}  # replicas used so far -> least latency
    for sizes in best_by_size:
        table = {
            used + k: min(
                table2 + c
                for (used2, table2) in table.items()
                for (k2, c) in sizes.items()
                if used2 + k2 == used + k
            )
            for used in table
            for k in sizes
            if used + k <= budget
        }
    return min(table.values()) / trace.demand.sum()


@settings(derandomize=True, max_examples=40, deadline=None)
@given(
    demand=st.lists(st.integers(0, 50), min_size=12, max_size=12),
    zones=st.lists(st.sampled_from("ab"), min_size=4, max_size=4),
    low=st.integers(1, 2),
    extra=st.integers(0, 5),
)
def test_latency_bound_brackets_the_offline_optimum(
    demand: list[int], zones: list[str], low: int, extra: int
) -> None:
    """lower <= the exact optimum (brute force) <= offline, on 4 nodes x 3 steps."""
    grid = np.array(demand, dtype=float).reshape(1, 4, 3)
    assume(grid.sum() > 0)
    trace = small_trace(grid, tuple(zones), min_replicas=low)
    budget = 3 * low + extra
    hours = budget * 60.0 / 3600.0
    latency = LatencyModel()
    optimum = _exact_optimum(trace, latency, budget)
    bound = LatencyBound(trace, latency)
    assert bound.lower(hours) <= optimum + 1e-9
    offline = bound.offline(hours)
    if offline is not None:
        assert offline >= optimum - 1e-9
