"""One replica of a replicated map: the CRDT state, made durable by its files."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping

from statecast.agent.config import ResourceSpec
from statecast.agent.errors import (
    ConflictError,
    NotFoundError,
    PersistenceError,
    UnavailableError,
)
from statecast.agent.persistence import LogBatch, ReplicaFiles
from statecast.core.clock import Stamp
from statecast.core.crdt import CounterConflictError, Delta, DeltaMap, Entry, SyncPayload, Visible
from statecast.core.version_vector import VersionVector

__all__ = [
    "JOIN_STEP",
    "LocalChange",
    "LocalWrite",
    "ReplicaStore",
    "SyncJoin",
    "WriteResult",
    "unlogged",
]

log = logging.getLogger(__name__)

#: Called after each local change with (store, delta, event seq): the push hook.
LocalChange = Callable[["ReplicaStore", Delta, int], None]

#: Entries of a sync answer or hand-off joined (and logged) in one step of the event loop:
#: at a million keys a step of 256 took up to 19 ms of CPU while the index grew, 64 7 ms.
JOIN_STEP = 64


class WriteResult:
    """What a write answers: the version it made."""

    __slots__ = ("seq", "stamp")

    def __init__(self, stamp: Stamp, seq: int) -> None:
        self.stamp = stamp
        self.seq = seq

    def to_json(self) -> dict[str, object]:
        """``{"version": "wall.logical.replica", "seq": n}``."""
        return {"version": self.stamp.encode(), "seq": self.seq}

    def to_bytes(self) -> bytes:
        """:meth:`to_json` encoded (without the JSON encoder for the usual replica ids)."""
        version = self.stamp.encode()
        if (
            version.isascii()
            and version.isprintable()
            and '"' not in version
            and "\\" not in version
        ):
            return b'{"version": "%b", "seq": %d}' % (version.encode(), self.seq)
        return json.dumps(self.to_json()).encode()


def unlogged(error: PersistenceError) -> UnavailableError:
    """What a local write whose log record failed answers: 503 ``outcome_unknown``.

    The write was joined into the state before its record went to the log, and a join
    is never taken back: it stays in the state, where reads here see it, a peer's sync
    may take it and a later record of the key carries it to disk; or this agent stops
    first and it is gone. So it may count or not, never surely not (a 500 said "not").
    """
    message = f"applied here but not logged ({error}): it may or may not count"
    return UnavailableError(message, "outcome_unknown")


class LocalWrite:
    """A local write's log batch, as its answer waits for it (an ``httpserver.Hold``).

    Done when the batch is; its :attr:`error` is :func:`unlogged`'s when the batch failed.
    """

    __slots__ = ("_batch",)

    def __init__(self, batch: LogBatch) -> None:
        self._batch = batch

    @property
    def done(self) -> bool:
        """True once the batch is written (or failed)."""
        return self._batch.done

    @property
    def error(self) -> UnavailableError | None:
        """503 ``outcome_unknown`` if the batch failed, else None."""
        failed = self._batch.error
        return None if failed is None else unlogged(failed)

    def then(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once the batch is done."""
        self._batch.then(callback)


