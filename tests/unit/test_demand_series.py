"""The demand history per interval: rings, folding samples as intervals close, resuming."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from statecast.api.units import parse_duration
from statecast.core.demand import AgentSample, DemandHistory, DemandStep
from statecast.core.demand_series import (
    EVERY_NODE,
    MAX_STEPS,
    ResourceDemand,
    Span,
    capacity,
    coarse_held,
    coarse_interval,
    fine_capacity,
    history_steps,
    scored_column,
)
from statecast.core.forecast.family import Grid, usable_periods
from statecast.core.interval_ring import COUNT_SCALE, ROUNDING, IntervalRing

REF = ("apps", "flags")
DAY = 86_400.0


@pytest.mark.parametrize(
    ("sentence", "interval", "steps"),
    [
        ("one-minute intervals hold three days", 60.0, 4320),
        ("five-minute intervals hold three days", 300.0, 864),
        ("hours hold three days", 3600.0, 72),
        ("ten-second intervals stop at the bound (12 hours)", 10.0, MAX_STEPS),
        ("a day-long interval still holds two", DAY * 2, 2),
    ],
)
def test_capacity(sentence: str, interval: float, steps: int) -> None:
    assert capacity(interval) == steps, sentence


@pytest.mark.parametrize(
    ("sentence", "interval", "steps"),
    [
        ("one-minute intervals: a day (was three: 4,320)", 60.0, 1440),
        ("five-minute intervals: a day", 300.0, 288),
        ("hours: a day", 3600.0, 24),
        ("ten-second intervals: the bound (12 hours), as before", 10.0, MAX_STEPS),
        ("a day-long interval still holds two", DAY * 2, 2),
    ],
)
def test_fine_capacity(sentence: str, interval: float, steps: int) -> None:
    assert fine_capacity(interval) == steps, sentence


@pytest.mark.parametrize(
    ("sentence", "fine_from", "steps", "column"),
    [
        ("nothing held: every column", None, 10, 0),
        ("held fine from before the matrix: every column", 0.0, 10, 0),
        ("the newest four intervals fine: from column 6", 60.0, 10, 6),
        ("a fine start inside an interval: from the next whole one", 55.0, 10, 6),
        ("held fine only after the matrix's end: none", 200.0, 10, 10),
    ],
)
def test_scored_column(sentence: str, fine_from: float | None, steps: int, column: int) -> None:
    # a matrix of ``steps`` 10 s intervals ending at 100
    assert scored_column(fine_from, 100.0, 10.0, steps) == column, sentence


@pytest.mark.parametrize(
    ("sentence", "interval", "longest", "horizon", "steps"),
    [
        ("a daily season at minutes: the fine ring's three days", 60.0, 1440, 60, 4320),
        ("a weekly season at minutes: three weeks and two horizons", 60.0, 10080, 60, 30360),
        ("a weekly season at hours: three weeks and two horizons", 3600.0, 168, 24, 552),
        ("a four-week season at hours: what the coarse ring reaches", 3600.0, 672, 24, 672),
        # 72 hours hold three days, but the forecaster offers a daily season only from
        # 2 * 24 + horizon + 24 steps on: three days and two horizons from the coarse ring
        ("a daily season at hours: three days and two horizons", 3600.0, 24, 6, 84),
        ("a daily season at half hours: the fine ring (144 >= 96 + 12 + 24)", 1800.0, 48, 12, 144),
        ("a weekly season at 10 s: the bound (four weeks of minutes)", 10.0, 60480, 360, 40320),
    ],
)
def test_history_steps(
    sentence: str, interval: float, longest: int, horizon: int, steps: int
) -> None:
    assert history_steps(interval, longest, horizon) == steps, sentence


@pytest.mark.parametrize(
    ("interval", "coarse"), [(60.0, 3600.0), (7.0, 3605.0), (3600.0, 3600.0), (DAY, DAY)]
)
def test_the_coarse_interval_is_whole_intervals_of_at_least_an_hour(
    interval: float, coarse: float
) -> None:
    assert coarse_interval(interval) == pytest.approx(coarse)


#: The demand ring's rounding older than an hour, beside ``ROUNDING`` times the value.
FLOOR = ROUNDING / COUNT_SCALE


def ten_days_of_minutes() -> ResourceDemand:
    """Ten days of 1-minute intervals on one node: 1 access a minute, 61 in each hour's first."""
    demand = ResourceDemand(60.0)
    for minute in range(10 * 1440):
        demand.add("n1", Span(60.0 * minute, 60.0 * minute + 60, 61 if minute % 60 == 0 else 1, 0))
    return demand


