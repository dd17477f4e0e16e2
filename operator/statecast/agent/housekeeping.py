"""Work the replicas' tables leave pending, done in slices between requests.

A replica's table grows its index and reclaims dead records incrementally (see
``statecast.core.crdt.table``): every write does a little, and the rest is done here,
in slices of about a millisecond with a turn of the event loop between them, so the
work finishes even when writes stop and no request ever waits behind more than one
slice. The loop sleeps until a replica reports pending work.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable

from statecast.core.crdt import DeltaMap

__all__ = ["Housekeeper"]

#: Seconds of work per slice, and the work units asked of a table at a time.
SLICE_SECONDS = 0.001
_STEP = 512


class Housekeeper:
    """Runs the pending table work of every replica, a slice per event-loop turn.

    Args:
        maps: Returns the replicas' maps (read at each slice: replicas come and go).
        slice_seconds: Work per slice.
    """

    def __init__(
        self, maps: Callable[[], Iterable[DeltaMap]], slice_seconds: float = SLICE_SECONDS
    ) -> None:
        self._maps = maps
        self._slice = slice_seconds
        self._pending = asyncio.Event()
        #: Slices run (for tests and /metrics).
        self.slices = 0

    def wake(self) -> None:
        """Note that some replica has pending work (cheap: called after writes)."""
        self._pending.set()

    def run_slice(self) -> bool:
        """Do one slice of work; return True if some may be left."""
        deadline = time.perf_counter() + self._slice
        left = False
        for state in list(self._maps()):
            while state.maintain(_STEP):
                if time.perf_counter() >= deadline:
                    left = True
                    break
        self.slices += 1
        return left

    async def run(self) -> None:
        """Work whenever woken, yielding to the loop between slices (until cancelled)."""
        while True:
            await self._pending.wait()
            self._pending.clear()
            more = self.run_slice()
            while more:
                await asyncio.sleep(0)  # one turn of the loop: requests waiting run now
                more = self.run_slice()
