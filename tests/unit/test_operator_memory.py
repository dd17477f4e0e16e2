"""What a resource's history and forecast hold in memory (#16, session 14).

Session 13's hour at 1,000 resources x 50 nodes ended at 614 MB (target 500): per
resource and node, the history's rings, the forecast engine's window and its last day
of reads for the planner (float64, a new array each interval). These tests count bytes
and check values; none times anything.
"""

from __future__ import annotations

import datetime as dt
import gc
import tracemalloc

import numpy as np
import pytest

from statecast.api.shared_resource import SharedResourceSpec
from statecast.controller.forecasting import DemandForecaster
from statecast.controller.sampling import DemandSampler
from statecast.core.demand import AgentSample
from statecast.core.demand_series import EVERY_NODE, ResourceDemand, Span
from statecast.core.forecast import ForecastEngine
from statecast.core.interval_ring import COUNT_SCALE, ROUNDING
from statecast.core.newest_columns import NewestColumns
from statecast.core.placement import DemandForecast
from statecast.core.reconcile.forecast_score import ForecastScore
from statecast.core.reconcile.predicted import last_day
from tests.unit.test_demand_walk import NODES, REF, SPEC, START, walk


def test_newest_columns_keeps_the_newest_and_never_changes_a_view() -> None:
    rng = np.random.default_rng(11)
    kept = NewestColumns(3, 50)
    everything = np.zeros((3, 0))
    views: list[tuple[np.ndarray, np.ndarray]] = []
    for _ in range(60):
        width = int(rng.integers(1, 9))
        columns = rng.poisson(3.0, (3, width)).astype(np.float64)
        columns[rng.random(columns.shape) < 0.1] = np.nan  # unknown: kept as 0
        kept.append(columns)
        everything = np.hstack([everything, np.nan_to_num(columns)])[:, -50:]
        view = kept.view()
        assert view.dtype == np.float32 and not view.flags.writeable
        assert np.array_equal(view, everything.astype(np.float32))
        views.append((view, view.copy()))
        assert kept.nbytes <= 3 * (50 + 16) * 4
    assert all(np.array_equal(view, was) for view, was in views), "a view changed later"


def test_newest_columns_takes_more_than_it_keeps() -> None:
    kept = NewestColumns(2, 4)
    kept.append(np.arange(20, dtype=np.float64).reshape(2, 10))
    assert kept.view().tolist() == [[6, 7, 8, 9], [16, 17, 18, 19]]


def test_the_planners_last_day_is_float32_appended_in_place() -> None:
    """The engine's last day of reads: the history's float64 values rounded once to
    float32, and an interval appended into the same buffer (session 13: a new float64
    array of nodes x a day per resource and interval)."""
    sampler = walk(30)
    forecaster = DemandForecaster(sampler)
    views = []
    for k in range(4):
        end = START + 1800 + 10 * k
        demand = forecaster.demand(REF, SPEC, NODES, dt.datetime.fromtimestamp(end + 1, dt.UTC))
        assert demand is not None and demand.forecast.recent is not None
        views.append(demand.forecast.recent)
        for node in sampler.nodes_of(REF):  # the next interval's readings
            last = sampler._last[node]  # the agents' counters, under test
            sampler.record(last.__class__(node, START, end + 10, dict(last.counts)))
    engine = forecaster._engines[REF]  # the forecaster's engine, under test
    names = engine.settings.nodes
    history = sampler.matrix(REF, names, 10.0, engine.end, engine.steps)
    want = np.nan_to_num(last_day(history, 10.0)).astype(np.float32)
    assert views[-1].dtype == np.float32
    assert np.array_equal(views[-1], want)
    assert np.shares_memory(views[-2], views[-1]), "appended into the same buffer"


def test_the_local_and_writes_rings_hold_one_row_for_every_node() -> None:
    """They are read only summed over the nodes: a row per node was ~1.4 KiB each."""
    demand = ResourceDemand(10.0)
    rng = np.random.default_rng(5)
    local = remote = writes = 0.0
    for k in range(400):
        for node in NODES[:30]:
            a, b, w = (float(x) for x in rng.poisson(2.0, 3))
            demand.add(node, Span(START + 10 * k, START + 10 * k + 10, a, b, w))
            if k >= 100:
                local, remote, writes = local + a, remote + b, writes + w
    assert set(demand.local.rows) == {EVERY_NODE} and set(demand.writes.rows) == {EVERY_NODE}
    assert len(demand.total.rows) == 30
    got = demand.recent(START + 1000)
    assert got == pytest.approx((local, local + remote, writes), rel=1e-6)


