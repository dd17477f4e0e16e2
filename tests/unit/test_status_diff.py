"""A reconcile writes only the status fields the API server does not already hold."""

from __future__ import annotations

from typing import Any

import pytest

from statecast.core.reconcile.status_diff import changed_fields, same_as_stored

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
