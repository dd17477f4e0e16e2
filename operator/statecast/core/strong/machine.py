"""The key/value state machine a strong resource's log drives.

Deterministic: every replica applying the same entries in the same order reaches the
same state, and the outcome of an operation (the value after an increment, a delete of
a missing key, an increment of a value that is not a counter) is decided when its entry
is applied, so the leader answers a client with what every replica will see.
"""

from __future__ import annotations

import base64
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from statecast.core.strong.log import Operation, seed_values

__all__ = [
    "ATTEMPT",
    "FORWARDED",
    "REMEMBERED",
    "SHORT_LIVED_REMEMBERED",
    "KeyValueMachine",
    "Outcome",
    "Value",
    "render",
]

#: Outcomes of this many most recent request ids are remembered (a resent write older
#: than that would be applied again: clients resend within seconds).
REMEMBERED = 65_536
#: The start of the ids a follower gives the writes it forwards unnamed, and of those
#: the client library gives a PUT or DELETE for one call. Such a write is sent again
#: only within that one request or call (an HTTP library's resend on a new connection,
#: the client's next agent after a broken connection), so fewer are remembered, apart
#: (their traffic does not push out the ids clients chose): 16,384 is 39 s of the most
#: strong writes one leader took here (418/s), 4.9 MiB when full.
FORWARDED = "fwd:"
ATTEMPT = "try:"
SHORT_LIVED_REMEMBERED = 16_384

#: A stored value: the JSON encoding of a put, or a counter.
Value = bytes | int


@dataclass(frozen=True)
class Outcome:
    """What applying one operation did.

    Attributes:
        status: ``ok``, ``not_found`` (delete of a missing key) or ``conflict``
            (increment of a value that is not a counter).
        value: The counter's value after an increment.
        at: Epoch and index of the entry that applied it, for a named write (its
            remembered outcome: a resend answers where the write took effect).
    """

    status: Literal["ok", "not_found", "conflict"] = "ok"
    value: int | None = None
    at: tuple[int, int] | None = None


def _remembered_as(operation: Operation) -> str:
    """The name a request id's outcome is remembered under: kind, key and id."""
    return f"{operation.kind}:{len(operation.key)}:{operation.key}:{operation.request}"


def _short_lived(remembered: str) -> bool:
    """True for a name of :func:`_remembered_as` whose id a follower or a call made."""
    _, _, rest = remembered.partition(":")
    length, _, rest = rest.partition(":")
    return length.isdigit() and rest[int(length) + 1 :].startswith((FORWARDED, ATTEMPT))


class KeyValueMachine:
    """The state: key -> JSON value (bytes) or counter (int), and the recent request ids.

    An operation with a request id applied before is not applied again: its first
    outcome is returned (at-most-once for resent writes, as Raft's client sessions).
    The id is remembered with the operation's kind and key: a resend is the same write,
    and an id a client reuses for another write or key is another write (not the first
    one's outcome: an increment answered a put's outcome, without a value). Ids a
    follower or the client library made for one request (:data:`FORWARDED`,
    :data:`ATTEMPT`) are remembered apart, fewer of them.
    """

    def __init__(
        self,
        items: Mapping[str, Value] | None = None,
        requests: Mapping[str, Outcome] | None = None,
    ) -> None:
        self._items: dict[str, Value] = dict(items or {})
        # first in, first out: an OrderedDict forgets its oldest in O(1) (a dict finds
        # its first key by scanning the slots deleted before it: a write once full took
        # twice the CPU of one while filling, bench.strong_ids - session 12)
        self._requests: OrderedDict[str, Outcome] = OrderedDict()
        self._short: OrderedDict[str, Outcome] = OrderedDict()
        for name, outcome in (requests or {}).items():
            self._memory(name)[0][name] = outcome

    def _memory(self, remembered: str) -> tuple[OrderedDict[str, Outcome], int]:
        if _short_lived(remembered):
            return self._short, SHORT_LIVED_REMEMBERED
        return self._requests, REMEMBERED

    def apply(self, operation: Operation, at: tuple[int, int] | None = None) -> Outcome:
        """Apply one operation (once per request id); return its outcome.

        ``at`` (the entry's epoch and index) is remembered with a named write's outcome.
        The oldest remembered id is forgotten when a new one would exceed
        :data:`REMEMBERED` (:data:`SHORT_LIVED_REMEMBERED` for a follower's or a
        call's ids): first in, first out, the same on every replica.
        """
        if operation.request:
            request = _remembered_as(operation)
            memory, most = self._memory(request)
            done = memory.get(request)
            if done is not None:
                return done
            outcome = replace(self._apply(operation), at=at)
            memory[request] = outcome
            if len(memory) > most:
                memory.popitem(last=False)
            return outcome
        return self._apply(operation)

    def _apply(self, operation: Operation) -> Outcome:
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
        elif operation.kind == "seed":
            items.update(seed_values(operation))
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
        """A JSON-ready copy (values base64, counters as ``{"n": int}``; request ids).

        Request ids' outcomes are ``[status, value]`` under ``requests`` and their
        entries' ``[epoch, index]`` under ``requestsAt`` (absent in older snapshots).
        """
        items = {
            k: {"n": v} if isinstance(v, int) else base64.b64encode(v).decode()
            for k, v in self._items.items()
        }
        remembered = {**self._requests, **self._short}
        requests = {r: [o.status, o.value] for r, o in remembered.items()}
        # (where each was applied under a key of its own: an older agent reads the rest)
        at = {r: list(o.at) for r, o in remembered.items() if o.at is not None}
        return {"items": items, "requests": requests, "requestsAt": at}

    @classmethod
    def from_json(cls, raw: Any) -> KeyValueMachine:
        """Parse :meth:`to_json`'s form.

        Raises:
            ValueError: Not a state.
        """
        if not isinstance(raw, dict):
            raise ValueError("a state is an object")
        at = {str(r): (int(e), int(i)) for r, (e, i) in raw.get("requestsAt", {}).items()}
        requests = {
            str(r): Outcome(status, value, at.get(str(r)))
            for r, (status, value) in raw.get("requests", {}).items()
        }
        items: dict[str, Value] = {}
        for key, value in raw.get("items", {}).items():
            items[str(key)] = (
                int(value["n"]) if isinstance(value, dict) else base64.b64decode(value)
            )
        return cls(items, requests)

    def copy(self) -> KeyValueMachine:
        """An independent copy."""
        return KeyValueMachine(self._items, {**self._requests, **self._short})

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, KeyValueMachine)
            and other._items == self._items
            and dict(other._requests) == dict(self._requests)  # (as before: order aside)
            and dict(other._short) == dict(self._short)
        )

    __hash__ = None  # type: ignore[assignment]


def render(value: Value) -> bytes:
    """The JSON body of a stored value."""
    return str(value).encode() if isinstance(value, int) else value