def test_a_node_cold_all_day_is_still_forecast_to_rise_when_it_was_hot_yesterday() -> None:
    """Follow the sun: node a reads from 08:00 to 10:00 each day, node b the rest of the
    day. Three days in, at 07:45 (a cold for 22 hours), a's forecast rises within the
    hour ahead, before its demand returns: what the memory kept per node must keep."""
    spec = SharedResourceSpec.model_validate(
        {"replicas": {"min": 1}, "prediction": {"interval": "5m", "horizon": "30m"}}
    )
    sampler = DemandSampler(lambda: [])
    day0 = 1_796_515_200.0  # a midnight (UTC)
    counts = {"a": 0, "b": 0}
    forecaster = DemandForecaster(sampler)
    demand = None
    for k in range(1, 3 * 288 + 8 * 12 - 2):  # to 07:50 of the fourth day
        at = day0 + 300.0 * k
        hour = (at - day0) % 86400 / 3600
        hot = "a" if 8 <= hour < 10 else "b"
        counts[hot] += 600
        for node, count in counts.items():
            sampler.record(AgentSample(node, day0, at, {("ns", "sun", "local"): count}))
        now = dt.datetime.fromtimestamp(at + 1, dt.UTC)
        demand = forecaster.demand(("ns", "sun"), spec, ("a", "b"), now)
    assert demand is not None
    forecast = demand.forecast
    a = forecast.nodes.index("a")
    assert forecast.observed is not None and forecast.observed[a] == 0.0, "a is cold now"
    assert forecast.mean[a, -1] > 100.0, forecast.mean[a]


