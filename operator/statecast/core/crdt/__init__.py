"""Delta-state CRDTs: registers, counters, and the replicated map built from them."""

from statecast.core.crdt import lww
from statecast.core.crdt.counter import PnCounter, Slot
from statecast.core.crdt.delta_map import Delta, DeltaMap, MapImage, SyncPayload
from statecast.core.crdt.entry import (
    Entry,
    KeyState,
    Visible,
    decode_entry,
    encode_entry,
    join,
    visible,
)
from statecast.core.crdt.errors import CounterConflictError, CrdtError, MalformedEntryError
from statecast.core.crdt.lww import LwwRegister
from statecast.core.crdt.mv import MvRegister, Sibling

__all__ = [
    "CounterConflictError",
    "CrdtError",
    "Delta",
    "DeltaMap",
    "Entry",
    "KeyState",
    "LwwRegister",
    "MalformedEntryError",
    "MapImage",
    "MvRegister",
    "PnCounter",
    "Sibling",
    "Slot",
    "SyncPayload",
    "Visible",
    "decode_entry",
    "encode_entry",
    "join",
    "lww",
    "visible",
]
