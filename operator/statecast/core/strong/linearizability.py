"""Linearizability of a recorded key/value history: Wing & Gong's search with Lowe's cache.

A history is a list of operations, each with the time it was called and the time it
returned (None: it never returned, timed out, or its outcome is unknown; such an
operation may take effect at any time after its call, or never). The history is
linearizable when some total order of the operations respects real time (an operation
that returned before another was called comes first) and replays correctly on a single
map. The map is checked key by key: a history of independent keys is linearizable
exactly when each key's sub-history is (linearizability is local, Herlihy & Wing).

The search is Wing & Gong's (WGL), as in Porcupine: walk the call and return events in
time order, try to linearize each pending call, back-track at a return that could not
be linearized; Lowe's cache of (linearized set, state) prunes repeated states. A search
that exceeds its budget answers ``unknown`` rather than guessing.

Operations that never returned and ask the same thing (an increment by 1 whose outcome
is unknown, say) are interchangeable: each may take effect at any time after its call,
or never. A search that tries every subset of k of them tries 2^k sets where k + 1
differ, which is what made a history with a few dozen unknown increments undecidable.
So such operations take effect in the order of their calls (symmetry reduction): if
some order has a later-called one take effect and an earlier-called one not (or later),
swapping the two gives an order that is just as valid (both were called by then), so
nothing is lost and the search stays exact.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["CheckResult", "HistoryOp", "check_history", "prune_unobserved", "step"]

#: A single key's state: absent (None), a JSON value (its text), or a counter.
KeyState = str | int | None


@dataclass(frozen=True)
class HistoryOp:
    """One operation of a recorded history.

    Attributes:
        kind: ``put``, ``get``, ``delete`` or ``increment``.
        key: The key.
        call: When the client sent it.
        ret: When the answer came (None: no answer, or an outcome it cannot know).
        value: The value written (put: its JSON text) or the amount (increment).
        output: What came back: get: the value's JSON text (a counter's too) or None;
            increment: the new value, or ``"conflict"``; delete: ``"ok"`` or
            ``"not_found"``; put: None.
        client: Who called it (for reports).
    """

    kind: Literal["put", "get", "delete", "increment"]
    key: str
    call: float
    ret: float | None
    value: Any = None
    output: Any = None
    client: str = ""


@dataclass(frozen=True)
class CheckResult:
    """The verdict: ``ok`` True/False, or None (unknown: the search ran out of budget)."""

    ok: bool | None
    key: str | None = None
    """The first key whose history is not linearizable (or could not be decided)."""
    operations: int = 0


def step(state: KeyState, op: HistoryOp) -> tuple[bool, KeyState]:
    """Replay ``op`` on ``state``: whether its output fits, and the state after it."""
    unknown = op.ret is None
    if op.kind == "put":
        return True, op.value
    if op.kind == "get":
        seen = str(state) if isinstance(state, int) else state
        return unknown or op.output == seen, state
    if op.kind == "delete":
        if unknown:
            return True, None
        return (op.output == "not_found") == (state is None), None
    if isinstance(state, str):  # increment of a value that is not a counter
        return unknown or op.output == "conflict", state
    after = (state or 0) + int(op.value)
    return unknown or op.output == after, after


def _waits_for(ops: Sequence[HistoryOp]) -> list[int]:
    """For each unanswered operation, the unanswered one like it called just before (or -1).

    Alike: the same kind and the same value (their outputs are unknown); see the module
    docstring for why they may take effect in the order of their calls.
    """
    last: dict[tuple[str, str], int] = {}
    waits = [-1] * len(ops)
    for i in sorted(range(len(ops)), key=lambda n: (ops[n].call, n)):
        op = ops[i]
        if op.ret is None:
            alike = (op.kind, repr(op.value))
            waits[i] = last.get(alike, -1)
            last[alike] = i
    return waits


def _check_key(ops: Sequence[HistoryOp], budget: int) -> bool | None:
    """WGL over one key's operations; None when ``budget`` steps did not decide it."""
    waits = _waits_for(ops)
    events: list[tuple[float, int, int]] = []  # (time, 0 call / 1 return, op)
    for i, op in enumerate(ops):
        events.append((op.call, 0, i))
        events.append((math.inf if op.ret is None else op.ret, 1, i))
    events.sort()
    count = len(events)
    nxt = [*range(1, count + 1), -1]  # node ``count`` is the sentinel head
    prv = [count, *range(count - 1), -1]
    head = count
    nxt[head], prv[head] = 0, -1
    nxt[count - 1] = -1
    match = {}
    for position, (_, kind, i) in enumerate(events):
        match[(kind, i)] = position
    state: KeyState = None
    linearized = 0
    cache: set[tuple[int, KeyState]] = set()
    stack: list[tuple[int, KeyState]] = []
    entry = nxt[head]
    steps = 0
    while nxt[head] != -1:
        steps += 1
        if steps > budget:
            return None
        _, kind, i = events[entry]
        if kind == 0:
            fits, after = step(state, ops[i])
            if waits[i] >= 0 and not linearized >> waits[i] & 1:
                fits = False  # an earlier alike unanswered operation goes first
            if fits and (key := (linearized | 1 << i, after)) not in cache:
                cache.add(key)
                stack.append((entry, state))
                state, linearized = after, linearized | 1 << i
                _lift(entry, match[(1, i)], nxt, prv)
                entry = nxt[head]
                continue
            entry = nxt[entry]
        else:
            if not stack:
                return False
            entry, state = stack.pop()
            _, _, i = events[entry]
            linearized &= ~(1 << i)
            _unlift(entry, match[(1, i)], nxt, prv)
            entry = nxt[entry]
    return True


def _lift(call: int, ret: int, nxt: list[int], prv: list[int]) -> None:
    for node in (call, ret):
        nxt[prv[node]] = nxt[node]
        if nxt[node] != -1:
            prv[nxt[node]] = prv[node]


def _unlift(call: int, ret: int, nxt: list[int], prv: list[int]) -> None:
    for node in (ret, call):
        nxt[prv[node]] = node
        if nxt[node] != -1:
            prv[nxt[node]] = node


def check_history(history: Iterable[HistoryOp], budget: int = 2_000_000) -> CheckResult:
    """Check a history key by key (see the module docstring)."""
    by_key: dict[str, list[HistoryOp]] = {}
    for op in history:
        by_key.setdefault(op.key, []).append(op)
    undecided: str | None = None
    total = 0
    for key in sorted(by_key):
        ops = by_key[key]
        total += len(ops)
        verdict = _check_key(ops, budget)
        if verdict is False:
            return CheckResult(False, key, total)
        if verdict is None and undecided is None:
            undecided = key
    if undecided is not None:
        return CheckResult(None, undecided, total)
    return CheckResult(True, None, total)


def prune_unobserved(history: Iterable[HistoryOp]) -> list[HistoryOp]:
    """The history without the unanswered puts whose value no read ever returned.

    Sound for unique put values: such a put may be taken to have never happened (an
    unanswered operation may take effect never), and if some linearization has it take
    effect, no read falls between it and the next write of its key (none returned its
    value), so removing it changes no read. It cuts the search, which grows with the
    operations left pending.
    """
    ops = list(history)
    seen = {op.output for op in ops if op.kind == "get" and op.ret is not None}
    return [op for op in ops if not (op.kind == "put" and op.ret is None and op.value not in seen)]