def test_weeks_of_history_older_days_rolled_up_by_the_hour() -> None:
    demand = ten_days_of_minutes()
    end = 10 * DAY
    matrix = demand.matrix(["n1"], 60.0, end, 10 * 1440)[0]
    assert not np.isnan(matrix).any(), "ten days held, not only the fine ring's one"
    fine = fine_capacity(60.0)
    # The fine ring's days minute by minute; older hours spread evenly (120 over 60 minutes).
    # (older than an hour: within the demand ring's 16-bit rounding)
    np.testing.assert_allclose(matrix[-fine:][:3], [61.0, 1.0, 1.0], rtol=ROUNDING, atol=FLOOR)
    np.testing.assert_allclose(matrix[:-fine], 2.0, rtol=ROUNDING, atol=FLOOR)  # 16-bit hours
    assert matrix.sum() == pytest.approx(10 * 1440 + 10 * 24 * 60, rel=ROUNDING, abs=FLOOR * fine)


def test_a_history_saved_without_the_coarse_ring_rebuilds_it_from_the_fine_one() -> None:
    demand = ten_days_of_minutes()
    snapshot = demand.snapshot()
    older = ResourceDemand.from_snapshot(
        type(snapshot)(**{**snapshot.__dict__, "coarse": ResourceDemand(60.0).coarse.snapshot()})
    )
    end = 10 * DAY
    fine = fine_capacity(60.0)
    restored = older.matrix(["n1"], 60.0, end, fine + 60)[0]
    np.testing.assert_allclose(restored[-fine:], demand.matrix(["n1"], 60.0, end, fine)[0])
    assert np.isnan(restored[:60]).all(), "days only the lost coarse ring held are unknown"


def test_a_ring_reuses_its_columns_and_drops_what_is_older_than_it_holds() -> None:
    ring = IntervalRing(3)
    ring.add("n1", np.array([10, 11]), [1.0, 2.0])
    ring.add("n2", np.array([12]), 5.0)
    assert ring.window("n1", 10, 3).tolist() == [1.0, 2.0, 0.0]
    ring.add("n1", np.array([14]), 4.0)  # 10 and 11 fall out, 13 is new and empty
    assert ring.window("n1", 10, 5).tolist() == [0.0, 0.0, 0.0, 0.0, 4.0]
    assert ring.window("n2", 12, 3).tolist() == [5.0, 0.0, 0.0]
    ring.add("n1", np.array([11]), 9.0)  # older than the ring holds: dropped
    assert ring.series("n1").tolist() == [0.0, 0.0, 4.0]
    ring.advance(30)  # a long gap clears everything
    assert ring.series("n2").tolist() == [0.0, 0.0, 0.0]


def test_samples_stay_raw_until_their_interval_closes_then_fold_into_it() -> None:
    demand = ResourceDemand(60.0)
    demand.add("n1", Span(0, 30, 30, 0))
    assert demand.raw["n1"] == [Span(0, 30, 30, 0)]
    demand.add("n1", Span(30, 90, 45, 15, writes=6))  # closes [0, 60): half of it is there
    assert demand.total.window("n1", 0, 1).tolist() == [60.0]
    assert demand.local.window(EVERY_NODE, 0, 1).tolist() == [52.5]  # every node's, summed
    assert demand.writes.window(EVERY_NODE, 0, 1).tolist() == [3.0]
    assert demand.raw["n1"] == [Span(60, 90, 22.5, 7.5, 3.0)]
    matrix = demand.matrix(["n1"], 60.0, 120.0, 2)
    assert matrix.tolist() == [[60.0, 30.0]], "closed intervals and the raw rest together"


def test_the_matrix_at_a_finer_grid_spreads_closed_intervals_evenly() -> None:
    demand = ResourceDemand(60.0)
    demand.add("n1", Span(0, 60, 60, 0))
    demand.add("n1", Span(60, 70, 10, 0))
    assert demand.matrix(["n1"], 30.0, 90.0, 3).tolist() == [[30.0, 30.0, 10.0]]


def test_a_sample_that_overlaps_what_a_node_covers_counts_only_its_new_part() -> None:
    demand = ResourceDemand(60.0)
    demand.add("n1", Span(0, 60, 60, 0))
    demand.add("n1", Span(0, 120, 120, 0))  # e.g. since the agent started, after a restore
    assert demand.matrix(["n1"], 60.0, 120.0, 2).tolist() == [[60.0, 60.0]]
    demand.add("n1", Span(30, 100, 7, 0))  # entirely covered already
    assert demand.matrix(["n1"], 60.0, 120.0, 2).tolist() == [[60.0, 60.0]]


