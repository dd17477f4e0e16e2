"""A strong replica on this agent: the protocol core with disk and network around it.

:class:`StrongReplica` wraps :class:`statecast.core.strong.replica.ReplicaLog` (every
decision) with :class:`~statecast.agent.strong_files.StrongFiles` (every record is on
disk before the replica answers or counts it) and a :class:`PeerLink` (the leader's
append requests to the other agents).

As leader it runs one loop per peer (voters and learners): send the entries the peer
lacks, or a heartbeat every ``heartbeat`` seconds, at most one request in flight.
A write is appended, made durable here, sent, and answered once committed (a majority
of the voters stored it) and applied. A read at the leader is linearizable: it takes
the commit index, then waits until a majority of the voters answered a heartbeat sent
after the read began (no newer leader can have committed anything it would miss) and
the state has applied that index. A follower answers a read only when the client
accepts bounded staleness and it heard from its leader within that bound.

Errors (503, :class:`~statecast.agent.errors.UnavailableError`) say whether the write
may have happened: ``not_leader``, ``epoch_opening``, ``no_quorum`` and
``storage_unavailable`` (the leader's log cannot be written: a full disk) are refusals
before anything was appended; ``outcome_unknown`` means it was appended and may still
commit (a client must not blindly retry an increment after it).

A full disk stops this replica's progress, never the agent: a record that could not be
written stays first in line and is written again before anything after it (see
:mod:`~statecast.agent.strong_files`); until then nothing after it counts as stored
here, a leader refuses new writes, and a promise or a follower's store is answered 503.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol

from statecast.agent.config import ResourceSpec
from statecast.agent.errors import (
    ConflictError,
    NotFoundError,
    PersistenceError,
    UnavailableError,
)
from statecast.agent.strong_files import StrongFiles
from statecast.core.strong.log import LogEntry, LogPosition, Operation
from statecast.core.strong.machine import Outcome, Value
from statecast.core.strong.messages import AppendReply, AppendRequest, Snapshot
from statecast.core.strong.replica import NotLeaderError, ProtocolError, ReplicaLog, majority

__all__ = ["PeerLink", "StrongReplica", "StrongTimings"]

log = logging.getLogger(__name__)


class PeerLink(Protocol):
    """How a leader reaches another agent's replica."""

    async def append(
        self, peer: str, ref: tuple[str, str], request: AppendRequest
    ) -> AppendReply | None:
        """Send ``request``; the reply, or None when the peer could not be reached."""
        ...


class StrongTimings:
    """Seconds the protocol waits.

    Args:
        heartbeat: Between heartbeats to an idle peer.
        commit: A write waits this long for a majority before answering ``outcome_unknown``.
        quorum: A leader that heard from no majority for this long refuses writes
            (``no_quorum``) instead of appending them.
        compact_entries: Applied entries kept before they are folded into a snapshot.
    """

    def __init__(
        self,
        heartbeat: float = 0.2,
        commit: float = 5.0,
        quorum: float = 2.0,
        compact_entries: int = 50_000,
    ) -> None:
        self.heartbeat, self.commit, self.quorum = heartbeat, commit, quorum
        self.compact_entries = compact_entries


