"""The durable log of a strong replica, in ``<data-dir>/<namespace>/<resource>/strong/``.

- ``log.jsonl``: one JSON line per record, appended and fsynced (group commit) before
  the replica answers: ``{"t": "p", "e": epoch}`` (a promise), ``{"t": "a", "x":
  [entry, ...]}`` (entries), ``{"t": "t", "i": index}`` (drop the entries from index on).
- ``snapshot.json``: ``{"promised", "snapshot": {"position", "state"}}``, written to a
  temporary file, fsynced and renamed; the log is then rewritten without the entries
  it covers (a crash between the two leaves entries the snapshot covers: replay skips
  them).

Unlike the eventual store's log there is no fsync policy: an entry counts towards a
majority only once it is on disk, whatever the agent's ``--fsync`` says.

A write that fails (a full disk) is cut back out of the file (nothing torn is left for
the next record to follow) and its records stay first in line: the next
:meth:`StrongFiles.durable` writes them again, before anything buffered after them, so
the file always holds a prefix of what was written in memory. While the last write
failed, :attr:`StrongFiles.failure` says why.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from statecast.agent.errors import PersistenceError
from statecast.core.strong.log import LogEntry
from statecast.core.strong.messages import (
    Append,
    InstallSnapshot,
    Promise,
    Record,
    Snapshot,
    Truncate,
)

__all__ = ["RecoveredLog", "StrongFiles"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RecoveredLog:
    """What was on disk: the promise, the snapshot and the entries after it."""

    promised: int
    snapshot: Snapshot | None
    entries: list[LogEntry]


def _encode(record: Record) -> dict[str, Any]:
    if isinstance(record, Promise):
        return {"t": "p", "e": record.epoch}
    if isinstance(record, Truncate):
        return {"t": "t", "i": record.index}
    assert isinstance(record, Append)
    return {"t": "a", "x": [e.to_json() for e in record.entries]}


class StrongFiles:
    """The log and snapshot of one strong replica.

    Args:
        directory: The replica's ``strong`` directory (created if missing).
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._fd = -1
        self._buffer: list[bytes] = []
        self._waiters: list[asyncio.Future[None]] = []
        self._flushing: asyncio.Task[None] | None = None
        self._promised = 0
        self._lock = asyncio.Lock()
        self.log_bytes = 0
        self.failure: str | None = None
        """Why the last write of the log failed (None: it did not)."""

    @property
    def _log(self) -> Path:
        return self.directory / "log.jsonl"

    def recover(self) -> RecoveredLog:
        """Read the snapshot and the log; open the log for appending.

        Raises:
            PersistenceError: A file is corrupt or the directory unusable.
        """
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            promised, snapshot = self._read_snapshot()
            entries: list[LogEntry] = []
            if self._log.exists():
                promised = self._replay(self._log.read_bytes(), promised, snapshot, entries)
            self._fd = os.open(self._log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            self.log_bytes = self._log.stat().st_size
        except OSError as err:
            raise PersistenceError(f"cannot use {self.directory}: {err}") from err
        self._promised = promised
        return RecoveredLog(promised, snapshot, entries)

    def _read_snapshot(self) -> tuple[int, Snapshot | None]:
        path = self.directory / "snapshot.json"
        if not path.exists():
            return 0, None
        try:
            raw = json.loads(path.read_bytes())
            return int(raw["promised"]), Snapshot.from_json(raw["snapshot"])
        except (ValueError, KeyError, TypeError) as err:
            raise PersistenceError(f"corrupt snapshot {path}: {err}") from err

    def _replay(
        self, data: bytes, promised: int, snapshot: Snapshot | None, entries: list[LogEntry]
    ) -> int:
        base = snapshot.position.index if snapshot is not None else 0
        lines = data.split(b"\n")
        for number, line in enumerate(lines):
            if not line:
                continue
            try:
                raw = json.loads(line)
                if raw["t"] == "p":
                    promised = max(promised, int(raw["e"]))
                elif raw["t"] == "t":
                    index = int(raw["i"])
                    del entries[max(index - base - 1, 0) :]
                else:
                    for item in raw["x"]:
                        entry = LogEntry.from_json(item)
                        if entry.index == base + len(entries) + 1:
                            entries.append(entry)
            except (ValueError, KeyError, TypeError) as err:
                if number >= len(lines) - 2:  # a torn last line was never acknowledged
                    log.warning("event=strong_log_torn_tail path=%s", self._log)
                    break
                raise PersistenceError(f"corrupt log {self._log} line {number + 1}: {err}") from err
        return promised

    # --- appending ----------------------------------------------------------------
    def write(self, records: list[Record]) -> list[InstallSnapshot]:
        """Buffer ``records`` for the next fsync; return the snapshots to install."""
        snapshots = []
        for record in records:
            if isinstance(record, InstallSnapshot):
                snapshots.append(record)
                continue
            if isinstance(record, Promise):
                self._promised = max(self._promised, record.epoch)
            self._buffer.append(json.dumps(_encode(record), separators=(",", ":")).encode() + b"\n")
        return snapshots

    async def durable(self) -> None:
        """Wait until everything written so far is on disk (one fsync for many writers)."""
        if not self._buffer and (self._flushing is None or self._flushing.done()):
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.create_task(self._flush_loop())
        await waiter

    async def _flush_loop(self) -> None:
        while self._buffer or self._waiters:
            async with self._lock:
                lines, waiters = self._buffer, self._waiters
                self._buffer, self._waiters = [], []
                data = b"".join(lines)
                try:
                    await asyncio.to_thread(_write_and_sync, self._fd, data, self.log_bytes)
                except OSError as err:
                    # cut back out; written again first by the next durable()
                    self._buffer = lines + self._buffer
                    self.failure = str(err)
                    log.error("event=strong_log_write_failed path=%s error=%s", self._log, err)
                    waiters, self._waiters = waiters + self._waiters, []
                    _settle(waiters, PersistenceError(f"log write failed: {err}"))
                    return
                self.failure = None
                self.log_bytes += len(data)
                _settle(waiters)

    async def install(self, current: Callable[[], tuple[Snapshot, list[LogEntry]]]) -> None:
        """Rewrite the files as ``current()`` says: the snapshot and the entries after it.

        ``current`` is read when nothing else writes, so whatever was buffered until
        then is in what it returns (the replica's state moves with its records).

        Raises:
            PersistenceError: The files could not be written.
        """
        async with self._lock:
            snapshot, entries = current()
            lines, waiters = self._buffer, self._waiters
            self._buffer, self._waiters = [], []
            try:
                await asyncio.to_thread(self._rewrite, snapshot, entries)
            except OSError as err:  # the old files stand: what was buffered is written later
                self._buffer = lines + self._buffer
                self.failure = str(err)
                _settle(waiters, PersistenceError(f"snapshot write failed: {err}"))
                raise PersistenceError(f"snapshot write failed: {err}") from err
            self.failure = None
            _settle(waiters)

    def _rewrite(self, snapshot: Snapshot, entries: list[LogEntry]) -> None:
        body = {"promised": self._promised, "snapshot": snapshot.to_json()}
        _replace(self.directory / "snapshot.json", json.dumps(body).encode())
        lines = [json.dumps({"t": "p", "e": self._promised}).encode() + b"\n"]
        if entries:
            record = {"t": "a", "x": [e.to_json() for e in entries]}
            lines.append(json.dumps(record, separators=(",", ":")).encode() + b"\n")
        data = b"".join(lines)
        _replace(self._log, data)  # (a failure leaves the old log, still open, in place)
        os.close(self._fd)
        self._fd = os.open(self._log, os.O_WRONLY | os.O_APPEND, 0o644)
        self.log_bytes = len(data)

    def close(self) -> None:
        """Close the log (what was buffered and not awaited was never acknowledged)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def _settle(waiters: list[asyncio.Future[None]], error: Exception | None = None) -> None:
    for waiter in waiters:
        if not waiter.done():
            if error is None:
                waiter.set_result(None)
            else:
                waiter.set_exception(error)


def _write_and_sync(fd: int, data: bytes, start: int) -> None:
    """Append ``data`` at ``start`` (the file's size) and fsync; on failure cut it back out.

    A short ``write(2)`` (a disk with room for part of it) is continued; what part of
    ``data`` was written before an error is truncated away, so the file never ends in a
    torn record that later records would follow.
    """
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    except OSError:
        os.ftruncate(fd, start)
        raise


def _replace(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    try:
        with tmp.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError:
        tmp.unlink(missing_ok=True)  # (no half-written file left to fill the disk)
        raise
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
