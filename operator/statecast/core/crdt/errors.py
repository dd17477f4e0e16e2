"""Errors of the CRDT layer.

Exception tree::

    CrdtError
    ├── CounterConflictError   an increment on a key that holds a non-counter value
    └── MalformedEntryError    an encoded entry (wire or disk) that cannot be decoded
"""

from __future__ import annotations

__all__ = ["CounterConflictError", "CrdtError", "MalformedEntryError"]


class CrdtError(Exception):
    """Base of every error raised by :mod:`statecast.core.crdt`."""


class CounterConflictError(CrdtError):
    """An increment was asked of a key whose visible value is not a counter."""


class MalformedEntryError(CrdtError):
    """An encoded entry does not have the expected shape."""
