"""A reconcile writes only the status fields the API server does not already hold."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from statecast.core.reconcile.status_diff import (
    changed_fields,
    fields_to_write,
    forecast_due,
    same_as_stored,
)

ROW = {"node": "node-1", "zone": "zone-a", "role": "peer", "phase": "Pending", "reason": "minimum"}


def test_a_row_the_server_filled_with_defaults_is_not_written_again() -> None:
    stored = {"replicas": [{**ROW, "unmerged": False}], "phase": "Progressing"}
    computed = {"replicas": [ROW], "phase": "Progressing"}
    assert changed_fields(stored, computed) == {}


@pytest.mark.parametrize(
    ("stored", "computed"),
    [
        ({"replicas": [{**ROW, "unmerged": True}]}, {"replicas": [ROW]}),
        ({"replicas": [ROW]}, {"replicas": [ROW, {**ROW, "node": "node-2"}]}),
        ({"replicas": [ROW]}, {"replicas": [{**ROW, "phase": "Ready"}]}),
        ({"phase": "Ready"}, {"phase": "Progressing"}),
        ({}, {"readyReplicas": 0}),
    ],
)
def test_a_real_difference_is_written(stored: dict[str, Any], computed: dict[str, Any]) -> None:
    assert changed_fields(stored, computed) == computed


def test_missing_and_none_are_the_same_as_before() -> None:
    assert changed_fields({}, {"forecast": None}) == {}
    assert same_as_stored({"a": 1}, {"a": 1, "b": "", "c": [], "d": 0})
    assert not same_as_stored({"a": 1}, {"a": 1, "b": "x"})


NOW = dt.datetime(2026, 12, 5, 9, 0, tzinfo=dt.UTC)


def forecast(age_s: float, *nodes: str, model: str = "naive", mean: float = 5.0) -> dict[str, Any]:
    made = (NOW - dt.timedelta(seconds=age_s)).isoformat().replace("+00:00", "Z")
    rows = [{"node": n, "mean": mean, "lower": 0.0, "upper": 2 * mean} for n in nodes]
    return {"model": model, "generatedAt": made, "level": 0.9, "nodes": rows}


@pytest.mark.parametrize(
    ("stored", "computed", "due"),
    [
        (None, forecast(0, "node-1"), True),  # the first forecast
        ({}, forecast(0, "node-1"), True),
        (forecast(60, "node-1"), forecast(0, "node-1", mean=9.0), False),  # newer, same story
        (forecast(60, "node-1", "node-2"), forecast(0, "node-1", "node-3"), False),
        (forecast(299, "node-1"), forecast(0, "node-1"), False),
        (forecast(300, "node-1"), forecast(0, "node-1"), True),  # old enough
        (forecast(60, "node-1"), forecast(0, "node-2", "node-1"), True),  # busiest moved
        (forecast(60, "node-1"), forecast(0), True),  # no demand any more
        (forecast(60, "node-1"), forecast(0, "node-1", model="ets"), True),  # model changed
        ({"model": "naive", "generatedAt": "garbled"}, forecast(0), True),
    ],
)
def test_a_forecast_alone_is_written_when_due(
    stored: dict[str, Any] | None, computed: dict[str, Any], due: bool
) -> None:
    assert forecast_due(stored, computed, NOW, refresh_s=300.0) is due


def test_a_forecast_that_is_not_due_waits_for_another_change_of_the_status() -> None:
    """Written with each new forecast, it made every resync a status PATCH (session 9:
    16 a second at 1,000 resources)."""
    stored = {"phase": "Progressing", "forecast": forecast(60, "node-1")}
    newer = {"phase": "Progressing", "forecast": forecast(0, "node-1", mean=7.0)}
    assert fields_to_write(stored, newer, NOW, 300.0) == {}
    moved = {**newer, "phase": "Ready"}
    assert fields_to_write(stored, moved, NOW, 300.0) == {
        "phase": "Ready",
        "forecast": newer["forecast"],
    }, "written along with the change"
    assert fields_to_write(stored, newer, NOW + dt.timedelta(seconds=240), 300.0) == {
        "forecast": newer["forecast"]
    }, "its age reached the refresh"
