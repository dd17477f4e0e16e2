"""Write-ahead log and snapshots of one replica, in its own directory.

Layout of ``<data-dir>/<namespace>/<resource>/`` (formats in :mod:`.logfile` and
:mod:`.snapshotfile`, binary, versioned and checksummed):

- ``log-<n>.bin``: one record per change, appended before the change is acknowledged: a
  push (a contiguous range of an origin's events, local writes included, with the new
  state of the keys they touched) or a sync (what a peer sent for our vector).
- ``snapshot.bin``: the whole state at one moment (a ``MapImage``) and the number of
  the last segment it covers. Written to a temporary file in a worker thread, fsynced,
  renamed, the directory fsynced; then the segments it covers are deleted.

Files of the JSON format of before (``wal-<n>.log``, ``snapshot.json``) are read at
recovery, in the same order; the first snapshot written afterwards replaces them.

Replay joins records into the state, and joins are idempotent, so a record applied
twice (once from the snapshot, once from the log) does no harm. A record torn at the
end of the log (the process died inside a write) is skipped: it was never acknowledged.

Fsync policies: ``always`` (group commit: acknowledged after fsync), ``interval``
(written before acknowledgement, fsynced every ``fsync_interval`` seconds: survives
``kill -9``, may lose the last interval on power loss), ``never`` (left to the OS).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from statecast.agent import logfile, snapshotfile
from statecast.agent.errors import PersistenceError
from statecast.agent.logfile import WalRecord
from statecast.core.crdt import Entry, MapImage
from statecast.core.crdt.table import EntryTable

__all__ = ["FsyncPolicy", "Recovered", "ReplicaFiles", "WalRecord"]

log = logging.getLogger(__name__)

FsyncPolicy = Literal["always", "interval", "never"]

_SEGMENT = re.compile(r"^(?:log-(\d+)\.bin|wal-(\d+)\.log)$")
_SNAPSHOT = "snapshot.bin"
#: The log is folded into a snapshot once it is this fraction (1/n) of the last one.
FOLD_RATIO = 8
_JSON_SNAPSHOT = "snapshot.json"  # the format of before: read, then replaced


@dataclass(frozen=True)
class Recovered:
    """The snapshot found on disk.

    Attributes:
        image: A binary snapshot's state (its entries a table to adopt), if any.
        legacy: A JSON snapshot's entries and version vector, if that is what was found.
    """

    image: MapImage | None
    legacy: tuple[EntryTable, dict[str, int]] | None


class ReplicaFiles:
    """The log and snapshot files of one replica.

    Args:
        directory: The replica's directory (created if missing).
        fsync: The fsync policy.
        fsync_interval: Seconds between fsyncs under the ``interval`` policy.
    """

    def __init__(
        self, directory: Path, fsync: FsyncPolicy = "interval", fsync_interval: float = 1.0
    ) -> None:
        self.directory = directory
        self.fsync = fsync
        self.fsync_interval = fsync_interval
        self._segment = 0
        self._fd = -1
        self._wal_bytes = 0
        self._records_since_snapshot = 0
        self._buffer: list[bytes] = []
        self._waiters: list[asyncio.Future[None]] = []
        self._flushing: asyncio.Task[None] | None = None
        self._syncing: asyncio.Future[None] | None = None
        self._dirty = False
        self._replay: list[Path] = []
        self.last_snapshot_bytes = 0

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
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._wal_bytes = os.fstat(self._fd).st_size
        if not self._wal_bytes:
            os.write(self._fd, logfile.MAGIC)
            self._wal_bytes = len(logfile.MAGIC)

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
    ) -> bytes:
        """Encode and write a push record (see :meth:`write`)."""
        return self._write(logfile.encode_push(origin, first, last, entries))

    def append_sync(self, vector: Mapping[str, int], entries: Mapping[str, Entry]) -> bytes:
        """Encode and write a sync record (see :meth:`write`)."""
        return self._write(logfile.encode_sync(vector, entries))

    def _write(self, line: bytes) -> bytes:
        self._records_since_snapshot += 1
        self._wal_bytes += len(line)
        if self.fsync == "always":
            self._buffer.append(line)
        else:
            os.write(self._fd, line)
            self._dirty = True
        return line

    async def durable(self) -> None:
        """Wait until everything appended so far is as durable as the policy promises."""
        if self.fsync != "always" or not self._buffer:
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.create_task(self._flush_loop())
        await waiter

    async def _flush_loop(self) -> None:
        while self._buffer:
            lines, waiters = self._buffer, self._waiters
            self._buffer, self._waiters = [], []
            fd = self._fd
            try:
                await asyncio.to_thread(_write_and_sync, fd, b"".join(lines))
            except OSError as err:
                for waiter in waiters:
                    waiter.set_exception(PersistenceError(f"log write failed: {err}"))
                continue
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)

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
        while self._flushing is not None and not self._flushing.done():
            await self._flushing  # group commits in flight finish in the old segment
        if self._syncing is not None and not self._syncing.done():
            with contextlib.suppress(OSError):  # its fd is about to be closed
                await asyncio.shield(self._syncing)
        closed, old_fd = self._segment, self._fd
        self._segment += 1
        self._open_segment()
        self._records_since_snapshot = 0
        await asyncio.to_thread(_sync_and_close, old_fd)
        return closed

    def write_snapshot(self, image: MapImage, upto: int) -> int:
        """Write a snapshot covering log segments ``<= upto``, then delete them.

        Safe to run in a worker thread: it reads only the frozen ``image``. Returns the
        snapshot's size in bytes.
        """
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
        (self.directory / _JSON_SNAPSHOT).unlink(missing_ok=True)
        for number, path in self._segments():
            if number <= upto:
                path.unlink(missing_ok=True)
        self.last_snapshot_bytes = size
        return size

    def worth_folding(self, floor: int = 1 << 20) -> bool:
        """True once the log is an eighth of the last snapshot (at least ``floor`` bytes).

        Folding costs a pass over the whole state; tying it to the log's size against
        the snapshot's bounds both that cost per write and the replay at recovery (at
        most about a tenth of the keys' worth of log records to replay after a crash).
        """
        return self._records_since_snapshot > 0 and self._wal_bytes >= max(
            floor, self.last_snapshot_bytes // FOLD_RATIO
        )

    def close(self) -> None:
        """Flush what is buffered and close the log."""
        if self._fd >= 0:
            if self._buffer:
                os.write(self._fd, b"".join(self._buffer))
                self._buffer.clear()
            if self.fsync != "never":
                os.fsync(self._fd)
            os.close(self._fd)
            self._fd = -1


def _sync_and_close(fd: int) -> None:
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_and_sync(fd: int, data: bytes) -> None:
    os.write(fd, data)
    os.fsync(fd)
