"""Giving freed memory back to the system, and keeping the garbage collector short.

glibc's allocator keeps memory a process freed for its own later use (its top-of-heap
threshold and mmap threshold grow with the allocations it has seen), so after a burst of
large request bodies an agent's RSS stays at the burst's height. ``malloc_trim(0)``
returns free pages of every arena to the system. Elsewhere (musl, macOS) it is a no-op.

Python's cyclic garbage collector, in a full collection, walks every object that can
hold references: in the agent some 47,000 made by importing its modules (classes,
functions, the Kubernetes client's models), which live as long as the process. Such a
collection held the event loop 20-34 ms on this machine, more than the agent's 20 ms
pause target, whenever allocations (decoding a sync answer, JSON bodies) set one off.
:func:`freeze_startup_objects` moves them out of the collector's sight (``gc.freeze``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
from collections.abc import Callable

__all__ = ["freeze_startup_objects", "release_free_memory"]

log = logging.getLogger(__name__)


def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


_TRIM = _malloc_trim()


def release_free_memory() -> bool:
    """Return the C allocator's free memory to the system; True if it could try."""
    if _TRIM is None:
        return False
    _TRIM(0)
    log.debug("event=memory_trimmed")
    return True


def freeze_startup_objects() -> int:
    """Collect once, then exempt every object alive now from later collections.

    Call it once the process has imported its modules and loaded its state, before it
    serves. Objects alive now are never collected afterwards (a cycle among them that
    becomes garbage stays: startup objects live as long as the process anyway).

    Returns:
        How many objects are frozen.
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
