"""The change stream of a replica: what a client's near cache is fed with.

``GET /v1/{ns}/{resource}?watch=1[&since=<version vector as JSON>]`` answers with a
stream of JSON lines (chunked), one object a line:

- ``{"k": key, "v": value, "s": "wall.logical.replica"}``: the key's value is now
  ``v`` (what a GET answers: JSON, a JSON array for concurrent siblings, a number for a
  counter; ``null`` once deleted), its state's latest stamp ``s``. A key's later
  states never have a smaller stamp, so a cache keeps, per key, the line with the
  greatest stamp (the later of equal ones). ``"s": null``: the key is gone (a delete
  every replica has seen was collected): drop it whatever its stamp.
- ``{"vv": {...}, "t": seconds}``: a heartbeat, every ``interval`` (25 ms) and after
  every batch of changes: every change the replica had applied up to that vector has
  been sent before it. A client that resumes from that vector misses nothing; one that
  has heard nothing for a while knows its cache may be behind.
- ``{"reset": true}``: the replica cannot tell what changed since the client's vector
  (it is new, or its recent-events index no longer reaches back): drop everything.
- ``{"gap": true}``: the client read too slowly and changes were dropped; the stream
  ends. The client reconnects with its last heartbeat's vector (and reads from the
  agent meanwhile).

Changes are gathered as they are applied (local writes, pushes and syncs from peers)
and sent once per turn of the event loop, one encoding shared by every subscriber of
the replica; a replica nobody watches pays one dict lookup per change.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterable, Mapping

from statecast.agent.store import ReplicaStore
from statecast.api.types import Ref
from statecast.core.crdt import Visible
from statecast.core.crdt.entry import latest_stamp

__all__ = ["Subscriber", "WatchHub", "render_value"]

#: Bytes a subscriber may have waiting before it is cut off with a gap.
MAX_PENDING = 8 << 20
HEARTBEAT_SECONDS = 0.025


def render_value(value: Visible) -> bytes:
    """A visible value as a GET answers it (``null`` for none)."""
    if value is None:
        return b"null"
    if isinstance(value, bytes):
        return value
    if isinstance(value, int):
        return str(value).encode()
    return b"[" + b",".join(value) + b"]"


def _after_written(store: ReplicaStore, subscribers: list[Subscriber], data: bytes) -> None:
    """Send ``data`` (read from the state now) once all of it is in the log.

    A near cache never holds a value, nor a vector, that a ``kill -9`` of the agent
    could take back. Batches are written in order, so the sends stay in order.
    """
    tail = store.unwritten_tail
    if tail is None or tail.done:
        for subscriber in subscribers:
            subscriber.send(data)
        return

    def send() -> None:
        for subscriber in subscribers:
            subscriber.send(data)

    tail.then(send)


class Subscriber:
    """One client's stream: bytes waiting to be sent, and a flag to wake the sender."""

    def __init__(self) -> None:
        self._pending: list[bytes] = []
        self._size = 0
        self._ready = asyncio.Event()
        self.ended = False

    def send(self, data: bytes) -> None:
        """Queue ``data``; past :data:`MAX_PENDING` the stream ends with a gap."""
        if self.ended:
            return
        self._size += len(data)
        if self._size > MAX_PENDING:
            self._pending, self._size = [b'{"gap":true}\n'], 0
            self.ended = True
        else:
            self._pending.append(data)
        self._ready.set()

    def end(self) -> None:
        """End the stream with a gap (the client reconnects and reads from the agent)."""
        if not self.ended:
            self._pending.append(b'{"gap":true}\n')
            self.ended = True
            self._ready.set()

    async def chunks(self) -> AsyncIterator[bytes]:
        """What to write, as it comes (ends after a gap)."""
        while True:
            await self._ready.wait()
            self._ready.clear()
            data, self._pending, self._size = b"".join(self._pending), [], 0
            yield data
            if self.ended:
                return


