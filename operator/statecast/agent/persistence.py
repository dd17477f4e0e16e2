"""Write-ahead log and snapshots of one replica, in its own directory.

Layout of ``<data-dir>/<namespace>/<resource>/`` (formats in :mod:`.logfile` and
:mod:`.snapshotfile`, binary, versioned and checksummed):

- ``log-<n>.bin``: one record per change, appended before the change is acknowledged: a
  push (a contiguous range of an origin's events, local writes included, with the new
  state of the keys they touched) or a sync (what a peer sent for our vector).
- ``snapshot.bin``: the whole state at one moment (a ``MapImage``) and the number of
  the last segment it covers. Written to a temporary file by a forked child process
  (:mod:`.forked`: its work never holds the event loop's interpreter lock) or, with
  ``snapshot_writer="thread"``, by a worker thread; fsynced, renamed, the directory
  fsynced; then the segments it covers are deleted.

Files of the JSON format of before (``wal-<n>.log``, ``snapshot.json``) are read at
recovery, in the same order; the first snapshot written afterwards replaces them.

Replay joins records into the state, and joins are idempotent, so a record applied
twice (once from the snapshot, once from the log) does no harm. A record torn at the
end of the log (the process died inside a write) is skipped: it was never acknowledged.

Records are written by a worker thread, in batches: the records appended during one
turn of the event loop (and while the previous batch was being written) go out in one
``write(2)``, and the changes they hold are acknowledged once their batch is written
(:class:`LogBatch`). The event loop never waits for the kernel: a write held up by page
writeback (a snapshot being flushed) delays the writes in that batch, not the reads.

Fsync policies: ``always`` (group commit: a batch is fsynced before it counts as
written), ``interval`` (written before acknowledgement, fsynced every
``fsync_interval`` seconds: survives ``kill -9``, may lose the last interval on power
loss), ``never`` (left to the OS).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import queue
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from statecast.agent import forked, logfile, snapshotfile
from statecast.agent.errors import PersistenceError
from statecast.agent.logfile import WalRecord
from statecast.core.crdt import Entry, MapImage
from statecast.core.crdt.table import EntryTable

__all__ = ["FsyncPolicy", "LogBatch", "Recovered", "ReplicaFiles", "SnapshotWriter", "WalRecord"]

log = logging.getLogger(__name__)

FsyncPolicy = Literal["always", "interval", "never"]
#: Who writes a snapshot: a forked child process (the default where fork exists) or a
#: thread of the agent's process (its Python work then shares the interpreter lock).
SnapshotWriter = Literal["process", "thread"]

_SEGMENT = re.compile(r"^(?:log-(\d+)\.bin|wal-(\d+)\.log)$")
_SNAPSHOT = "snapshot.bin"
#: The log is folded into a snapshot once it is this fraction (1/n) of the last one: at a
#: million keys of 100 bytes the log then holds at most ~75,000 records to replay after a
#: crash (~1.1 s; at 1/8 it was ~107,000 and recovery took 3.1-3.2 s, over its 3 s target).
FOLD_RATIO = 12
_JSON_SNAPSHOT = "snapshot.json"  # the format of before: read, then replaced
#: A snapshot writer process still running this long (at least), or this many times the
#: last snapshot's duration, is killed; the replica then writes its snapshots with a
#: thread (a child forked beside threads can hang on a lock one of them held).
WRITER_DEADLINE_MIN = 60.0
WRITER_DEADLINE_FACTOR = 10


@dataclass(frozen=True)
class Recovered:
    """The snapshot found on disk.

    Attributes:
        image: A binary snapshot's state (its entries a table to adopt), if any.
        legacy: A JSON snapshot's entries and version vector, if that is what was found.
    """

    image: MapImage | None
    legacy: tuple[EntryTable, dict[str, int]] | None


class LogBatch:
    """Log records written together: done once they are as durable as the policy promises.

    Callbacks added with :meth:`then` run on the event loop, in the order added, as soon
    as the batch is written (or failed: then :attr:`error` says why).
    """

    __slots__ = ("_callbacks", "done", "error")

    def __init__(self) -> None:
        self.done = False
        self.error: PersistenceError | None = None
        self._callbacks: list[Callable[[], None]] = []

    def then(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once the batch is done (at once if it is)."""
        if self.done:
            callback()
        else:
            self._callbacks.append(callback)

    def finish(self, error: PersistenceError | None = None) -> None:
        """Mark the batch done (written, or failed with ``error``); run the callbacks."""
        if self.done:
            return
        self.done, self.error = True, error
        callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            try:
                callback()
            except Exception:
                log.exception("event=log_batch_callback_failed")

    async def wait(self) -> None:
        """Wait until the batch is done.

        Raises:
            PersistenceError: Its records could not be written.
        """
        if not self.done:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()

            def wake() -> None:
                if not waiter.done():
                    waiter.set_result(None)

            self.then(wake)
            await waiter
        if self.error is not None:
            raise self.error