class ReplicaStore:
    """The replica of one resource held by this agent.

    Args:
        spec: The resource.
        replica: This agent's replica id (its node name).
        files: Where the log and snapshots go (None: memory only, for tests).
        index_limit: Recent events kept per origin for delta sync.
    """

    def __init__(
        self,
        spec: ResourceSpec,
        replica: str,
        files: ReplicaFiles | None,
        index_limit: int = 1 << 16,
    ) -> None:
        self.spec = spec
        self.ref = spec.ref
        self.replica = replica
        self.files = files
        self.state = DeltaMap(
            replica, multi_value=spec.merge == "multi-value", index_limit=index_limit
        )
        self.listeners: list[LocalChange] = []
        #: Called when the state's table has work pending (see ``agent.housekeeping``).
        self.on_busy: Callable[[], None] | None = None
        #: Called with the keys of every applied change (the change stream, ``agent.watch``).
        self.on_changed: Callable[[tuple[str, str], Iterable[str]], None] | None = None
        #: False while a replica opened in a cluster has not caught up with a peer yet:
        #: the server then sends reads to a replica that has (see ``AgentApi``).
        self.serving = True
        #: The lost copies this replica stands in for (the operator's mark on its Replica):
        #: a key it lacks may exist in them, so it is not answered "not found".
        self.stand_in_for: tuple[str, ...] = ()
        self.last_modified: float | None = None
        self._snapshotting = False
        #: Keys whose latest local write is not in the log yet -> the batch it is in.
        self._unwritten: dict[str, LogBatch] = {}
        #: Keys a sync joined whose log record failed: logged again by the next sync
        #: (or a snapshot) before any sync record may claim the peer's events.
        self._unlogged: set[str] = set()

    def open(self) -> int:
        """Recover the state from disk; return the number of log records replayed."""
        if self.files is None:
            return 0
        started, cpu = time.monotonic(), time.process_time()
        recovered = self.files.recover()
        if recovered.image is not None:
            self.state.restore(recovered.image)
        elif recovered.legacy is not None:
            self.state.load(*recovered.legacy)
        replayed = 0
        for record in self.files.records():
            if record.origin is not None:
                self.state.apply_push(record.origin, record.first, record.last, record.entries)
            elif record.vector is not None:
                self.state.apply_sync(
                    SyncPayload(False, record.entries, VersionVector(record.vector))
                )
            replayed += 1
        log.info(
            "event=replica_recovered resource=%s/%s keys=%d records=%d seconds=%.3f cpu=%.3f",
            *self.spec.ref,
            len(self.state),
            replayed,
            time.monotonic() - started,
            time.process_time() - cpu,
        )
        self._check_busy()
        return replayed

    def _check_busy(self) -> None:
        if self.on_busy is not None and self.state.busy:
            self.on_busy()

    # --- reads --------------------------------------------------------------------
    def get(self, key: str) -> Visible:
        """The visible value (None if absent)."""
        return self.state.get(key)

    def unwritten(self, key: str) -> LogBatch | None:
        """The log batch a read of ``key`` must wait for, if its last write is not written.

        An answer holding a value is sent only once that value is in the log: a reader
        never sees a write that a ``kill -9`` could still take back.
        """
        return self._unwritten.get(key) if self._unwritten else None

    @property
    def unwritten_tail(self) -> LogBatch | None:
        """The batch after which everything in the state now is in the log (None: all is)."""
        return None if self.files is None else self.files.tail

    @property
    def version_vector(self) -> VersionVector:
        """The events this replica holds."""
        return self.state.version_vector

    # --- local writes -------------------------------------------------------------
    def _check_writable(self) -> None:
        if self.spec.consistency == "strong":
            raise UnavailableError("a strong resource is served by its leader, not by this store")

    def _log(self, delta: Delta) -> tuple[int, LogBatch | None]:
        seq = self.state.seq_of(self.replica)
        if self.files is None:
            return seq, None
        return seq, self.files.append_push(self.replica, seq, seq, delta)

    def _publish(self, delta: Delta, seq: int, stamp: Stamp) -> WriteResult:
        # Peers hear of a write only once it is durable here: a replica that lost an
        # event its peers hold would reuse its sequence number after a restart.
        self.last_modified = time.time()
        self._check_busy()
        for listener in self.listeners:
            listener(self, delta, seq)
        return WriteResult(stamp, seq)

    def _published(self, batch: LogBatch, delta: Delta, seq: int, stamp: Stamp) -> None:
        for key in delta:
            if self._unwritten.get(key) is batch:
                del self._unwritten[key]
        if batch.error is None:
            self._publish(delta, seq, stamp)

    async def _commit(self, delta: Delta) -> WriteResult:
        """Queue ``delta``'s record and wait for it.

        Raises:
            UnavailableError: 503 ``outcome_unknown``: the record failed (see :func:`unlogged`).
        """
        return await self._settled(*self._queue(delta))

    @staticmethod
    async def _settled(result: WriteResult, batch: LogBatch | None) -> WriteResult:
        """``result`` once ``batch`` (None: nothing to wait for) is written.

        Raises:
            UnavailableError: 503 ``outcome_unknown``: the record failed (see :func:`unlogged`).
        """
        if batch is not None:
            try:
                await batch.wait()
            except PersistenceError as err:
                raise unlogged(err) from err
        return result

    def _queue(self, delta: Delta) -> tuple[WriteResult, LogBatch | None]:
        stamp = self.state.clock.peek()  # the local operation's stamp: its clock's last tick
        seq, batch = self._log(delta)
        if self.on_changed is not None:  # watchers read it now, hear of it once written
            self.on_changed(self.ref, delta)
        if batch is None:
            return self._publish(delta, seq, stamp), None
        for key in delta:
            self._unwritten[key] = batch
        batch.then(lambda: self._published(batch, delta, seq, stamp))
        return WriteResult(stamp, seq), batch

    async def put(self, key: str, value: bytes) -> WriteResult:
        """Write a JSON-encoded value."""
        self._check_writable()
        return await self._commit(self.state.put(key, value))

    def put_now(self, key: str, value: bytes) -> tuple[WriteResult, LogBatch | None]:
        """Write a JSON-encoded value without awaiting.

        Returns:
            The version written and the log batch it is in: the write counts (peers and
            watchers hear of it, it may be acknowledged) once that batch is done, and
            not at all if it fails. None: no log, the write is done.
        """
        self._check_writable()
        return self._queue(self.state.put(key, value))

    async def delete(self, key: str) -> WriteResult:
        """Delete a key.

        Raises:
            NotFoundError: The key has no visible value here.
            UnavailableError: 503 ``outcome_unknown``: the record failed (see :func:`unlogged`).
        """
        return await self._settled(*self.delete_now(key))

    def delete_now(self, key: str) -> tuple[WriteResult, LogBatch | None]:
        """Delete a key without awaiting (the log batch as for :meth:`put_now`).

        Raises:
            NotFoundError: The key has no visible value here.
        """
        self._check_writable()
        delta = self.state.delete(key)
        if delta is None:
            raise NotFoundError(f"key {key!r} not found")
        return self._queue(delta)

    async def increment(self, key: str, by: int) -> tuple[WriteResult, int]:
        """Add ``by`` to a counter; return the version and the new value.

        Raises:
            ConflictError: The key holds a value that is not a counter.
        """
        self._check_writable()
        try:
            delta = self.state.increment(key, by)
        except CounterConflictError as err:
            raise ConflictError(str(err)) from err
        result = await self._commit(delta)
        value = self.state.get(key)
        return result, value if isinstance(value, int) else 0

    # --- replication --------------------------------------------------------------
    async def apply_push(
        self, origin: str, first: int, last: int, entries: Mapping[str, Entry]
    ) -> int:
        """Join a peer's pushed delta (its events ``first..last``); return keys changed."""
        changed = self.state.apply_push(origin, first, last, entries)
        self._check_busy()
        if changed and self.on_changed is not None:
            self.on_changed(self.ref, changed)
        if self.files is not None:
            self.files.append_push(origin, first, last, {k: entries[k] for k in changed})
            await self.files.durable()
        if changed:
            self.last_modified = time.time()
        return len(changed)

    async def apply_sync(self, payload: SyncPayload) -> int:
        """Join what a peer sent for our version vector; return keys changed."""
        before = self.state.version_vector
        changed = self.state.apply_sync(payload)
        self._check_busy()
        if changed and self.on_changed is not None:
            self.on_changed(self.ref, changed)
        if self.files is not None and (changed or self.state.version_vector != before):
            keys = set(changed)
            self.files.append_sync(payload.version_vector, {k: payload.entries[k] for k in keys})
            await self.files.durable()
        if changed:
            self.last_modified = time.time()
        return len(changed)

    def joining(self) -> SyncJoin:
        """Join a sync answer piece by piece (see :class:`SyncJoin`)."""
        return SyncJoin(self)

    def delta_since(self, peer: Mapping[str, int]) -> SyncPayload:
        """What a peer at ``peer`` lacks."""
        return self.state.delta_since(peer)

    # --- housekeeping -------------------------------------------------------------
    async def snapshot(self) -> int:
        """Fold the log into a fresh snapshot (written off the event loop); return bytes."""
        if self.files is None or self._snapshotting:
            return 0
        self._snapshotting = True
        try:
            closed = await self.files.rotate()
            if self.files.snapshot_writer == "thread":  # the image is taken on the loop
                for _ in self.state.prepare_image():  # a step per loop turn: no long pause
                    await asyncio.sleep(0)
            unlogged = set(self._unlogged)
            size = await self.files.snapshot(self.state.image, closed, self.state.hold)
            self._unlogged -= unlogged  # the snapshot holds them
            return size
        finally:
            self._snapshotting = False
            self._check_busy()  # the table's cleaner waited for the snapshot's view

    def close(self) -> None:
        """Close the log."""
        if self.files is not None:
            self.files.close()