def test_changing_the_interval_keeps_the_demand_it_holds() -> None:
    history = DemandHistory(interval=60.0)
    for minute in range(10):
        history.add({REF: DemandStep("n1", 60 * minute, 60 * (minute + 1), minute, 0)})
    history.set_interval(REF, 300.0)
    assert history.interval_of(REF) == 300.0
    assert history.matrix(REF, ["n1"], 300.0, 600.0, 2).tolist() == [[10.0, 35.0]]
    assert history.local_hit_ratio(REF, since=0.0) == 1.0


def test_a_day_of_minutes_holds_the_demand_of_each_interval() -> None:
    history = DemandHistory()
    rng = np.random.default_rng(7)
    counts = rng.poisson(5.0, 1440)
    for i, n in enumerate(counts):  # 10-second samples, six per interval
        for k in range(6):
            start = 60.0 * i + 10 * k
            share = n // 6 + (1 if k < n % 6 else 0)
            history.add({REF: DemandStep("n1", start, start + 10, share, 0)})
    matrix = history.matrix(REF, ["n1", "n2"], 60.0, DAY, 1440)
    assert matrix[0, -61:].tolist() == counts[-61:].astype(float).tolist(), "the newest hour"
    np.testing.assert_allclose(matrix[0], counts, rtol=ROUNDING, atol=FLOOR)  # 16 bits older
    assert np.isnan(matrix[1]).all()


def sample(t: float, local: int, remote: int = 0, started: float = 0.0) -> AgentSample:
    counts = {("apps", "flags", "local"): local, ("apps", "flags", "remote"): remote}
    return AgentSample("n1", started, t, counts)


def test_a_restored_history_continues_from_the_counters_it_saved() -> None:
    before = DemandHistory()
    before.add_sample(None, sample(0, 0))
    before.add_sample(sample(0, 0), sample(60, 60))
    saved = before.snapshot(REF)
    assert saved is not None
    after = DemandHistory()  # a new operator: no previous reading of the agent
    after.restore(REF, saved)
    after.add_sample(None, sample(180, 120))  # the same agent, 60 accesses later
    assert after.matrix(REF, ["n1"], 60.0, 180.0, 3).tolist() == [[60.0, 30.0, 30.0]]


def test_an_agent_restarted_meanwhile_counts_only_after_what_was_restored() -> None:
    before = DemandHistory()
    before.add_sample(None, sample(60, 60))
    saved = before.snapshot(REF)
    assert saved is not None
    after = DemandHistory()
    after.restore(REF, saved)
    after.add_sample(None, sample(180, 30, started=120))  # restarted at 120: no overlap
    assert after.matrix(REF, ["n1"], 60.0, 180.0, 3).tolist() == [[60.0, 0.0, 30.0]]


