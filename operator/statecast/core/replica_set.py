"""Decide which Replica objects to create and delete for a resource.

A placement policy says which nodes it wants and why (:class:`WantedReplicas`);
:func:`hand_off` turns that into Replica changes with the one rule every policy shares:
a copy is never deleted before its replacement is Ready, so replicas on lost or
unsuitable nodes are removed only once every wanted replica reports Ready. The plain
spread (:func:`spread_wanted`) places the resource's target count over zones;
:func:`reconcile_replicas` is the spread with the hand-off applied.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from statecast.core.placement.types import CurrentReplica
from statecast.core.spread import Candidate, spread

__all__ = [
    "UP_TO_DATE",
    "ReplicaChange",
    "ReplicaSetPlan",
    "WantedReplicas",
    "hand_off",
    "hold_current",
    "keep_unreplaced",
    "leaving_order",
    "lost_nodes",
    "reconcile_replicas",
    "retire_unwanted",
    "spread_wanted",
    "unreplaced",
    "within_max",
]

#: Replica phases that hold an up-to-date copy (``CurrentReplica.up_to_date``).
UP_TO_DATE = frozenset({"Ready"})


@dataclass(frozen=True)
class ReplicaChange:
    """One change to the set of Replica objects, with the reason it is made."""

    action: str
    """``add`` or ``remove``."""
    node: str
    reason: str
    """Reason code: minimum, rebalance, failover, ..."""
    stand_in_for: tuple[str, ...] = ()
    """For an add: the lost copies it stands in for (see :mod:`statecast.core.custody`)."""


@dataclass(frozen=True)
class ReplicaSetPlan:
    """The wanted nodes and the changes that reach them."""

    wanted: tuple[str, ...]
    changes: tuple[ReplicaChange, ...]

    @property
    def adds(self) -> list[ReplicaChange]:
        """The additions."""
        return [c for c in self.changes if c.action == "add"]

    @property
    def removes(self) -> list[ReplicaChange]:
        """The removals."""
        return [c for c in self.changes if c.action == "remove"]


@dataclass(frozen=True)
class WantedReplicas:
    """The nodes a policy wants a resource on, and why: what the hand-off starts from.

    Attributes:
        nodes: the wanted nodes.
        add_reasons: node -> reason code of a new copy there (every wanted node that
            holds none yet must have one).
        removals: node -> reason code of removing the copy there once the hand-off is
            done (nodes not holding a copy, or wanted, are ignored).
    """

    nodes: tuple[str, ...]
    add_reasons: Mapping[str, str]
    removals: Mapping[str, str]


def hold_current(
    wanted: WantedReplicas,
    existing: Mapping[str, CurrentReplica],
    eligible: Collection[str],
    limit: int | None = None,
) -> WantedReplicas:
    """``wanted`` with every current copy on an eligible node kept, up to ``limit`` in all.

    For a policy that has no informed plan yet (no forecast, no window of demand, the
    planner refused, or an operator that restarted and has not caught up with its own
    sampling): the spread may add what ``replicas.min`` and the consumers need, but no
    copy that an informed decision placed (for demand, say) is removed on the spread's
    word. Copies on lost or ineligible nodes are handed off as before, and a consumer's
    copy still goes with its last pod (the pods say why it was there, not a forecast).
    """
    kept = [
        n
        for n, replica in sorted(existing.items())
        if n in eligible and n not in wanted.nodes and replica.reason != "consumer"
    ]
    if limit is not None:
        kept = kept[: max(limit - len(wanted.nodes), 0)]
    return WantedReplicas(
        tuple(sorted((*wanted.nodes, *kept))),
        wanted.add_reasons,
        {n: reason for n, reason in wanted.removals.items() if n not in kept},
    )


def spread_wanted(
    candidates: Sequence[Candidate],
    current: Iterable[CurrentReplica],
    *,
    count: int,
    consumers: Iterable[str] = (),
    limit: int | None = None,
    unreachable: Iterable[str] | None = None,
) -> WantedReplicas:
    """The plain spread: ``count`` copies on ``candidates`` (eligible nodes) plus consumers.

    Nodes running a pod that consumes the resource (``consumers``) get a copy too, so
    the state is local before the pod needs it: they are preferred for the ``count``
    spread copies where that keeps zones balanced, and added beyond them (in name
    order) up to ``limit`` copies in all.

    Args:
        candidates: ready nodes that satisfy the resource's placement.
        current: the resource's existing replicas (on any node).
        count: how many replicas are wanted at least.
        consumers: nodes where a consumer pod is bound (ineligible ones are ignored).
        limit: most replicas in all (``replicas.max``), None for no limit.
        unreachable: nodes whose copy cannot be read (NotReady, gone, agent down); a
            copy there is replaced for ``failover``. A copy on a node that is merely no
            longer eligible (cordoned, draining, filtered out) is handed off for
            ``rebalance``. None: every ineligible node counts as unreachable.

    Returns:
        The wanted nodes; adds carry reason ``consumer`` on a consumer's node, else
        ``minimum`` on a first placement, ``failover`` when they replace a copy on a
        lost node, ``rebalance`` otherwise; every copy not wanted is removed (see
        :func:`retire_unwanted`).
    """
    existing = {r.node: r for r in current}
    eligible_names = {c.name for c in candidates}
    consumer_nodes = sorted(set(consumers) & eligible_names)
    # A copy made for a consumer whose pods are gone is the one to let go: kept first
    # are the other copies, so a spread that picks the least loaded held node does not
    # keep the consumer's copy and retire the one that was there before it.
    held = [n for n in existing if n in eligible_names]
    stale = [n for n in held if existing[n].reason == "consumer" and n not in consumer_nodes]
    others = [n for n in held if n not in stale]
    preferred = others + consumer_nodes + (stale if len(others) < count else [])
    wanted = spread(candidates, count, current=preferred)
    room = len(consumer_nodes) if limit is None else max(limit - len(wanted), 0)
    wanted = sorted(wanted + [n for n in consumer_nodes if n not in wanted][:room])
    lost = lost_nodes(existing, wanted, eligible_names, unreachable)
    add_reason = "failover" if lost else ("minimum" if not existing else "rebalance")
    reasons = {n: "consumer" if n in consumer_nodes else add_reason for n in wanted}
    return WantedReplicas(tuple(wanted), reasons, retire_unwanted(wanted, existing, lost))


def reconcile_replicas(
    candidates: Sequence[Candidate],
    current: Iterable[CurrentReplica],
    *,
    count: int,
    consumers: Iterable[str] = (),
    limit: int | None = None,
    unreachable: Iterable[str] | None = None,
) -> ReplicaSetPlan:
    """The plain spread (:func:`spread_wanted`, same arguments) with the hand-off applied."""
    current = list(current)
    wanted = spread_wanted(
        candidates,
        current,
        count=count,
        consumers=consumers,
        limit=limit,
        unreachable=unreachable,
    )
    return hand_off(wanted, {r.node: r for r in current})


def retire_unwanted(
    wanted: Iterable[str], existing: Iterable[str], lost: Collection[str] = ()
) -> dict[str, str]:
    """Every copy not wanted goes: reason ``failover`` on a ``lost`` node, else ``rebalance``."""
    kept = set(wanted)
    return {n: "failover" if n in lost else "rebalance" for n in existing if n not in kept}


def lost_nodes(
    existing: Mapping[str, CurrentReplica],
    wanted: Iterable[str],
    eligible_names: Collection[str],
    unreachable: Iterable[str] | None,
) -> list[str]:
    """The unwanted copies that are lost (their node is unreachable), sorted.

    ``unreachable`` None: every ineligible node counts as unreachable.
    """
    kept = set(wanted)
    gone = set(unreachable) if unreachable is not None else None
    return sorted(
        n
        for n in existing
        if n not in kept and n not in eligible_names and (gone is None or n in gone)
    )


def hand_off(wanted: WantedReplicas, existing: Mapping[str, CurrentReplica]) -> ReplicaSetPlan:
    """The changes from ``existing`` to ``wanted``, hand-off first.

    Every wanted node without a copy gets one (reason from ``wanted.add_reasons``); the
    copies in ``wanted.removals`` go only once every wanted node holds a Ready copy,
    so the last up-to-date copy never goes before its replacement is Ready (and
    nothing goes while nothing is wanted).
    """
    nodes = sorted(wanted.nodes)
    missing = [n for n in nodes if n not in existing]
    changes = [ReplicaChange("add", node, wanted.add_reasons[node]) for node in missing]
    all_wanted_ready = bool(nodes) and not missing and all(existing[n].up_to_date for n in nodes)
    if all_wanted_ready:
        changes += [
            ReplicaChange("remove", node, reason)
            for node, reason in sorted(wanted.removals.items())
            if node in existing and node not in nodes
        ]
    return ReplicaSetPlan(wanted=tuple(nodes), changes=tuple(changes))


def leaving_order(
    existing: Mapping[str, CurrentReplica],
    leaving: Iterable[str],
    lost: Collection[str] = (),
    storage_failed: Collection[str] = (),
) -> list[str]:
    """The copies on nodes that no longer take one, the most worth keeping first.

    A copy that serves and can write (on a cordoned, tainted or filtered-out node) before
    one whose files cannot be written, before a lost one; among alike, an up-to-date one
    first, then by name. :func:`keep_unreplaced` keeps them in this order.
    """
    return sorted(
        (n for n in leaving if n in existing),
        key=lambda n: (n in lost, n in storage_failed, not existing[n].up_to_date, n),
    )


def unreplaced(wanted: Collection[str], leaving: Sequence[str], count: int) -> tuple[str, ...]:
    """The leaving copies that stay because nothing replaces them: as many as ``wanted`` lacks.

    ``leaving`` is ordered as :func:`leaving_order` orders it; ``count`` is the copies wanted
    at least.
    """
    return tuple(leaving[: max(count - len(wanted), 0)])


def keep_unreplaced(plan: ReplicaSetPlan, leaving: Sequence[str], count: int) -> ReplicaSetPlan:
    """``plan`` without removing a leaving copy that nothing replaces.

    A copy leaves a node that no longer takes one: its node is lost (NotReady or gone,
    its agent's Lease lapsed), its files cannot be written (:mod:`statecast.core.storage`),
    or the node is no longer eligible (cordoned or draining, tainted, filtered out by
    ``placement``). It goes once a replacement elsewhere is Ready: the hand-off. When no
    eligible node is left to take one (``min = max = 3`` on three nodes, one cordoned),
    the wanted copies are fewer than ``count`` and the hand-off, finding every one of them
    Ready, removed the leaving copy all the same. Session 15 kept a lost one (a CPU-starved
    agent's copy was deleted and re-created from scratch when it renewed); a cordoned
    node's copy, which still serves, and a storage-failed one, which still serves reads
    and may hold writes not synced out yet, were still removed, leaving the resource a copy
    short for nothing. Now as many leaving copies stay as the wanted ones lack (the first
    of ``leaving``, see :func:`leaving_order`), until a copy placed elsewhere is Ready.

    Args:
        plan: the hand-off's changes.
        leaving: the copies on nodes that take none, the most worth keeping first.
        count: the copies wanted at least (the survey's count).
    """
    kept = set(unreplaced(plan.wanted, leaving, count))
    if not kept:
        return plan
    changes = tuple(c for c in plan.changes if not (c.action == "remove" and c.node in kept))
    return ReplicaSetPlan(plan.wanted, changes)


def within_max(
    plan: ReplicaSetPlan,
    existing: Mapping[str, CurrentReplica],
    limit: int | None,
    leaving: Collection[str] = (),
    removal_reasons: Mapping[str, str] | None = None,
) -> ReplicaSetPlan:
    """``plan`` with at most ``limit`` copies at any moment, hand-off included.

    The hand-off adds first and removes once the new copies are Ready, so a move at the
    limit held ``limit + 1`` copies for a while (``replicas.max`` 3 showed a Syncing copy
    beside three). Here a copy is added only where there is room: the copies that stay,
    plus the adds, at most ``limit``. A copy leaving a node that takes none (``leaving``:
    lost, storage-failed, cordoned or draining, tainted, filtered out) does not count: it
    goes only once its replacement is Ready (removed first, a cordoned copy left the
    resource a copy short while the new one synced, and a strong resource's voters
    narrowed), so such a hand-off holds up to one copy more than ``limit`` per leaving
    copy until then. When a move off an eligible node is due at the limit (the
    planner's), the copy that goes is removed first, as
    long as a wanted copy that stays is Ready (so a Ready copy always holds the state, and
    the removed copy's agent hands its files to it), and the add follows in a later
    reconcile: the count may dip below ``replicas.min`` by the moving copies, never above
    ``replicas.max``. The one exception: when no wanted copy that stays is Ready,
    removing first would leave nothing serving, so the add goes first as before.

    Args:
        plan: the hand-off's changes.
        existing: the resource's copies by node.
        limit: ``replicas.max`` (None: no bound).
        leaving: nodes whose copy leaves a node that takes none (see :func:`leaving_order`).
        removal_reasons: node -> reason code of removing its copy (default ``rebalance``).
    """
    if limit is None:
        return plan
    removing = {c.node for c in plan.removes}
    reachable = [n for n in sorted(existing) if n not in leaving]
    room = limit - sum(1 for n in reachable if n not in removing)
    adds = plan.adds
    if len(adds) <= room:
        return plan
    if not any(n in existing and existing[n].up_to_date for n in plan.wanted):
        return plan  # nothing Ready would stay: the hand-off goes first (the exception)
    extras = [n for n in reachable if n not in plan.wanted and n not in removing]
    early = extras[: len(adds) - room]
    reasons = removal_reasons or {}
    return ReplicaSetPlan(  # removals first: applied in this order, never above the limit
        plan.wanted,
        (
            *(ReplicaChange("remove", n, reasons.get(n, "rebalance")) for n in early),
            *plan.removes,
            *adds[: max(room + len(early), 0)],
        ),
    )
