"""Figures of a run from its timelines: pure functions of recorded events.

Times are seconds since the run began; the fault is injected at ``fault_at``.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping

from statecast.chaos.history import Operation
from statecast.chaos.observer import ReplicaEvent

__all__ = ["actions_between", "churn", "lost_after", "min_restored_after", "read_recovery"]


def lost_after(events: Iterable[ReplicaEvent], fault_at: float, nodes: set[str]) -> float | None:
    """Seconds from the fault until a Replica on one of ``nodes`` was marked ``Lost``."""
    for event in events:
        if event.at >= fault_at and event.node in nodes and event.phase == "Lost":
            return round(event.at - fault_at, 3)
    return None


def min_restored_after(
    initial: Mapping[str, Mapping[str, str]],
    events: Iterable[ReplicaEvent],
    fault_at: float,
    minimum: int,
    faulted: set[str],
) -> float | None:
    """Seconds from the fault until ``minimum`` Replicas off the faulted nodes were Ready.

    0 when enough were Ready off those nodes when the fault came; None if never again.
    """
    state = {name: dict(info) for name, info in initial.items()}

    def ready() -> int:
        return sum(1 for i in state.values() if i["phase"] == "Ready" and i["node"] not in faulted)

    ordered = sorted(events, key=lambda e: e.at)
    for event in ordered:
        if event.at >= fault_at:
            break
        _apply(state, event)
    if ready() >= minimum:
        return 0.0
    for event in ordered:
        if event.at < fault_at:
            continue
        _apply(state, event)
        if ready() >= minimum:
            return round(event.at - fault_at, 3)
    return None


def _apply(state: dict[str, dict[str, str]], event: ReplicaEvent) -> None:
    if event.change == "removed":
        state.pop(event.replica, None)
    else:
        state[event.replica] = {"node": event.node, "reason": event.reason, "phase": event.phase}


def actions_between(events: Iterable[ReplicaEvent], start: float, end: float) -> dict[str, int]:
    """Replicas added and removed in ``[start, end)``, by change and reason."""
    counts: dict[str, int] = {}
    for event in events:
        if start <= event.at < end and event.change in ("added", "removed"):
            label = f"{event.change}:{event.reason or '-'}"
            counts[label] = counts.get(label, 0) + 1
    return counts


def read_recovery(
    reads: Iterable[Operation],
    error_times: Iterable[tuple[float, str, str]],
    fault_at: float,
    until: float,
) -> list[float]:
    """Per reading client, seconds from the fault until its reads were served again.

    For a client that saw failed attempts (or 404s) after the fault, the end of its first
    successful read that began after the last of them; for one that saw none, the end of
    its first read after the fault. Faults are considered up to ``until`` (the heal).
    """
    last_error: dict[str, float] = {}
    for at, client, _code in error_times:
        if fault_at <= at <= until and "/reader" in client:
            last_error[client] = max(at, last_error.get(client, at))
    served: dict[str, float] = {}
    for op in sorted(reads, key=lambda o: o.end):
        if op.kind != "read" or op.outcome != "ok" or op.client in served:
            continue
        after = last_error.get(op.client)
        if (after is None and op.start >= fault_at) or (after is not None and op.end >= after):
            served[op.client] = op.end - fault_at
    return sorted(served.values())


def churn(
    events: Iterable[ReplicaEvent], start: float, end: float, inputs: Iterable[float] = ()
) -> int:
    """Actions in ``[start, end)`` that another action in the window undid.

    A Replica added and then removed, or a node's copy removed and another added back on
    the same node: the operator did something it did not need to. Unless the run gave it
    a new input in between (``inputs``: when it patched the spec or killed or started an
    agent): a copy added for ``replicas.min`` 3 and removed once the run set ``min`` back
    to 2 answers two spec changes, one action each, and undoes nothing.
    """
    moments = sorted(inputs)

    def epoch(at: float) -> int:  # how many inputs came before ``at``
        return bisect.bisect_right(moments, at)

    added: dict[str, int] = {}  # replica -> the epoch it was added in
    removed_nodes: dict[str, int] = {}
    undone = 0
    for event in sorted(events, key=lambda e: e.at):
        if not start <= event.at < end:
            continue
        now = epoch(event.at)
        if event.change == "added":
            if removed_nodes.pop(event.node, None) == now:
                undone += 1
            added[event.replica] = now
        elif event.change == "removed":
            if added.pop(event.replica, None) == now:
                undone += 1
            else:
                removed_nodes[event.node] = now
    return undone
