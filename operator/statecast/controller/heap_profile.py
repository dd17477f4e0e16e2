"""Heap snapshots of a running operator, for finding what holds its memory.

With ``STATECAST_HEAP_PROFILE=DIR`` the operator traces its Python allocations from
the start (:mod:`tracemalloc`, 12 frames each: slower, for profiling runs only) and
writes a snapshot to ``DIR/heap-<seconds since start>.snapshot`` each time it gets
SIGUSR2 (``kill -USR2 PID``). Compare two with ``python -m bench.heap_diff A B``.
"""

from __future__ import annotations

import logging
import os
import signal
import time
import tracemalloc
from pathlib import Path
from types import FrameType

__all__ = ["ENV", "start_heap_profile"]

log = logging.getLogger(__name__)
ENV = "STATECAST_HEAP_PROFILE"
FRAMES = 12


def start_heap_profile(directory: str | None = None) -> Path | None:
    """Trace allocations and snapshot on SIGUSR2 into ``directory`` (default: ``$ENV``).

    Returns:
        The directory, or None when no profile was asked for.
    """
    directory = directory or os.environ.get(ENV)
    if not directory:
        return None
    where = Path(directory)
    where.mkdir(parents=True, exist_ok=True)
    tracemalloc.start(FRAMES)
    started = time.monotonic()

    def snapshot(_signum: int, _frame: FrameType | None) -> None:
        path = where / f"heap-{time.monotonic() - started:06.0f}.snapshot"
        tracemalloc.take_snapshot().dump(str(path))
        log.info("event=heap-snapshot path=%s traced_mb=%.1f", path,
                 tracemalloc.get_traced_memory()[0] / 2**20)  # fmt: skip

    signal.signal(signal.SIGUSR2, snapshot)
    log.info("event=heap-profile-started directory=%s frames=%d", where, FRAMES)
    return where
