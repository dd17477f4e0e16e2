"""An agent's Lease lapsing: which resources it affects, in which order, and when.

When an agent stops renewing its Lease, every resource with a copy on its node needs a
reconcile (the copy is marked Lost, and replaced where the loss leaves too few). At a
thousand resources one node holds copies of a few hundred, and the few dozen the loss
leaves short must not wait behind the others: :func:`lapse_wave` splits them into the
*urgent* ones (left :func:`~statecast.core.reconcile.due.at_risk`: at most one copy,
or fewer than their ``replicas.min``), which the operator plans together and whose
Replica creations it sends at once, and the *rest*, queued ahead of the safety
resyncs. Both come in the order of need: the fewest copies left first, then by name
(a lapse always gives the same order).

:func:`next_lapse` says when the next Lease that is still alive would lapse, so that
the operator looks exactly then instead of on a fixed tick. :func:`load_after` is the
load per node that one planning of a wave leaves to the next resource it plans, so
that the replacements of a wave do not all go to the node that was least loaded before
it. :func:`creations_ahead` picks the creations of one resource's plan that go out
before any other write of the wave: those that take it out of risk (the replacements),
not the copies the same plan adds for demand. :func:`marks_due` says which lost copies
a reconcile marks ``Lost`` once its removals are made (not one it deleted).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from statecast.api.types import Ref
from statecast.core.reconcile.due import at_risk
from statecast.core.reconcile.status import LostReplica
from statecast.core.reconcile.views import AgentLease
from statecast.core.replica_set import ReplicaChange

__all__ = [
    "Wave",
    "copies_left",
    "creations_ahead",
    "lapse_wave",
    "load_after",
    "marks_due",
    "next_lapse",
    "overdue_by",
]

#: Reasons of the additions that replace a copy or restore the minimum (a copy held on
#: every node, ``everywhere``, restores it too: those said ``minimum`` before session 25).
REPLACING = ("failover", "minimum", "everywhere")


@dataclass(frozen=True)
class Wave:
    """The resources a lapse affects, each in the order of need.

    Attributes:
        urgent: left at risk: planned together, their creations written at once, ahead
            of every queued resource.
        rest: the others with a copy on a lapsed node: queued ahead of the safety
            resyncs (their copies are marked Lost, nothing is missing).
    """

    urgent: tuple[Ref, ...] = ()
    rest: tuple[Ref, ...] = ()


def lapse_wave(
    lapsed: Collection[str],
    down: Collection[str],
    copies: Mapping[Ref, Collection[str]],
    minimums: Mapping[Ref, int],
) -> Wave:
    """The resources with a copy on a ``lapsed`` node, urgent ones apart (see the module).

    Args:
        lapsed: the nodes whose agents' Leases just lapsed.
        down: every node whose agent is down now (``lapsed`` among them, or not: it
            is added); a copy on any of them does not count as left.
        copies: resource -> the nodes holding a copy of it.
        minimums: resource -> its ``replicas.min`` (1 if unknown).
    """
    gone = set(lapsed) | set(down)
    left = {
        ref: len(set(nodes) - gone)
        for ref, nodes in copies.items()
        if any(node in nodes for node in lapsed)
    }
    ordered = sorted(left, key=lambda ref: (left[ref], ref))
    risky = {r for r in ordered if at_risk(left[r], minimums.get(r, 1))}
    return Wave(
        tuple(r for r in ordered if r in risky), tuple(r for r in ordered if r not in risky)
    )


def next_lapse(leases: Iterable[AgentLease], now: dt.datetime) -> float | None:
    """Seconds from ``now`` until the first Lease still alive lapses (None: none alive).

    A Lease lapses once it has not been renewed for longer than it lasts
    (:meth:`AgentLease.expired`); one that has lapsed already or was never renewed
    does not count.
    """
    left = [
        lease.duration_seconds - (now - lease.renew_time).total_seconds()
        for lease in leases
        if lease.renew_time is not None and not lease.expired(now)
    ]
    return max(0.0, min(left)) if left else None


def overdue_by(lease: AgentLease, now: dt.datetime) -> float:
    """Seconds since ``lease`` lapsed at ``now`` (negative: before; 0 if never renewed)."""
    if lease.renew_time is None:
        return 0.0
    return (now - lease.renew_time).total_seconds() - lease.duration_seconds


def load_after(
    load: Mapping[str, tuple[float, ...]], added: Mapping[str, tuple[int, int]]
) -> dict[str, tuple[float, ...]]:
    """``load`` (node -> replicas of other resources, their bytes, ...) plus ``added``.

    ``added``: node -> (copies, bytes) the wave's earlier plans put there; the other
    figures of a node's load (its accesses per second) stay as they are.
    """
    out = dict(load)
    for node, (count, size) in added.items():
        have = out.get(node, (0.0, 0.0, 0.0))
        out[node] = (have[0] + count, have[1] + size, *have[2:])
    return dict(sorted(out.items()))


def copies_left(holders: Iterable[str], gone: Collection[str]) -> int:
    """How many of the nodes in ``holders`` (each holding a copy) are not ``gone``."""
    return len(set(holders) - set(gone))


def creations_ahead(
    adds: Sequence[ReplicaChange], left: int, minimum: int
) -> tuple[ReplicaChange, ...]:
    """The additions of a wave's plan sent before any other write of the wave.

    As many as take the resource out of risk (:func:`~statecast.core.reconcile.due.at_risk`:
    back to ``max(minimum, 2)`` copies from the ``left`` it has), those that replace or
    restore the minimum (:data:`REPLACING`) first, then in the plan's order. The plan's
    other additions (copies for predicted demand, a hedge) are written after every
    resource of the wave has its replacements: at 300 resources a wave's plans added
    one such copy per replacement, 88 creations where 44 were needed.
    """
    needed = max(0, max(minimum, 2) - left)
    ordered = sorted(adds, key=lambda change: change.reason not in REPLACING)
    return tuple(ordered[:needed])


def marks_due(lost: Sequence[LostReplica], removed: Collection[str]) -> tuple[LostReplica, ...]:
    """The Lost marks to write once a reconcile's removals are made: not a removed copy's.

    ``removed``: the nodes whose copy the reconcile deleted (a removal not applied is not
    in it: that copy is marked). A copy removed (``failover``: the copies left are Ready
    and enough) is gone: its status PATCH came after the deletion and was answered 404,
    one wasted request per copy, 56 of a lost node's 82 at 1,000 x 50 (docs/scale-history.md,
    session 10). Its ``ReplicaLost`` Warning still says why it went.
    """
    return tuple(r for r in lost if r.node not in removed)
