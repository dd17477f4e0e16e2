"""What replicas of a strong resource say to each other, and what they must make durable.

Messages (the leader's :class:`AppendRequest` and the replica's :class:`AppendReply`)
travel between agents; records (:class:`Promise`, :class:`Truncate`, :class:`Append`,
:class:`InstallSnapshot`) are what a replica must have stored durably before it
answers: the edge writes and fsyncs them, then sends the reply.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from statecast.core.strong.log import LogEntry, LogPosition
from statecast.core.strong.machine import KeyValueMachine

__all__ = [
    "Append",
    "AppendReply",
    "AppendRequest",
    "InstallSnapshot",
    "Promise",
    "Record",
    "Snapshot",
    "Truncate",
]


@dataclass(frozen=True)
class Snapshot:
    """The state after every entry up to ``position`` (those entries compacted away)."""

    position: LogPosition
    state: KeyValueMachine

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {"position": self.position.to_json(), "state": self.state.to_json()}

    @classmethod
    def from_json(cls, raw: Any) -> Snapshot:
        """Parse :meth:`to_json`'s form.

        Raises:
            ValueError: Not a snapshot.
        """
        try:
            position = LogPosition(int(raw["position"]["epoch"]), int(raw["position"]["index"]))
            return cls(position, KeyValueMachine.from_json(raw["state"]))
        except (KeyError, TypeError) as err:
            raise ValueError(f"not a snapshot: {err}") from err


@dataclass(frozen=True)
class AppendRequest:
    """The leader of ``epoch`` to a replica: these entries follow ``prev``; commit is here.

    An empty ``entries`` is a heartbeat (it still carries the commit index, and a
    majority of successful answers to it confirms the leader is still the leader).
    ``snapshot`` is sent instead of entries the leader compacted away.
    """

    epoch: int
    leader: str
    prev: LogPosition
    entries: tuple[LogEntry, ...]
    commit: int
    snapshot: Snapshot | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready form."""
        out: dict[str, Any] = {
            "epoch": self.epoch,
            "leader": self.leader,
            "prev": self.prev.to_json(),
            "entries": [e.to_json() for e in self.entries],
            "commit": self.commit,
        }
        if self.snapshot is not None:
            out["snapshot"] = self.snapshot.to_json()
        return out

    @classmethod
    def from_json(cls, raw: Any) -> AppendRequest:
        """Parse :meth:`to_json`'s form.

        Raises:
            ValueError: Not an append request.
        """
        try:
            snapshot = raw.get("snapshot")
            return cls(
                epoch=int(raw["epoch"]),
                leader=str(raw["leader"]),
                prev=LogPosition(int(raw["prev"]["epoch"]), int(raw["prev"]["index"])),
                entries=tuple(LogEntry.from_json(e) for e in raw["entries"]),
                commit=int(raw["commit"]),
                snapshot=Snapshot.from_json(snapshot) if snapshot is not None else None,
            )
        except (KeyError, TypeError, AttributeError) as err:
            raise ValueError(f"not an append request: {err}") from err


@dataclass(frozen=True)
class AppendReply:
    """A replica's answer to an :class:`AppendRequest`.

    Attributes:
        epoch: The epoch the replica has promised (above the request's: it is fenced).
        result: ``ok``; ``stale_epoch`` (the request's epoch is older than the
            replica's promise: the sender is no longer leader); ``mismatch`` (the entry
            before ``entries`` is not in the replica's log: send from earlier).
        match: With ``ok``, the index up to which the replica's log now matches the
            leader's (durably); with ``mismatch``, the replica's last index, a hint.
    """

    epoch: int
    result: Literal["ok", "stale_epoch", "mismatch"]
    match: int

    @property
    def ok(self) -> bool:
        """True when the entries were stored."""
        return self.result == "ok"

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {"epoch": self.epoch, "result": self.result, "match": self.match}

    @classmethod
    def from_json(cls, raw: Any) -> AppendReply:
        """Parse :meth:`to_json`'s form.

        Raises:
            ValueError: Not an append reply.
        """
        try:
            result = raw["result"]
            if result not in ("ok", "stale_epoch", "mismatch"):
                raise ValueError(f"unknown result {result!r}")
            return cls(int(raw["epoch"]), result, int(raw["match"]))
        except (KeyError, TypeError) as err:
            raise ValueError(f"not an append reply: {err}") from err


@dataclass(frozen=True)
class Promise:
    """Never accept anything of an epoch below ``epoch`` again (durable before answering)."""

    epoch: int


@dataclass(frozen=True)
class Truncate:
    """Drop the entries from ``index`` on (an unacknowledged tail a new leader lacks)."""

    index: int


@dataclass(frozen=True)
class Append:
    """Entries appended to the log."""

    entries: tuple[LogEntry, ...]


@dataclass(frozen=True)
class InstallSnapshot:
    """The state replaced by a snapshot; the log keeps only what follows it."""

    snapshot: Snapshot


Record = Promise | Truncate | Append | InstallSnapshot
