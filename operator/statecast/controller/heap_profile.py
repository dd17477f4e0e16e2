"""Heap snapshots of a running operator, for finding what holds its memory.

With ``STATECAST_HEAP_PROFILE=DIR`` the operator starts tracing its Python allocations
(:mod:`tracemalloc`, 12 frames each: slower, for profiling runs only) at the first
SIGUSR2 it gets (``kill -USR2 PID``), and writes a snapshot to
``DIR/heap-<seconds since start>.snapshot`` at each later one: a snapshot holds what
was allocated since tracing started and is still alive (what grew). Tracing from the
start slowed the operator's imports tenfold. Read one with ``python -m bench.heap_diff``.
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
    """Arm SIGUSR2: trace allocations from the first, snapshot into ``directory`` at the next.

    ``directory`` defaults to ``$STATECAST_HEAP_PROFILE``.

    Returns:
        The directory, or None when no profile was asked for.
    """
    directory = directory or os.environ.get(ENV)
    if not directory:
        return None
    where = Path(directory)
    where.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()

    def snapshot(_signum: int, _frame: FrameType | None) -> None:
        if not tracemalloc.is_tracing():
            tracemalloc.start(FRAMES)
            log.info("event=heap-tracing-started frames=%d", FRAMES)
            return
        path = where / f"heap-{time.monotonic() - started:06.0f}.snapshot"
        tracemalloc.take_snapshot().dump(str(path))
        log.info("event=heap-snapshot path=%s traced_mb=%.1f", path,
                 tracemalloc.get_traced_memory()[0] / 2**20)  # fmt: skip

    signal.signal(signal.SIGUSR2, snapshot)
    log.info("event=heap-profile-armed directory=%s (SIGUSR2: trace, then snapshot)", where)
    return where
