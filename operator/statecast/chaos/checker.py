"""The eventual-consistency check of a recorded history against the replicas' final state.

Pure functions, no I/O. After the fault is healed and the replicas have converged:

- **Convergence**: every replica holds the same value for every key of the run.
- **Registers** (last writer wins on hybrid logical clock stamps): per key, an
  acknowledged write is *lost* when the surviving value was written by an acknowledged
  write with a smaller stamp, or the key is gone. A surviving value written by an
  indeterminate write (its stamp unknown) loses nothing we can prove; a value no client
  wrote is a *phantom*. Writes that a later write (in real time) did not supersede
  because its stamp was smaller are counted apart (``reordered_writes``): LWW orders by
  stamps, so a skewed clock reorders writes within the skew without losing any.
- **Counters** (Jepsen's counter checker): the final value lies between the sum of the
  acknowledged increments and that sum plus every indeterminate one.
- **Reads**: a read of a key whose first write was acknowledged before the read began
  (by more than a grace of 2 s, above the replication lag: another replica may not have
  it yet) must not answer 404. During a network partition a replica cannot have what was
  written on the other side of the cut: a read on one side of a :class:`Partition` may
  miss a write acknowledged on the other side after the cut began (less the grace), until
  the heal (plus ``heal_grace``: the sides catch up by anti-entropy).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from statecast.chaos.history import Operation

__all__ = ["EventualVerdict", "Partition", "check_eventual", "parse_version", "percentiles"]


def parse_version(version: str) -> tuple[int, int, str]:
    """A write's version ``wall.logical.replica`` as a comparable stamp."""
    wall, logical, replica = version.split(".", 2)
    return int(wall), int(logical), replica


def percentiles(samples: Iterable[float]) -> dict[str, float | None]:
    """``p50``, ``p99`` and ``max`` of ``samples`` (nearest rank; None when empty)."""
    ordered = sorted(samples)
    if not ordered:
        return {"p50": None, "p99": None, "max": None}

    def rank(q: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]

    return {"p50": round(rank(0.5), 3), "p99": round(rank(0.99), 3), "max": round(ordered[-1], 3)}


@dataclass(frozen=True)
class Partition:
    """A network cut between the nodes of ``side`` and every other node, ``start`` to ``end``.

    Attributes:
        start: When the cut began (seconds since the run began).
        end: When it was healed.
        side: The nodes on one side of the cut.
    """

    start: float
    end: float
    side: frozenset[str]

    def separates(self, a: str, b: str) -> bool:
        """Whether nodes ``a`` and ``b`` are on different sides of the cut."""
        return (a in self.side) != (b in self.side)


@dataclass
class EventualVerdict:
    """What the eventual-consistency check found."""

    converged: bool
    divergent_keys: list[str] = field(default_factory=list)
    acked_writes: int = 0
    attempted_writes: int = 0
    indeterminate_writes: int = 0
    lost_writes: int = 0
    lost_examples: list[dict[str, Any]] = field(default_factory=list)
    phantom_keys: list[str] = field(default_factory=list)
    reordered_writes: int = 0
    counters: dict[str, dict[str, int | bool | None]] = field(default_factory=dict)
    not_found_existing: int = 0
    not_found_examples: list[dict[str, Any]] = field(default_factory=list)
    reads: int = 0
    failed_reads: int = 0

    @property
    def ok(self) -> bool:
        """Nothing lost: converged, no lost write, no phantom, counters in bounds, no 404."""
        return (
            self.converged
            and self.lost_writes == 0
            and not self.phantom_keys
            and all(c["ok"] for c in self.counters.values())
            and self.not_found_existing == 0
        )


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _converged(states: Mapping[str, Mapping[str, Any]], keys: set[str]) -> list[str]:
    divergent = []
    for key in sorted(keys):
        seen = {_canonical(state.get(key)) for state in states.values()}
        if len(seen) > 1:
            divergent.append(key)
    return divergent


def _check_register(
    key: str, writes: list[Operation], final: Any, present: bool, verdict: EventualVerdict
) -> None:
    acked = [w for w in writes if w.outcome == "ok" and w.version]
    by_value = {_canonical(w.value): w for w in writes if w.outcome != "fail"}
    if not present:
        if acked:
            verdict.lost_writes += len(acked)
            verdict.lost_examples.append({"key": key, "final": None, "acked": len(acked)})
        return
    writer = by_value.get(_canonical(final))
    if writer is None:
        verdict.phantom_keys.append(key)
        return
    if writer.outcome != "ok" or writer.version is None:
        return  # an indeterminate write survived: its stamp is unknown, nothing provably lost
    survivor = parse_version(writer.version)
    lost = [w for w in acked if w.version and parse_version(w.version) > survivor]
    if lost:
        verdict.lost_writes += len(lost)
        verdict.lost_examples.append(
            {"key": key, "final": final, "final_version": writer.version,
             "lost_versions": [w.version for w in lost[:5]]}
        )  # fmt: skip
    ordered = sorted(acked, key=lambda w: w.start)
    for index, earlier in enumerate(ordered):
        assert earlier.version is not None
        stamp = parse_version(earlier.version)
        for later in ordered[index + 1 :]:
            if later.start > earlier.end and later.version and parse_version(later.version) < stamp:
                verdict.reordered_writes += 1
                break


