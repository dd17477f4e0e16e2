"""Which status fields a reconcile must write: only those the API server does not hold.

The API server fills the CRD's defaults into what it stores (a replica row's ``unmerged:
false``, say), so the status a reconcile computes and the one it reads back differ even
when nothing changed; comparing them naively writes every field on every resync.
:func:`changed_fields` compares them as the server stores them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["changed_fields", "same_as_stored"]


def _is_default(value: Any) -> bool:
    """Whether ``value`` is what a CRD default (false, 0, '', [], {}) or nothing gives."""
    if value is None or value is False:
        return True
    if isinstance(value, (list, dict, str)):
        return not value
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == 0


def same_as_stored(computed: Any, stored: Any) -> bool:
    """Whether ``stored`` is ``computed`` as the API server keeps it.

    Dicts match when every computed key matches and the keys only ``stored`` has hold a
    default value; lists match item by item; anything else by equality.
    """
    if isinstance(computed, Mapping) and isinstance(stored, Mapping):
        if any(k not in stored or not same_as_stored(v, stored[k]) for k, v in computed.items()):
            return False
        return all(_is_default(v) for k, v in stored.items() if k not in computed)
    if isinstance(computed, list) and isinstance(stored, list):
        return len(computed) == len(stored) and all(
            same_as_stored(c, s) for c, s in zip(computed, stored, strict=True)
        )
    return bool(computed == stored)


def changed_fields(stored: Mapping[str, Any], computed: Mapping[str, Any]) -> dict[str, Any]:
    """The top-level fields of ``computed`` that ``stored`` does not already hold."""
    return {k: v for k, v in computed.items() if not same_as_stored(v, stored.get(k))}
