"""The delta-state CRDT map one replica holds (Almeida, Shoker, Baquero: delta-CRDTs).

Every local operation makes a new event ``(replica, seq)`` and returns the *delta*: the
new state of the touched keys, which joined into any replica's state has the effect of
the operation. The map also answers "what does a peer with version vector V lack?"
from a bounded per-replica index of recent events, falling back to a full snapshot when
the peer is new or further behind than the index reaches.

Invariant: if the version vector covers event ``(r, n)``, the state includes it. It
holds because the vector only advances on contiguous ranges of a replica's own events
(pushed with their deltas) or by joining a sender's vector after merging everything the
sender held beyond ours.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass

from statecast.core.clock import HybridClock, Stamp
from statecast.core.crdt import entry as ops
from statecast.core.crdt import lww
from statecast.core.crdt.entry import Entry, KeyState, Visible
from statecast.core.crdt.events import EventRing, LatestEvents
from statecast.core.crdt.lww import LwwRegister
from statecast.core.crdt.table import NOT_PLAIN, UNCHANGED, EntryTable, EntryView
from statecast.core.version_vector import VersionVector

__all__ = ["Delta", "DeltaMap", "MapImage", "SyncPayload"]

#: The new state of each key touched: what is pushed, logged and merged.
Delta = dict[str, Entry]


@dataclass(frozen=True)
class SyncPayload:
    """What a replica sends to bring a peer up to date.

    Attributes:
        full: True for a whole-state snapshot, False for a delta.
        entries: Key -> state to join.
        version_vector: The sender's vector, valid once ``entries`` are joined.
    """

    full: bool
    entries: Mapping[str, Entry]
    version_vector: VersionVector


@dataclass(frozen=True)
class MapImage:
    """A replica's whole state at one moment: what a snapshot holds.

    Taken by :meth:`DeltaMap.image` (cheap: the entries are a frozen view sharing the
    table's arena) and given back to :meth:`DeltaMap.restore`, which then has nothing
    to recompute from the entries.

    Attributes:
        entries: The entries (a view when taken; an ``EntryTable`` to restore).
        version_vector: The events the entries include, per origin.
        events: Per origin, the recent events of the delta index, oldest first.
        floors: Per origin, the sequence number below which the index is incomplete.
        max_seen: Per origin, the greatest sequence number seen.
        tombstones: Keys deleted without counter history (collectable).
        payload_bytes: Approximate bytes of keys and values.
        clock: The hybrid clock's (wall, logical) position.
    """

    entries: EntryView | EntryTable
    version_vector: dict[str, int]
    events: dict[str, tuple[array[int], list[str]]]
    floors: dict[str, int]
    max_seen: dict[str, int]
    tombstones: list[str]
    payload_bytes: int
    clock: tuple[int, int]


class DeltaMap:
    """A replica of a replicated key/value map.

    Args:
        replica: This replica's id (the owner of its events).
        multi_value: Keep concurrent writes as siblings instead of last-writer-wins.
        clock: The hybrid clock (a fresh one on the system clock by default).
        index_limit: Recent events remembered per origin replica for delta sync.
    """

    def __init__(
        self,
        replica: str,
        *,
        multi_value: bool = False,
        clock: HybridClock | None = None,
        index_limit: int = 1 << 16,
    ) -> None:
        self.replica = replica
        self.multi_value = multi_value
        self.clock = clock or HybridClock(replica)
        self._entries = EntryTable()
        self._vv: dict[str, int] = {}
        self._pending: dict[str, list[tuple[int, int]]] = {}
        self._index: dict[str, EventRing] = {}
        self._floor: dict[str, int] = {}
        self._max_seen: dict[str, int] = {}
        #: Origin -> its greatest event when the last collection found it seen by all.
        self._quiet: dict[str, int] = {}
        self._index_limit = index_limit
        self._tombstones: set[str] = set()
        self._size = 0
        #: Per origin, the greatest event this replica may lack a deletion up to: the
        #: greatest dot of a tombstone it collected, or the vector of a full answer it
        #: joined or of the files it recovered (collections there are unknown here).
        #: See :meth:`behind_collection`.
        self._collected: dict[str, int] = {}

    # --- reading ------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> Visible:
        """The visible value of ``key`` (None if absent or deleted)."""
        found = self._entries.value(key)
        if isinstance(found, KeyState):
            return ops.visible(found)
        return found

    def entry(self, key: str) -> Entry | None:
        """The full replicated state of ``key``."""
        return self._entries.get(key)

    def items(self) -> Iterator[tuple[str, Visible]]:
        """Every key with a visible value."""
        for key, entry in self._entries.items():
            shown = ops.visible(entry)
            if shown is not None:
                yield key, shown

    def entries(self) -> Mapping[str, Entry]:
        """The whole state as it is now: a frozen view that later writes do not change.

        It shares the table's arena and copies only its index (8 bytes a slot), so it is
        cheap to take, and safe to read from another thread while writes go on.
        """
        return self._entries.view()

    def seq_of(self, replica: str) -> int:
        """The last event of ``replica`` this map includes (0: none)."""
        return self._vv.get(replica, 0)

    @property
    def version_vector(self) -> VersionVector:
        """The events this replica has, contiguously per origin."""
        return VersionVector(dict(self._vv))

    @property
    def busy(self) -> bool:
        """True while the table has pending work (index growth, arena cleaning)."""
        return self._entries.busy

    def maintain(self, work: int = 4096) -> bool:
        """Do up to ``work`` units of the table's pending work; True if more can be done.

        Writes do a little each; the owner calls this between requests so that the
        table finishes growing or cleaning without a pause (see ``EntryTable.step``).
        """
        return self._entries.step(work)

    @property
    def payload_bytes(self) -> int:
        """Approximate bytes of keys and values held."""
        return self._size

    # --- local operations ---------------------------------------------------------
    def _next_seq(self) -> int:
        return max(self._vv.get(self.replica, 0), self._max_seen.get(self.replica, 0)) + 1

    def _commit_local(self, key: str, new: Entry, seq: int, old: Entry | None) -> Delta:
        self._store(key, new, old)
        self._vv[self.replica] = seq
        self._remember(self.replica, seq, key)
        return {key: new}

    def put(self, key: str, value: bytes) -> Delta:
        """Write ``value`` (JSON-encoded) at ``key``; return the delta."""
        seq = self._next_seq()
        entries = self._entries
        if self.multi_value or entries.holds_state(key):
            old = entries.get(key)
            new = ops.put(old, self.clock.tick(), seq, value, self.multi_value)
            return self._commit_local(key, new, seq, old)
        # The common case, kept short: a plain register replaces a plain register.
        register = lww.write(self.clock.tick(), seq, value)
        replaced = entries.put_register(key, register)
        self._size += len(value) - replaced if replaced >= 0 else len(key) + len(value)
        if self._tombstones:
            self._tombstones.discard(key)
        self._vv[self.replica] = seq
        self._remember(self.replica, seq, key)
        return {key: register}

    def delete(self, key: str) -> Delta | None:
        """Delete ``key``; None if it has no visible value here."""
        current = self._entries.get(key)
        if current is None or ops.visible(current) is None:
            return None
        seq = self._next_seq()
        return self._commit_local(key, ops.delete(current, self.clock.tick(), seq), seq, current)

    def increment(self, key: str, by: int) -> Delta:
        """Add ``by`` to the counter at ``key``.

        Raises:
            CounterConflictError: The key holds a value that is not a counter.
        """
        seq = self._next_seq()
        old = self._entries.get(key)
        new = ops.increment(old, self.clock.tick(), seq, by)
        return self._commit_local(key, new, seq, old)

    # --- merging ------------------------------------------------------------------
    def _store(self, key: str, new: Entry, old: Entry | None) -> None:
        """Set ``key`` to ``new``; ``old`` must be its current entry."""
        if old is not None:
            self._size -= ops.entry_size(key, old)
        self._entries[key] = new
        self._size += ops.entry_size(key, new)
        if ops.is_tombstone(new):
            self._tombstones.add(key)
        else:
            self._tombstones.discard(key)

    def _remember(self, origin: str, seq: int, key: str) -> None:
        index = self._index.get(origin)
        if index is None:
            index = self._index[origin] = EventRing(self._index_limit)
        evicted = index.append(seq, key)
        if seq > self._max_seen.get(origin, 0):
            self._max_seen[origin] = seq
        if evicted is not None and evicted > self._floor.get(origin, 0):
            self._floor[origin] = evicted

    def _covered(self, entry: Entry) -> bool:
        vv = self._vv
        return all(seq <= vv.get(r, 0) for r, seq in ops.dots(entry))

    def _merge_one(self, key: str, incoming: Entry) -> bool:
        if isinstance(incoming, bytes):
            merged = self._merge_register(key, incoming)
            if merged is not None:
                return merged
        stamp = ops.latest_stamp(incoming)
        if stamp is not None:
            self.clock.observe(stamp)
        old = self._entries.get(key)
        if old is None and self._covered(incoming):
            return False  # seen and since collected: do not resurrect
        new = ops.join(old, incoming)
        if new is None or new == old:
            return False
        before = dict(ops.dots(old)) if old is not None else {}
        self._store(key, new, old)
        for origin, seq in ops.dots(new):
            if before.get(origin) != seq:
                self._remember(origin, seq, key)
        return True

    def _merge_register(self, key: str, incoming: LwwRegister) -> bool | None:
        """:meth:`_merge_one` of a plain register over a plain register or nothing.

        The common case on the replication and recovery paths, kept short (one lookup,
        no stamps or dot tables built): the same outcome as the general join. None when
        the key holds a ``KeyState`` (then the general join applies).
        """
        origin, seq = lww.replica(incoming), lww.seq(incoming)
        replaced = self._entries.merge_register(key, incoming, self._vv.get(origin, 0))
        if replaced == NOT_PLAIN:
            return None
        self.clock.observe_at(
            int.from_bytes(incoming[:6], "big"), int.from_bytes(incoming[6:9], "big")
        )
        if replaced == UNCHANGED:
            return False
        size = lww.value_size(incoming)
        self._size += size - replaced if replaced >= 0 else len(key) + size
        if lww.has_value(incoming):
            if self._tombstones:
                self._tombstones.discard(key)
        else:
            self._tombstones.add(key)
        self._remember(origin, seq, key)
        return True

    def merge(self, entries: Mapping[str, Entry]) -> list[str]:
        """Join entries into the state without claiming any events; return changed keys."""
        return [key for key, incoming in entries.items() if self._merge_one(key, incoming)]

    def apply_push(
        self, origin: str, first: int, last: int, entries: Mapping[str, Entry]
    ) -> list[str]:
        """Join a delta that holds every event ``first..last`` of ``origin``."""
        changed = self.merge(entries)
        if last > self._max_seen.get(origin, 0):
            self._max_seen[origin] = last
        current = self._vv.get(origin, 0)
        if first <= current + 1 and not self._pending.get(origin):  # in order: the usual case
            if last > current:
                self._vv[origin] = last
            return changed
        pending = self._pending.setdefault(origin, [])
        pending.append((first, last))
        self._drain(origin)
        return changed

    def apply_sync(self, payload: SyncPayload) -> list[str]:
        """Join what a peer sent in answer to our version vector."""
        changed = self.merge(payload.entries)
        if payload.full:  # the sender may have collected tombstones up to its vector
            self._raise_collected(payload.version_vector.items())
        for origin, seq in payload.version_vector.items():
            if seq > self._vv.get(origin, 0):
                self._vv[origin] = seq
            if seq > self._max_seen.get(origin, 0):
                self._max_seen[origin] = seq
            self._drain(origin)
        return changed

    def _drain(self, origin: str) -> None:
        pending = self._pending.get(origin)
        if not pending:
            return
        pending.sort()
        current = self._vv.get(origin, 0)
        rest = []
        for first, last in pending:
            if first <= current + 1:
                current = max(current, last)
            else:
                rest.append((first, last))
        if current:
            self._vv[origin] = current
        self._pending[origin] = rest

    # --- sync ---------------------------------------------------------------------
    def sends_everything(self, peer: Mapping[str, int]) -> bool:
        """True when :meth:`delta_since` would answer ``peer`` with the whole state.

        For want of events: a new peer, or one behind what the index reaches back to.
        """
        if not peer:
            return True
        return any(
            peer.get(origin, 0) < self._floor.get(origin, 0)
            for origin, top in self._max_seen.items()
            if top > peer.get(origin, 0)
        )

    def delta_since(self, peer: Mapping[str, int], max_fraction: float = 0.5) -> SyncPayload:
        """What a peer whose version vector is ``peer`` lacks: a delta, or everything.

        A full snapshot is sent when the peer is new (empty vector), when the index no
        longer reaches back to the peer's position, or when the delta would hold more
        than ``max_fraction`` of the keys anyway.
        """
        vv = self.version_vector
        if not peer:
            return SyncPayload(True, self.entries(), vv)
        keys: set[str] = set()
        for origin, top in self._max_seen.items():
            known = peer.get(origin, 0)
            if top <= known:
                continue
            if known < self._floor.get(origin, 0):
                return SyncPayload(True, self.entries(), vv)
            index = self._index.get(origin)
            if index is not None:
                keys.update(index.keys_after(known))
        if len(keys) > max_fraction * max(len(self._entries), 1) and len(keys) > 16:
            return SyncPayload(True, self.entries(), vv)
        delta: Delta = {}
        for key in keys:
            entry = self._entries.get(key)
            if entry is not None:
                delta[key] = entry
        return SyncPayload(False, delta, vv)

    def behind_collection(self, peer: Mapping[str, int]) -> bool:
        """Whether a replica at ``peer`` may hold a key whose deletion is gone from here.

        A tombstone collected here (or before this state was joined or recovered) is in no
        answer any more: a replica that has not seen that deletion and still holds the
        key - a copy that was away, reopened from its files - would keep it after a delta
        or a full answer (a join never removes a key). Such a replica needs a fresh copy.
        """
        return any(peer.get(origin, 0) < top for origin, top in self._collected.items())

    def _raise_collected(self, events: Iterable[tuple[str, int]]) -> None:
        collected = self._collected
        for origin, seq in events:
            if seq > collected.get(origin, 0):
                collected[origin] = seq

    def collect_garbage(self, members: Iterable[Mapping[str, int]]) -> int:
        """Drop tombstones every member has seen; return how many were dropped.

        Also releases the delta index of a quiet origin (:meth:`_release_quiet`).

        Args:
            members: The version vectors of all other replicas of this map.
        """
        members = list(members)
        floor = dict(self._vv)
        for vv in members:
            floor = {r: min(s, vv.get(r, 0)) for r, s in floor.items()}
        self._release_quiet(floor)
        dropped = 0
        for key in list(self._tombstones):
            entry = self._entries[key]
            if all(seq <= floor.get(r, 0) for r, seq in ops.dots(entry)):
                self._raise_collected(ops.dots(entry))
                self._size -= ops.entry_size(key, entry)
                del self._entries[key]
                self._tombstones.discard(key)
                dropped += 1
        return dropped

    def _release_quiet(self, floor: Mapping[str, int]) -> None:
        """Drop the index ring of another origin every member holds, quiet since last time.

        ``floor``: per origin, the events this replica and every member hold. A ring
        serves only a peer behind its origin's greatest event; once every replica holds
        that event and the origin made none since the previous collection (a copy long
        gone, typically: its ring, up to ``index_limit`` slots, 4.6 MiB for 65,536 keys,
        was kept for ever), the ring goes and the index floor rises to that event: a
        peer behind it after all (a replica restored from an older disk) gets the whole
        state, as when the ring overflowed. Events after it start a new ring.
        """
        quiet, self._quiet = self._quiet, {}
        for origin in list(self._index):
            top = self._max_seen.get(origin, 0)
            if origin == self.replica or floor.get(origin, 0) < top:
                continue
            if quiet.get(origin) != top:
                self._quiet[origin] = top  # seen by all now: released if still quiet next time
            else:
                del self._index[origin]
                self._floor[origin] = max(self._floor.get(origin, 0), top)

    # --- recovery -----------------------------------------------------------------
    def prepare_image(self, step_bytes: int = 1 << 20) -> Iterator[None]:
        """Make ready what the next :meth:`image` needs, in steps (yields between them).

        An image copies the table's index in one go (it must be one moment's); this
        makes the arrays it copies into beforehand, ``step_bytes`` of them per step, so
        that the image itself is a few milliseconds at a million keys (see
        ``EntryTable.prepare_view``). Writes may go on between the steps.
        """
        return self._entries.prepare_view(step_bytes)

    def hold(self) -> Callable[[], None]:
        """Keep the state's records as they are; call the result to let them change.

        For a child process forked while held: it shares the records' memory (see
        ``EntryTable.hold``). Writes go on meanwhile (appended, not in place).
        """
        return self._entries.hold().release

    def image(self) -> MapImage:
        """The whole state now, frozen (see :class:`MapImage`); later writes do not change it."""
        stamp = self.clock.peek()
        return MapImage(
            entries=self._entries.view(),
            version_vector=dict(self._vv),
            events={origin: ring.export() for origin, ring in self._index.items()},
            floors=dict(self._floor),
            max_seen=dict(self._max_seen),
            tombstones=list(self._tombstones),
            payload_bytes=self._size,
            clock=(stamp.wall, stamp.logical),
        )

    def restore(self, image: MapImage) -> None:
        """Replace the state with an image (its ``entries`` table is adopted, not copied)."""
        if not isinstance(image.entries, EntryTable):
            raise TypeError("restore needs the image's entries as an EntryTable")
        self._entries = image.entries
        self._vv = {r: s for r, s in image.version_vector.items() if s > 0}
        self._pending.clear()
        self._floor = dict(image.floors)
        self._index.clear()
        self._quiet.clear()
        for origin, (seqs, keys) in image.events.items():
            for seq, key in zip(seqs, keys, strict=True):  # older images may repeat keys
                self._remember(origin, seq, key)
        self._max_seen = dict(image.max_seen)
        self._tombstones = set(image.tombstones)
        self._size = image.payload_bytes
        self._collected = dict(self._vv)  # what was collected before is not known here
        self.clock.observe(Stamp(image.clock[0], image.clock[1], self.replica))

    def load(self, entries: Mapping[str, Entry], vv: Mapping[str, int]) -> None:
        """Replace the state with a snapshot (entries and the vector they cover).

        An :class:`EntryTable` passed in is adopted as the state, not copied: the caller
        hands it over. Any other mapping is copied into a fresh table. Only the latest
        ``index_limit`` events per origin are held while the index is rebuilt.
        """
        if isinstance(entries, EntryTable):
            self._entries = entries
        else:
            self._entries = EntryTable()
            for key, entry in entries.items():
                self._entries[key] = entry
        self._tombstones.clear()
        self._index.clear()
        self._quiet.clear()
        self._floor.clear()
        self._max_seen.clear()
        self._pending.clear()
        self._size = 0
        latest: dict[str, LatestEvents] = {}
        newest = b""  # the greatest (wall, logical) prefix of an LWW register seen
        for key, entry in self._entries.items():
            if isinstance(entry, KeyState):
                self._size += ops.entry_size(key, entry)
                if ops.is_tombstone(entry):
                    self._tombstones.add(key)
                stamp = ops.latest_stamp(entry)
                if stamp is not None:
                    self.clock.observe(stamp)
                dots = list(ops.dots(entry))
            else:  # the common case, kept cheap: a million keys load in one pass
                self._size += len(key) + lww.value_size(entry)
                if not lww.has_value(entry):
                    self._tombstones.add(key)
                if entry[:9] > newest[:9]:
                    newest = entry
                dots = [(lww.replica(entry), lww.seq(entry))]
            for origin, seq in dots:
                events = latest.get(origin)
                if events is None:
                    events = latest[origin] = LatestEvents(self._index_limit)
                events.add(seq, key)
                if seq > self._max_seen.get(origin, 0):
                    self._max_seen[origin] = seq
        if newest:
            self.clock.observe(lww.stamp(LwwRegister(newest)))
        for origin, events in latest.items():
            self._index[origin] = events.ring()
            if events.floor:
                self._floor[origin] = events.floor
        self._vv = {r: s for r, s in vv.items() if s > 0}
        self._collected = dict(self._vv)  # what was collected before is not known here
        for origin, seq in self._vv.items():
            if seq > self._max_seen.get(origin, 0):
                self._max_seen[origin] = seq
