"""When a SharedResource is due for a reconcile: on its own events, and its safety resync.

The operator reconciles a resource when something it depends on changed. For the
resource itself that is decided from its watch events here, without kopf's changing
handlers (whose bookkeeping PATCHed every resource: a finalizer for the timer, and the
last-handled configuration, two writes per resource in a first pass over a thousand):
a resource is due when it is listed (the operator starts, or resumes after a pause),
when it is added, and when its spec changed - its ``metadata.generation`` moved past
the ``status.observedGeneration`` the operator last wrote. A change of its status alone
(the operator's own writes, mostly) is not a reason.

The safety resync reconciles every resource once per period, each at an offset of its
own within the period (so that a thousand resources are not all due in the same
second): :func:`resync_offset` and :func:`resync_due`. When an agent is lost, the
resources it leaves :func:`at_risk` are reconciled before all others.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping
from typing import Any

__all__ = ["at_risk", "event_due", "resync_due", "resync_offset", "spec_changed"]

#: Slots of a resync period the resources are spread over.
SLOTS = 1000


def event_due(kind: str | None, metadata: Mapping[str, Any], status: Mapping[str, Any]) -> bool:
    """Whether a watch event of a SharedResource asks for a reconcile.

    Args:
        kind: the event's type: None for an object listed (a start or a resume),
            ``ADDED``, ``MODIFIED`` or ``DELETED``.
        metadata: the object's metadata (``generation``).
        status: its status as the operator knows it (its own writes included).
    """
    if kind == "DELETED":
        return False
    if kind is None or kind == "ADDED":
        return True
    generation = metadata.get("generation")
    return generation is not None and status.get("observedGeneration") != generation


def spec_changed(metadata: Mapping[str, Any], status: Mapping[str, Any]) -> bool:
    """Whether a reconciled resource's spec moved past the generation its status observed.

    A resource never reconciled (no ``observedGeneration``) is a first reconcile, not a
    change.
    """
    observed = status.get("observedGeneration")
    return observed is not None and metadata.get("generation") not in (None, observed)


def at_risk(copies_left: int, minimum: int) -> bool:
    """Whether a resource that lost a copy goes ahead of every other queued resource.

    At risk: left with at most one copy, or below its ``replicas.min`` (a minimum raised
    to 3 left two copies after a loss - below it, but not "at most one": at 1,000
    resources that one waited 69 s behind ~400 others for its replacement).
    """
    return copies_left <= 1 or copies_left < minimum


def resync_offset(key: str, period: float) -> float:
    """Seconds into each ``period`` at which the resource ``key`` is resynced.

    Never 0 (a resource listed at start is reconciled then anyway) and spread by a hash
    of ``key`` (its uid, else its namespace/name) over :data:`SLOTS` slots.
    """
    return period * (zlib.crc32(key.encode()) % SLOTS + 1) / SLOTS


def resync_due(offset: float, since: float, now: float, period: float) -> bool:
    """Whether a resync at ``offset`` into each ``period`` fell in ``(since, now]``.

    Times are seconds on one clock, periods counted from its 0. A gap longer than a
    period is one resync, not several.
    """
    if now <= since:
        return False
    if now - since >= period:
        return True
    last = math.floor((now - offset) / period) * period + offset  # the latest at or before now
    return last > since
