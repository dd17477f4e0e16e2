"""What the clients did and saw: one record per operation, shared by the workload threads.

An operation is a call into the client library with the time it started and ended (on
this machine's monotonic clock, in seconds since the run began), its outcome and what it
returned. Outcomes, as Jepsen names them:

- ``ok``: acknowledged (a write's ``version`` is kept, an increment's new total);
- ``fail``: refused with an answer that says nothing was applied (4xx, 503);
- ``info``: indeterminate: the request may or may not have been applied (the
  connection broke after it was sent, no agent answered, or an agent said so: 503
  ``outcome_unknown``).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["History", "Operation", "Outcome", "outcome_of"]

Outcome = Literal["ok", "fail", "info"]
Kind = Literal["write", "read", "increment"]

#: The error code of an answer that says the write may or may not apply.
OUTCOME_UNKNOWN = "outcome_unknown"


def outcome_of(status: int, code: str) -> Outcome:
    """What an error answer says of a write: ``fail`` if nothing was applied, else ``info``.

    4xx and 503 answers apply nothing, except 503 ``outcome_unknown`` (a strong write
    appended but not committed in time; a forwarded increment whose replica broke off
    after it may have received it); no answer (status 0) or another server error may
    have applied it.
    """
    if code == OUTCOME_UNKNOWN:
        return "info"
    return "fail" if 400 <= status < 500 or status == 503 else "info"


@dataclass(frozen=True)
class Operation:
    """One client operation.

    Attributes:
        kind: ``write``, ``read`` or ``increment``.
        client: The client that made it (``<node>/<role>``).
        node: The node the client runs on.
        key: The key.
        start: When it was called (seconds since the run began).
        end: When it returned.
        outcome: ``ok``, ``fail`` or ``info``.
        value: What a write wrote, a read returned, or an increment added.
        version: A write's acknowledged version (``wall.logical.replica``).
        error: The error code of a failed or indeterminate attempt (``404``,
            ``503 replica_syncing``, ``no_agent`` ...).
        attempts: Requests it took (a read is retried until it is served).
        served: ``local`` or ``remote`` for a read.
    """

    kind: Kind
    client: str
    node: str
    key: str
    start: float
    end: float
    outcome: Outcome
    value: Any = None
    version: str | None = None
    error: str | None = None
    attempts: int = 1
    served: str | None = None


class History:
    """Operations recorded by many threads, and every error code seen per attempt."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.operations: list[Operation] = []
        self.errors: dict[str, int] = {}
        self.error_times: list[tuple[float, str, str]] = []

    def add(self, operation: Operation) -> None:
        """Record an operation."""
        with self._lock:
            self.operations.append(operation)

    def error(self, at: float, client: str, code: str) -> None:
        """Count one failed attempt (a request that got an error or no answer)."""
        with self._lock:
            self.errors[code] = self.errors.get(code, 0) + 1
            self.error_times.append((at, client, code))

    def snapshot(self) -> list[Operation]:
        """The operations so far, in the order they were recorded."""
        with self._lock:
            return list(self.operations)
