"""A near cache: a resource's values kept in the application's process (sans I/O).

The node's agent streams every change of its replica (``GET /v1/{ns}/{res}?watch=1``,
see ``statecast.agent.watch``). A :class:`NearCache` is fed that stream and answers
reads of the keys it holds without a round trip; a read it cannot answer goes to the
agent, and its answer is kept. No sockets here: a client shell reads the stream and
calls :meth:`NearCache.feed`, and asks the cache before every read.

**What a read from the cache returns.** The agent sends, after each batch of changes
and every 25 ms, a heartbeat carrying its version vector, having sent every change it
had applied up to that vector before it. So once the cache has taken in a heartbeat,
every key it holds is at least as new as the agent's replica was when it sent that
heartbeat. A read is served from the cache only if a heartbeat arrived within
``max_staleness`` seconds (default 0.1 s: four heartbeats); otherwise (stream down,
agent busy, gap) it goes to the agent. The bound, stated: **a value read from the
cache is never older than what the agent had applied when the process last heard from
it, and that was at most** ``max_staleness`` **seconds ago** (plus the transit of one
message on loopback).

**Ordering.** Each value carries the latest hybrid stamp of the key's state (from the
stream, from ``Statecast-Version`` on the agent's answers, from a write's answer); a
key's later states never have a smaller stamp, so the cache keeps the value with the
greatest stamp, whatever the order in which the stream, a read's answer and a write's
answer arrive. A stream line wins a tie (it may carry more merged siblings under the
same stamp). A read that misses registers the key as *being fetched*: stream lines
for it arriving before the answer are kept and weighed against the answer.

**Read your writes.** A write's answer (its stamp) goes into the cache at once, so the
process reads its own writes even before the stream brings them back.

**Memory.** At most ``max_keys`` keys and ``max_bytes`` of keys and values; the least
recently used go first. The stream updates only keys the cache holds (as Redis's
client-side caching invalidates only keys the client read); on a ``reset`` (the agent
cannot tell what changed since the cache's vector) the cache is emptied.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

__all__ = ["MISS", "NearCache", "NearCacheStats", "Version", "parse_version"]


class Version(NamedTuple):
    """A hybrid stamp as the agent writes it: ``wall.logical.replica``."""

    wall: int
    logical: int
    replica: str


def parse_version(text: str | None) -> Version | None:
    """A stamp from its text (None: none given).

    Raises:
        ValueError: not ``wall.logical.replica``.
    """
    if text is None:
        return None
    wall, logical, replica = text.split(".", 2)
    return Version(int(wall), int(logical), replica)


class _Miss:
    def __repr__(self) -> str:
        return "MISS"


#: What :meth:`NearCache.lookup` answers when the agent must be asked.
MISS: Final = _Miss()

_ENTRY_OVERHEAD = 120  # bytes of Python objects per cached key, about


@dataclass
class NearCacheStats:
    """Counters of one near cache (cumulative)."""

    hits: int = 0
    misses: int = 0
    stale: int = 0  # reads sent to the agent because the stream was not fresh
    updates: int = 0  # stream lines that changed a cached key
    evictions: int = 0
    resets: int = 0
    gaps: int = 0
    heartbeats: int = 0


class NearCache:
    """The cached values of one resource, fed by its change stream.

    Args:
        max_keys: Keys kept at most.
        max_bytes: Bytes of keys and values (and a per-key overhead) kept at most.
        max_staleness: Seconds without a heartbeat after which reads go to the agent.
        clock: Monotonic seconds (injectable for tests).
    """

    def __init__(
        self,
        *,
        max_keys: int = 100_000,
        max_bytes: int = 64 << 20,
        max_staleness: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_keys, self.max_bytes, self.max_staleness = max_keys, max_bytes, max_staleness
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, tuple[Version | None, bytes | None]] = OrderedDict()
        self._bytes = 0
        self._fetching: dict[str, tuple[int, tuple[Version | None, bytes | None] | None]] = {}
        self._partial = b""
        self._connected = False
        self._heard = float("-inf")
        self.vector: dict[str, int] = {}
        self.agent_time = 0.0
        self.stats = NearCacheStats()

    # --- reads --------------------------------------------------------------------
    @property
    def fresh(self) -> bool:
        """True if a heartbeat of a live stream arrived within ``max_staleness``."""
        return self._connected and self._clock() - self._heard <= self.max_staleness

    @property
    def lag(self) -> float:
        """Seconds since the last heartbeat (infinite before the first)."""
        return self._clock() - self._heard

    def lookup(self, key: str) -> bytes | _Miss | None:
        """The key's raw JSON value (None: known absent), or :data:`MISS`.

        On a miss the caller asks the agent and hands the answer to :meth:`fill` (or
        :meth:`abandon` if the request failed).
        """
        with self._lock:
            if self._connected and self._clock() - self._heard <= self.max_staleness:
                found = self._entries.get(key)
                if found is not None:
                    self._entries.move_to_end(key)
                    self.stats.hits += 1
                    return found[1]
                self.stats.misses += 1
            else:
                self.stats.stale += 1
            count, seen = self._fetching.get(key, (0, None))
            self._fetching[key] = (count + 1, seen)
            return MISS

    def fill(self, key: str, raw: bytes | None, version: str | None) -> None:
        """Keep the agent's answer to a read that missed (``raw`` None: not found)."""
        with self._lock:
            count, seen = self._fetching.pop(key, (1, None))
            if count > 1:
                self._fetching[key] = (count - 1, seen)
            answer = (parse_version(version), raw)
            if seen is not None and not _newer(answer[0], seen[0]):
                answer = seen  # the stream brought this state or a later one meanwhile
            self._merge(key, answer, insert=True, tie_wins=False)

    def abandon(self, key: str) -> None:
        """A read that missed failed: stop waiting for its answer."""
        with self._lock:
            count, seen = self._fetching.pop(key, (1, None))
            if count > 1:
                self._fetching[key] = (count - 1, seen)

    def wrote(self, key: str, raw: bytes | None, version: str) -> None:
        """This process wrote ``raw`` (None: deleted) at ``version``: read it from now on."""
        with self._lock:
            self._merge(key, (parse_version(version), raw), insert=True, tie_wins=True)

    # --- the stream ----------------------------------------------------------------
    def connected(self) -> dict[str, int]:
        """A stream is being opened: the vector to resume from (``since``)."""
        with self._lock:
            self._partial = b""
            return dict(self.vector)

    def disconnected(self) -> None:
        """The stream ended or failed: reads go to the agent until a new one is fresh."""
        with self._lock:
            self._connected = False
            self._partial = b""

    def feed(self, data: bytes) -> None:
        """Take in bytes of the stream (any split; lines may span calls).

        Raises:
            ValueError: a line is not one the agent sends (the stream must be dropped).
        """
        with self._lock:
            lines = (self._partial + data).split(b"\n")
            self._partial = lines.pop()
            for line in lines:
                if line:
                    self._line(json.loads(line))

    def _line(self, line: dict[str, Any]) -> None:
        if "k" in line:
            key = line["k"]
            version = parse_version(line["s"])
            raw = None if line["v"] is None else json.dumps(line["v"]).encode()
            if line["s"] is None:  # collected: no state left to order against
                self._drop(key)
            else:
                self._merge(key, (version, raw), insert=False, tie_wins=True)
            fetching = self._fetching.get(key)
            if fetching is not None:
                count, seen = fetching
                if seen is None or not _newer(seen[0], version):
                    self._fetching[key] = (count, (version, raw))
        elif "vv" in line:
            self.vector = {str(r): int(s) for r, s in line["vv"].items()}
            self.agent_time = float(line.get("t", 0.0))
            self._connected = True
            self._heard = self._clock()
            self.stats.heartbeats += 1
        elif line.get("reset"):
            self._entries.clear()
            self._bytes = 0
            self.stats.resets += 1
        elif line.get("gap"):
            self._connected = False
            self.stats.gaps += 1
        else:
            raise ValueError(f"unknown stream line {line!r}"[:200])

    # --- the entries ----------------------------------------------------------------
    def _merge(
        self, key: str, new: tuple[Version | None, bytes | None], *, insert: bool, tie_wins: bool
    ) -> None:
        current = self._entries.get(key)
        if current is None:
            if not insert:
                return
        else:
            if _newer(current[0], new[0]) or (current[0] == new[0] and not tie_wins):
                return
            self._bytes -= _size(key, current[1])
            if not insert:
                self.stats.updates += 1
        self._entries[key] = new
        self._entries.move_to_end(key)
        self._bytes += _size(key, new[1])
        while len(self._entries) > self.max_keys or self._bytes > self.max_bytes:
            old_key, (_, old_raw) = self._entries.popitem(last=False)
            self._bytes -= _size(old_key, old_raw)
            self.stats.evictions += 1

    def _drop(self, key: str) -> None:
        current = self._entries.pop(key, None)
        if current is not None:
            self._bytes -= _size(key, current[1])
            self.stats.updates += 1

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def bytes(self) -> int:
        """Bytes of keys and values held (with a per-key overhead)."""
        return self._bytes


def _newer(a: Version | None, b: Version | None) -> bool:
    """True if ``a`` is strictly newer than ``b`` (no stamp: oldest)."""
    if a is None:
        return False
    return b is None or a > b


def _size(key: str, raw: bytes | None) -> int:
    return len(key) + (len(raw) if raw is not None else 0) + _ENTRY_OVERHEAD