def check_eventual(
    operations: Iterable[Operation],
    states: Mapping[str, Mapping[str, Any]],
    *,
    keys: set[str] | None = None,
    counter_keys: set[str] | None = None,
    grace: float = 2.0,
    partition: Partition | None = None,
    heal_grace: float = 5.0,
) -> EventualVerdict:
    """Check a history against the replicas' final maps (replica node -> key -> value).

    Args:
        operations: Every operation the clients made.
        states: The final map of each replica (only the run's keys matter).
        keys: The register keys of the run (default: every key written).
        counter_keys: The counter keys of the run (default: every key incremented).
        grace: A 404 counts against a key only if its first write was acknowledged this
            many seconds before the read began: a read on another replica within the
            replication lag may miss it (eventual consistency).
        partition: The network cut of the run, if any: a read may miss what was written
            across it while it lasted.
        heal_grace: How long after the heal a read across the cut may still miss a write.
    """
    ops = list(operations)
    writes: dict[str, list[Operation]] = {}
    increments: dict[str, list[Operation]] = {}
    for op in ops:
        if op.kind == "write":
            writes.setdefault(op.key, []).append(op)
        elif op.kind == "increment":
            increments.setdefault(op.key, []).append(op)
    register_keys = keys if keys is not None else set(writes)
    counters = counter_keys if counter_keys is not None else set(increments)
    divergent = _converged(states, register_keys | counters) if states else []
    verdict = EventualVerdict(converged=bool(states) and not divergent, divergent_keys=divergent)
    final = next(iter(states.values()), {})
    for key in sorted(register_keys):
        history = writes.get(key, [])
        verdict.acked_writes += sum(1 for w in history if w.outcome == "ok")
        verdict.attempted_writes += len(history)
        verdict.indeterminate_writes += sum(1 for w in history if w.outcome == "info")
        _check_register(key, history, final.get(key), key in final, verdict)
    for key in sorted(counters):
        history = increments.get(key, [])
        acked = sum(int(op.value) for op in history if op.outcome == "ok")
        unknown = sum(int(op.value) for op in history if op.outcome == "info")
        value = final.get(key)
        got = int(value) if isinstance(value, int) else (0 if value is None else None)
        verdict.counters[key] = {
            "acked": acked,
            "attempted": acked + unknown,
            "final": got,
            "ok": got is not None and acked <= got <= acked + unknown,
        }
    acked_by_key = {
        key: sorted((w for w in history if w.outcome == "ok"), key=lambda w: w.end)
        for key, history in writes.items()
    }
    for op in ops:
        if op.kind != "read":
            continue
        verdict.reads += 1
        not_found = (op.error or "").startswith("404")
        if op.outcome != "ok" and not not_found:
            verdict.failed_reads += 1
        if not not_found:
            continue
        seen = _reachable_write(acked_by_key.get(op.key, []), op, grace, partition, heal_grace)
        if seen is not None:
            verdict.not_found_existing += 1
            if len(verdict.not_found_examples) < 10:
                verdict.not_found_examples.append(
                    {"client": op.client, "key": op.key, "at": op.start,
                     "written_at": seen.end, "written_on": seen.node, "error": op.error}
                )  # fmt: skip
    return verdict


def _reachable_write(
    acked: list[Operation],
    read: Operation,
    grace: float,
    partition: Partition | None,
    heal_grace: float,
) -> Operation | None:
    """The first acknowledged write that ``read`` should have seen (None: a 404 is honest).

    A write counts once it was acknowledged ``grace`` seconds before the read began,
    unless a partition kept it from the reader: written on the other side of the cut
    after the cut began (less the grace: it may not have crossed yet), read before the
    heal plus ``heal_grace``.
    """
    for write in acked:
        if write.end >= read.start - grace:
            return None  # sorted by end: no later write is old enough either
        if (
            partition is not None
            and partition.separates(write.node, read.node)
            and write.end >= partition.start - grace
            and read.start <= partition.end + heal_grace
        ):
            continue
        return write
    return None
