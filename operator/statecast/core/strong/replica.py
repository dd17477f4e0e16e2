"""One replica of a strong resource: its promise, log, commit index and state.

:class:`ReplicaLog` is the whole protocol of a replica without I/O. Each call takes a
message (or a decision of the operator) and returns the records the edge must make
durable before it acts on the result (:mod:`statecast.core.strong.messages`):

- :meth:`ReplicaLog.fence`: the operator's prepare for a new epoch. The replica
  promises never to accept anything of an older epoch and answers its log position.
- :meth:`ReplicaLog.accept`: a leader's entries. Refused when of an older epoch than
  the promise (the old leader is fenced); refused when the entry before them is not
  here (the leader sends from earlier); otherwise stored, dropping any conflicting tail.
- :meth:`ReplicaLog.lead`: the operator chose this replica to lead an epoch it
  promised. It opens the epoch with a no-op entry; writes are taken only once that entry
  is committed (:attr:`ReplicaLog.active`), which commits everything before it too.
- :meth:`ReplicaLog.propose`, :meth:`ReplicaLog.request_for`,
  :meth:`ReplicaLog.on_reply`, :meth:`ReplicaLog.advance_commit`: the leader's side.
  An entry is committed once a majority of the epoch's voters stored it durably and it
  belongs to the leader's epoch (earlier entries commit with it, never by counting).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from statecast.core.strong.log import LogEntry, LogPosition, Operation
from statecast.core.strong.machine import KeyValueMachine, Outcome
from statecast.core.strong.messages import (
    Append,
    AppendReply,
    AppendRequest,
    InstallSnapshot,
    Promise,
    Record,
    Snapshot,
    Truncate,
)

__all__ = ["LeaderState", "NotLeaderError", "ProtocolError", "ReplicaLog", "majority"]

#: Entries sent in one append request at most.
BATCH = 512


def majority(voters: int) -> int:
    """How many of ``voters`` make a majority."""
    return voters // 2 + 1


class NotLeaderError(Exception):
    """This replica cannot take a write now: not the leader, or its epoch not open yet.

    ``code`` says which: ``not_leader`` or ``epoch_opening``. Nothing was appended.
    """

    def __init__(self, message: str, code: str = "not_leader") -> None:
        super().__init__(message)
        self.code = code


class ProtocolError(Exception):
    """A message that only a broken peer (or a bug) sends: it changes nothing."""


@dataclass
class LeaderState:
    """What the leader of an epoch knows of its followers.

    Attributes:
        epoch: The epoch led.
        voters: The epoch's voters (this replica among them); a majority of them commits.
        learners: Replicas that receive the log but do not count (catching up).
        next_index: Peer -> the next entry to send it.
        match: Peer -> the last entry it stored durably (as far as the leader knows).
        opened: Index of the epoch's no-op entry: writes start once it is committed.
    """

    epoch: int
    voters: tuple[str, ...]
    learners: tuple[str, ...]
    next_index: dict[str, int] = field(default_factory=dict)
    match: dict[str, int] = field(default_factory=dict)
    opened: int = 0

    @property
    def peers(self) -> tuple[str, ...]:
        """Everyone the log goes to (voters and learners)."""
        return tuple(dict.fromkeys((*self.voters, *self.learners)))


class ReplicaLog:
    """The protocol state of one replica (see the module docstring).

    Args:
        node: This replica's node.
        promised: The highest epoch promised (recovered from disk).
        snapshot: The state compacted so far (recovered), None for an empty one.
        entries: The log after the snapshot (recovered), in index order.
    """

    def __init__(
        self,
        node: str,
        promised: int = 0,
        snapshot: Snapshot | None = None,
        entries: Iterable[LogEntry] = (),
    ) -> None:
        self.node = node
        self.promised = promised
        self.base = snapshot.position if snapshot is not None else LogPosition()
        self.machine = snapshot.state.copy() if snapshot is not None else KeyValueMachine()
        self.base_state = self.machine.copy()
        self.entries: list[LogEntry] = list(entries)
        self.commit = self.base.index
        self.applied = self.base.index
        self.durable = self.last_index
        self.leader: LeaderState | None = None

    # --- the log ------------------------------------------------------------------
    @property
    def last_index(self) -> int:
        """Index of the last entry (the snapshot's when the log is empty)."""
        return self.base.index + len(self.entries)

    @property
    def position(self) -> LogPosition:
        """Epoch and index of the last entry."""
        if self.entries:
            last = self.entries[-1]
            return LogPosition(last.epoch, last.index)
        return self.base

    def epoch_at(self, index: int) -> int | None:
        """Epoch of the entry at ``index``; None when compacted away or beyond the log."""
        if index == self.base.index:
            return self.base.epoch
        if index < self.base.index or index > self.last_index:
            return None
        return self.entries[index - self.base.index - 1].epoch

    def _truncate(self, index: int) -> Truncate:
        if index <= self.commit:
            raise ProtocolError(f"{self.node}: truncating committed entry {index}")
        del self.entries[index - self.base.index - 1 :]
        self.durable = min(self.durable, index - 1)
        return Truncate(index)

    # --- from the operator --------------------------------------------------------
    def fence(self, epoch: int) -> tuple[bool, list[Record]]:
        """Promise ``epoch``; False when an epoch above it was promised already."""
        if epoch < self.promised:
            return False, []
        if epoch == self.promised:
            return True, []
        self.promised = epoch
        if self.leader is not None and self.leader.epoch < epoch:
            self.leader = None
        return True, [Promise(epoch)]

    @property
    def unwritten(self) -> bool:
        """True while nothing but no-ops was ever appended here (no seed, no write, no snapshot).

        At a leader chosen as the most up-to-date of a majority this means nothing was
        ever committed: the resource's seed may still open its first epoch.
        """
        return self.base.index == 0 and all(e.operation.kind == "noop" for e in self.entries)

    def lead(
        self,
        epoch: int,
        voters: Iterable[str],
        learners: Iterable[str] = (),
        seed: Operation | None = None,
    ) -> list[Record]:
        """Become the leader of ``epoch`` (chosen by the operator after it fenced a majority).

        ``seed`` (a ``seed`` operation: the resource's source) opens the epoch in place of
        the no-op when the log is :attr:`unwritten`: one entry, so every voter has the
        whole seed before the first write or none of it; later epochs carry it along.

        Raises:
            NotLeaderError: This replica promised another epoch (a newer one exists, or
                the fence of this one did not reach it).
        """
        if epoch != self.promised:
            raise NotLeaderError(f"asked to lead epoch {epoch}, promised {self.promised}")
        if self.leader is not None and self.leader.epoch == epoch:
            self.leader.voters = tuple(voters)
            self.leader.learners = tuple(n for n in learners if n not in self.leader.voters)
            return []
        voters = tuple(voters)
        state = LeaderState(epoch, voters, tuple(n for n in learners if n not in voters))
        opening = seed if seed is not None and self.unwritten else Operation("noop")
        entry = LogEntry(epoch, self.last_index + 1, opening)
        self.entries.append(entry)
        state.opened = entry.index
        for peer in state.peers:
            state.next_index[peer] = entry.index
            state.match[peer] = 0
        self.leader = state
        return [Append((entry,))]

    # --- the leader's side --------------------------------------------------------
    @property
    def active(self) -> bool:
        """True for a leader whose epoch is open: its no-op entry is committed."""
        return self.leader is not None and self.commit >= self.leader.opened

    def propose(self, operation: Operation) -> tuple[LogEntry, list[Record]]:
        """Append a client's operation to the leader's log.

        Raises:
            NotLeaderError: Not the leader, or the epoch is not open yet.
        """
        leader = self.leader
        if leader is None:
            raise NotLeaderError(f"{self.node} is not the leader")
        if not self.active:
            raise NotLeaderError(f"epoch {leader.epoch} is opening", "epoch_opening")
        entry = LogEntry(leader.epoch, self.last_index + 1, operation)
        self.entries.append(entry)
        return entry, [Append((entry,))]

    def mark_durable(self, index: int) -> None:
        """The leader's own log is durable up to ``index`` (after an fsync)."""
        self.durable = max(self.durable, min(index, self.last_index))

    def request_for(self, peer: str) -> AppendRequest | None:
        """The next append request for ``peer`` (entries the leader holds durably only)."""
        leader = self.leader
        if leader is None:
            return None
        start = leader.next_index.setdefault(peer, self.last_index + 1)
        leader.match.setdefault(peer, 0)
        if start <= self.base.index:  # compacted away: the peer gets the snapshot
            snapshot = Snapshot(self.base, self.base_state)
            return AppendRequest(leader.epoch, self.node, self.base, (), self.commit, snapshot)
        prev_epoch = self.epoch_at(start - 1)
        assert prev_epoch is not None
        stop = min(self.durable, start + BATCH - 1)
        first = start - self.base.index - 1
        entries = tuple(self.entries[first : first + max(stop - start + 1, 0)])
        commit = self.commit
        return AppendRequest(
            leader.epoch, self.node, LogPosition(prev_epoch, start - 1), entries, commit
        )

    def on_reply(self, peer: str, reply: AppendReply) -> list[Record]:
        """Take a peer's answer into account (stale, duplicate and reordered ones too).

        An answer of a newer epoch fences this leader: it steps down and promises that
        epoch (so it cannot lead its old one again).
        """
        leader = self.leader
        if leader is None or reply.epoch < leader.epoch:
            return []
        if reply.epoch > leader.epoch or reply.result == "stale_epoch":
            return self.fence(reply.epoch)[1]
        match = leader.match.get(peer, 0)
        if reply.ok:
            leader.match[peer] = max(match, reply.match)
            leader.next_index[peer] = max(leader.next_index.get(peer, 1), reply.match + 1)
        else:
            current = leader.next_index.get(peer, self.last_index + 1)
            leader.next_index[peer] = max(match + 1, min(current - 1, reply.match + 1))
        return []

    def advance_commit(self) -> bool:
        """Commit what a majority of the voters stored, if of this epoch; True if it moved."""
        leader = self.leader
        if leader is None:
            return False
        stored = sorted(
            (self.durable if v == self.node else leader.match.get(v, 0) for v in leader.voters),
            reverse=True,
        )
        candidate = stored[majority(len(stored)) - 1]
        if candidate > self.commit and self.epoch_at(candidate) == leader.epoch:
            self.commit = candidate
            return True
        return False

    # --- the replica's side -------------------------------------------------------
    def accept(self, request: AppendRequest) -> tuple[AppendReply, list[Record]]:
        """Store a leader's entries if they may be stored; the reply says what happened."""
        if request.epoch < self.promised:
            return AppendReply(self.promised, "stale_epoch", self.last_index), []
        records: list[Record] = []
        if request.epoch > self.promised:
            records += self.fence(request.epoch)[1]
        if self.leader is not None and request.leader != self.node:
            raise ProtocolError(f"two leaders of epoch {request.epoch}")
        if request.snapshot is not None and request.snapshot.position.index > self.commit:
            records.append(self._install(request.snapshot))
        prev = request.prev
        if prev.index > self.last_index or (
            prev.index >= self.base.index and self.epoch_at(prev.index) != prev.epoch
        ):
            hint = min(self.last_index, prev.index - 1)
            return AppendReply(self.promised, "mismatch", max(hint, self.commit)), records
        fresh: list[LogEntry] = []
        for entry in request.entries:
            if entry.index <= self.base.index:
                continue
            mine = self.epoch_at(entry.index)
            if mine is not None and mine != entry.epoch:
                records.append(self._truncate(entry.index))
                mine = None
            if mine is None:
                self.entries.append(entry)
                fresh.append(entry)
        if fresh:
            records.append(Append(tuple(fresh)))
        matched = prev.index + len(request.entries)
        self.durable = self.last_index
        self.commit = max(self.commit, min(request.commit, matched))
        return AppendReply(self.promised, "ok", matched), records

    def _install(self, snapshot: Snapshot) -> InstallSnapshot:
        position = snapshot.position
        if self.epoch_at(position.index) == position.epoch:
            self.entries = self.entries[position.index - self.base.index :]
        else:
            self.entries = []
        self.base = position
        self.machine = snapshot.state.copy()
        self.base_state = snapshot.state.copy()
        self.commit = max(self.commit, position.index)
        self.applied = position.index
        self.durable = max(self.durable, self.last_index)
        return InstallSnapshot(snapshot)

    # --- state --------------------------------------------------------------------
    def apply_committed(self) -> list[tuple[LogEntry, Outcome]]:
        """Apply the committed entries not applied yet; return them with their outcomes."""
        done = []
        while self.applied < self.commit:
            entry = self.entries[self.applied - self.base.index]
            done.append((entry, self.machine.apply(entry.operation, (entry.epoch, entry.index))))
            self.applied += 1
        return done

    def compact(self) -> InstallSnapshot | None:
        """Fold the applied entries into a snapshot (None when there is nothing to fold)."""
        if self.applied <= self.base.index:
            return None
        epoch = self.epoch_at(self.applied)
        assert epoch is not None
        position = LogPosition(epoch, self.applied)
        self.entries = self.entries[self.applied - self.base.index :]
        self.base = position
        self.base_state = self.machine.copy()
        return InstallSnapshot(Snapshot(position, self.base_state))
