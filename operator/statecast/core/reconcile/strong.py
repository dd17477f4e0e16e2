"""The strong half of a reconcile: voters, elections and roles, as pure decisions.

For a ``consistency: strong`` resource the operator is the configuration master
(Vertical Paxos): the configuration (epoch, leader, voters) lives in the resource's
status and changes only through an election (:mod:`statecast.controller.strong`
carries one out: reserve the epoch, fence a majority, choose, record, tell the
Replicas). :func:`strong_decision` says whether one is needed and which Replica specs
do not match the recorded configuration yet; :func:`keep_voters` holds back the
removal of a voter's Replica until a membership step took it out of the voters.
:func:`standby_looks` says whether a process's standby elections
(:mod:`statecast.controller.strong_standby`) look at the strong resources at all.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from statecast.api.shared_resource import SharedResourceSpec
from statecast.core.reconcile.observed import Observed
from statecast.core.reconcile.views import ReplicaView
from statecast.core.replica_set import ReplicaSetPlan
from statecast.core.spread import Candidate, spread
from statecast.core.storage import storage_failed
from statecast.core.strong.election import (
    Election,
    ReplicaProgress,
    StrongConfig,
    next_election,
    voter_count,
)
from statecast.core.strong.replica import majority

__all__ = [
    "RoleChange", "StrongDecision", "keep_voters", "settled_candidates", "standby_looks",
    "strong_decision", "wanted_voters",
]  # fmt: skip


@dataclass(frozen=True)
class RoleChange:
    """A Replica whose spec must say ``role`` in ``epoch`` (and, for the leader, ``voters``)."""

    node: str
    name: str
    role: str
    epoch: int
    voters: tuple[str, ...] | None = None


@dataclass(frozen=True)
class StrongDecision:
    """What the configuration master decided for a resource this time.

    Attributes:
        config: The recorded configuration.
        election: A new epoch to open (None: none needed now).
        roles: Replica specs to bring in line with ``config``.
        alive: Nodes with a Replica whose agent and node are up.
        wanted: The voters placement wants.
    """

    config: StrongConfig
    election: Election | None
    roles: tuple[RoleChange, ...]
    alive: frozenset[str]
    wanted: tuple[str, ...]


def wanted_voters(
    current: Sequence[str],
    holders: Sequence[Candidate],
    count: int,
    stay: Sequence[str] = (),
) -> tuple[str, ...]:
    """``count`` voters among the live holders of a Replica, spread over zones.

    Current voters stay where keeping them leaves the zones balanced, so a healthy
    configuration is never churned. ``stay``: live current voters on nodes that take no
    copy (cordoned or draining, tainted, their files unwritable), the most worth keeping
    first; while the holders are fewer than ``count`` they stay voters, as many as are
    missing: taking one out with nothing to replace it left fewer voters (three became
    two, tolerating no failure), and one goes by the membership path (a caught-up
    learner joins, then it leaves) once a replacement holds a copy.
    """
    picked = spread(holders, count, current=current)
    return tuple(sorted([*picked, *[v for v in stay if v not in picked][: count - len(picked)]]))


def _leaving_voters(
    config: StrongConfig,
    alive: frozenset[str],
    holders: Sequence[Candidate],
    failed: frozenset[str],
) -> list[str]:
    """Live voters on nodes that take no copy: one that can write first, then by name."""
    eligible = {c.name for c in holders}
    leaving = [v for v in config.voters if v in alive and v not in eligible]
    return sorted(leaving, key=lambda v: (v in failed, v))


def _election_voters(
    config: StrongConfig,
    wanted: tuple[str, ...],
    alive: frozenset[str],
    failed: frozenset[str],
    leaving: Collection[str] = (),
) -> tuple[str, ...]:
    """The voters the election step works toward: ``wanted``, less a leader to move off.

    A leader whose files cannot be written refuses every write (``storage_unavailable``)
    while the other voters could commit them: left out of the wanted voters, it is
    replaced by a ``transfer`` election (it stays a voter), provided enough other voters
    are live and can write to make a majority without it. A leader on a node that takes
    no copy (``leaving``: cordoned or draining, tainted) is moved the same way, staying
    a voter while nothing replaces it, so that the node's shutdown at the end of a drain
    costs a follower, not a failover (the writes refused until a Lease lapses); only when
    every other live voter is on a node that takes copies - a new leader chosen among
    them is not moved again.
    """
    leader = config.leader
    able = [v for v in config.voters if v != leader and v in alive and v not in failed]
    cordoned = leader in leaving and not any(v in leaving for v in able)
    if leader is None or not (leader in failed or cordoned):
        return wanted
    if len(able) < majority(len(config.voters)):
        return wanted
    return tuple(v for v in wanted if v != leader)


def role_changes(config: StrongConfig, replicas: Sequence[ReplicaView]) -> tuple[RoleChange, ...]:
    """The Replicas whose spec does not say what ``config`` says yet."""
    if config.leader is None:
        return ()
    changes = []
    for replica in replicas:
        if replica.node == config.leader:
            role, voters = "leader", config.voters
        else:
            role, voters = ("follower" if replica.node in config.voters else "learner"), None
        stale_voters = role == "leader" and tuple(sorted(replica.voters)) != config.voters
        if replica.role != role or replica.epoch != config.epoch or stale_voters:
            changes.append(RoleChange(replica.node, replica.name, role, config.epoch, voters))
    return tuple(changes)


def strong_decision(observed: Observed, spec: SharedResourceSpec) -> StrongDecision:
    """Whether a new epoch is needed, and which Replica specs to correct."""
    config = StrongConfig.from_status(observed.previous_status)
    ready = {n.name: n for n in observed.nodes if n.ready and n.name not in observed.agents_down}
    replicas = [r for r in observed.replicas if r.phase != "Lost" or r.node in ready]
    alive = frozenset(r.node for r in replicas if r.node in ready)
    zone_label = spec.placement.spread_across
    candidates = [ready[r.node].candidate(zone_label) for r in replicas if r.node in alive]
    failed = storage_failed([r.storage for r in observed.replicas], observed.now)
    # a cordoned node's voter is moved away, and one whose files cannot be written
    holders = [c for c in candidates if c.ready and c.name not in failed]
    count = voter_count(spec.replicas.min, spec.replicas.max)
    stay = _leaving_voters(config, alive, holders, failed)
    wanted = wanted_voters([v for v in config.voters if v in alive], holders, count, stay)
    wanted = _election_voters(config, wanted, alive, failed, stay)
    progress: Mapping[str, ReplicaProgress] = {
        r.node: r.strong or ReplicaProgress() for r in observed.replicas
    }
    election = next_election(config, alive, wanted, progress)
    return StrongDecision(config, election, role_changes(config, observed.replicas), alive, wanted)


def keep_voters(plan: ReplicaSetPlan, voters: Sequence[str]) -> ReplicaSetPlan:
    """``plan`` without removing a voter's Replica (a membership step must go first)."""
    kept = set(voters)
    changes = tuple(c for c in plan.changes if not (c.action == "remove" and c.node in kept))
    return ReplicaSetPlan(plan.wanted, changes)


