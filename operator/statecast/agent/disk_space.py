"""Room left on the file system of the agent's data directory, looked at before a write fails.

A replica's files say they cannot be written only when a write has failed
(:attr:`statecast.agent.persistence.ReplicaFiles.failure`): a copy nobody writes to - an
idle strong leader, say - sat on a full disk unnoticed. :class:`DiskSpace` asks the file
system how much room is left (``statvfs``, at most once per ``every`` seconds) and
:func:`statecast.core.storage.space_shortfall` says which copies are short of it; the
agent reports those like a failed write (``StorageAvailable=False``), so the operator
moves them while they can still be written.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from statecast.api.types import Ref
from statecast.core.storage import space_shortfall

__all__ = ["DiskSpace"]


def _free_bytes(directory: Path) -> int:
    found = os.statvfs(directory)
    return found.f_bavail * found.f_frsize


class DiskSpace:
    """Which of an agent's copies are short of room on its data directory's file system.

    Args:
        directory: The data directory (every replica's files are under it).
        floor: Bytes to keep free beyond a copy's next snapshot (0: never short).
        every: Seconds a reading of the free room is reused.
        free_bytes: Bytes free under a directory (a test seam; ``statvfs``).
        clock: Monotonic seconds (a test seam).
    """

    def __init__(
        self,
        directory: Path,
        floor: int,
        every: float = 1.0,
        free_bytes: Callable[[Path], int] = _free_bytes,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.directory, self.floor, self.every = directory, floor, every
        self._free_bytes, self._clock = free_bytes, clock
        self._read_at: float | None = None
        self._free: int | None = None
        self._short: set[Ref] = set()

    def free(self) -> int | None:
        """Bytes free now (a reading at most ``every`` seconds old; None: cannot be read)."""
        now = self._clock()
        if self._read_at is None or now - self._read_at >= self.every:
            self._read_at = now
            try:
                self._free = self._free_bytes(self.directory)
            except OSError:  # not created yet, or gone: a write says what is wrong
                self._free = None
        return self._free

    def shortfall(self, ref: Ref, snapshot_bytes: int) -> str | None:
        """Why the copy ``ref`` is short of room (None: it is not, or the room is unknown)."""
        if self.floor <= 0:
            return None
        free = self.free()
        reason = (
            None
            if free is None
            else space_shortfall(free, snapshot_bytes, self.floor, ref in self._short)
        )
        if reason is None:
            self._short.discard(ref)
        else:
            self._short.add(ref)
        return reason

    def forget(self, ref: Ref) -> None:
        """The copy ``ref`` is no longer held here: a later one starts without its past."""
        self._short.discard(ref)