@given(
    cuts=st.lists(st.floats(0.0, 20_000.0), min_size=2, max_size=40, unique=True),
    counts=st.lists(st.integers(0, 1000), min_size=39, max_size=39),
    interval=st.sampled_from([10.0, 45.0, 60.0, 300.0]),
    then=st.sampled_from([30.0, 60.0, 600.0]),
)
@settings(max_examples=60, deadline=None)
def test_every_access_recorded_is_counted_once_at_any_interval(
    cuts: list[float], counts: list[int], interval: float, then: float
) -> None:
    history = DemandHistory(interval=interval)
    times = sorted(cuts)
    for (start, end), n in zip(itertools.pairwise(times), counts, strict=False):
        history.add({REF: DemandStep("n1", start, end, n, n // 3)})
    made = sum(n + n // 3 for n in counts[: len(times) - 1])
    span = 30_000.0
    steps = round(span / interval)
    # older than an hour 16 bits a value: an interval two spans share, one of them more than
    # an hour late, is rounded twice, and resampling rounds again
    within = pytest.approx(made, rel=3 * ROUNDING, abs=3 * FLOOR * 3000)
    assert np.nansum(history.matrix(REF, ["n1"], interval, span, steps)) == within
    history.set_interval(REF, then)
    steps = round(span / then)
    assert np.nansum(history.matrix(REF, ["n1"], then, span, steps)) == within


@pytest.mark.parametrize(
    ("interval", "season", "horizon"),
    [(60.0, 1440, 60), (300.0, 288, 12), (1800.0, 48, 12), (3600.0, 24, 1), (3600.0, 24, 6)],
)
def test_the_history_given_lets_the_forecaster_offer_the_season(
    interval: float, season: int, horizon: int
) -> None:
    # Found 2026-12-04: at hourly intervals the 72-step fine ring left a daily season out.
    steps = history_steps(interval, season, horizon)
    assert season in usable_periods((season,), steps, horizon, Grid())


@pytest.mark.parametrize(
    ("sentence", "interval", "days", "fine_days"),
    [
        ("minutes: the fine ring's day, older hours are spread", 60.0, 2.0, 1.0),
        ("a young history: from a day back, before its first sample", 60.0, 0.5, 1.0),
        ("hours: the coarse ring is as fine and reaches further", 3600.0, 5.0, 28.0),
    ],
)
def test_fine_from(sentence: str, interval: float, days: float, fine_days: float) -> None:
    demand = ResourceDemand(interval)
    steps = round(days * DAY / interval)
    for k in range(steps):
        demand.add("n1", Span(interval * k, interval * (k + 1), 1, 0))
    fine_from = demand.fine_from()
    assert fine_from is not None
    # held from the fine ring's (or the coarse ring's) start, before any sample if younger
    assert steps * interval - fine_from == pytest.approx(fine_days * DAY), sentence


@pytest.mark.parametrize(
    ("sentence", "interval", "seasonality", "horizon", "held"),
    [
        (
            "minutes, the default daily season: three days and the hour being filled",
            60.0,
            (),
            15,
            73,
        ),
        ("minutes, a day named", 60.0, ("1d",), 60, 73),
        ("10 s, daily: three days and a minute, two hours more", 10.0, ("1d",), 6, 74),
        ("minutes, a day and a week: three weeks and two horizons", 60.0, ("1d", "7d"), 60, 507),
        ("hours, daily: three days and two horizons", 3600.0, ("1d",), 6, 85),
        ("hours, a week: three weeks and two horizons", 3600.0, ("7d",), 24, 553),
        ("hours, four weeks: at most four weeks", 3600.0, ("28d",), 24, 672),
        ("minutes, an hourly season: the fine ring's three days", 60.0, ("1h",), 15, 73),
        ("10 s, a week: the window's bound, 40,320 intervals (112 h)", 10.0, ("1d", "7d"), 6, 113),
    ],
)
def test_the_coarse_ring_reaches_what_the_seasons_read(
    sentence: str, interval: float, seasonality: tuple[str, ...], horizon: int, held: int
) -> None:
    seasons = [round(parse_duration(s).total_seconds() / interval) for s in seasonality or ("1d",)]
    window = history_steps(interval, max(seasons), horizon)
    assert coarse_held(interval, window) == held, sentence
    assert held * coarse_interval(interval) >= window * interval, "reaches the window"


def test_a_shorter_coarse_ring_keeps_its_newest_hours_and_a_longer_one_knows_no_more() -> None:
    demand = ten_days_of_minutes()
    end, window = 10 * DAY, 3 * 1440
    before = demand.matrix(["n1"], 60.0, end, window)[0]
    demand.hold_for(window)
    assert demand.coarse.capacity == 73
    # (the same 16-bit hours; spread from a ring of another size: equal to 1e-11)
    np.testing.assert_allclose(demand.matrix(["n1"], 60.0, end, window)[0], before, rtol=1e-11)
    assert np.isnan(demand.matrix(["n1"], 60.0, end, 4 * 1440)[0][:1380]).all()
    demand.hold_for(4 * 7 * 1440)  # a weekly season named later: its history starts now
    assert demand.coarse.capacity == 672
    longer = demand.matrix(["n1"], 60.0, end, 8 * 1440)[0]
    assert np.isnan(longer[: 5 * 1440 - 60]).all(), "unknown, not idle"
    np.testing.assert_allclose(longer[-window:], before, rtol=1e-11)


def test_a_restart_keeps_all_a_shorter_coarse_ring_held_and_knows_no_more() -> None:
    demand = ten_days_of_minutes()
    end, window = 10 * DAY, 3 * 1440
    demand.hold_for(window)
    restored = ResourceDemand.from_snapshot(demand.snapshot())
    assert restored.coarse.capacity == 672, "made as before, held for its forecast on use"
    np.testing.assert_array_equal(
        restored.matrix(["n1"], 60.0, end, 8 * 1440)[0],
        demand.matrix(["n1"], 60.0, end, 8 * 1440)[0],
    )
    restored.hold_for(window)
    assert restored.snapshot().coarse.values.shape == (1, 73)
