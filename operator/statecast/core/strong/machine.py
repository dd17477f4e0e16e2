"""The key/value state machine a strong resource's log drives.

Deterministic: every replica applying the same entries in the same order reaches the
same state, and the outcome of an operation (the value after an increment, a delete of
a missing key, an increment of a value that is not a counter) is decided when its entry
is applied, so the leader answers a client with what every replica will see.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from statecast.core.strong.log import Operation

__all__ = ["KeyValueMachine", "Outcome", "Value", "render"]

#: A stored value: the JSON encoding of a put, or a counter.
Value = bytes | int


@dataclass(frozen=True)
class Outcome:
    """What applying one operation did.

    Attributes:
        status: ``ok``, ``not_found`` (delete of a missing key) or ``conflict``
            (increment of a value that is not a counter).
        value: The counter's value after an increment.
    """

    status: Literal["ok", "not_found", "conflict"] = "ok"
    value: int | None = None


class KeyValueMachine:
    """The state: key -> JSON value (bytes) or counter (int)."""

    def __init__(self, items: Mapping[str, Value] | None = None) -> None:
        self._items: dict[str, Value] = dict(items or {})

    def apply(self, operation: Operation) -> Outcome:
        """Apply one operation; return its outcome."""
        items = self._items
        if operation.kind == "put":
            items[operation.key] = operation.value
        elif operation.kind == "delete":
            if items.pop(operation.key, None) is None:
                return Outcome("not_found")
        elif operation.kind == "increment":
            current = items.get(operation.key, 0)
            if not isinstance(current, int):
                return Outcome("conflict")
            items[operation.key] = current + operation.by
            return Outcome("ok", current + operation.by)
        return Outcome()

    def get(self, key: str) -> Value | None:
        """The value of ``key`` (None if absent)."""
        return self._items.get(key)

    def items(self) -> Iterator[tuple[str, Value]]:
        """Every key and value, in key order."""
        return iter(sorted(self._items.items()))

    def __len__(self) -> int:
        return len(self._items)

    @property
    def payload_bytes(self) -> int:
        """Bytes of keys and values."""
        return sum(len(k) + (len(v) if isinstance(v, bytes) else 8) for k, v in self._items.items())

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready copy (values base64, counters as ``{"n": int}``)."""
        return {
            k: {"n": v} if isinstance(v, int) else base64.b64encode(v).decode()
            for k, v in self._items.items()
        }

    @classmethod
    def from_json(cls, raw: Any) -> KeyValueMachine:
        """Parse :meth:`to_json`'s form.

        Raises:
            ValueError: Not a state.
        """
        if not isinstance(raw, dict):
            raise ValueError("a state is an object")
        items: dict[str, Value] = {}
        for key, value in raw.items():
            items[str(key)] = (
                int(value["n"]) if isinstance(value, dict) else base64.b64decode(value)
            )
        return cls(items)

    def copy(self) -> KeyValueMachine:
        """An independent copy."""
        return KeyValueMachine(self._items)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, KeyValueMachine) and other._items == self._items

    __hash__ = None  # type: ignore[assignment]


def render(value: Value) -> bytes:
    """The JSON body of a stored value."""
    return str(value).encode() if isinstance(value, int) else value
