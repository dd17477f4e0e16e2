"""Last-writer-wins register: the write with the greatest hybrid stamp wins.

A register is one ``bytes`` object (a plain one, so a million of them cost no more than
their values and are not tracked by the garbage collector)::

    wall (6 bytes) | logical (3) | seq (6) | has value (1) | replica length (1) | replica | value

big-endian, so the first 9 bytes compare like ``(wall, logical)``. The join orders
registers by ``(wall, logical, replica)``: the hybrid stamp with its replica-id
tie-break (UTF-8 byte order is code-point order, as for the ``Stamp`` tuple). ``seq``,
the writer's event number, only tells apart two records of the very same event.
"""

from __future__ import annotations

from typing import NewType

from statecast.core.clock import MAX_LOGICAL, Stamp
from statecast.core.version_vector import Dot

__all__ = [
    "HEADER_BYTES",
    "LwwRegister",
    "dot",
    "has_value",
    "join",
    "pack",
    "replica",
    "seq",
    "stamp",
    "value",
    "value_size",
    "write",
]

#: A packed register (see the module docstring).
LwwRegister = NewType("LwwRegister", bytes)

HEADER_BYTES = 17
_MAX_WALL = (1 << 48) - 1
_MAX_SEQ = (1 << 48) - 1


def pack(wall: int, logical: int, replica: str, seq: int, value: bytes | None) -> LwwRegister:
    """Build a register from its fields (``value`` None: a delete).

    Raises:
        ValueError: A field does not fit its width.
    """
    if not (0 <= wall <= _MAX_WALL and 0 <= logical <= MAX_LOGICAL and 0 <= seq <= _MAX_SEQ):
        raise ValueError(f"stamp out of range: wall={wall} logical={logical} seq={seq}")
    name = _names.get(replica)
    if name is None:
        raw = replica.encode()
        if len(raw) > 255:
            raise ValueError("replica id longer than 255 bytes")
        name = bytes((len(raw),)) + raw
        if len(_names) < 4096:  # replica ids are few: node names
            _names[replica] = name
    head = ((wall << 24) | logical).to_bytes(9, "big") + seq.to_bytes(6, "big")
    if value is None:
        return LwwRegister(head + b"\x00" + name)
    return LwwRegister(head + b"\x01" + name + value)


#: replica id -> its length byte and UTF-8 bytes, as registers hold them.
_names: dict[str, bytes] = {}


def write(at: Stamp, event: int, data: bytes | None) -> LwwRegister:
    """The register made by one write at ``at`` (event ``event`` of ``at.replica``)."""
    return pack(at.wall, at.logical, at.replica, event, data)


def value(register: LwwRegister) -> bytes | None:
    """The JSON-encoded value, or None for a delete."""
    if register[15] == 0:
        return None
    return register[HEADER_BYTES + register[16] :]


def has_value(register: LwwRegister) -> bool:
    """False for a delete."""
    return register[15] != 0


def value_size(register: LwwRegister) -> int:
    """Bytes of the value (0 for a delete)."""
    return len(register) - HEADER_BYTES - register[16]


def replica(register: LwwRegister) -> str:
    """The writer."""
    return register[HEADER_BYTES : HEADER_BYTES + register[16]].decode()


def seq(register: LwwRegister) -> int:
    """The writer's event number."""
    return int.from_bytes(register[9:15], "big")


def stamp(register: LwwRegister) -> Stamp:
    """The hybrid stamp of the write."""
    return Stamp(
        int.from_bytes(register[0:6], "big"),
        int.from_bytes(register[6:9], "big"),
        replica(register),
    )


def dot(register: LwwRegister) -> Dot:
    """The event that wrote the value."""
    return Dot(replica(register), seq(register))


def _order(register: LwwRegister) -> tuple[bytes, bytes, bytes]:
    return register[:9], register[HEADER_BYTES : HEADER_BYTES + register[16]], register[9:15]


def join(a: LwwRegister, b: LwwRegister) -> LwwRegister:
    """The winner of the two (commutative, associative, idempotent)."""
    return a if _order(a) >= _order(b) else b
