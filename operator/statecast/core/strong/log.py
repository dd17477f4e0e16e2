"""Log entries, the operations they carry, and log positions.

An entry is identified by ``(epoch, index)``: the epoch of the leader that appended it
and its place in the log. Two logs holding an entry with the same ``(epoch, index)``
hold the same entries up to it (the leader of an epoch appends each index once, and a
replica accepts entries only after the one before them matches). A
:class:`LogPosition` (the epoch and index of a log's last entry) orders logs by how up
to date they are: a later epoch first, then a longer log.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "KINDS", "LogEntry", "LogPosition", "Operation", "OperationKind", "most_up_to_date",
    "seed_operation", "seed_values",
]  # fmt: skip

OperationKind = Literal["put", "delete", "increment", "noop", "seed"]


@dataclass(frozen=True)
class Operation:
    """A change a log entry makes to the state.

    Attributes:
        kind: ``put`` (``value`` to ``key``), ``delete`` (``key``), ``increment``
            (``key`` by ``by``), ``noop`` (the entry a new leader opens its epoch with)
            or ``seed`` (the resource's initial state, ``value``: a JSON object of key
            to JSON value text; the first leader opens the first epoch with it instead
            of a no-op, see :func:`seed_operation`).
        key: The key changed.
        value: The JSON-encoded value of a put.
        by: The amount of an increment.
        request: The client's id for this write (empty: none). A write resent with the
            same id after an unknown outcome is applied once: the state remembers the
            outcome of the ids it applied (:class:`~statecast.core.strong.machine.KeyValueMachine`).
    """

    kind: OperationKind
    key: str = ""
    value: bytes = b""
    by: int = 0
    request: str = ""

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready form (values base64)."""
        out: dict[str, Any] = {"k": self.kind}
        if self.kind not in ("noop", "seed"):
            out["key"] = self.key
        if self.kind in ("put", "seed"):
            out["v"] = base64.b64encode(self.value).decode()
        if self.kind == "increment":
            out["by"] = self.by
        if self.request:
            out["r"] = self.request
        return out

    @classmethod
    def from_json(cls, raw: Any) -> Operation:
        """Parse :meth:`to_json`'s form.

        Raises:
            ValueError: Not an operation.
        """
        if not isinstance(raw, dict) or raw.get("k") not in KINDS:
            raise ValueError(f"not an operation: {raw!r}")
        kind = raw["k"]
        value = base64.b64decode(raw["v"]) if kind in ("put", "seed") else b""
        by = int(raw["by"]) if kind == "increment" else 0
        return cls(kind, str(raw.get("key", "")), value, by, str(raw.get("r", "")))


#: Every operation kind.
KINDS = ("put", "delete", "increment", "noop", "seed")


def seed_operation(values: Mapping[str, bytes]) -> Operation:
    """The ``seed`` operation of a source's values (each a UTF-8 JSON text)."""
    document = {key: value.decode() for key, value in sorted(values.items())}
    return Operation("seed", value=json.dumps(document, separators=(",", ":")).encode())


def seed_values(operation: Operation) -> dict[str, bytes]:
    """The values a ``seed`` operation sets (key -> JSON text)."""
    document = json.loads(operation.value)
    return {str(key): str(value).encode() for key, value in document.items()}


@dataclass(frozen=True, order=True)
class LogPosition:
    """Where a log ends: the epoch and index of its last entry (0, 0 when empty).

    Ordered by how up to date a log is: a later epoch first, then a longer log.
    """

    epoch: int = 0
    index: int = 0

    def to_json(self) -> dict[str, int]:
        """``{"epoch", "index"}``."""
        return {"epoch": self.epoch, "index": self.index}


@dataclass(frozen=True)
class LogEntry:
    """One entry of a replica's log."""

    epoch: int
    index: int
    operation: Operation

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {"e": self.epoch, "i": self.index, "op": self.operation.to_json()}

    @classmethod
    def from_json(cls, raw: Any) -> LogEntry:
        """Parse :meth:`to_json`'s form.

        Raises:
            ValueError: Not an entry.
        """
        try:
            return cls(int(raw["e"]), int(raw["i"]), Operation.from_json(raw["op"]))
        except (KeyError, TypeError) as err:
            raise ValueError(f"not a log entry: {raw!r}") from err


def most_up_to_date(positions: dict[str, LogPosition]) -> str | None:
    """The node whose log is the most up to date (ties: the first name); None if none."""
    if not positions:
        return None
    return min(positions, key=lambda node: (-positions[node].epoch, -positions[node].index, node))
