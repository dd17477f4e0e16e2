"""One key's replicated state: a register (LWW or multi-value) and/or a PN-counter.

An :data:`Entry` is either a bare packed LWW register (``bytes``, see
:mod:`statecast.core.crdt.lww`; the common case, kept flat to stay small) or a
:class:`KeyState` holding a register and a counter. The join is componentwise, so it
is a join-semilattice; the visible value is a pure function of the joined state: the
counter shows when its latest increment is newer than the register's latest write or
delete, the register otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from statecast.core.clock import Stamp
from statecast.core.crdt import lww
from statecast.core.crdt.counter import PnCounter, Slot
from statecast.core.crdt.errors import CounterConflictError, MalformedEntryError
from statecast.core.crdt.lww import LwwRegister
from statecast.core.crdt.mv import MvRegister, Sibling

__all__ = [
    "Entry",
    "KeyState",
    "Register",
    "Visible",
    "decode_entry",
    "delete",
    "dots",
    "encode_entry",
    "entry_size",
    "increment",
    "is_tombstone",
    "join",
    "latest_stamp",
    "put",
    "visible",
]

Register = LwwRegister | MvRegister

#: What a reader sees: one JSON value, several concurrent ones, a counter, or nothing.
Visible = bytes | tuple[bytes, ...] | int | None


@dataclass(frozen=True)
class KeyState:
    """A key that has (or had) a counter, or holds a multi-value register."""

    register: Register | None = None
    counter: PnCounter | None = None


Entry = LwwRegister | KeyState


def _parts(entry: Entry | None) -> tuple[Register | None, PnCounter | None]:
    if entry is None:
        return None, None
    if isinstance(entry, bytes):
        return entry, None
    return entry.register, entry.counter


def _make(register: Register | None, counter: PnCounter | None) -> Entry:
    if counter is None and isinstance(register, bytes):
        return register
    return KeyState(register, counter)


def _join_registers(a: Register | None, b: Register | None) -> Register | None:
    if a is None:
        return b
    if b is None:
        return a
    if isinstance(a, bytes) and isinstance(b, bytes):
        return lww.join(a, b)
    if isinstance(a, MvRegister) and isinstance(b, MvRegister):
        return a.join(b)
    # Kinds never mix within one resource; rank LWW below multi-value to stay a lattice.
    return a if isinstance(a, MvRegister) else b


def join(a: Entry | None, b: Entry | None) -> Entry | None:
    """The least upper bound of two states of one key."""
    if a is None:
        return b
    if b is None:
        return a
    if isinstance(a, bytes) and isinstance(b, bytes):
        return lww.join(a, b)
    reg_a, cnt_a = _parts(a)
    reg_b, cnt_b = _parts(b)
    if cnt_a is None:
        counter = cnt_b
    elif cnt_b is None:
        counter = cnt_a
    else:
        counter = cnt_a.join(cnt_b)
    return _make(_join_registers(reg_a, reg_b), counter)


def _register_latest(register: Register | None) -> Stamp | None:
    if register is None:
        return None
    if isinstance(register, bytes):
        return lww.stamp(register)
    return register.latest()


def latest_stamp(entry: Entry) -> Stamp | None:
    """The greatest hybrid stamp recorded in the entry."""
    register, counter = _parts(entry)
    stamps = [_register_latest(register), counter.last if counter is not None else None]
    present = [s for s in stamps if s is not None]
    return max(present) if present else None


def _counter_shows(register: Register | None, counter: PnCounter | None) -> bool:
    if counter is None or counter.last is None:
        return False
    reg_latest = _register_latest(register)
    return reg_latest is None or counter.last > reg_latest


def visible(entry: Entry | None) -> Visible:
    """What a read of the key returns (None: absent or deleted)."""
    if entry is None:
        return None
    if isinstance(entry, bytes):
        return lww.value(entry)
    register, counter = entry.register, entry.counter
    if counter is not None and _counter_shows(register, counter):
        return counter.value()
    if register is None:
        return None
    if isinstance(register, bytes):
        return lww.value(register)
    values = tuple(s.value for s in register.siblings)
    if not values:
        return None
    return values[0] if len(values) == 1 else values


def is_tombstone(entry: Entry) -> bool:
    """A deleted key with no counter history: collectable once every replica saw it."""
    _, counter = _parts(entry)
    return counter is None and visible(entry) is None


def dots(entry: Entry) -> Iterator[tuple[str, int]]:
    """The entry's causal context as (replica, highest event on this key) pairs.

    A peer whose version vector covers all of them has a state at least as large.
    """
    if isinstance(entry, bytes):
        yield lww.replica(entry), lww.seq(entry)
        return
    best: dict[str, int] = {}
    register, counter = entry.register, entry.counter
    if isinstance(register, bytes):
        best[lww.replica(register)] = lww.seq(register)
    elif register is not None:
        best.update(register.context)
    if counter is not None:
        for slots in (counter.slots, counter.reset):
            for replica, slot in slots.items():
                if slot.seq > best.get(replica, 0):
                    best[replica] = slot.seq
    yield from best.items()


def put(current: Entry | None, stamp: Stamp, seq: int, value: bytes, multi_value: bool) -> Entry:
    """The key's state after a local write of ``value`` (event ``(stamp.replica, seq)``)."""
    register, counter = _parts(current)
    if multi_value:
        base = register if isinstance(register, MvRegister) else MvRegister()
        return _make(base.write(stamp, seq, value), counter)
    return _make(lww.write(stamp, seq, value), counter)


