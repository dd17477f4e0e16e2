"""Giving freed memory back to the system.

glibc's allocator keeps memory a process freed for its own later use (its top-of-heap
threshold and mmap threshold grow with the allocations it has seen), so after a burst of
large request bodies an agent's RSS stays at the burst's height. ``malloc_trim(0)``
returns free pages of every arena to the system. Elsewhere (musl, macOS) it is a no-op.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from collections.abc import Callable

__all__ = ["release_free_memory"]

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
