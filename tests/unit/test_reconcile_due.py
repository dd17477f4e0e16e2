"""When a resource is due: its own watch events, and its safety resync's slot."""

from __future__ import annotations

from typing import Any

import pytest

from statecast.core.reconcile.due import at_risk, event_due, resync_due, resync_offset, spec_changed


@pytest.mark.parametrize(
    ("kind", "generation", "status", "due"),
    [
        (None, 3, {"observedGeneration": 3}, True),  # listed: the operator (re)starts
        ("ADDED", 1, {}, True),
        ("MODIFIED", 2, {"observedGeneration": 1}, True),  # the spec changed
        ("MODIFIED", 1, {}, True),  # never reconciled
        ("MODIFIED", 2, {"observedGeneration": 2}, False),  # a status write (ours)
        ("MODIFIED", None, {}, False),  # no generation: nothing to compare
        ("DELETED", 2, {"observedGeneration": 1}, False),
    ],
)
def test_a_resources_own_events(
    kind: str | None, generation: int | None, status: dict[str, Any], due: bool
) -> None:
    metadata = {"name": "r"} if generation is None else {"name": "r", "generation": generation}
    assert event_due(kind, metadata, status) is due


@pytest.mark.parametrize(
    ("offset", "since", "now", "due"),
    [
        (10.0, 0.0, 9.0, False),
        (10.0, 9.0, 10.0, True),  # the offset itself counts, once
        (10.0, 10.0, 11.0, False),
        (10.0, 65.0, 71.0, True),  # the next period's (70)
        (10.0, 71.0, 129.0, False),
        (10.0, 5.0, 5.0, False),  # no time passed
        (10.0, 11.0, 5.0, False),  # the clock went back: nothing
        (59.0, 0.0, 70.0, True),  # a gap longer than a period: one resync
        (60.0, 59.5, 60.5, True),  # the period's end is its offset
    ],
)
def test_a_resync_falls_due_once_a_period(
    offset: float, since: float, now: float, due: bool
) -> None:
    assert resync_due(offset, since, now, 60.0) is due


def test_resync_offsets_are_spread_never_zero_and_stable() -> None:
    offsets = [resync_offset(f"ns/r{i}", 60.0) for i in range(1000)]
    assert all(0 < o <= 60.0 for o in offsets)
    assert len(set(offsets)) > 500
    assert resync_offset("ns/r1", 60.0) == resync_offset("ns/r1", 60.0)


@pytest.mark.parametrize(
    ("left", "minimum", "risky"),
    [
        (0, 2, True),
        (1, 2, True),
        (1, 1, True),  # its last copy: at risk whatever its minimum
        (2, 2, False),
        (2, 3, True),  # a raised minimum: below it after the loss
        (3, 3, False),
        (4, 2, False),
    ],
)
def test_a_loss_puts_a_resource_at_risk(left: int, minimum: int, risky: bool) -> None:
    assert at_risk(left, minimum) is risky


@pytest.mark.parametrize(
    ("generation", "status", "changed"),
    [
        (2, {"observedGeneration": 1}, True),  # spec moved past what was reconciled
        (2, {"observedGeneration": 2}, False),
        (1, {}, False),  # never reconciled: a first reconcile, not a change
        (None, {"observedGeneration": 1}, False),
    ],
)
def test_a_spec_change_is_a_generation_past_the_observed_one(
    generation: int | None, status: dict[str, Any], changed: bool
) -> None:
    assert spec_changed({"generation": generation}, status) is changed
