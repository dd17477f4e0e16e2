"""Custody of a resource's state: lost copies that hold writes no reachable copy holds.

A resource's state is the join of its replicas' states. A replica whose node or agent
is lost may hold writes that no reachable replica has: acknowledged there just before
it was lost, or the only copy there was. The version vector its agent last reported
says which events it held at least; the reachable replicas' vectors, joined, say which
events the rest of the resource holds (reachable replicas exchange what they have, so
their join is what each of them will hold). A lost copy whose events are not all
covered by that join is *unmerged*:

- its Replica is kept, never removed by a hand-off, so that when its agent comes back
  with its disk the copy rejoins and anti-entropy merges its writes into every replica
  (a CRDT join: nothing is overwritten, nothing dropped);
- the resource says so (Degraded): ``LastCopyLost`` when no reachable replica held the
  state at all (every copy that did is lost, and what serves now is a stand-in),
  ``UnmergedCopyLost`` when reachable copies hold the state but a lost one holds writes
  beyond them;
- a replica placed while the last copy is lost is a *stand-in* for the lost copies: it
  starts from the resource's source, not from the state, and is marked as such until
  the copies it stands in for are merged (or given up);
- after ``retention`` seconds lost, an unmerged copy is *abandoned*: its Replica may be
  removed and its writes are given up (the agent still merges its files if it ever
  comes back: see the agent's retired copies).

Reported vectors lag the copies by up to a status write, so a copy lost right after a
write may hold one event more than its vector says; that write is not lost either: its
agent merges the files of a removed copy into a live replica when it comes back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from statecast.core.replica_set import ReplicaChange

__all__ = ["Copy", "Custody", "custody", "guard", "join_vectors", "missing_events"]


@dataclass(frozen=True)
class Copy:
    """One replica of the resource, as custody sees it.

    Attributes:
        node: Its node.
        reachable: Its node is Ready and its agent alive (it can be read and synced).
        version_vector: The events it holds, as its agent last reported.
        stand_in_for: The lost copies' nodes it stands in for (set when it was placed).
        lost_since: When its loss was recorded (epoch seconds; None: not recorded yet).
    """

    node: str
    reachable: bool
    version_vector: Mapping[str, int] = field(default_factory=dict)
    stand_in_for: tuple[str, ...] = ()
    lost_since: float | None = None


@dataclass(frozen=True)
class Custody:
    """What custody decided for a resource.

    Attributes:
        unmerged: Lost copies holding events no reachable copy holds (kept, not removed),
            abandoned ones included, sorted.
        abandoned: Unmerged copies lost for longer than the retention (given up).
        missing: Unmerged node -> origin -> the highest event it holds beyond the join.
        last_copy_lost: Unmerged copies exist and no reachable copy holds state of its
            own (a copy that is not a stand-in and holds any event).
        stand_in_for: Reachable node -> the lost nodes it stands in for now (for the
            stand-ins whose marks change; empty tuple: no longer a stand-in).
    """

    unmerged: tuple[str, ...] = ()
    abandoned: tuple[str, ...] = ()
    missing: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    last_copy_lost: bool = False
    stand_in_for: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def kept(self) -> frozenset[str]:
        """Lost copies that must not be removed: unmerged and not abandoned."""
        return frozenset(self.unmerged) - frozenset(self.abandoned)

    @property
    def new_stand_in_for(self) -> tuple[str, ...]:
        """What a replica placed now stands in for (empty unless the last copy is lost)."""
        return tuple(sorted(self.kept)) if self.last_copy_lost else ()


def join_vectors(vectors: Iterable[Mapping[str, int]]) -> dict[str, int]:
    """The pointwise maximum of version vectors: the events their copies hold together."""
    joined: dict[str, int] = {}
    for vector in vectors:
        for origin, seq in vector.items():
            if seq > joined.get(origin, 0):
                joined[origin] = seq
    return joined


def missing_events(vector: Mapping[str, int], covered: Mapping[str, int]) -> dict[str, int]:
    """The origins where ``vector`` holds events beyond ``covered``, with its highest."""
    return {o: seq for o, seq in sorted(vector.items()) if seq > covered.get(o, 0)}


def custody(copies: Iterable[Copy], *, now: float, retention: float) -> Custody:
    """Decide which lost copies are unmerged, abandoned, and which replicas stand in.

    Args:
        copies: Every replica of the resource.
        now: The current time (epoch seconds).
        retention: Seconds an unmerged copy is kept lost before it is abandoned.
    """
    copies = list(copies)
    reachable = [c for c in copies if c.reachable]
    holders = [c for c in reachable if c.version_vector and not c.stand_in_for]
    # Without a reachable holder, a stand-in's seed is no evidence: every lost copy that
    # held state may hold writes acknowledged after its last report, and is kept.
    covered = join_vectors(c.version_vector for c in (reachable if holders else ()))
    missing = {
        c.node: gap
        for c in copies
        if not c.reachable and (gap := missing_events(c.version_vector, covered))
    }
    unmerged = tuple(sorted(missing))
    abandoned = tuple(
        node
        for node in unmerged
        if (lost := next(c for c in copies if c.node == node).lost_since) is not None
        and now - lost >= retention
    )
    kept = set(unmerged) - set(abandoned)
    last_copy_lost = bool(kept) and not holders
    stand_in_for: dict[str, tuple[str, ...]] = {}
    for copy in reachable:
        still = tuple(n for n in copy.stand_in_for if n in kept)
        if still != copy.stand_in_for:
            stand_in_for[copy.node] = still
    return Custody(unmerged, abandoned, missing, last_copy_lost, stand_in_for)


def guard(changes: Iterable[ReplicaChange], held: Custody) -> tuple[ReplicaChange, ...]:
    """The changes of a placement plan under custody.

    A removal of a kept copy (lost and unmerged, not abandoned) is dropped: its Replica
    stays until its writes are merged or given up. An add placed while the last copy is
    lost stands in for the kept copies.
    """
    standing = held.new_stand_in_for
    kept = held.kept
    return tuple(
        replace(c, stand_in_for=standing) if c.action == "add" and standing else c
        for c in changes
        if not (c.action == "remove" and c.node in kept)
    )