def test_a_forecast_holds_its_older_hours_hourly_so_its_bytes_stop_growing() -> None:
    """Four days of 5-minute intervals on three nodes with a daily shape. Session 14's
    engine held its whole window (three days: 864 steps, float32 and a missing flag,
    5 bytes each, and an eighth more) and the planner's last day (288 steps, 4 bytes) at
    the interval's resolution: ~6 KiB per node. Now three hours of each as they are
    and every older hour as one value: under 1.5 KiB per node, the same on the fourth
    day as on the third, and the forecast kept for its interval holds no day."""
    spec = SharedResourceSpec.model_validate(
        {"replicas": {"min": 1}, "prediction": {"interval": "5m", "horizon": "15m"}}
    )
    sampler = DemandSampler(lambda: [])
    forecaster = DemandForecaster(sampler)
    day0, ref, nodes = 1_796_515_200.0, ("ns", "days"), ("a", "b", "c")
    counts = dict.fromkeys(nodes, 0)
    held: dict[int, int] = {}
    rng = np.random.default_rng(4)
    demand = None
    for k in range(1, 4 * 288 + 1):
        at = day0 + 300.0 * k
        for i, node in enumerate(nodes):
            phase = 2 * np.pi * ((at - day0) / 86400 + i / 3)
            counts[node] += int(rng.poisson(60 * (1.2 + np.sin(phase))))
            sampler.record(AgentSample(node, day0, at, {(*ref, "local"): counts[node]}))
        demand = forecaster.demand(ref, spec, nodes, dt.datetime.fromtimestamp(at + 1, dt.UTC))
        if k % 288 == 0:
            engine = forecaster._engines[ref]  # the forecaster's engine, under test
            held[k // 288] = engine._engine.nbytes + engine._day.nbytes
            # its fine steps (3 hours), the hour being filled and a slack of 16 (was 64)
            assert engine._engine._z.shape[1] <= 36 + 12 + 16
    assert demand is not None and demand.forecast.recent is not None
    assert demand.forecast.recent.shape == (3, 288)
    assert held[4] == held[3], held
    assert held[4] <= 3 * 1536, f"{held[4] / 3:.0f} bytes per node"
    assert forecaster._made[ref].demand is not None
    assert forecaster._made[ref].demand.forecast.recent is None, "kept without its day"


def test_a_resource_holds_the_coarse_hours_its_forecast_reads() -> None:
    """At 10 s with the default daily season a forecast reads three days: its coarse
    ring holds them and the hour being filled (74 hours), not four weeks (672: 2,400
    bytes more per node once a resource has run that long); a weekly season named
    later holds as far as its window reaches (at 10 s the window's bound, 112 hours)."""
    sampler = walk(30)
    forecaster = DemandForecaster(sampler)
    at = dt.datetime.fromtimestamp(START + 1801, dt.UTC)
    assert forecaster.demand(REF, SPEC, NODES, at) is not None
    held = sampler._history._resources[REF]  # the sampler's history, under test
    assert held.coarse.capacity == 74
    weekly = SharedResourceSpec.model_validate(
        {"replicas": {"min": 2},
         "prediction": {"interval": "10s", "horizon": "1m", "seasonality": ["1d", "7d"]}}
    )  # fmt: skip
    for node in sampler.nodes_of(REF):  # the next interval's readings
        last = sampler._last[node]  # the agents' counters, under test
        sampler.record(last.__class__(node, START, START + 1810, dict(last.counts)))
    forecaster.demand(REF, weekly, NODES, at + dt.timedelta(seconds=10))
    assert sampler._history._resources[REF].coarse.capacity == 113


def test_the_demand_ring_holds_two_bytes_a_value_rounded_once_per_interval() -> None:
    """A day of minutes per node was 5,760 bytes as float32 (at 1,000 resources x 50
    nodes read everywhere, 288 MB); 16 bits a value (the log in 0.05 % steps) nearly halve it.
    The newest hour stays float32 (read every interval), each older minute is rounded
    once as it ages: within 0.025 % of its sum."""
    demand, day0 = ResourceDemand(60.0), 1_796_515_200.0  # a midnight
    rng = np.random.default_rng(9)
    sums = np.zeros((3, 1440))
    for k in range(1440 * 6):
        for row, node in enumerate(("a", "b", "c")):
            a, b = (float(x) for x in rng.poisson(40.0 * (row + 1), 2))
            demand.add(node, Span(day0 + 10 * k, day0 + 10 * k + 10, a, b))
            sums[row, k // 6] += a + b
    demand.add("a", Span(day0 + 86400, day0 + 86410, 0.0, 0.0))  # closes the last minute
    assert demand.total.data.dtype == np.uint16
    assert demand.total.nbytes == 3 * ((1440 - 61) * 2 + 61 * 4), "no codes for the fresh hour"
    got = demand.matrix(("a", "b", "c"), 60.0, day0 + 86400, 1440)
    assert np.all(np.abs(got - sums) <= ROUNDING * (sums + 1 / COUNT_SCALE))
    assert got[:, -61:].tolist() == sums[:, -61:].tolist(), "the newest hour as added"


def test_the_demand_ring_holds_no_16_bit_columns_while_nothing_is_older_than_its_hour() -> None:
    """In its first hour every interval of the demand ring is fresh (float32): session
    17's ring allocated its 16-bit array at the ring's width all the same, never read
    until an interval aged - 812 bytes per node at 10 s an hour in, where the float32
    hour is 1,444 (the scale benchmark's hour, 1,000 resources x ~33 nodes: ~27 MB).
    Its codes are one column for each interval older than the hour, and no more."""
    demand = ResourceDemand(10.0)  # the hour: 361 fresh intervals
    fresh = 361
    for k in range(2 * 360):
        for node in ("a", "b", "c"):
            demand.add(node, Span(START + 10 * k, START + 10 * k + 10, 3.0 + k % 7, 1.0))
        if k == 240:  # 40 minutes in: the ring is 271 intervals wide, all of them fresh
            assert demand.total.width == 271
            assert demand.total.data.nbytes == 0
            assert demand.total.nbytes == 3 * 271 * 4
    width = demand.total.width  # two hours in: older intervals held as codes
    assert width > fresh and demand.total.data.shape == (3, width - fresh)
    assert demand.total.nbytes == 3 * (fresh * 4 + (width - fresh) * 2)


def test_the_forecast_score_holds_its_window_in_one_array() -> None:
    """Sixty intervals of (error, scored, inside) as a deque of tuples of Python numbers
    were ~6.5 KiB per resource; one array of them is 1,440 bytes."""
    said = DemandForecast(
        ("a", "b"), np.array([[10.0], [0.0]]), np.array([[8.0], [0.0]]),
        np.array([[14.0], [1.0]]), np.zeros(2),
    )  # fmt: skip
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        score = ForecastScore()
        for k in range(200):
            score.add(said, {"a": 9.0 + k % 7, "b": float(k % 2)})
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert held - before <= 2048  # 1,440 bytes of values, the headers of the array and score
    errors = [abs(10.0 - (9.0 + k % 7)) + float(k % 2) for k in range(140, 200)]
    inside = [int(8.0 <= 9.0 + k % 7 <= 14.0) + int(k % 2 <= 1) for k in range(140, 200)]
    assert score.value() == pytest.approx((sum(errors) / 120, sum(inside) / 120))


def test_a_resource_holds_few_python_objects_per_node_beside_its_arrays() -> None:
    """What deleting a resource frees, less its arrays (the demand rings, the forecast's
    window and last day), per node: the agent's cursor, the spans not folded yet, the
    node's first sample and coverage, what the last 8 forecasts said. Session 16 held
    those as Python objects: a tuple of 8 floats per node for what was said, a dataclass
    with a ``__dict__`` per cursor and span."""
    sampler = DemandSampler(lambda: [])
    forecaster = DemandForecaster(sampler)
    spec = SharedResourceSpec.model_validate(
        {"replicas": {"min": 1}, "prediction": {"interval": "1m", "horizon": "1m"}}
    )
    nodes, day0 = tuple(f"n{i:02d}" for i in range(20)), 1_796_515_200.0
    counts = dict.fromkeys(nodes, 0)
    tracemalloc.start()
    try:
        for k in range(1, 6 * 150):  # 150 minutes, every agent read every 10 s
            at = day0 + 10.0 * k
            for i, node in enumerate(nodes):
                counts[node] += 5 + (k + 3 * i) % 11
                sampler.record(AgentSample(node, day0, at, {("ns", "py", "local"): counts[node]}))
            if k % 6 == 0:
                now = dt.datetime.fromtimestamp(at + 1, dt.UTC)
                assert k < 60 or forecaster.demand(("ns", "py"), spec, nodes, now) is not None
        gc.collect()
        held, _ = tracemalloc.get_traced_memory()
        demand = sampler._history._resources[("ns", "py")]  # the history, under test
        engine = forecaster._engines[("ns", "py")]  # the forecaster's engine, under test
        arrays = sum(r.nbytes for r in (demand.total, demand.local, demand.writes,
                                        demand.pods, demand.coarse)) + engine.nbytes  # fmt: skip
        del demand, engine
        forecaster.forget(("ns", "py"))
        gc.collect()
        freed = held - tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    # session 16: 2,520 bytes per node (a per-resource part over 20 nodes counted in)
    assert (freed - arrays) / len(nodes) <= 2000, f"{(freed - arrays) / len(nodes):.0f} B"


def test_at_10s_a_forecast_holds_its_fine_hour_the_hour_being_filled_and_16_columns() -> None:
    """10 s intervals and a daily season: the engine's window and the planner's day
    hold an hour as it is (``fine``), the hour it reaches into and a slack of 16
    columns (an eighth before: 90, 666 bytes per node and resource); the planner's day
    reads the same as with the wider slack, whatever number of intervals an update
    brings (a catch-up brings up to 60)."""
    blocks = (360, 360, 0)
    engine = ForecastEngine(2, period=8640, horizon=6, capacity=3 * 8640, blocks=blocks)
    assert engine._limit == 360 + 360 + 16
    day, wide = NewestColumns(2, 8640, blocks), NewestColumns(2, 8640, blocks)
    wide.limit = 360 + 360 + 90  # the slack before
    rng = np.random.default_rng(7)
    for _ in range(300):
        columns = rng.poisson(5.0, (2, int(rng.choice([1, 1, 1, 7, 60])))).astype(np.float64)
        day.append(columns)
        wide.append(columns)
        assert day._data.shape[1] <= 360 + 360 + 16
        assert np.array_equal(day.view(), wide.view())
    assert day.nbytes <= 2 * 4 * (360 + 360 + 16 + 24)
