"""The configuration master's decisions for a strong resource (the operator's, pure).

In Vertical Paxos' terms the operator is the configuration master: it numbers epochs,
chooses each epoch's leader and voters, and records them before anyone uses them. The
decisions here are pure; :mod:`statecast.controller.strong` carries them out.

- :func:`voter_count`: how many voters a resource wants (odd, within its bounds).
- :func:`next_election`: whether a new epoch is needed (no leader yet, the leader's
  agent lost, a membership step, the leader leaving) and with which voters.
- :func:`membership_step`: one voter added or removed at a time, a new replica only
  once it caught up as a learner, a dead voter removed before a new one is added.
- :func:`choose_leader`: after fencing, the most up-to-date replica of a majority.

Why one step at a time: a majority of the voters before a step and a majority after
it always share a replica (they differ by one), so whatever was committed under the
old voters is seen by any majority of the new ones. A step is taken only from an epoch
whose leader has committed its opening entry (every committed entry is then on a
majority of its voters); a failover keeps the voters it replaces.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from statecast.core.strong.log import LogPosition, most_up_to_date
from statecast.core.strong.replica import majority

__all__ = [
    "CATCH_UP_SLACK",
    "Election",
    "LeaderChoice",
    "MembershipStep",
    "ReplicaProgress",
    "StrongConfig",
    "caught_up",
    "choose_leader",
    "membership_step",
    "next_election",
    "voter_count",
]

#: A learner within this many entries of the leader's commit index has caught up.
CATCH_UP_SLACK = 64


@dataclass(frozen=True)
class StrongConfig:
    """The configuration recorded in the resource's status: epoch, leader, voters.

    ``leader`` None with an epoch above 0: the epoch was reserved and its election has
    not recorded a leader (it is under way, or the operator stopped half-way); the next
    election finishes that epoch (:func:`next_election`).
    """

    epoch: int = 0
    leader: str | None = None
    voters: tuple[str, ...] = ()

    @classmethod
    def from_status(cls, status: Mapping[str, Any]) -> StrongConfig:
        """Read it from a SharedResource status."""
        voters = status.get("voters") or ()
        return cls(int(status.get("epoch") or 0), status.get("leader"), tuple(sorted(voters)))

    def to_status(self) -> dict[str, Any]:
        """The status fields that hold it."""
        return {"epoch": self.epoch, "leader": self.leader, "voters": list(self.voters)}


@dataclass(frozen=True)
class ReplicaProgress:
    """What one replica's agent reports of the protocol (its Replica status).

    Attributes:
        epoch: The epoch it promised.
        position: Its log position.
        commit: Its commit index.
        leading: True when it leads ``epoch`` and the epoch is open (its no-op committed).
        match: For the leader: peer -> the last index it knows the peer stored.
        isolated: For the leader: no majority of its voters answered it lately (it is
            cut off from them while its agent still renews its Lease).
    """

    epoch: int = 0
    position: LogPosition = field(default_factory=LogPosition)
    commit: int = 0
    leading: bool = False
    match: Mapping[str, int] | None = None
    isolated: bool = False


@dataclass(frozen=True)
class Election:
    """A new epoch to open: fence a majority of ``fence_voters``, then choose a leader.

    Attributes:
        epoch: The new epoch: one above the recorded one, or the recorded one when it was
            reserved without a leader (that election is finished).
        voters: The new epoch's voters.
        fence_voters: The voters being replaced (a majority of them must be fenced).
        reason: ``initial``, ``failover`` (the leader's agent is gone), ``isolated``
            (the leader lives but reaches no majority), ``membership`` or ``transfer``.
        exclude: Nodes that may not lead the new epoch: leaving, the isolated leader,
            and in a failover every voter whose agent's Lease lapsed (the old leader's
            included). They are fenced all the same, but the others must be a majority
            of ``fence_voters`` by themselves.
    """

    epoch: int
    voters: tuple[str, ...]
    fence_voters: tuple[str, ...]
    reason: Literal["initial", "failover", "isolated", "membership", "transfer"]
    exclude: frozenset[str] = frozenset()


@dataclass(frozen=True)
class MembershipStep:
    """One change of the voters: ``add`` or ``remove`` ``node``."""

    action: Literal["add", "remove"]
    node: str

    def apply(self, voters: Sequence[str]) -> tuple[str, ...]:
        """The voters after the step."""
        if self.action == "add":
            return tuple(sorted({*voters, self.node}))
        return tuple(sorted(v for v in voters if v != self.node))


@dataclass(frozen=True)
class LeaderChoice:
    """The outcome of an election: the leader, or why there is none."""

    leader: str | None
    reason: str = ""


def voter_count(minimum: int, maximum: int | None) -> int:
    """Voters wanted: ``minimum`` made odd (one more, or one less above ``maximum``), at least 1."""
    count = max(minimum, 1)
    if count % 2 == 0:
        count = count + 1 if maximum is None or count + 1 <= maximum else count - 1
    return count


def caught_up(leader: ReplicaProgress, node: str) -> bool:
    """True when the leader knows ``node`` holds its log up to near its commit index."""
    match = (leader.match or {}).get(node)
    return match is not None and match >= leader.commit - CATCH_UP_SLACK


def membership_step(
    voters: Sequence[str],
    leader: str,
    wanted: Sequence[str],
    alive: Collection[str],
    ready_learners: Collection[str],
) -> MembershipStep | None:
    """The next single change from ``voters`` towards ``wanted`` (None: none to make now).

    Order: a dead voter not wanted goes first (a majority of what is left is as easy to
    reach); then a caught-up learner that is wanted joins; then a live voter not wanted
    goes. The leader is never removed here (see :func:`next_election`: ``transfer``);
    the voters never drop below one.
    """
    current = set(voters)
    target = set(wanted)
    dead = sorted(v for v in current - target if v not in alive and v != leader)
    if dead and len(current) > 1:
        return MembershipStep("remove", dead[0])
    joining = sorted(n for n in target - current if n in ready_learners and n in alive)
    if joining:
        return MembershipStep("add", joining[0])
    leaving = sorted(v for v in current - target if v != leader)
    if leaving and len(current) > 1:
        return MembershipStep("remove", leaving[0])
    return None


def next_election(
    config: StrongConfig,
    alive: Collection[str],
    wanted: Sequence[str],
    progress: Mapping[str, ReplicaProgress],
) -> Election | None:
    """Whether a new epoch is needed now, and with which voters.

    Args:
        config: The recorded configuration.
        alive: Nodes holding a replica whose agent renews its Lease.
        wanted: The voters placement wants (odd, spread over zones).
        progress: Node -> what its agent reports.
    """
    epoch = config.epoch + 1
    if not config.voters:
        voters = tuple(sorted(n for n in wanted if n in progress))
        return Election(epoch, voters, voters, "initial") if voters else None
    # a voter whose agent's Lease lapsed is fenced but never chosen: the most up-to-date
    # log is often the cut-off leader's own (entries it appended that no majority
    # stored), and a leader the master sees as gone is replaced again at once
    lapsed = frozenset(v for v in config.voters if v not in alive)
    if config.leader is None:
        # reserved, no leader recorded: an election under way in another operator process
        # (the acting pod's timer, a standby's thread) or one whose operator died. Finished
        # in the same epoch - fencing it again is idempotent and the record is a
        # compare-and-swap from the reservation, so one leader at most is recorded. A new
        # epoch here made the two processes leapfrog: each reservation failed the other's
        # record while elections outlasted a pass (epoch 1 -> 6 in leader-kill runs).
        return Election(config.epoch, config.voters, config.voters, "failover", lapsed)
    if config.leader not in alive:
        return Election(epoch, config.voters, config.voters, "failover", lapsed)
    report = progress.get(config.leader)
    if report is not None and report.isolated and report.epoch == config.epoch:
        cut_off = lapsed | {config.leader}
        return Election(epoch, config.voters, config.voters, "isolated", cut_off)
    if report is None or not report.leading or report.epoch != config.epoch:
        return None  # the leader is opening its epoch: no change before it is open
    learners = [n for n in progress if n not in config.voters and caught_up(report, n)]
    step = membership_step(config.voters, config.leader, wanted, alive, learners)
    if step is not None:
        leaving = frozenset({step.node}) if step.action == "remove" else frozenset()
        return Election(epoch, step.apply(config.voters), config.voters, "membership", leaving)
    if config.leader not in wanted and len(config.voters) > 1:
        return Election(epoch, config.voters, config.voters, "transfer", frozenset({config.leader}))
    return None


def choose_leader(
    election: Election, positions: Mapping[str, LogPosition], eligible: Collection[str]
) -> LeaderChoice:
    """The leader of ``election``'s epoch, from the replicas that promised it.

    ``positions`` are the log positions the fenced replicas answered. The candidates
    are the answers of the replaced voters that may lead (not in ``election.exclude``);
    they must be a majority of those voters by themselves, since every committed entry
    is on some majority and so on at least one candidate. The leader is the candidate
    with the most up-to-date log (it then holds every committed entry), one that can
    host it (``eligible``) first among equals.
    """
    voters = election.fence_voters
    candidates = {n: p for n, p in positions.items() if n in voters and n not in election.exclude}
    need = majority(len(voters))
    if len(candidates) < need:
        excluded = (
            f" ({', '.join(sorted(election.exclude))} may not lead)" if election.exclude else ""
        )
        return LeaderChoice(
            None, f"{len(candidates)} of {len(voters)} voters answered{excluded}, {need} needed"
        )
    best = max(candidates.values())
    tied = {n: p for n, p in candidates.items() if p == best and n in election.voters}
    preferred = {n: p for n, p in tied.items() if n in eligible}
    leader = most_up_to_date(preferred) or most_up_to_date(tied)
    if leader is None:
        holder = most_up_to_date(candidates)
        return LeaderChoice(None, f"the most up-to-date log ({holder}) is not a voter any more")
    return LeaderChoice(leader)