class StrongReplica:
    """This agent's replica of one strong resource.

    Args:
        spec: The resource.
        node: This agent's node.
        directory: Where its files go.
        link: The way to the other agents.
        timings: Protocol timings.
    """

    def __init__(
        self,
        spec: ResourceSpec,
        node: str,
        directory: Path,
        link: PeerLink,
        timings: StrongTimings | None = None,
    ) -> None:
        self.spec, self.node, self.link = spec, node, link
        self.timings = timings or StrongTimings()
        self.files = StrongFiles(directory)
        self.core = ReplicaLog(node)
        self.heard_at: float | None = None
        #: When this replica was opened (monotonic): silence is counted from here until
        #: the first message from a leader.
        self.opened_at = time.monotonic()
        self.last_modified: float | None = None
        self._waiting: dict[int, tuple[int, asyncio.Future[Outcome]]] = {}
        self._loops: dict[str, asyncio.Task[None]] = {}
        self._wake: dict[str, asyncio.Event] = {}
        self._ok_sent: dict[str, float] = {}
        #: When this replica began leading its current epoch (monotonic; None: it does not).
        self._leading_since: float | None = None
        self._progress = asyncio.Event()
        self._accepting = asyncio.Lock()
        self._compacting = False
        #: A snapshot from the leader is installed in memory but not yet on disk.
        self._install_due = False

    # --- lifecycle ----------------------------------------------------------------
    def open(self) -> None:
        """Recover the promise, the snapshot and the log from disk."""
        found = self.files.recover()
        self.core = ReplicaLog(self.node, found.promised, found.snapshot, found.entries)
        log.info(
            "event=strong_recovered resource=%s/%s promised=%d position=%s",
            *self.spec.ref, found.promised, self.core.position,
        )  # fmt: skip

    async def close(self) -> None:
        """Stop leading, fail what waits, close the files."""
        self._stepped_down()
        await self._stop_loops()
        self.files.close()

    # --- from the operator --------------------------------------------------------
    async def fence(self, epoch: int) -> tuple[bool, LogPosition]:
        """Promise ``epoch`` (durably); whether it was promised, and the log position."""
        promised, records = self.core.fence(epoch)
        self.files.write(records)
        try:
            await self._durable()
        except PersistenceError as err:
            raise _unwritable(err, "the promise was not stored") from err
        if self.core.leader is None:
            self._stepped_down()
        return promised, self.core.position

    def opens(self, epoch: int) -> bool:
        """True when leading ``epoch`` would open it here, on a log never written (seed it)."""
        leader = self.core.leader
        fresh = leader is None or leader.epoch != epoch
        return fresh and self.core.promised == epoch and self.core.unwritten

    async def lead(
        self,
        epoch: int,
        voters: Iterable[str],
        learners: Iterable[str],
        seed: Operation | None = None,
    ) -> None:
        """Lead ``epoch`` (the operator's choice) or follow its new voters and learners.

        A replica that promised another epoch does not lead (it was fenced by a newer
        one, or this choice is stale). ``seed`` opens the epoch of a log never written
        (see :meth:`statecast.core.strong.replica.ReplicaLog.lead`).
        """
        try:
            records = self.core.lead(epoch, voters, learners, seed)
        except NotLeaderError as err:
            log.debug("event=strong_not_leading resource=%s/%s reason=%s", *self.spec.ref, err)
            return
        if records:
            self._leading_since = time.monotonic()
            log.info("event=strong_leading resource=%s/%s epoch=%d", *self.spec.ref, epoch)
            self.files.write(records)
            last = self.core.last_index
            try:
                await self._durable()
            except PersistenceError as err:  # its own copy does not count until written
                log.warning(
                    "event=strong_lead_unwritten resource=%s/%s epoch=%d error=%s",
                    *self.spec.ref, epoch, err,
                )  # fmt: skip
            else:
                self.core.mark_durable(last)
        self._start_loops()
        self._advance()

    # --- the replica's side -------------------------------------------------------
    async def accept(self, request: AppendRequest) -> AppendReply:
        """Store a leader's entries (durably) and answer it.

        Raises:
            ConflictError: A message only a broken or forged peer sends (two leaders of
                one epoch): 409 ``protocol``, nothing stored.
        """
        async with self._accepting:
            try:
                reply, records = self.core.accept(request)
            except ProtocolError as err:
                log.error(
                    "event=strong_protocol_error resource=%s/%s error=%s", *self.spec.ref, err
                )
                raise ConflictError(str(err), "protocol") from err
            if self.files.write(records):
                self._install_due = True
            try:
                await self._durable()
            except PersistenceError as err:  # not stored: the leader sends it again
                raise _unwritable(err, "the entries were not stored") from err
        if reply.result != "stale_epoch":
            self.heard_at = time.monotonic()
        if self.core.leader is None:
            self._stepped_down()
        self._apply()
        return reply

    # --- the leader's side --------------------------------------------------------
    def _start_loops(self) -> None:
        leader = self.core.leader
        if leader is None:
            return
        for peer in leader.peers:
            if peer == self.node:
                continue
            task = self._loops.get(peer)
            if task is None or task.done():
                self._wake[peer] = asyncio.Event()
                self._loops[peer] = asyncio.create_task(self._replicate(peer, leader.epoch))

    async def _stop_loops(self) -> None:
        loops, self._loops = self._loops, {}
        for task in loops.values():
            task.cancel()
        for task in loops.values():
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _replicate(self, peer: str, epoch: int) -> None:
        """Send ``peer`` what it lacks, or a heartbeat, while leading ``epoch``."""
        sent_commit = -1
        last_sent = 0.0
        wake = self._wake[peer]
        while (leader := self.core.leader) is not None and leader.epoch == epoch:
            if peer not in leader.peers:
                return
            request = self.core.request_for(peer)
            assert request is not None
            idle = not request.entries and request.snapshot is None
            due = time.monotonic() - last_sent >= self.timings.heartbeat
            if idle and request.commit == sent_commit and not due and not wake.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), self.timings.heartbeat)
                continue
            wake.clear()
            last_sent = time.monotonic()
            reply = await self.link.append(peer, self.spec.ref, request)
            if reply is None:
                await asyncio.sleep(min(self.timings.heartbeat, 0.1))
                continue
            self.files.write(self.core.on_reply(peer, reply))  # a newer epoch's promise
            if reply.ok:
                self._ok_sent[peer] = max(self._ok_sent.get(peer, 0.0), last_sent)
                sent_commit = request.commit
            if self.core.leader is None:
                log.info("event=strong_fenced resource=%s/%s epoch=%d", *self.spec.ref, epoch)
                self._stepped_down()
                return
            self._advance()
            self._progress.set()

    def _advance(self) -> None:
        if self.core.advance_commit():
            self._apply()
            for event in self._wake.values():
                event.set()  # followers learn the new commit index at once
        self._progress.set()

    def _apply(self) -> None:
        applied = self.core.apply_committed()
        if not applied:
            return
        self.last_modified = time.time()
        for entry, outcome in applied:
            waiting = self._waiting.pop(entry.index, None)
            if waiting is None:
                continue
            epoch, future = waiting
            if future.done():
                continue
            if epoch == entry.epoch:
                future.set_result(outcome)
            else:  # another leader's entry took its place: this one was never applied
                future.set_exception(UnavailableError("the write was dropped", "not_applied"))
        self._progress.set()
        if self.core.applied - self.core.base.index >= self.timings.compact_entries:
            asyncio.get_running_loop().create_task(self.compact())

    def _stepped_down(self) -> None:
        waiting, self._waiting = self._waiting, {}
        for _, future in waiting.values():
            if not future.done():
                message = "leadership changed: the write may or may not apply"
                future.set_exception(UnavailableError(message, "outcome_unknown"))
        self._progress.set()

    def _majority_heard(self, since: float) -> bool:
        leader = self.core.leader
        if leader is None:
            return False
        heard = sum(
            1 for v in leader.voters if v == self.node or self._ok_sent.get(v, 0.0) >= since
        )
        return heard >= majority(len(leader.voters))

    async def _wait(self, done: Callable[[], bool], seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while not done():
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.core.leader is None:
                return done()
            self._progress.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._progress.wait(), remaining)
        return True

    def _refuse_unless_leading(self) -> None:
        if self.core.leader is None:
            raise UnavailableError(f"{self.node} is not the leader", "not_leader")
        if not self.core.active:
            raise UnavailableError(f"epoch {self.core.leader.epoch} is opening", "epoch_opening")

    async def propose(self, operation: Operation) -> tuple[LogEntry, Outcome]:
        """Append a write; once it is committed and applied, its entry and outcome.

        Raises:
            UnavailableError: See the module docstring for the codes.
        """
        self._refuse_unless_leading()
        if not self._majority_heard(time.monotonic() - self.timings.quorum):
            raise UnavailableError("no majority of the voters answered lately", "no_quorum")
        if self.files.failure is not None:  # what failed is written again first
            try:
                await self._durable()
            except PersistenceError as err:
                raise _unwritable(err, "the write was not appended") from err
            self._refuse_unless_leading()
        try:
            entry, records = self.core.propose(operation)
        except NotLeaderError as err:
            raise UnavailableError(str(err), err.code) from err
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._waiting[entry.index] = (entry.epoch, future)
        self.files.write(records)
        try:
            await self._durable()
        except PersistenceError as err:  # the others may still store and commit it
            self._waiting.pop(entry.index, None)
            raise UnavailableError(
                f"this leader's log could not be written ({err}): the write may or may not apply",
                "outcome_unknown",
            ) from err
        self.core.mark_durable(entry.index)
        for event in self._wake.values():
            event.set()
        self._advance()
        try:
            return entry, await asyncio.wait_for(asyncio.shield(future), self.timings.commit)
        except TimeoutError as err:
            raise UnavailableError(
                "no majority stored the write in time: it may or may not apply", "outcome_unknown"
            ) from err

    async def read_barrier(self) -> None:
        """Wait until a read of the state is linearizable (see the module docstring).

        Raises:
            UnavailableError: Not the leader, or no majority confirmed it in time.
        """
        self._refuse_unless_leading()
        read_index = self.core.commit
        started = time.monotonic()
        for event in self._wake.values():
            event.set()
        ready = await self._wait(
            lambda: self._majority_heard(started) and self.core.applied >= read_index,
            self.timings.quorum,
        )
        if not ready:
            self._refuse_unless_leading()
            raise UnavailableError("no majority confirmed the leader in time", "no_quorum")

    def leader_silent(self, seconds: float) -> bool:
        """True when this follower heard nothing from a leader for ``seconds``.

        Counted from the last message, or from when the replica was opened if none came
        yet (a replica just opened has not been left without word).
        """
        if self.core.leader is not None:
            return False
        since = self.opened_at if self.heard_at is None else self.heard_at
        return time.monotonic() - since > seconds

    def fresh_within(self, seconds: float) -> bool:
        """True when this replica's state is at most ``seconds`` behind its leader's."""
        now = time.monotonic()
        if self.core.leader is not None:
            return self.core.active and self._majority_heard(now - seconds)
        return self.heard_at is not None and now - self.heard_at <= seconds

    # --- the state ----------------------------------------------------------------
    def get(self, key: str) -> Value | None:
        """The applied value of ``key`` (after :meth:`read_barrier`: linearizable)."""
        return self.core.machine.get(key)

    def items(self) -> list[tuple[str, Value]]:
        """Every applied key and value."""
        return list(self.core.machine.items())

    async def compact(self) -> None:
        """Fold the applied entries into a snapshot on disk."""
        if self._compacting:
            return
        self._compacting = True
        try:
            if self.core.compact() is not None:
                await self.files.install(self._current)
        except PersistenceError as err:  # the old files stand; folded at the next compaction
            log.warning("event=strong_compact_failed resource=%s/%s error=%s", *self.spec.ref, err)
        finally:
            self._compacting = False

    async def _durable(self) -> None:
        """Wait until every record so far is on disk (a snapshot received first).

        Raises:
            PersistenceError: It could not be written (it is written again next time).
        """
        if self._install_due:
            await self.files.install(self._current)
            self._install_due = False
        await self.files.durable()

    def _current(self) -> tuple[Snapshot, list[LogEntry]]:
        return Snapshot(self.core.base, self.core.base_state), list(self.core.entries)

    def progress(self) -> dict[str, Any]:
        """What the operator reads in the Replica status (``strong``)."""
        core = self.core
        leader = core.leader
        out: dict[str, Any] = {
            "epoch": core.promised,
            "lastEpoch": core.position.epoch,
            "lastIndex": core.position.index,
            "commitIndex": core.commit,
            "leading": bool(leader is not None and core.active),
        }
        if leader is not None:
            out["match"] = {p: leader.match.get(p, 0) for p in leader.peers if p != self.node}
            since = time.monotonic() - self.timings.quorum
            # a leader chosen while cut off never opens its epoch (its no-op needs a
            # majority): it is isolated too once it has tried for the quorum time, or the
            # operator waits for it to open until the cut heals
            opening = self._leading_since is not None and self._leading_since <= since
            out["isolated"] = (core.active or opening) and not self._majority_heard(since)
        return out


def _unwritable(err: PersistenceError, what: str) -> UnavailableError:
    """The 503 of a log that cannot be written here: nothing of the request was stored."""
    return UnavailableError(
        f"this replica's log cannot be written ({err}): {what}", "storage_unavailable"
    )


def outcome_error(outcome: Outcome, key: str) -> None:
    """Raise what an unsuccessful outcome answers.

    Raises:
        NotFoundError: A delete of a missing key.
        ConflictError: An increment of a value that is not a counter.
    """
    if outcome.status == "not_found":
        raise NotFoundError(f"key {key!r} not found", "key_not_found")
    if outcome.status == "conflict":
        raise ConflictError(f"key {key!r} does not hold a counter")
