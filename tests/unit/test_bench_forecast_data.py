"""The forecast benchmark's real series: event logs counted per hour, missing packages."""

from __future__ import annotations

import argparse
import importlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from bench import forecast, forecast_data


def test_hourly_counts_cover_whole_days_and_count_quiet_hours_as_zero() -> None:
    stamps = pd.Series(
        ["2015-01-01 11:38:36", "2015-01-01 11:57:40", "2015-01-01 13:00:00", "2015-01-03 22:59:59"]
    )
    counts = forecast_data.hourly_counts(stamps)
    assert len(counts) == 3 * 24
    assert counts[11] == 2 and counts[13] == 1 and counts[2 * 24 + 22] == 1
    assert counts.sum() == 4 and not np.isnan(counts).any()


def test_hourly_counts_of_utc_stamps() -> None:
    counts = forecast_data.hourly_counts(
        pd.Series(["2013-01-01T05:00:00Z", "2013-01-01T05:10:00Z"])
    )
    assert len(counts) == 24 and counts[5] == 2


def test_a_series_whose_package_is_missing_is_left_out() -> None:
    series = {
        "here (a series)": (lambda: np.arange(10.0), 7),
        "gone (a series)": (_import_missing, 24),
    }
    assert [(name, period) for name, _, period in forecast_data.other_set(series)] == [
        ("here (a series)", 7)
    ]


def _import_missing() -> np.ndarray:
    """A loader whose package is not installed."""
    importlib.import_module("statecast_no_such_module")
    return np.zeros(1)


@pytest.mark.parametrize(
    ("only", "expected"),
    [
        (None, True),
        ({"other"}, True),
        ({"pizzaplace"}, True),
        ({"pizzaplace (hourly pizzas)"}, True),
        ({"nab"}, False),
        ({"twitter-high"}, False),
    ],
)
def test_only_names_a_set_by_name_first_word_or_group(
    only: set[str] | None, expected: bool
) -> None:
    assert forecast.chosen("pizzaplace (hourly pizzas)", "other", only) is expected


def test_seasonal_naive_repeats_each_windows_own_season_when_shorter_than_the_horizon() -> None:
    # A daily series with a weekly season (7 steps) and a 12-step horizon; the rows of a
    # window set must not borrow each other's values.
    history = np.array([np.arange(14.0) + 1, np.arange(14.0) + 101])
    windows = forecast.Windows("w", history, np.zeros((2, forecast.HORIZON)), ("a", "b"), 7)
    point = forecast.run_seasonal_naive(windows)[0.9][0]
    week = np.arange(8.0, 15.0)
    assert np.allclose(point[0], np.resize(week, forecast.HORIZON))
    assert np.allclose(point[1], np.resize(week + 100, forecast.HORIZON))


def test_seasonal_naive_of_a_season_longer_than_the_horizon() -> None:
    history = np.array([np.arange(48.0) + 1])
    windows = forecast.Windows("w", history, np.zeros((1, forecast.HORIZON)), ("a",), 24)
    point = forecast.run_seasonal_naive(windows)[0.9][0]
    assert np.allclose(point[0], np.arange(25.0, 25.0 + forecast.HORIZON))


def test_a_run_with_save_writes_its_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(forecast, "OUT", tmp_path)
    args = argparse.Namespace(
        origins=8, synthetic_origins=6, dev_origins=16, slow_windows=0, only=[], save=tmp_path
    )
    forecast.write({}, {}, args, 1.0, "load average 1.0")
    assert json.loads((tmp_path / "forecast.json").read_text())["args"]["save"] == str(tmp_path)