def delete(current: Entry, stamp: Stamp, seq: int) -> Entry:
    """The key's state after a local delete: a tombstone, counters reset as observed."""
    register, counter = _parts(current)
    if isinstance(register, MvRegister):
        new_register: Register = register.write(stamp, seq, None)
    else:
        new_register = lww.write(stamp, seq, None)
    reset = counter.reset_observed(stamp.replica, seq) if counter is not None else None
    return _make(new_register, reset)


def increment(current: Entry | None, stamp: Stamp, seq: int, by: int) -> Entry:
    """The key's state after a local increment.

    Raises:
        CounterConflictError: The key's visible value is a register value, not a counter.
    """
    shown = visible(current)
    if shown is not None and not isinstance(shown, int):
        raise CounterConflictError("the key holds a value that is not a counter")
    register, counter = _parts(current)
    return _make(register, (counter or PnCounter()).increment(stamp, seq, by))


def entry_size(key: str, entry: Entry) -> int:
    """Approximate payload bytes of a key (key plus values) for status and budgets."""
    if isinstance(entry, bytes):
        return len(key) + lww.value_size(entry)
    shown = visible(entry)
    if isinstance(shown, bytes):
        return len(key) + len(shown)
    if isinstance(shown, tuple):
        return len(key) + sum(len(v) for v in shown)
    return len(key) + 8


# --- codec: JSON-able lists, used on the wire and on disk -----------------------------


def _enc_stamp(stamp: Stamp | None) -> list[Any] | None:
    return None if stamp is None else [stamp.wall, stamp.logical, stamp.replica]


def _dec_stamp(raw: Any) -> Stamp | None:
    if raw is None:
        return None
    wall, logical, replica = raw
    return Stamp(int(wall), int(logical), str(replica))


def _enc_register(register: Register | None) -> list[Any] | None:
    if register is None:
        return None
    if isinstance(register, bytes):
        at, data = lww.stamp(register), lww.value(register)
        value = None if data is None else data.decode()
        return ["l", at.wall, at.logical, at.replica, lww.seq(register), value]
    siblings = [[s.replica, s.seq, s.wall, s.logical, s.value.decode()] for s in register.siblings]
    return ["m", siblings, dict(register.context), _enc_stamp(register.cleared)]


def _dec_register(raw: Any) -> Register | None:
    if raw is None:
        return None
    if raw[0] == "l":
        _, wall, logical, replica, seq, value = raw
        data = None if value is None else str(value).encode()
        return lww.pack(int(wall), int(logical), str(replica), int(seq), data)
    if raw[0] == "m":
        _, siblings, context, cleared = raw
        sibs = tuple(
            Sibling(str(r), int(q), int(w), int(lg), str(v).encode()) for r, q, w, lg, v in siblings
        )
        ctx = {str(r): int(q) for r, q in context.items()}
        return MvRegister(sibs, ctx, _dec_stamp(cleared))
    raise MalformedEntryError(f"unknown register kind {raw[0]!r}")


def encode_entry(entry: Entry) -> list[Any]:
    """Encode to JSON-able lists (``["l", ...]`` or ``["k", register, counter]``)."""
    if isinstance(entry, bytes):
        enc = _enc_register(entry)
        assert enc is not None
        return enc
    counter = entry.counter
    enc_counter = None
    if counter is not None:
        enc_counter = [
            {r: list(s) for r, s in counter.slots.items()},
            {r: list(s) for r, s in counter.reset.items()},
            _enc_stamp(counter.last),
        ]
    return ["k", _enc_register(entry.register), enc_counter]


def decode_entry(raw: Any) -> Entry:
    """Decode what :func:`encode_entry` made.

    Raises:
        MalformedEntryError: ``raw`` is not an encoded entry.
    """
    try:
        if raw[0] == "l":
            register = _dec_register(raw)
            assert isinstance(register, bytes)
            return register
        if raw[0] != "k":
            raise MalformedEntryError(f"unknown entry kind {raw[0]!r}")
        _, enc_register, enc_counter = raw
        counter = None
        if enc_counter is not None:
            slots, reset, last = enc_counter
            counter = PnCounter(
                {str(r): Slot(int(u), int(d), int(q)) for r, (u, d, q) in slots.items()},
                {str(r): Slot(int(u), int(d), int(q)) for r, (u, d, q) in reset.items()},
                _dec_stamp(last),
            )
        return _make(_dec_register(enc_register), counter)
    except MalformedEntryError:
        raise
    except (TypeError, ValueError, KeyError, IndexError, AttributeError, AssertionError) as err:
        raise MalformedEntryError(f"malformed entry: {err}") from err