def settled_candidates(
    candidates: Sequence[Candidate],
    holders: Sequence[str],
    recently_removed: Mapping[str, float],
    hold_s: float,
    count: int,
) -> tuple[Candidate, ...]:
    """The candidates a strong resource's spread may move a copy to (hysteresis).

    A node whose copy was removed less than ``hold_s`` seconds ago (its agent died, a
    failover copy took its place) is left out while it holds no copy, unless the spread
    needs it to reach ``count``: moving a voter back there costs two membership epochs
    (remove, add), each a pause of writes, and a follower that has just returned may
    leave again. Once it has stayed for ``hold_s`` the spread may move a copy there
    (restoring the zone spread).
    """
    kept = tuple(
        c for c in candidates
        if c.name in holders or recently_removed.get(c.name, hold_s) >= hold_s
    )  # fmt: skip
    return kept if len(kept) >= count else tuple(candidates)


def standby_looks(acting: bool, since_kopf_pass: float, interval: float, within: int = 3) -> bool:
    """Whether a process's standby elections make a pass now (list Leases and resources).

    Only while kopf does not act in this process: not ``acting`` (kopf's peering paused
    it) and its ``strong_leader`` timer has not run here within ``within`` intervals
    (``since_kopf_pass`` seconds ago). While kopf acts, its timer elects for every strong
    resource it has. Before, the timer alone said so: an acting operator with no strong
    resource never saw it run, and once any agent was down it listed the agents' Leases
    and every SharedResource each second (1.4 requests/s at 1,000 resources, megabytes a
    list: docs/scale-history.md, sessions 9 and 10).
    """
    return not acting and since_kopf_pass >= within * interval
