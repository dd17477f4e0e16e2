"""Write-ahead log and snapshots of one replica, in its own directory.

Layout of ``<data-dir>/<namespace>/<resource>/``:

- ``wal-<n>.log``: JSON lines, one per change, appended before the change is
  acknowledged. ``{"t": "push", "o": origin, "f": first, "l": last, "e": {key: entry}}``
  (a contiguous range of an origin's events, local writes included) or
  ``{"t": "sync", "v": vector, "e": {key: entry}}`` (what a peer sent in a sync).
- ``snapshot.json``: JSON lines; a header ``{"vv": vector, "wal": n}`` then one
  ``[key, entry]`` per key. Written to a temporary file, fsynced and renamed.

Replay joins records into the state, and joins are idempotent, so a record applied
twice (once from the snapshot, once from the log) does no harm. A torn last line (the
process died inside a write) is skipped: it was never acknowledged.

Fsync policies: ``always`` (group commit: acknowledged after fsync), ``interval``
(written before acknowledgement, fsynced every ``fsync_interval`` seconds: survives
``kill -9``, may lose the last interval on power loss), ``never`` (left to the OS).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from statecast.agent.errors import PersistenceError
from statecast.core.crdt import Entry, MalformedEntryError, decode_entry, encode_entry
from statecast.core.crdt.table import EntryTable

__all__ = ["FsyncPolicy", "Recovered", "ReplicaFiles", "WalRecord"]

log = logging.getLogger(__name__)

FsyncPolicy = Literal["always", "interval", "never"]


@dataclass(frozen=True)
class WalRecord:
    """One decoded log record.

    Attributes:
        entries: Key -> joined state.
        origin: For a push record, the replica whose events ``first..last`` it holds.
        first: First event of the range (push records).
        last: Last event of the range (push records).
        vector: For a sync record, the sender's version vector.
    """

    entries: dict[str, Entry]
    origin: str | None = None
    first: int = 0
    last: int = 0
    vector: dict[str, int] | None = None


@dataclass(frozen=True)
class Recovered:
    """What was found on disk: the snapshot (read straight into a table) and the log after it."""

    entries: EntryTable
    vector: dict[str, int]
    records: list[WalRecord]


def _encode_entries(entries: Mapping[str, Entry]) -> dict[str, Any]:
    return {k: encode_entry(e) for k, e in entries.items()}


def _decode_record(raw: Any) -> WalRecord:
    entries = {str(k): decode_entry(e) for k, e in raw["e"].items()}
    if raw["t"] == "push":
        return WalRecord(entries, str(raw["o"]), int(raw["f"]), int(raw["l"]))
    return WalRecord(entries, vector={str(r): int(s) for r, s in raw["v"].items()})


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
        self._dirty = False
        self.last_snapshot_bytes = 0

    # --- recovery -----------------------------------------------------------------
    def _segments(self) -> list[int]:
        numbers = []
        for path in self.directory.glob("wal-*.log"):
            with contextlib.suppress(ValueError):
                numbers.append(int(path.stem.removeprefix("wal-")))
        return sorted(numbers)

    def recover(self) -> Recovered:
        """Read the snapshot and every log record; open a fresh log segment.

        Raises:
            PersistenceError: The snapshot is corrupt or the directory unusable.
        """
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            entries, vector = self._read_snapshot()
            records: list[WalRecord] = []
            segments = self._segments()
            for number in segments:
                records.extend(self._read_segment(self.directory / f"wal-{number}.log"))
            self._segment = (segments[-1] if segments else 0) + 1
            self._open_segment()
        except OSError as err:
            raise PersistenceError(f"cannot use {self.directory}: {err}") from err
        self._records_since_snapshot = len(records)
        return Recovered(entries, vector, records)

    def _read_snapshot(self) -> tuple[EntryTable, dict[str, int]]:
        path = self.directory / "snapshot.json"
        entries = EntryTable()
        if not path.exists():
            return entries, {}
        self.last_snapshot_bytes = path.stat().st_size
        try:
            with path.open("rb") as handle:
                header = json.loads(handle.readline())
                for line in handle:
                    key, raw = json.loads(line)
                    entries[str(key)] = decode_entry(raw)
        except (ValueError, KeyError, TypeError, MalformedEntryError) as err:
            raise PersistenceError(f"corrupt snapshot {path}: {err}") from err
        return entries, {str(r): int(s) for r, s in header["vv"].items()}

    def _read_segment(self, path: Path) -> Iterator[WalRecord]:
        with path.open("rb") as handle:
            lines = handle.read().split(b"\n")
        for number, line in enumerate(lines):
            if not line:
                continue
            try:
                yield _decode_record(json.loads(line))
            except (ValueError, KeyError, TypeError, MalformedEntryError) as err:
                if number >= len(lines) - 2:
                    log.warning("event=wal_torn_tail path=%s", path)
                    return
                raise PersistenceError(f"corrupt log {path} line {number + 1}: {err}") from err

    # --- appending ----------------------------------------------------------------
    def _open_segment(self) -> None:
        path = self.directory / f"wal-{self._segment}.log"
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._wal_bytes = 0

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
        record = {"t": "push", "o": origin, "f": first, "l": last, "e": _encode_entries(entries)}
        return self._write(json.dumps(record, separators=(",", ":")).encode() + b"\n")

    def append_sync(self, vector: Mapping[str, int], entries: Mapping[str, Entry]) -> bytes:
        """Encode and write a sync record (see :meth:`write`)."""
        record = {"t": "sync", "v": dict(vector), "e": _encode_entries(entries)}
        return self._write(json.dumps(record, separators=(",", ":")).encode() + b"\n")

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
            await asyncio.to_thread(os.fsync, self._fd)

    # --- snapshots ----------------------------------------------------------------
    async def rotate(self) -> int:
        """Start a new log segment; return the number of the segment now closed."""
        if self._flushing is not None and not self._flushing.done():
            await self._flushing
        if self._buffer:
            _write_and_sync(self._fd, b"".join(self._buffer))
            self._buffer.clear()
        os.fsync(self._fd)
        os.close(self._fd)
        closed = self._segment
        self._segment += 1
        self._open_segment()
        self._records_since_snapshot = 0
        return closed

    def write_snapshot(
        self, entries: Mapping[str, Entry], vector: Mapping[str, int], upto: int
    ) -> int:
        """Write a snapshot covering log segments ``<= upto``, then delete them.

        Safe to run in a worker thread: it reads only its arguments (``entries`` must not
        change meanwhile: a frozen view such as ``DeltaMap.entries()``). Returns the
        snapshot's size in bytes.
        """
        tmp = self.directory / "snapshot.json.tmp"
        size = 0
        with tmp.open("wb") as handle:
            header = json.dumps({"vv": dict(vector), "wal": upto}).encode() + b"\n"
            handle.write(header)
            size += len(header)
            for key, entry in entries.items():
                line = json.dumps([key, encode_entry(entry)], separators=(",", ":")).encode()
                handle.write(line + b"\n")
                size += len(line) + 1
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.directory / "snapshot.json")
        dir_fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        for number in self._segments():
            if number <= upto:
                (self.directory / f"wal-{number}.log").unlink(missing_ok=True)
        self.last_snapshot_bytes = size
        return size

    def worth_folding(self, floor: int = 1 << 20) -> bool:
        """True once the log is a quarter of the last snapshot (at least ``floor`` bytes).

        Folding costs a pass over the whole state; tying it to the log's size against
        the snapshot's bounds both that cost per write and the replay at recovery.
        """
        return self._records_since_snapshot > 0 and self._wal_bytes >= max(
            floor, self.last_snapshot_bytes // 4
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


def _write_and_sync(fd: int, data: bytes) -> None:
    os.write(fd, data)
    os.fsync(fd)
