"""A resource whose demand walks over the nodes: what its history costs to read (#16).

Session 13's profile of the operator at 1,000 resources x 50 nodes with the demand
walking showed the core going to reading the history: each forecast rebuild (one per
resource each time its hot node reached a new node) read the whole capacity (4,320
intervals) per node and cut the unknown part off, and the reactive heat's rates over
15 minutes interpolated each node's whole ring. Both grew with the nodes the demand had
visited. These tests count what is read; none times anything.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest

from statecast.api.shared_resource import SharedResourceSpec
from statecast.controller.forecasting import DemandForecaster
from statecast.controller.sampling import DemandSampler
from statecast.core.demand import AgentSample, DemandHistory
from statecast.core.demand_series import ResourceDemand, Span, held_steps
from statecast.core.interval_ring import IntervalRing

REF = ("ns", "walk")
NODES = tuple(f"node-{i:02d}" for i in range(50))
START = 1_796_500_000.0


@pytest.mark.parametrize(
    ("sentence", "first", "end", "steps"),
    [
        ("nothing known: one interval", None, 1000.0, 1),
        ("known from the start of the newest interval: it and one before", 990.0, 1000.0, 2),
        ("an hour of 10 s intervals", 1000.0 - 3600.0, 1000.0, 361),
        ("never more than the capacity", -1e9, 1000.0, 4320),
        ("known since before the ring reaches: the capacity", -math.inf, 1000.0, 4320),
        ("a first interval not on the grid is covered", 995.0 - 100.0, 1000.0, 12),
    ],
)
def test_held_steps(sentence: str, first: float | None, end: float, steps: int) -> None:
    assert held_steps(first, end, 10.0, 4320) == steps, sentence


def walk(minutes: int) -> DemandSampler:
    """Agents on every node read every 10 s; the resource is read on one node at a time,
    the next node every 2 minutes (the scale benchmark's demand); each agent keeps
    reporting the resource's counter once it read it."""
    sampler = DemandSampler(lambda: [])
    counts: dict[str, int] = {}
    for tick in range(minutes * 6):
        at = START + 10 * (tick + 1)
        hot = NODES[(tick // 12) % len(NODES)]
        counts[hot] = counts.get(hot, 0) + 50
        for node, count in counts.items():
            sampler.record(AgentSample(node, START, at, {("ns", "walk", "local"): count}))
    return sampler


SPEC = SharedResourceSpec.model_validate(
    {"replicas": {"min": 2}, "prediction": {"interval": "10s", "horizon": "1m"}}
)


def test_a_rebuild_reads_only_the_intervals_the_history_holds() -> None:
    """30 minutes of history at 10 s intervals: 180 intervals, not the 4,320 of the
    capacity, per node; and the forecast is the one the whole capacity gave."""
    sampler = walk(30)
    asked: list[int] = []
    read = sampler.matrix

    def counting(ref, nodes, interval, end, steps):  # type: ignore[no-untyped-def]
        asked.append(steps)
        return read(ref, nodes, interval, end, steps)

    sampler.matrix = counting  # type: ignore[method-assign]
    now = dt.datetime.fromtimestamp(START + 1800 + 1, dt.UTC)
    demand = DemandForecaster(sampler).demand(REF, SPEC, NODES, now)
    assert demand is not None and len(demand.forecast.nodes) == 15
    assert max(asked) < 200, asked  # about 180 (the agents' first span included), not 4,320
    whole = sampler.matrix(REF, demand.forecast.nodes, 10.0, START + 1800, 4320)
    first = int(np.argmax(~np.isnan(whole).all(axis=0)))
    assert whole.shape[1] - first <= max(asked)


def test_rates_over_whole_intervals_read_the_window_not_each_ring() -> None:
    """The reactive heat's rates (15 minutes of 10 s intervals) are the window's sums of
    the ring's own intervals, the same as spreading each node's whole ring."""
    history = DemandHistory(10.0)
    demand = ResourceDemand(10.0)
    rng = np.random.default_rng(7)
    for k in range(300):
        for j, node in enumerate(NODES[:20]):
            if j <= k // 15:
                reads = float(rng.poisson(4))
                demand.add(node, Span(START + 10 * k + 3, START + 10 * k + 13, reads, 0.0))
    history._resources[REF] = demand  # the history under test
    end = START + 10 * 290
    calls = {"series": 0}
    series = IntervalRing.series

    def counted(self: IntervalRing, node: str) -> np.ndarray:  # type: ignore[type-arg]
        calls["series"] += 1
        return series(self, node)

    IntervalRing.series = counted  # type: ignore[method-assign]
    try:
        rates = history.rates_of(REF, 900.0, end)
        assert calls["series"] == 0, "no node's whole ring is read for whole intervals"
        spread = history.rates_of(REF, 905.0, end + 5.0)  # not on the grid: spread
        assert calls["series"] > 0
    finally:
        IntervalRing.series = series  # type: ignore[method-assign]
    assert rates is not None and spread is not None and set(rates) == set(NODES[:20])
    fine = demand.matrix(list(rates), 10.0, end, 90)
    expected = np.nansum(fine, axis=1) / 900.0
    assert np.allclose([rates[n] for n in rates], expected, rtol=1e-12)


def test_a_block_is_each_rows_window() -> None:
    ring = IntervalRing(100)
    rng = np.random.default_rng(3)
    for index in range(150):
        for node in ("a", "b", "c"):
            if rng.random() < 0.7:
                ring.add(node, np.array([index]), rng.random())
    for first, count in ((40, 60), (120, 40), (140, 20), (0, 10), (149, 5)):
        block = ring.block(["c", "zz", "a"], first, count)
        assert np.array_equal(block[0], ring.window("c", first, count))
        assert np.array_equal(block[1], np.zeros(count))
        assert np.array_equal(block[2], ring.window("a", first, count))
        assert ring.total_of(first, count) == pytest.approx(
            sum(float(ring.window(n, first, count).sum()) for n in "abc"), rel=1e-12
        )


def test_the_planner_is_handed_the_engines_last_day_itself_not_a_copy() -> None:
    """Each forecast copied the engine's last day of reads (nodes x a day of intervals,
    float64) into the PredictedDemand the forecaster keeps: a second copy per resource."""
    sampler = walk(20)
    forecaster = DemandForecaster(sampler)
    now = dt.datetime.fromtimestamp(START + 1200 + 1, dt.UTC)
    demand = forecaster.demand(REF, SPEC, NODES, now)
    engine = forecaster._engines[REF]  # the forecaster's engine, under test
    assert demand is not None and demand.forecast.recent is not None
    assert demand.forecast.recent is engine.recent
    assert not np.isnan(engine.recent).any() and not engine.recent.flags.writeable
    assert engine.recent.shape[0] == 10