class ReplicaFiles:
    """The log and snapshot files of one replica.

    Args:
        directory: The replica's directory (created if missing).
        fsync: The fsync policy.
        fsync_interval: Seconds between fsyncs under the ``interval`` policy.
        snapshot_writer: Who writes snapshots (``thread`` where ``fork`` is missing).
    """

    def __init__(
        self,
        directory: Path,
        fsync: FsyncPolicy = "interval",
        fsync_interval: float = 1.0,
        snapshot_writer: SnapshotWriter = "process",
    ) -> None:
        self.directory = directory
        self.fsync = fsync
        self.fsync_interval = fsync_interval
        self.snapshot_writer: SnapshotWriter = snapshot_writer if forked.available() else "thread"
        self._child: asyncio.Future[int] | None = None  # the snapshot writer process
        self._last_snapshot_seconds = 0.0
        #: Snapshot writer processes killed for running past their deadline.
        self.writer_kills = 0
        self._segment = 0
        self._fd = -1
        self._wal_bytes = 0
        self._records_since_snapshot = 0
        self._pending: list[bytes] = []  # records of the next batch
        self._batch: LogBatch | None = None  # the next batch (records waiting for a write)
        self._writing: LogBatch | None = None  # the batch being written
        self._in_flight = threading.Lock()  # held while a batch is being written
        self._on_disk = 0  # bytes of the current segment written (or being written)
        self._writing_from: tuple[int, int] = (-1, 0)  # (fd, offset) of the batch in flight
        self._syncing: asyncio.Future[None] | None = None
        self._dirty = False
        self._replay: list[Path] = []
        self.last_snapshot_bytes = 0
        self.failure: str | None = None
        """Why the last batch of the log could not be written (None: it was)."""

    # --- recovery -----------------------------------------------------------------
    def _segments(self) -> list[tuple[int, Path]]:
        found = []
        for path in self.directory.iterdir():
            match = _SEGMENT.match(path.name)
            if match:
                found.append((int(match[1] or match[2]), path))
        return sorted(found)

    def recover(self) -> Recovered:
        """Read the snapshot and open a fresh log segment; :meth:`records` replays the log.

        Raises:
            PersistenceError: The snapshot is corrupt or the directory unusable.
        """
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            recovered = self._read_snapshot()
            segments = self._segments()
            self._replay = [path for _, path in segments]
            self._segment = (segments[-1][0] if segments else 0) + 1
            self._open_segment()
        except OSError as err:
            raise PersistenceError(f"cannot use {self.directory}: {err}") from err
        self._records_since_snapshot = 0
        return recovered

    def records(self) -> Iterator[WalRecord]:
        """The records of the log found by :meth:`recover`, in order.

        Raises:
            PersistenceError: A segment is damaged (beyond a torn last record).
        """
        for path in self._replay:
            read = logfile.read_segment if path.suffix == ".bin" else logfile.read_json_segment
            try:
                for record in read(path):
                    self._records_since_snapshot += 1
                    yield record
            except OSError as err:
                raise PersistenceError(f"cannot read {path}: {err}") from err

    def _read_snapshot(self) -> Recovered:
        binary, legacy = self.directory / _SNAPSHOT, self.directory / _JSON_SNAPSHOT
        if binary.exists():  # when both exist, the binary one is the newer
            self.last_snapshot_bytes = binary.stat().st_size
            image, _ = snapshotfile.read_image(binary)
            return Recovered(image, None)
        if legacy.exists():
            self.last_snapshot_bytes = legacy.stat().st_size
            return Recovered(None, snapshotfile.read_json_snapshot(legacy))
        return Recovered(None, None)

    # --- appending ----------------------------------------------------------------
    def _open_segment(self) -> None:
        path = self.directory / f"log-{self._segment}.bin"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            size = os.fstat(fd).st_size
            if not size:
                os.write(fd, logfile.MAGIC)
                size = len(logfile.MAGIC)
        except OSError:  # (a full disk): no descriptor left open, no empty segment left
            os.close(fd)
            with contextlib.suppress(OSError):
                if not path.stat().st_size:
                    path.unlink()
            raise
        self._fd, self._wal_bytes = fd, size
        self._on_disk = self._wal_bytes

    @property
    def wal_bytes(self) -> int:
        """Bytes in the current log segment."""
        return self._wal_bytes

    @property
    def records_since_snapshot(self) -> int:
        """Log records written since the last snapshot."""
        return self._records_since_snapshot

    def append_push(
        self, origin: str, first: int, last: int, entries: Mapping[str, Entry]
    ) -> LogBatch:
        """Encode and append a push record; return the batch it is written in."""
        return self._write(logfile.encode_push(origin, first, last, entries))

    def append_sync(self, vector: Mapping[str, int], entries: Mapping[str, Entry]) -> LogBatch:
        """Encode and append a sync record; return the batch it is written in."""
        return self._write(logfile.encode_sync(vector, entries))

    def _write(self, line: bytes) -> LogBatch:
        self._records_since_snapshot += 1
        self._wal_bytes += len(line)
        self._pending.append(line)
        batch = self._batch
        if batch is None:
            batch = self._batch = LogBatch()
            if self._writing is None:  # written at the end of this turn: others join it
                asyncio.get_running_loop().call_soon(self._flush)
        return batch

    @property
    def tail(self) -> LogBatch | None:
        """The batch holding the last record appended, while it is not written yet.

        Whatever was read from the state now is in the log once this batch is done.
        """
        return self._batch or self._writing

    async def durable(self) -> None:
        """Wait until everything appended so far is as durable as the policy promises.

        Raises:
            PersistenceError: The log could not be written.
        """
        batch = self.tail
        if batch is not None:
            await batch.wait()

    def _flush(self) -> None:
        """Hand the next batch to the log writer thread (one batch in flight at a time)."""
        batch, lines = self._batch, self._pending
        if batch is None or self._writing is not None:
            return
        self._batch, self._pending = None, []
        if self._fd < 0:
            batch.finish(PersistenceError(f"the log of {self.directory} is closed"))
            return
        self._writing = batch
        data = b"".join(lines)
        self._writing_from = (self._fd, self._on_disk)
        self._on_disk += len(data)
        self._in_flight.acquire()  # released by the writer thread once written
        sync = self.fsync == "always"
        _LogWriter.shared().put(
            (self, self._fd, data, sync, self._writing_from[1], asyncio.get_running_loop())
        )

    def _written(self, error: OSError | None) -> None:
        """The batch in flight is written (or failed): on the event loop."""
        batch, self._writing = self._writing, None
        if error is None:
            self._dirty = True
            self.failure = None
        else:
            self.failure = str(error)
            fd, start = self._writing_from
            if fd == self._fd:  # (not if the log was rotated meanwhile)
                self._on_disk = start  # the batch was cut back out
            log.error("event=log_write_failed directory=%s error=%s", self.directory, error)
        if batch is not None:
            batch.finish(None if error is None else PersistenceError(f"log write failed: {error}"))
        if self._batch is not None:
            self._flush()

    async def sync_now(self) -> None:
        """Flush the log to disk if something was written since the last flush."""
        if self._dirty and self._fd >= 0:
            self._dirty = False
            self._syncing = asyncio.ensure_future(asyncio.to_thread(os.fsync, self._fd))
            await self._syncing

    # --- snapshots ----------------------------------------------------------------
    async def rotate(self) -> int:
        """Start a new log segment; return the number of the segment now closed.

        New records go to the new segment at once; the closed one is fsynced in a worker
        thread (an fsync of tens of MiB must not stop the event loop).
        """
        if self._syncing is not None and not self._syncing.done():
            with contextlib.suppress(OSError):  # its fd is about to be closed
                await asyncio.shield(self._syncing)
        closed, old_fd = self._segment, self._fd
        self._segment += 1
        self._open_segment()  # batches handed out from now on go to the new segment
        self._records_since_snapshot = 0
        writing = self._writing
        if writing is not None:  # a batch in flight finishes in the old one
            with contextlib.suppress(PersistenceError):
                await writing.wait()
        await asyncio.to_thread(_sync_and_close, old_fd)
        return closed

    async def snapshot(
        self,
        image: Callable[[], MapImage],
        upto: int,
        hold: Callable[[], Callable[[], None]] | None = None,
    ) -> int:
        """Write a snapshot of ``image()`` covering log segments ``<= upto``; drop them.

        Call it between callbacks of the event loop. With the ``process`` writer,
        ``image`` is called in a forked child (which sees the state as it was at the
        fork, whatever the loop changes afterwards: memory it shares with the agent,
        the records' arena, is kept as it is from ``hold()`` until the function that
        returned is called, when the child has exited); with ``thread``, on the loop (it
        must be frozen) and written by a worker thread. A writer process started by a
        call that was cancelled is waited for first (two never write at once). A writer
        process past its deadline (:data:`WRITER_DEADLINE_MIN`, or
        :data:`WRITER_DEADLINE_FACTOR` times the last snapshot's duration) is killed and
        this replica falls back to the thread writer (:attr:`writer_kills` counts them).
        Returns the snapshot's size in bytes.

        Raises:
            PersistenceError: The snapshot could not be written.
        """
        previous = self._child
        if previous is not None and not previous.done():
            with contextlib.suppress(Exception):
                await asyncio.shield(previous)
        started = time.monotonic()
        if self.snapshot_writer == "process":
            deadline = max(
                WRITER_DEADLINE_MIN, WRITER_DEADLINE_FACTOR * self._last_snapshot_seconds
            )
            release = hold() if hold is not None else None
            try:
                self._child = forked.run_in_child(
                    lambda: self._write_image(image(), upto), deadline
                )
            except BaseException:
                if release is not None:
                    release()
                raise
            if release is not None:  # when the child is gone, even if this call was cancelled
                self._child.add_done_callback(lambda _: release())
            try:
                size = await asyncio.shield(self._child)
            except forked.ChildHungError:
                self.writer_kills += 1
                self.snapshot_writer = "thread"
                log.error(
                    "event=snapshot_writer_killed directory=%s deadline=%.0f fallback=thread",
                    self.directory,
                    deadline,
                )
                raise
        else:
            size = await asyncio.to_thread(self._write_image, image(), upto)
        self._last_snapshot_seconds = time.monotonic() - started
        await asyncio.to_thread(self._drop_covered, upto)
        self.last_snapshot_bytes = size
        return size

    def _write_image(self, image: MapImage, upto: int) -> int:
        """Write ``snapshot.bin`` (a temporary file, fsynced, renamed); its size."""
        tmp = self.directory / f"{_SNAPSHOT}.tmp"
        with tmp.open("wb") as handle:
            size = snapshotfile.write_image(handle, image, upto)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.directory / _SNAPSHOT)
        dir_fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        return size

    def _drop_covered(self, upto: int) -> None:
        """Delete the files a new snapshot covers: the JSON one, segments ``<= upto``."""
        (self.directory / _JSON_SNAPSHOT).unlink(missing_ok=True)
        for number, path in self._segments():
            if number <= upto:
                path.unlink(missing_ok=True)

    def worth_folding(self, floor: int = 1 << 20) -> bool:
        """True once the log is a twelfth of the last snapshot (at least ``floor`` bytes).

        Folding costs a pass over the whole state; tying it to the log's size against
        the snapshot's bounds both that cost per write and the replay at recovery (at
        most about a twelfth of the keys' worth of log records, plus what was written while
        the last snapshot was, to replay after a crash).
        """
        return self._records_since_snapshot > 0 and self._wal_bytes >= max(
            floor, self.last_snapshot_bytes // FOLD_RATIO
        )

    def close(self) -> None:
        """Flush what is buffered and close the log."""
        if self._fd < 0:
            return
        with self._in_flight:  # the batch in flight, if any, goes first
            pass
        batch, lines = self._batch, self._pending
        self._batch, self._pending = None, []
        error: PersistenceError | None = None
        try:
            if lines:
                _write_all(self._fd, b"".join(lines), False, self._on_disk)
            if self.fsync != "never":
                os.fsync(self._fd)
        except OSError as err:
            error = PersistenceError(f"log write failed: {err}")
        finally:
            os.close(self._fd)
            self._fd = -1
        if batch is not None:
            batch.finish(error)


