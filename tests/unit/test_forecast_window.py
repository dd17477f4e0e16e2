"""A window whose older columns are held one value per block (#16, session 15).

The forecast engine's window and the planner's last day hold their newest hours as they
are and every older hour as one value (:mod:`statecast.core.forecast.window`). These
tests check what the blocked window reads against the dense one it stands for; none
times anything.
"""

from __future__ import annotations

import numpy as np
import pytest

from statecast.core.demand_series import fine_steps
from statecast.core.forecast import ForecastEngine
from statecast.core.forecast.window import BlockedView, block_means, nonzero_rows
from statecast.core.newest_columns import NewestColumns


def test_block_means_cover_a_first_block_that_starts_before_the_columns() -> None:
    values = np.array([[1.0, 3.0, 2.0, 2.0, 2.0, 2.0, 8.0, np.nan, np.nan, np.nan]])
    # pad 2: the first block holds columns 0-1, then 2-5, then 6-9 (NaN left out)
    assert block_means(values, 2, 4).tolist() == [[2.0, 2.0, 8.0]]
    assert np.isnan(block_means(np.full((1, 4), np.nan), 0, 4)).all()


def _spread(blocks: np.ndarray, every: int, head: int, lead: int) -> np.ndarray:
    return np.repeat(blocks, every, axis=1)[:, head : head + lead]


def test_a_blocked_view_reads_what_the_dense_window_holds() -> None:
    rng = np.random.default_rng(3)
    coarse = rng.random((4, 5)).astype(np.float32)
    fine = rng.random((4, 9)).astype(np.float32)
    view = BlockedView(fine, coarse, every=6, lead=27, head=3)  # 5 blocks x 6 - 3
    dense = np.hstack([_spread(coarse, 6, 3, 27), fine])
    assert view.shape == dense.shape == (4, 36)
    index = rng.integers(0, 36, (3, 4, 5))
    assert np.array_equal(view[:, index], dense[:, index])
    assert np.array_equal(view[:, -1], dense[:, -1])
    assert np.array_equal(view[:, 20:30], dense[:, 20:30])
    assert np.array_equal(view[:, 30:99], dense[:, 30:99])  # clipped as numpy clips
    rows = np.array([2, 0])
    assert np.array_equal(view[rows][:, index], dense[rows][:, index])
    assert np.array_equal(view.dense(), dense)
    zeros = BlockedView(np.zeros((2, 3), np.float32), np.array([[0, 0], [0, 1]], np.float32),
                        every=4, lead=5, head=3)  # fmt: skip
    assert nonzero_rows(zeros).tolist() == [False, True]


@pytest.mark.parametrize(
    ("sentence", "interval", "seasons", "horizon", "fine"),
    [
        ("10 s, a daily season: an hour", 10.0, (8640,), 6, 360),
        ("10 s, the CRD's 15-minute horizon: still an hour", 10.0, (8640,), 90, 360),
        ("1 minute, the CRD's defaults: an hour", 60.0, (1440,), 15, 60),
        ("5 minutes: the horizon and the origins, in whole hours", 300.0, (288,), 3, 36),
        (
            "an hourly season besides the day: eight of it and a week of it",
            10.0,
            (360, 8640),
            6,
            3240,
        ),
        ("a 1-hour season at 1 minute: its week (7 x 60 + 15 + 7), in hours", 60.0, (60,), 15, 540),
        ("hourly intervals: a block is one interval", 3600.0, (24,), 1, 25),
    ],
)
def test_the_fine_span_covers_what_reads_the_history_at_full_resolution(
    sentence: str, interval: float, seasons: tuple[int, ...], horizon: int, fine: int
) -> None:
    assert fine_steps(interval, seasons, horizon) == fine, sentence


PERIOD, EVERY = 48, 6  # a "day" of 48 steps, "hours" of 6


def _hourly(t: int, n: int) -> np.ndarray:
    """A daily shape, constant within each block (as a rebuild spreads the coarse ring)."""
    return 20.0 + 15.0 * np.sin(2 * np.pi * ((t + 3) // EVERY * EVERY) / PERIOD) * np.ones(n)


def test_a_blocked_engine_forecasts_as_the_dense_one_where_blocks_were_spread() -> None:
    """Blocks whose steps held one value each (a rebuild's older hours): the blocked
    engine reads the same values, so its forecasts are the dense engine's; once the
    steps within a block differ, it reads their mean and the two part."""
    n, steps = 5, PERIOD * 6 + 5
    history = np.stack([_hourly(t, n) for t in range(steps)], axis=1)
    dense = ForecastEngine(n, period=PERIOD, horizon=4, capacity=PERIOD * 5)
    blocked = ForecastEngine(n, period=PERIOD, horizon=4, capacity=PERIOD * 5,
                             blocks=(12, EVERY, (-3) % EVERY))  # fmt: skip
    dense.refit(history)
    blocked.refit(history)
    assert np.array_equal(dense.forecast().mean, blocked.forecast().mean)
    for t in range(steps, steps + 3 * PERIOD):
        a, b = dense.update(_hourly(t, n)), blocked.update(_hourly(t, n))
        assert np.array_equal(a.mean, b.mean) and np.array_equal(a.upper, b.upper)
        assert a.models == b.models
    assert "seasonal" in a.models[0]
    # the dense window holds the capacity; the blocked one 12 steps, a block and slack
    assert dense.nbytes >= n * PERIOD * 5 * 5
    assert blocked.nbytes <= n * 5 * ((12 + EVERY + 64) + PERIOD * 5 // EVERY + 2)
    rng = np.random.default_rng(1)
    for t in range(steps + 3 * PERIOD, steps + 4 * PERIOD):
        noisy = _hourly(t, n) * rng.uniform(0.5, 1.5, n)
        a, b = dense.update(noisy), blocked.update(noisy)
    assert not np.array_equal(a.mean, b.mean), "a day later it reads the blocks' means"


def test_blocked_newest_columns_spread_each_blocks_mean_over_its_columns() -> None:
    kept = NewestColumns(2, 40, blocks=(6, 4, 1))  # blocks start at columns 1, 5, 9, ...
    dense = NewestColumns(2, 40)
    rng = np.random.default_rng(2)
    everything = np.zeros((2, 0))
    for _ in range(30):
        columns = rng.poisson(4.0, (2, int(rng.integers(1, 5)))).astype(np.float64)
        kept.append(columns)
        dense.append(columns)
        everything = np.hstack([everything, columns])
    view, full = kept.view(), dense.view()
    assert view.shape == full.shape == (2, 40) and not view.flags.writeable
    count = everything.shape[1]
    first = count - 40
    held = count - kept._stop + kept._start  # the first column held as it is
    assert np.array_equal(view[:, held - first :], full[:, held - first :])
    for column in range(first, held):  # each older column: its block's mean
        lo = 1 + (column - 1) // 4 * 4
        assert view[0, column - first] == pytest.approx(everything[0, lo : lo + 4].mean())
    assert kept.nbytes < dense.nbytes


def test_fold_span_names_the_whole_blocks_before_the_fine_columns() -> None:
    from statecast.core.forecast.window import FoldSpan, fold_span

    # 100 columns, the buffer holds the newest 50 (50..99), the newest 12 stay fine,
    # blocks of 10 from column 5: blocks starting 45, 55, 65, 75 end before 88
    assert fold_span(100, 50, 12, 5, 10) == FoldSpan(width=35, block=4, pad=5)
    # the fine columns reach into the buffer's first block: nothing to fold
    assert fold_span(100, 15, 12, 5, 10) is None
