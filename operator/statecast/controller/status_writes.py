"""The status a resource has as far as this operator knows: its own writes included.

kopf's bodies (an event's, the resource index's) reach the operator through its watch
and lag its own status writes: a reconcile that compares its status with such a body may
take the status the server held BEFORE the operator's last write for the current one,
and then write a field again for nothing or - worse - leave out a field that it set
back to that older value. :class:`StatusWrites` keeps the fields the operator wrote
until a body shows them (or ``lag`` seconds passed: the watch has shown them by then,
and anything else is someone else's newer write). :class:`HeldStatuses` keeps the
fields a reconcile held back for the report its new copies owe
(:mod:`statecast.core.reconcile.status_hold`) until a later reconcile writes them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from statecast.api.types import Ref
from statecast.core.reconcile.status_diff import changed_fields

__all__ = ["HeldStatuses", "StatusWrites"]


class StatusWrites:
    """Status fields written lately, per resource, until a body shows them.

    Args:
        lag: Seconds after which a write counts as seen anyway.
        clock: Monotonic seconds (a test seam).
    """

    def __init__(self, lag: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.lag, self.clock = lag, clock
        self._lock = threading.Lock()
        self._written: dict[Ref, tuple[dict[str, Any], float]] = {}

    def wrote(self, ref: Ref, fields: Mapping[str, Any]) -> None:
        """Note that ``fields`` of ``ref``'s status were just written."""
        with self._lock:
            earlier = self._written.get(ref, ({}, 0.0))[0]
            self._written[ref] = ({**earlier, **fields}, self.clock())

    def current(self, ref: Ref, stored: Mapping[str, Any]) -> dict[str, Any]:
        """``ref``'s status: ``stored`` (a body's) with the writes it does not show yet."""
        with self._lock:
            written, at = self._written.get(ref, ({}, 0.0))
            if not written:
                return dict(stored)
            if self.clock() - at > self.lag or not changed_fields(stored, written):
                del self._written[ref]  # the body shows them (or is newer than them)
                return dict(stored)
            return {**stored, **written}

    def forget(self, ref: Ref) -> None:
        """Drop a deleted resource."""
        with self._lock:
            self._written.pop(ref, None)


class HeldStatuses:
    """Status fields held back per resource, with their deadline (see the module doc).

    Args:
        clock: Monotonic seconds: the deadlines' clock (a test seam).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._held: dict[Ref, tuple[dict[str, Any], float]] = {}

    def get(self, ref: Ref) -> tuple[dict[str, Any], float | None]:
        """The fields held for ``ref`` and their deadline (``{}, None``: none)."""
        with self._lock:
            found = self._held.get(ref)
        return (dict(found[0]), found[1]) if found is not None else ({}, None)

    def hold(self, ref: Ref, fields: Mapping[str, Any], until: float) -> None:
        """Hold ``fields`` (all of them: they replace what was held) until ``until``."""
        with self._lock:
            self._held[ref] = (dict(fields), until)

    def release(self, ref: Ref) -> None:
        """``ref``'s held fields were written (or are no news any more): drop them."""
        with self._lock:
            self._held.pop(ref, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._held)
