"""Custody of a resource's state in a reconcile: the survey's copies, the status words.

The decisions are :mod:`statecast.core.custody`'s; this module feeds it the survey and
says what it decided in the resource's condition, Events and Replica marks.
"""

from __future__ import annotations

from dataclasses import dataclass

from statecast.api.units import parse_duration
from statecast.core.custody import Copy, Custody, custody
from statecast.core.reconcile.survey import Survey

__all__ = [
    "StandIn",
    "custody_events",
    "custody_message",
    "custody_of",
    "custody_reason",
    "stand_ins",
]


@dataclass(frozen=True)
class StandIn:
    """A Replica's new list of lost copies it stands in for (empty: it no longer does)."""

    name: str
    node: str
    stand_in_for: tuple[str, ...]


def custody_of(survey: Survey) -> Custody:
    """What custody decides for the surveyed resource."""
    retention = parse_duration(survey.spec.replication.lost_copy_retention).total_seconds()
    copies = [
        Copy(
            r.node,
            r.node in survey.ready,
            r.version_vector,
            r.stand_in_for,
            r.lost_since.timestamp() if r.lost_since is not None else None,
        )
        for r in survey.replicas
    ]
    return custody(copies, now=survey.now.timestamp(), retention=retention)


def _events_of(held: Custody, node: str) -> str:
    return ", ".join(f"{o}:{n}" for o, n in held.missing[node].items())


def custody_message(survey: Survey, held: Custody) -> str:
    """What the Degraded condition says while lost copies hold unmerged writes."""
    retention = survey.spec.replication.lost_copy_retention
    lost = "; ".join(f"{node} (events {_events_of(held, node)})" for node in sorted(held.kept))
    copies = "the copy on" if len(held.kept) == 1 else "the copies on"
    if held.last_copy_lost:
        standing = [r.node for r in survey.replicas if r.stand_in_for]
        serving = (
            f"{', '.join(standing)} stands in, starting from the source"
            if standing
            else "no replica stands in yet"
        )
        return (
            f"no reachable replica holds the state: {copies} {lost} is unreachable;"
            f" {serving}; its writes are merged when its agent returns (given up after"
            f" {retention} lost)"
        )
    return (
        f"lost copies hold writes no reachable replica holds: {copies} {lost}; kept until"
        f" the agent returns and the writes are merged (given up after {retention} lost)"
    )


def custody_reason(held: Custody) -> str:
    """The Degraded reason while lost copies hold unmerged writes."""
    return "LastCopyLost" if held.last_copy_lost else "UnmergedCopyLost"


def stand_ins(survey: Survey, held: Custody) -> tuple[StandIn, ...]:
    """The Replicas whose stand-in marks change."""
    return tuple(
        StandIn(r.name, r.node, held.stand_in_for[r.node])
        for r in survey.replicas
        if r.node in held.stand_in_for
    )


def custody_events(survey: Survey, held: Custody) -> list[tuple[str, str, str]]:
    """(type, reason, message) of the Events custody posts in every reconcile it holds.

    Copies given up after the retention, and stand-ins that no longer stand in. (The
    ``LastCopyLost``/``UnmergedCopyLost`` Warning is posted when the condition starts.)
    """
    retention = survey.spec.replication.lost_copy_retention
    events = [
        (
            "Warning",
            "CopyAbandoned",
            f"gave up the writes of the copy on {node} after {retention} lost (events"
            f" {_events_of(held, node)}); its agent still merges them if it returns with"
            " its disk",
        )
        for node in held.abandoned
    ]
    events += [
        (
            "Normal",
            "StandInCleared",
            f"{update.node} no longer stands in: the lost copies it stood in for are merged"
            " into the reachable replicas, or given up",
        )
        for update in stand_ins(survey, held)
        if not update.stand_in_for
    ]
    return events
