"""Handing retired copies to live replicas, and deleting them once merged.

See :mod:`statecast.agent.retired` for what a retired copy is and when it is kept. This
module does the I/O: closing a replica whose Replica was removed, the two-message
hand-off to a live replica over the peer protocol, and a periodic sweep of the data
directory for copies left by an earlier run of the agent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import time
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp

from statecast.agent.config import ResourceSpec
from statecast.agent.errors import AgentError
from statecast.agent.persistence import ReplicaFiles
from statecast.agent.retired import (
    STRONG_DIR,
    STRONG_GRACE,
    RetiredCopy,
    covers,
    delete_copy,
    disk_bytes,
    fate,
    find_retired,
    identity,
    mark_retired,
    mark_warm,
    replica_directories,
    strong_directories,
    strong_fate,
    warm_evictions,
    warm_expired,
)
from statecast.agent.runtime import Agent
from statecast.agent.store import ReplicaStore
from statecast.agent.wire import (
    SYNC_LINES,
    accepts_lines,
    decode_vector_reply,
    encode_hand_off,
    encode_hand_off_lines,
)
from statecast.core.crdt import DeltaMap

__all__ = ["STOP_GRACE", "Retirement", "hand_off"]

log = logging.getLogger(__name__)

Ref = tuple[str, str]
#: The uid of the SharedResource of that name now (None: there is none).
ResourceUid = Callable[[str, str], Awaitable[str | None]]
#: The uid and the status ``voters`` of the SharedResource of that name now (None: none).
ResourceVoters = Callable[[str, str], Awaitable[tuple[str, tuple[str, ...]] | None]]

#: Seconds between hand-off attempts of one retired copy: doubling, at most the last.
RETRY_FIRST, RETRY_MAX = 10.0, 600.0


#: Seconds a stopping agent (SIGTERM) waits for hand-offs in flight before it abandons
#: them (their copies stay on disk, marked retired: the next run's first sweep hands
#: them off). Well within the 30 s a pod is given to stop (the chart's agent DaemonSet
#: keeps Kubernetes' default terminationGracePeriodSeconds), leaving the rest to the
#: snapshots written at the stop.
STOP_GRACE = 15.0

#: A hand-off message may take this long (a copy can be large; a dead peer must not hold
#: the sweep for the session's 30 s).
HAND_OFF_TIMEOUT = aiohttp.ClientTimeout(total=20, sock_connect=2)


async def _post(
    session: aiohttp.ClientSession,
    url: str,
    body: bytes,
    options: dict[str, Any],
    content_type: str = "application/json",
) -> bytes:
    headers = {"Content-Type": content_type}
    async with session.post(
        url, data=body, timeout=HAND_OFF_TIMEOUT, headers=headers, **options
    ) as reply:
        payload = await reply.read()
        if reply.status != 200:
            raise AgentError(f"{url} answered {reply.status}: {payload[:200]!r}")
    return payload


async def hand_off(agent: Agent, ref: Ref, state: DeltaMap, targets: Iterable[str]) -> str | None:
    """Give a copy's writes to the first live replica among ``targets`` that takes them.

    The delta goes in lines (encoded in a worker thread) to a replica that said it takes
    them, so that neither side holds its event loop for the whole copy.

    Returns:
        The node whose replica now holds every event of the copy, or None.
    """
    mine = state.version_vector.to_json()
    session = agent.replication.session
    for node in targets:
        base = agent.directory.url(node)
        if base is None:
            continue
        url = f"{base}/v1/peer/handoff/{ref[0]}/{ref[1]}"
        try:
            options = agent.directory.options(node)
            answer = await _post(session, url, encode_hand_off(agent.node), options)
            theirs = decode_vector_reply(answer)
            if not covers(theirs, mine):
                delta = state.delta_since(theirs)
                if accepts_lines(answer):
                    body = await asyncio.to_thread(encode_hand_off_lines, agent.node, delta)
                    answer = await _post(session, url, body, options, SYNC_LINES)
                else:  # an agent of before
                    body = encode_hand_off(agent.node, delta)
                    answer = await _post(session, url, body, options)
                theirs = decode_vector_reply(answer)
                agent.sync_log.record((*ref, node, "handoff", "out"), len(body))
        except (aiohttp.ClientError, TimeoutError, AgentError) as err:
            log.info("event=hand_off_failed resource=%s/%s node=%s error=%s", *ref, node, err)
            continue
        if covers(theirs, mine):
            return node
    return None


_delete = delete_copy


def _list_copies(data_dir: Path) -> tuple[list[tuple[Ref, Path, float | None]], list[RetiredCopy]]:
    """Every replica directory not kept warm, with its retired mark's time; the warm copies.

    The time is None for a directory not marked.
    """
    found, warm = [], []
    for ref, directory in replica_directories(data_dir):
        copy = find_retired(ref, directory)
        if copy is not None and copy.handed_off is not None:
            warm.append(copy)
        else:
            found.append((ref, directory, None if copy is None else copy.since))
    return found, warm


#: With no ``warm_budget`` given: the share of the data directory's filesystem warm
#: copies may take (and leave free).
WARM_BUDGET_SHARE = 0.1


class Retirement:
    """Retires this node's copies of removed Replicas and hands them off.

    The hand-offs run beside the Replica reconciler, never inside it: a slow or dead
    peer must not hold up the status of the replicas this node serves. ``lock`` is held
    while a directory changes hands (opened for a Replica, merged, deleted), so a copy
    is never deleted or loaded while the reconciler opens it for a returning Replica.

    Args:
        agent: The agent.
        resource_uid: Looks up the uid of a resource now.
        retention: Seconds a copy of a resource that is gone (or made anew) is kept.
        sweep_every: Seconds between sweeps of the data directory.
        resource_voters: Looks up a resource's uid and voters now, for the sweep of
            retired strong copies (None: those are never deleted).
        strong_grace: Seconds a retired strong copy of a resource that exists is kept.
        warm_retention: Seconds a handed-off copy's files are kept warm (0: deleted at
            the hand-off; see :mod:`statecast.agent.retired`).
        warm_budget: Bytes warm copies may take and must leave free on the data
            directory's filesystem (None: :data:`WARM_BUDGET_SHARE` of its size).
    """

    def __init__(
        self,
        agent: Agent,
        resource_uid: ResourceUid,
        retention: float = 86400.0,
        sweep_every: float = 10.0,
        resource_voters: ResourceVoters | None = None,
        strong_grace: float = STRONG_GRACE,
        warm_retention: float = 0.0,
        warm_budget: float | None = None,
    ) -> None:
        self.agent, self.resource_uid = agent, resource_uid
        self.warm_retention, self.warm_budget = warm_retention, warm_budget
        self.retention, self.sweep_every = retention, sweep_every
        self.resource_voters, self.strong_grace = resource_voters, strong_grace
        #: Held while an eventual copy's directory changes hands (opened for a Replica,
        #: merged, deleted): a hand-off holds it while it talks to its peers.
        self.lock = asyncio.Lock()
        #: The same for strong replica directories (opened, deleted by the strong sweep):
        #: a strong replica's opening never waits for an eventual copy's hand-off (20 s
        #: and more) - before session 11 both took ``lock``.
        self.strong_lock = asyncio.Lock()
        #: What the reconciler saw last: resources with a Replica here, and where each
        #: resource's replicas are.
        self.held: frozenset[Ref] = frozenset()
        self.members: Mapping[Ref, Collection[str]] = {}
        self._retry: dict[Path, tuple[float, float]] = {}
        #: Retired strong copies kept -> when their fate may change (see ``strong_fate``).
        self._strong_due: dict[Path, float] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        #: Directories of closed replicas whose first hand-off is under way.
        self._handing: set[Path] = set()
        #: Set by the reconciler after its first pass: ``held`` and ``members`` are known
        #: (before it, every live replica's directory would look retired).
        self.replicas_known = asyncio.Event()
        agent.retired.complete = False  # until the first sweep has looked at the disk
        #: Set by :meth:`stop`: sweeps stop after the copy they are handing off.
        self.stopping = False
        self._sweeping = False

    def _targets(self, ref: Ref) -> list[str]:
        found = self.agent.directory.nearest(self.members.get(ref, ()))
        return [n for n in found if n != self.agent.node]

    def _in_use(self, ref: Ref, directory: Path) -> bool:
        live = self.agent.config.data_dir / ref[0] / ref[1]
        open_here = ref in self.agent.stores or ref in self.agent.strong
        return directory == live and (ref in self.held or open_here)

    def _strong_dir(self, ref: Ref) -> Path:
        return self.agent.config.data_dir / ref[0] / ref[1] / STRONG_DIR

    def _strong_in_use(self, ref: Ref, directory: Path) -> bool:
        live = directory == self._strong_dir(ref)
        return live and (ref in self.held or ref in self.agent.strong)

    def handing(self, directory: Path) -> bool:
        """Whether the hand-off of the copy in ``directory`` after its retirement runs now."""
        return directory in self._handing

    async def replace_copy(
        self, ref: Ref, state: DeltaMap, directory: Path, uid: str, targets: Iterable[str]
    ) -> str | None:
        """Hand a closed replica's writes to a live replica, then delete its files.

        For a reopened copy a peer refused a delta (it may hold a key whose deletion was
        collected: ``DeltaMap.behind_collection``); its next open is a fresh copy. It
        may hold writes no live replica has (a retired copy reopened before its
        hand-off, or writes taken while it caught up whose pushes failed), so its files
        go only once a replica among ``targets`` holds every event of it (the hand-off's
        join never brings back a key collected there: a dot it covers). Otherwise they
        stay, marked retired, and None is returned.
        """
        taken_by = await hand_off(self.agent, ref, state, targets)
        async with self.lock:
            if taken_by is not None:
                await asyncio.to_thread(_delete, directory)
                return taken_by
            try:
                await asyncio.to_thread(mark_retired, ref, directory, uid)
            except OSError as err:  # a full disk: its next open finds it unmarked
                log.warning("event=retired_mark_failed resource=%s/%s error=%s", *ref, err)
        return None

    async def retire(self, ref: Ref, uid: str) -> None:
        """Close the replica of ``ref`` held here; hand its copy off in the background.

        Returns once the replica is closed. The closing and the hand-off run in one task
        of their own, which a cancelled Replica pass (the agent stopping) does not stop:
        :meth:`close` waits for it. A strong replica is closed and nothing handed off:
        its log and promise stay on disk for a later return (its entries live on in the
        voters; until session 9 it was not closed at all, and its agent answered its
        node's clients ``no_leader`` instead of forwarding to the new leader), marked
        retired: the sweep deletes them by :func:`~statecast.agent.retired.strong_fate`.
        """
        if ref in self.agent.strong:
            await self.agent.close_replica(ref)
            directory = self._strong_dir(ref)
            try:
                mark_retired(ref, directory, uid or identity(directory))
            except OSError as err:  # a full disk: the sweep marks it when it can
                log.warning("event=retired_mark_failed resource=%s/%s error=%s", *ref, err)
            return
        store = self.agent.stores.get(ref)
        if store is None:
            return
        closed: asyncio.Future[BaseException | None] = asyncio.get_running_loop().create_future()
        task = asyncio.create_task(self._retire(ref, store, uid, closed))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        failure = await asyncio.shield(closed)
        if failure is not None:
            raise failure

    async def _retire(
        self, ref: Ref, store: ReplicaStore, uid: str, closed: asyncio.Future[BaseException | None]
    ) -> None:
        directory = store.files.directory if store.files is not None else None
        if directory is not None:  # no sweep takes it while it closes
            self.agent.retired.hold(ref, directory, time.time())
            self._handing.add(directory)
        try:
            await self.agent.close_replica(ref)  # no more writes here; the state stays in memory
        except Exception as err:  # noqa: BLE001 - handed to the Replica pass that retired it
            if directory is not None:
                self._handing.discard(directory)
            closed.set_result(err)
            return
        else:
            closed.set_result(None)
        finally:
            if not closed.done():  # cancelled while closing (the agent stops past its grace)
                closed.cancel()
        if directory is not None:
            await self._hand_off_closed(ref, store, uid)

    async def _hand_off_closed(self, ref: Ref, store: ReplicaStore, uid: str) -> None:
        assert store.files is not None
        directory = store.files.directory
        try:
            try:
                taken_by = await hand_off(self.agent, ref, store.state, self._targets(ref))
            except asyncio.CancelledError:  # the agent stops: the next run hands it off
                if not self._in_use(ref, directory):
                    with contextlib.suppress(OSError):
                        mark_retired(ref, directory, uid)
                raise
            async with self.lock:
                if self._in_use(ref, directory):
                    self.agent.retired.drop(directory)
                    return  # its Replica came back meanwhile: the files are in use again
                if taken_by is not None:
                    now = time.time()
                    await self._merged(RetiredCopy(ref, directory, now, uid), now)
                    log.info("event=retired_copy_merged resource=%s/%s into=%s", *ref, taken_by)
                    return
                try:
                    mark_retired(ref, directory, uid)
                except OSError as err:  # a full disk: the sweep marks it when it can
                    log.warning(
                        "event=retired_mark_failed resource=%s/%s error=%s", *ref, err
                    )  # fmt: skip
        finally:
            self._handing.discard(directory)
        log.warning(
            "event=retired_copy_kept resource=%s/%s reason=no_live_replica path=%s",
            *ref,
            directory,
        )

    async def _merged(self, copy: RetiredCopy, now: float) -> None:
        """A live replica holds every write of ``copy``: keep its files warm, or delete them.

        Kept only with a warm retention and the resource's uid known (a copy reopened
        must be the same resource's: :func:`~statecast.agent.retired.adopt` checks it).
        """
        self.agent.retired.drop(copy.directory)  # it holds nothing a live replica lacks
        uid = copy.uid or await asyncio.to_thread(identity, copy.directory)
        if self.warm_retention > 0 and uid:
            try:
                kept = replace(copy, uid=uid)
                await asyncio.to_thread(mark_warm, kept, now)
            except OSError as err:  # a full disk: no room for a head start
                log.warning("event=warm_mark_failed resource=%s/%s error=%s", *copy.ref, err)
            else:
                self.agent.sync_log.warm["kept"] += 1
                return
        await asyncio.to_thread(_delete, copy.directory)

    async def _sweep_warm(self, warm: list[RetiredCopy], now: float) -> None:
        """Delete the warm copies whose retention is over, then any beyond the budget."""
        live = [c for c in warm if not self._in_use(c.ref, c.directory)]
        expired = [c for c in live if warm_expired(c, now, self.warm_retention)]
        for copy in expired:
            await self._drop_warm(copy, "expired")
        left = [c for c in live if c not in expired]
        if not left:
            return
        data_dir = self.agent.config.data_dir
        usage = await asyncio.to_thread(shutil.disk_usage, data_dir)
        budget = self.warm_budget
        if budget is None:
            budget = WARM_BUDGET_SHARE * usage.total
        sizes = await asyncio.to_thread(lambda: [disk_bytes(c.directory) for c in left])
        rows = [(c.directory, c.handed_off or 0.0, n) for c, n in zip(left, sizes, strict=True)]
        evicted = set(warm_evictions(rows, budget=budget, free=usage.free))
        for copy in left:
            if copy.directory in evicted:
                await self._drop_warm(copy, "evicted")

    async def _drop_warm(self, copy: RetiredCopy, reason: str) -> None:
        async with self.lock:  # not while the reconciler reopens it for a returning Replica
            if self._in_use(copy.ref, copy.directory):
                return
            await asyncio.to_thread(_delete, copy.directory)
        self.agent.sync_log.warm[reason] += 1
        log.info(
            "event=warm_copy_deleted resource=%s/%s reason=%s kept_s=%.0f", *copy.ref, reason,
            time.time() - (copy.handed_off or copy.since),
        )  # fmt: skip

    async def run(self) -> None:
        """Sweep the data directory once the Replicas are known, then every ``sweep_every`` s.

        The first sweep comes at once: copies left by an earlier run of the agent (a
        Replica removed while it was down, or just before it was killed) may hold
        acknowledged writes that no live replica has, and until it the ledger cannot show
        them (it is not ``complete``).
        """
        await self.replicas_known.wait()
        while not self.stopping:
            self._sweeping = True
            try:
                await self.sweep(time.time())
            except (OSError, AgentError) as err:  # a loop must outlive one bad round
                log.warning("event=retired_sweep_failed error=%s", err)
            finally:
                self._sweeping = False
            if not self.stopping:
                await asyncio.sleep(self.sweep_every)

    def _note_found(self, found: list[tuple[Ref, Path, float | None]], now: float) -> None:
        """Show every copy found in the ledger before any is settled; it is complete then."""
        ledger = self.agent.retired
        for gone in ledger.directories() - {d for _, d, _ in found} - self._handing:
            ledger.drop(gone)
        held = ledger.directories()
        for ref, directory, since in found:
            if directory in held or directory in self._handing or self._in_use(ref, directory):
                continue
            ledger.hold(ref, directory, now if since is None else since)
        ledger.complete = True

    async def sweep(self, now: float) -> None:
        """Hand off, keep or delete every copy on disk whose Replica is not on this node."""
        data_dir = self.agent.config.data_dir
        found, warm = await asyncio.to_thread(_list_copies, data_dir)
        self._note_found(found, now)
        ledger = self.agent.retired
        for ref, directory, _ in found:
            if self.stopping:
                return  # the agent stops: the rest waits for its next run
            if directory in self._handing:
                continue  # its hand-off after the retirement is still under way
            if self._in_use(ref, directory):
                ledger.drop(directory)
                continue
            retry_at, _ = self._retry.get(directory, (0.0, 0.0))
            if now < retry_at:
                continue
            try:
                await self._sweep_one(ref, directory, now)
            except OSError as err:  # one copy (a full disk) must not stop the others
                log.warning(
                    "event=retired_sweep_failed resource=%s/%s path=%s error=%s",
                    *ref, directory, err,
                )  # fmt: skip
        try:
            await self._sweep_warm(warm, now)
        except OSError as err:
            log.warning("event=warm_sweep_failed error=%s", err)
        await self._sweep_strong(now)

    async def _sweep_strong(self, now: float) -> None:
        """Delete the retired strong copies :func:`~statecast.agent.retired.strong_fate` lets go."""
        if self.resource_voters is None:
            return
        data_dir = self.agent.config.data_dir
        found = await asyncio.to_thread(lambda: list(strong_directories(data_dir)))
        for gone in set(self._strong_due) - {d for _, d in found}:
            del self._strong_due[gone]
        for ref, directory in found:
            if self.stopping:
                return
            if self._strong_in_use(ref, directory) or now < self._strong_due.get(directory, 0.0):
                continue
            try:
                await self._sweep_strong_one(ref, directory, now)
            except OSError as err:
                log.warning(
                    "event=retired_sweep_failed resource=%s/%s path=%s error=%s",
                    *ref, directory, err,
                )  # fmt: skip

    async def _sweep_strong_one(self, ref: Ref, directory: Path, now: float) -> None:
        assert self.resource_voters is not None
        async with self.strong_lock:  # not while the reconciler opens it for a Replica
            if self._strong_in_use(ref, directory) or not await asyncio.to_thread(directory.exists):
                return
            copy = find_retired(ref, directory)
            if copy is None:  # left by an earlier run: retired from now
                copy = mark_retired(ref, directory, identity(directory), now)
            found = await self.resource_voters(*ref)
            uid, voters = found if found is not None else (None, ())
            decided, due = strong_fate(
                copy, resource_uid=uid, voters=voters, node=self.agent.node, now=now,
                retention=self.retention, grace=self.strong_grace,
            )  # fmt: skip
            if decided == "keep":
                self._strong_due[directory] = due
                return
            self._strong_due.pop(directory, None)
            await asyncio.to_thread(shutil.rmtree, directory, True)
        log.warning(
            "event=strong_copy_deleted resource=%s/%s path=%s retired_s=%.0f",
            *ref, directory, now - copy.since,
        )  # fmt: skip

    async def _sweep_one(self, ref: Ref, directory: Path, now: float) -> None:
        async with self.lock:
            if self._in_use(ref, directory) or not await asyncio.to_thread(directory.exists):
                self.agent.retired.drop(directory)
                return
            copy = find_retired(ref, directory)
            if copy is None:
                copy = RetiredCopy(ref, directory, now, identity(directory))
                try:
                    mark_retired(ref, directory, copy.uid, now)
                except OSError as err:  # a full disk: handed off unmarked all the same
                    log.warning(
                        "event=retired_mark_failed resource=%s/%s error=%s", *ref, err
                    )  # fmt: skip
            self.agent.retired.hold(ref, directory, copy.since)
            await self._settle(copy, now)

    async def _settle(self, copy: RetiredCopy, now: float) -> None:
        uid = await self.resource_uid(*copy.ref)
        targets = self._targets(copy.ref)
        decided = fate(
            copy, resource_uid=uid, has_target=bool(targets), now=now, retention=self.retention
        )
        if decided == "delete":
            await asyncio.to_thread(_delete, copy.directory)
            self.agent.retired.drop(copy.directory)
            log.warning(
                "event=retired_copy_deleted resource=%s/%s path=%s reason=retention", *copy.ref,
                copy.directory,
            )  # fmt: skip
            return
        if decided == "keep":
            return
        store = ReplicaStore(
            self.agent.specs.get(copy.ref) or ResourceSpec(namespace=copy.ref[0], name=copy.ref[1]),
            self.agent.node,
            ReplicaFiles(copy.directory, "never"),
        )
        await asyncio.to_thread(store.open)
        try:
            taken_by = await hand_off(self.agent, copy.ref, store.state, targets)
        finally:
            store.close()
        if taken_by is None:
            _, delay = self._retry.get(copy.directory, (0.0, 0.0))
            delay = min(RETRY_MAX, max(RETRY_FIRST, 2 * delay))
            self._retry[copy.directory] = (now + delay, delay)
            return
        self._retry.pop(copy.directory, None)
        await self._merged(copy, time.time())
        log.info(
            "event=retired_copy_merged resource=%s/%s into=%s since=%.0f",
            *copy.ref, taken_by, time.time() - copy.since,
        )  # fmt: skip

    async def close(self, grace: float | None = None) -> bool:
        """Wait for the hand-offs in flight (a stopping agent finishes what it started).

        At most ``grace`` seconds (None: as long as they take); those still running then
        are cancelled: their copies stay on disk, marked retired, for a later sweep.

        Returns:
            True if every hand-off in flight finished.
        """
        return await self._finish(set(self._tasks), grace)

    async def stop(self, grace: float, sweeper: asyncio.Task[None] | None = None) -> bool:
        """Stop sweeping and finish what is in flight within ``grace`` (the agent stops).

        Hand-offs of copies retired here, and the one the sweep (``sweeper``, the task
        running :meth:`run`) is making, are waited for as in :meth:`close`; a sweep
        between copies is stopped at once. What is left is for the next run's first sweep.
        """
        self.stopping = True
        pending: set[asyncio.Task[None]] = set(self._tasks)
        if sweeper is not None and not sweeper.done():
            if self._sweeping:
                pending.add(sweeper)
            else:
                sweeper.cancel()
        return await self._finish(pending, grace)

    async def _finish(self, pending: set[asyncio.Task[None]], grace: float | None) -> bool:
        if not pending:
            return True
        _, late = await asyncio.wait(pending, timeout=grace)
        for task in late:
            task.cancel()
        if late:
            await asyncio.gather(*late, return_exceptions=True)
            log.warning(
                "event=hand_offs_abandoned count=%d reason=stopping grace=%.0f", len(late),
                grace or 0.0,
            )  # fmt: skip
        return not late