class SyncJoin:
    """A sync answer joined piece by piece, each piece in its own turn of the event loop.

    Each piece's entries are joined into the state and logged as a sync record without a
    vector (replayed, it joins them and claims no event); :meth:`finish` then advances the
    version vector to the answer's, in a last record, once every piece is in the log. A
    stream cut short leaves what was joined (joins are always safe to keep) and the
    vector where it was, so the next sync asks again from there.
    """

    __slots__ = ("_failed", "_store", "changed")

    def __init__(self, store: ReplicaStore) -> None:
        self._store = store
        self._failed: PersistenceError | None = None
        self.changed = 0

    def add(self, entries: Mapping[str, Entry]) -> None:
        """Join one piece of the answer."""
        store = self._store
        changed = store.state.merge(entries)
        store._check_busy()
        if changed:
            self.changed += len(changed)
            store.last_modified = time.time()
            if store.on_changed is not None:
                store.on_changed(store.ref, changed)
        logged = {k: entries[k] for k in changed}
        unlogged = store._unlogged
        if unlogged:  # joined before, but their record failed: now, or never claimed
            logged.update((k, entries[k]) for k in entries if k in unlogged)
            unlogged.difference_update(logged)
        if logged and store.files is not None:
            batch = store.files.append_sync({}, logged)
            batch.then(lambda: self._check(batch, logged))

    async def add_in_steps(self, entries: Mapping[str, Entry], step: int = JOIN_STEP) -> None:
        """:meth:`add` ``step`` entries at a time, the event loop running between steps."""
        items = list(entries.items())
        for at in range(0, len(items), step):
            self.add(dict(items[at : at + step]))
            await asyncio.sleep(0)  # the node's requests between steps

    def _check(self, batch: LogBatch, logged: Mapping[str, Entry]) -> None:
        if batch.error is not None:
            self._store._unlogged.update(logged)
            if self._failed is None:
                self._failed = batch.error

    async def finish(self, full: bool, vector: VersionVector) -> int:
        """Advance the version vector to the answer's; return the keys changed in all.

        Raises:
            PersistenceError: A piece could not be logged: the vector is not advanced
                (a log claiming events whose entries it lacks would lose them at recovery).
        """
        store = self._store
        if store.files is not None:
            with contextlib.suppress(PersistenceError):  # (seen by _check)
                await store.files.durable()
        if self._failed is not None:
            raise self._failed
        if store._unlogged:
            raise PersistenceError(f"{len(store._unlogged)} keys joined are not in the log yet")
        return self.changed + await store.apply_sync(SyncPayload(full, {}, vector))