_Job = tuple[ReplicaFiles, int, bytes, bool, int, asyncio.AbstractEventLoop]


class _LogWriter:
    """The thread that writes every replica's log batches, in the order handed over."""

    _shared: _LogWriter | None = None
    _lock = threading.Lock()

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="statecast-log", daemon=True)
        self._thread.start()

    @classmethod
    def shared(cls) -> _LogWriter:
        """The process's writer (started on first use)."""
        writer = cls._shared
        if writer is None:
            with cls._lock:
                if cls._shared is None:
                    cls._shared = cls()
                writer = cls._shared
        return writer

    def put(self, job: _Job) -> None:
        """Write ``job`` (files, fd, bytes, fsync, offset, loop) after the jobs before it."""
        self._jobs.put(job)

    def _run(self) -> None:
        # as little Python as possible: this thread takes the interpreter lock from the
        # event loop for each batch
        get = self._jobs.get
        while True:
            files, fd, data, sync, start, loop = get()
            error: OSError | None = None
            try:
                _write_all(fd, data, sync, start)
            except OSError as err:
                error = err
            files._in_flight.release()
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
                loop.call_soon_threadsafe(files._written, error)


def _sync_and_close(fd: int) -> None:
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes, sync: bool, start: int) -> None:
    """Append ``data`` to the log (and fsync); on failure, cut the log back to ``start``.

    A batch half written (the disk filled up) would otherwise leave a damaged record
    with the next batch's records after it: corruption at recovery, not a torn tail.
    """
    try:
        written = os.write(fd, data)
        if written < len(data):
            view = memoryview(data)[written:]
            while view:
                view = view[os.write(fd, view) :]
        if sync:
            os.fsync(fd)
    except OSError:
        with contextlib.suppress(OSError):
            os.ftruncate(fd, start)
        raise
