"""Whether a resource's status is written now or held for the report it waits for.

A copy the operator creates is reported ``Ready`` by its agent a moment later (~0.4 s).
Written at once, the reconcile that created it PATCHes the status (a row ``Pending``,
phase ``Progressing``) and the reconcile woken by the agent's report PATCHes it again
(the row ``Ready``, phase ``Ready``): two status writes a copy, where a reader of the
status is as well served by the second alone. At 1,000 resources whose demand moves,
the first of them was ~8 of the operator's requests a second (docs/scale-history.md, session 10).

:func:`plan_status_write` holds such a write back for at most ``hold_s`` seconds: the
next reconcile writes the held fields together with its own, or the reconcile the
operator queues for the deadline writes them then. Nothing is dropped: what a later
status does not set again (``lastDecision``) stays held with it, and a field the later
status sets again takes the later value; a write that a user or another component must
see at once (:func:`must_write_now`) is never held.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from statecast.core.reconcile.status_diff import fields_to_write

__all__ = ["StatusWrite", "awaits_reports", "must_write_now", "plan_status_write"]

#: The phases a held status may have: copies being added or all Ready. Anything else
#: (Degraded, Failed, Pending: no copy yet) is news, written at once.
_ROUTINE_PHASES = frozenset({"Ready", "Progressing"})


@dataclass(frozen=True)
class StatusWrite:
    """What to do with a reconcile's status.

    Attributes:
        fields: the top-level fields to PATCH now (empty: no request).
        held: the fields held back (empty: none).
        until: the deadline of the held fields, on the caller's clock (None: none held).
    """

    fields: dict[str, Any] = field(default_factory=dict)
    held: dict[str, Any] = field(default_factory=dict)
    until: float | None = None


def awaits_reports(status: Mapping[str, Any]) -> bool:
    """Whether ``status`` lists a copy still ``Pending``: its agent's report is due."""
    rows = status.get("replicas") or []
    return any(isinstance(r, Mapping) and r.get("phase") == "Pending" for r in rows)


def _condition(status: Mapping[str, Any], type_: str) -> Mapping[str, Any]:
    found = (c for c in status.get("conditions") or [] if isinstance(c, Mapping))
    return next((c for c in found if c.get("type") == type_), {})


def must_write_now(stored: Mapping[str, Any], computed: Mapping[str, Any]) -> bool:
    """Whether ``computed`` is news that is never held back.

    A spec change acknowledged (``observedGeneration``: ``kubectl wait`` and the
    spec-change lane read it), a phase other than Ready or Progressing, a copy Lost, a
    ``Degraded`` condition that holds, or a strong resource (its ``Writable`` condition
    and leader are read by clients and agents).
    """
    if stored.get("observedGeneration") != computed.get("observedGeneration"):
        return True
    if computed.get("phase") not in _ROUTINE_PHASES:
        return True
    rows = computed.get("replicas") or []
    if any(isinstance(r, Mapping) and r.get("phase") == "Lost" for r in rows):
        return True
    if _condition(computed, "Degraded").get("status") == "True":
        return True
    return bool(_condition(computed, "Writable"))


def plan_status_write(
    stored: Mapping[str, Any],
    computed: Mapping[str, Any],
    *,
    held: Mapping[str, Any],
    held_until: float | None,
    created: bool,
    clock: float,
    hold_s: float,
    now: dt.datetime,
    forecast_refresh_s: float,
) -> StatusWrite:
    """What to write of ``computed`` over ``stored``, with the fields held earlier.

    The status to write is ``computed`` over ``held`` (a field both set takes
    ``computed``'s value), less what ``stored`` holds already
    (:func:`~statecast.core.reconcile.status_diff.fields_to_write`). It is held when
    the reconcile ``created`` copies (or a hold is running: ``held_until``), the status
    lists a copy still Pending (:func:`awaits_reports`), the news is routine
    (not :func:`must_write_now`), and the hold's deadline - ``hold_s`` after the first
    held write, never moved by a later one - has not come (``clock``).

    Args:
        stored: the status as the API server holds it (with this operator's writes).
        computed: the reconcile's whole status.
        held: the fields held by earlier reconciles (empty: none).
        held_until: their deadline (None: none held).
        created: the reconcile created copies.
        clock: now, on the clock of ``held_until``.
        hold_s: seconds a write may be held at most (0: never).
        now: now, for the forecast's age.
        forecast_refresh_s: see :func:`~statecast.core.reconcile.status_diff.forecast_due`.
    """
    merged = {**held, **computed}
    changed = fields_to_write(stored, merged, now, forecast_refresh_s)
    if not changed:
        return StatusWrite()
    holding = held_until is not None
    if hold_s <= 0 or not (created or holding) or not awaits_reports(computed):
        return StatusWrite(changed)
    if must_write_now(stored, computed):
        return StatusWrite(changed)
    until = held_until if held_until is not None else clock + hold_s
    if clock >= until:
        return StatusWrite(changed)
    return StatusWrite({}, changed, until)
