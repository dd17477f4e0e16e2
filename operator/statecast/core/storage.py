"""Copies whose agent cannot write their files: replaced as if lost, for placement only.

An agent whose data directory is full (or unwritable) keeps its Lease and serves reads
of its copies, but refuses their writes (eventual: 500 ``persistence``; strong: 503
``storage_unavailable``), and a copy it cannot open at all stays ``Pending``. Its agent
says so in the Replica's status: a ``StorageAvailable`` condition, False with reason
``StorageUnavailable``, whose ``lastTransitionTime`` is when the trouble began (the
agent drops the condition at its next successful write).

A copy that has said so for :data:`STORAGE_GRACE_SECONDS` is *storage-failed*: the
placement treats it like a copy on a lost node - its node takes no new copy of the
resource, a replacement is placed on another node (reason ``failover``), and the copy
goes only once the replacements are Ready (the hand-off rule), its agent then handing
its files to a live replica. Unlike a lost copy it is not marked ``Lost`` and custody
does not hold it: its agent is alive, serves reads and syncs, so the new copy catches
up from it and the others. Shorter trouble (one batch refused while a snapshot made
room) moves nothing.

The grace is measured from the transition time the agent wrote, by the operator's
clock: an agent whose clock is ahead makes its copy look failed sooner (a copy moved
early, nothing lost), one behind makes it look failed later.

An agent need not wait for a write to fail: :func:`space_shortfall` says a copy's files
are about to be unwritable when its file system has less room left than the copy's next
snapshot and a floor (:data:`MIN_FREE_BYTES`), so an idle copy on a filling disk - a
strong leader no write reaches, say - is moved before a write is refused. The agent
reports it the same way; it clears once the room is back with a margin (the floor again),
so a disk hovering at the line does not make the condition come and go.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "MIN_FREE_BYTES",
    "STORAGE_CONDITION",
    "STORAGE_GRACE_SECONDS",
    "STORAGE_UNAVAILABLE",
    "StorageReport",
    "space_shortfall",
    "storage_failed",
    "storage_recheck_after",
]

#: The Replica condition type an agent reports its files' trouble in.
STORAGE_CONDITION = "StorageAvailable"
#: Its reason while the files cannot be written (or opened).
STORAGE_UNAVAILABLE = "StorageUnavailable"
#: Seconds a copy reports its files unwritable before it is replaced.
STORAGE_GRACE_SECONDS = 5.0
#: Bytes an agent's file system keeps free beyond a copy's next snapshot (the default of
#: the agent's ``minFreeBytes``; 0 turns :func:`space_shortfall` off).
MIN_FREE_BYTES = 4 << 20


@dataclass(frozen=True)
class StorageReport:
    """What one copy's agent says of its files.

    Attributes:
        node: The copy's node.
        failing_since: When its agent began reporting them unwritable (None: it does not).
    """

    node: str
    failing_since: dt.datetime | None


def _failing_for(report: StorageReport, now: dt.datetime) -> float | None:
    if report.failing_since is None:
        return None
    return (now - report.failing_since).total_seconds()


def storage_failed(
    reports: Iterable[StorageReport],
    now: dt.datetime,
    grace: float = STORAGE_GRACE_SECONDS,
) -> frozenset[str]:
    """Nodes whose copy has reported its files unwritable for at least ``grace`` seconds."""
    return frozenset(
        r.node
        for r in reports
        if (seconds := _failing_for(r, now)) is not None and seconds >= grace
    )


def storage_recheck_after(
    reports: Iterable[StorageReport],
    now: dt.datetime,
    grace: float = STORAGE_GRACE_SECONDS,
) -> float | None:
    """Seconds until the next failing copy passes ``grace`` (None: none is waiting).

    Nothing else need happen for a copy's grace to pass (its agent writes its status
    once), so the reconcile asks to be run again then.
    """
    waits = [
        grace - seconds
        for r in reports
        if (seconds := _failing_for(r, now)) is not None and seconds < grace
    ]
    return max(min(waits), 0.0) if waits else None


def space_shortfall(free: int, snapshot_bytes: int, floor: int, short_before: bool) -> str | None:
    """Why a copy's files are about to be unwritable: too little room left for them.

    A copy is short of room when its file system has fewer than ``floor`` bytes free
    beyond its next snapshot (``snapshot_bytes``: its state's size); once short it stays
    so until ``floor`` more are free again (the margin keeps a disk at the line from
    flapping the copy's condition). ``floor`` 0 turns the rule off.

    Args:
        free: Bytes free on the file system of the copy's files (for an unprivileged writer).
        snapshot_bytes: The copy's state's size, the room its next snapshot takes.
        floor: Bytes to keep free beyond that.
        short_before: Whether the copy was short of room at the last look.

    Returns:
        The reason to report (``StorageAvailable=False``), or None when there is room.
    """
    if floor <= 0:
        return None
    margin = floor * (2 if short_before else 1)
    if free >= snapshot_bytes + margin:
        return None
    return (
        f"{_mib(free)} free on its file system, less than its next snapshot"
        f" ({_mib(snapshot_bytes)}) and {_mib(margin)} kept free"
    )


def _mib(size: int) -> str:
    return f"{size / (1 << 20):.1f} MiB"