class WatchHub:
    """Subscribers per replica, and the changes to send them.

    Args:
        stores: The agent's replicas by reference (read when a change is sent).
        interval: Seconds between heartbeats.
    """

    def __init__(self, stores: Mapping[Ref, ReplicaStore], interval: float = HEARTBEAT_SECONDS):
        self._stores = stores
        self._interval = interval
        self._subscribers: dict[Ref, set[Subscriber]] = {}
        self._changed: dict[Ref, set[str]] = {}
        self._flushing = False
        self._beat: asyncio.TimerHandle | None = None

    def watched(self, ref: Ref) -> bool:
        """True if someone subscribes to ``ref``."""
        return ref in self._subscribers

    def changed(self, ref: Ref, keys: Iterable[str]) -> None:
        """Note changed keys of a replica (sent at the end of this loop turn)."""
        if ref not in self._subscribers:
            return
        self._changed.setdefault(ref, set()).update(keys)
        if not self._flushing:
            self._flushing = True
            asyncio.get_running_loop().call_soon(self._flush)

    def subscribe(self, store: ReplicaStore, since: Mapping[str, int]) -> Subscriber:
        """A new subscriber, first sent what changed since ``since`` (or a reset)."""
        subscriber = Subscriber()
        first = b""
        if since:
            payload = store.delta_since(since)
            first = b'{"reset":true}\n' if payload.full else self._lines(store, payload.entries)
        _after_written(store, [subscriber], first + self._heartbeat(store))
        self._subscribers.setdefault(store.spec.ref, set()).add(subscriber)
        if self._beat is None:
            self._beat = asyncio.get_running_loop().call_later(self._interval, self._heartbeats)
        return subscriber

    def unsubscribe(self, ref: Ref, subscriber: Subscriber) -> None:
        """Forget a subscriber (its stream ended)."""
        subscribers = self._subscribers.get(ref)
        if subscribers is not None:
            subscribers.discard(subscriber)
            if not subscribers:
                del self._subscribers[ref]
                self._changed.pop(ref, None)

    async def stream(self, store: ReplicaStore, since: Mapping[str, int]) -> AsyncIterator[bytes]:
        """The stream of one subscriber, until it ends or is closed."""
        subscriber = self.subscribe(store, since)
        try:
            async for chunk in subscriber.chunks():
                yield chunk
        finally:
            self.unsubscribe(store.spec.ref, subscriber)

    # --- sending ------------------------------------------------------------------
    @staticmethod
    def _lines(store: ReplicaStore, keys: Iterable[str]) -> bytes:
        lines = []
        for key in keys:
            entry = store.state.entry(key)
            stamp = latest_stamp(entry) if entry is not None else None
            # No entry: a delete collected since (every replica has it): drop the key.
            version = json.dumps(stamp.encode()).encode() if stamp is not None else b"null"
            value = render_value(store.get(key))
            lines.append(b'{"k":%b,"v":%b,"s":%b}\n' % (json.dumps(key).encode(), value, version))
        return b"".join(lines)

    @staticmethod
    def _heartbeat(store: ReplicaStore) -> bytes:
        vector = json.dumps(store.version_vector.to_json(), separators=(",", ":"))
        return b'{"vv":%b,"t":%.3f}\n' % (vector.encode(), time.time())

    def _flush(self) -> None:
        self._flushing = False
        changed, self._changed = self._changed, {}
        for ref, keys in changed.items():
            store = self._stores.get(ref)
            subscribers = self._subscribers.get(ref)
            if store is None or not subscribers:
                continue
            data = self._lines(store, keys) + self._heartbeat(store)
            _after_written(store, list(subscribers), data)

    def _heartbeats(self) -> None:
        self._beat = None
        if not self._subscribers:
            return
        if self._changed:
            # Changes applied this turn and not flushed yet go first: a vector is never
            # sent ahead of a change it holds (the flush already queued finds nothing).
            self._flush()
        for ref, subscribers in list(self._subscribers.items()):
            store = self._stores.get(ref)
            if store is None:  # the replica was closed: nothing more will come
                for subscriber in list(subscribers):
                    subscriber.end()
                continue
            _after_written(store, list(subscribers), self._heartbeat(store))
        self._beat = asyncio.get_running_loop().call_later(self._interval, self._heartbeats)
