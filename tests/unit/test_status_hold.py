"""A status that waits for its new copies' reports is held, never lost (status_hold)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from statecast.core.reconcile.status_hold import (
    StatusWrite,
    awaits_reports,
    must_write_now,
    plan_status_write,
)

NOW = dt.datetime(2026, 12, 5, 12, 0, tzinfo=dt.UTC)


def row(node: str, phase: str) -> dict[str, Any]:
    return {"node": node, "zone": "z1", "role": "peer", "phase": phase, "reason": "predicted"}


def status(phase: str, *rows: dict[str, Any], **more: Any) -> dict[str, Any]:
    ready = sum(1 for r in rows if r["phase"] == "Ready")
    return {
        "phase": phase,
        "observedGeneration": 1,
        "ready": f"{ready}/{len(rows)}",
        "replicas": list(rows),
        "conditions": [{"type": "Degraded", "status": "False", "reason": "AsExpected"}],
        **more,
    }


STORED = status("Ready", row("a", "Ready"), row("b", "Ready"))
ADDED = status(
    "Progressing",
    row("a", "Ready"),
    row("b", "Ready"),
    row("c", "Pending"),
    lastDecision={"action": "add", "node": "c", "reason": "predicted"},
)
REPORTED = status("Ready", row("a", "Ready"), row("b", "Ready"), row("c", "Ready"))


def plan(
    computed: dict[str, Any],
    *,
    held: dict[str, Any] | None = None,
    until: float | None = None,
    created: bool = False,
    clock: float = 100.0,
    hold_s: float = 5.0,
    stored: dict[str, Any] | None = None,
) -> StatusWrite:
    return plan_status_write(
        STORED if stored is None else stored,
        computed,
        held=held or {},
        held_until=until,
        created=created,
        clock=clock,
        hold_s=hold_s,
        now=NOW,
        forecast_refresh_s=300.0,
    )


def test_a_copys_creation_is_held_and_written_once_with_its_ready_report() -> None:
    first = plan(ADDED, created=True)
    assert first.fields == {}
    assert first.until == 105.0
    assert first.held["replicas"][-1]["phase"] == "Pending"
    # its agent reports Ready: one write, with the last state and the held decision
    second = plan(REPORTED, held=first.held, until=first.until, clock=100.4)
    assert second.held == {} and second.until is None
    assert second.fields["replicas"] == REPORTED["replicas"]
    assert second.fields["ready"] == "3/3"
    assert "phase" not in second.fields  # Ready as stored: the Progressing in between never shows
    assert second.fields["lastDecision"]["node"] == "c", "what only the held status set is kept"


def test_the_last_change_of_a_burst_is_the_one_written() -> None:
    held, until = plan(ADDED, created=True).held, 105.0
    # a second copy created while the first's report is due: still held, deadline kept
    more = status(
        "Progressing",
        row("a", "Ready"),
        row("b", "Ready"),
        row("c", "Ready"),
        row("d", "Pending"),
        lastDecision={"action": "add", "node": "d", "reason": "predicted"},
    )
    second = plan(more, held=held, until=until, created=True, clock=102.0)
    assert second.fields == {} and second.until == 105.0, "a later hold never moves the deadline"
    final = status("Ready", *(row(n, "Ready") for n in "abcd"))
    third = plan(final, held=second.held, until=second.until, clock=103.0)
    assert third.fields["replicas"] == final["replicas"]
    assert third.fields["lastDecision"]["node"] == "d"


def test_a_held_status_is_written_at_its_deadline_without_a_report() -> None:
    first = plan(ADDED, created=True)
    due = plan(ADDED, held=first.held, until=first.until, clock=105.0)
    assert due.held == {} and due.until is None
    assert due.fields["replicas"][-1]["phase"] == "Pending"
    assert due.fields["phase"] == "Progressing"


@pytest.mark.parametrize(
    ("computed", "stored"),
    [
        ({**ADDED, "observedGeneration": 2}, None),  # a spec change acknowledged
        ({**ADDED, "phase": "Degraded"}, None),
        (
            {**ADDED, "conditions": [{"type": "Degraded", "status": "True", "reason": "X"}]},
            None,
        ),
        ({**ADDED, "replicas": [row("a", "Ready"), row("b", "Lost"), row("c", "Pending")]}, None),
        ({**ADDED, "conditions": [{"type": "Writable", "status": "True"}]}, None),  # strong
        ({**ADDED, "phase": "Pending"}, {}),  # a new resource's first copies
    ],
)
def test_news_is_written_at_once(computed: dict[str, Any], stored: dict[str, Any] | None) -> None:
    assert must_write_now(STORED if stored is None else stored, computed)
    assert plan(computed, created=True, stored=stored).fields


def test_no_hold_without_a_creation_a_pending_copy_or_a_hold_time() -> None:
    assert plan(ADDED).fields, "not created by this reconcile, no hold running"
    assert plan(ADDED, created=True, hold_s=0).fields, "holding off"
    removed = status("Ready", row("a", "Ready"))
    assert plan(removed, created=True).fields, "nothing Pending: no report is due"
    assert not awaits_reports(REPORTED) and awaits_reports(ADDED)


def test_nothing_changed_writes_and_holds_nothing() -> None:
    assert plan(STORED, created=True) == StatusWrite()
    # what was held is what the server holds now: released, not written
    assert plan(STORED, held={"ready": "2/2"}, until=105.0) == StatusWrite()
