"""Peer replication: push writes at once, pull deltas (or full snapshots) behind them.

Every local write's delta is pushed to the other replicas straight away. Each peer
replica drains the resource's :class:`~statecast.agent.outbox.Outbox` at its own pace
(one push in flight per peer, so bursts coalesce into batches and a slow or dead peer
delays no one else); a peer whose push fails rests for ``push_backoff`` seconds and is
left to anti-entropy meanwhile. Anti-entropy runs
behind it: every ``sync_interval`` this agent sends its version vector to each peer
replica and joins what comes back: a delta when the peer's index reaches back far
enough, a full snapshot when this replica is new or too far behind. Round-trip times
to every peer are measured to pick the nearest replica for forwarded reads.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from statecast.agent.accounting import SyncLog
from statecast.agent.directory import PeerDirectory
from statecast.agent.errors import BadRequestError
from statecast.agent.outbox import Outbox, PushBatch
from statecast.agent.store import ReplicaStore
from statecast.agent.wire import (
    DELTA_ONLY_CHECKED,
    DELTA_ONLY_HEADER,
    NEEDS_FULL_COPY,
    SYNC_LINES,
    SyncLines,
    decode_sync_reply,
    encode_push,
    encode_sync_request,
)
from statecast.api.types import Ref
from statecast.core.crdt import Delta, Entry
from statecast.core.crdt.entry import latest_stamp
from statecast.core.version_vector import VersionVector

__all__ = ["Replication", "SyncStatus"]

log = logging.getLogger(__name__)


@dataclass
class SyncStatus:
    """How one replica's synchronisation is going (reported in Replica status)."""

    last_mode: str | None = None
    last_time: float | None = None
    last_success: float | None = None
    lag_seconds: float = 0.0
    acks: dict[str, dict[str, int]] = field(default_factory=dict)
    pulled: dict[str, tuple[float, bool]] = field(default_factory=dict)
    """Peer -> (time of the last successful pull from it, whether it had caught up)."""


#: A sync answer is read as it is joined: no limit on the whole, 30 s for each read.
SYNC_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=2, sock_read=30)


@dataclass(frozen=True)
class _Joined:
    """A sync answer joined.

    Its mode, vector, whether its sender had caught up, keys changed here, the age of
    the newest change it brought, and its size in bytes.
    """

    full: bool
    vector: VersionVector
    caught_up: bool
    changed: int
    lag: float
    size: int


def _lag(entries: Iterable[Entry], now: float) -> float:
    """The age of the newest change among ``entries`` (a seed's stamp has no age)."""
    lag = 0.0
    for entry in entries:
        stamp = latest_stamp(entry)
        if stamp is not None and stamp.wall > 0:  # a seed's stamp (0, 0) has no age
            lag = max(lag, now - stamp.wall / 1000)
    return lag


#: The code of a peer's refusal to sync with a node it does not list as a holder.
NOT_A_HOLDER = "replica_does_not_belong"
#: Seconds between a new replica's first pulls while the peer refuses it as not a holder
#: (3.1 s in all, then anti-entropy's rounds: a holder's pass over the Replicas, asked
#: for by the first refusal, is one LIST away; see :meth:`Replication.first_pull`).
FIRST_PULL_WAITS = (0.1, 0.2, 0.4, 0.8, 0.8, 0.8)


def _error_code(body: bytes) -> str | None:
    """The ``code`` of an Agent API error answer (None when the body is not one)."""
    try:
        error = json.loads(body).get("error")
    except (ValueError, AttributeError):
        return None
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, str) else None


def _checked(response: aiohttp.ClientResponse) -> bool:
    """Whether the peer checked a ``delta_only`` request (agents of before ignore it)."""
    return response.headers.get(DELTA_ONLY_HEADER) == DELTA_ONLY_CHECKED


#: Seconds a peer is left to anti-entropy after a failed push.
PUSH_BACKOFF = 2.0
#: Seconds a push may take before the peer counts as failed.
PUSH_TIMEOUT = 5.0


class Replication:
    """The client side of the peer protocol for every replica of one agent.

    Args:
        node: This agent's node (its replica id).
        directory: Where the peers are.
        sync_log: Byte accounting per mode.
        members: Resource -> nodes holding a replica of it (this one included).
    """

    def __init__(
        self,
        node: str,
        directory: PeerDirectory,
        sync_log: SyncLog,
        members: Callable[[Ref], Iterable[str]],
    ) -> None:
        self.node = node
        self.directory = directory
        self.sync_log = sync_log
        self.members = members
        self.status: dict[Ref, SyncStatus] = {}
        self._outboxes: dict[Ref, Outbox] = {}
        self._flushers: dict[tuple[Ref, str], asyncio.Task[None]] = {}
        self._resting: dict[str, float] = {}
        self._encoded: dict[Ref, tuple[PushBatch, bytes]] = {}
        self._stores: dict[Ref, ReplicaStore] = {}
        self._session: aiohttp.ClientSession | None = None
        #: Replicas reopened from warm files (see :meth:`reopened`) -> the peers that
        #: refused them a delta (``needs_full_copy``) since.
        self.warm: dict[Ref, set[str]] = {}

    @property
    def session(self) -> aiohttp.ClientSession:
        """The shared HTTP client session (created on first use)."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=30, sock_connect=2),
                connector=aiohttp.TCPConnector(limit=64),
            )
        return self._session

    async def close(self) -> None:
        """Cancel pushes in flight and close the session."""
        for task in self._flushers.values():
            task.cancel()
        if self._session is not None:
            await self._session.close()

    def attach(self, store: ReplicaStore) -> None:
        """Start replicating a store: push its writes, include it in anti-entropy."""
        self._stores[store.spec.ref] = store
        self.status.setdefault(store.spec.ref, SyncStatus())
        store.listeners.append(self._on_local_change)

    def reopened(self, ref: Ref) -> None:
        """``ref``'s replica was reopened from files kept warm after it was handed off.

        Until one pull has joined a peer's answer, its pulls ask for a delta only
        (``delta_only``): a peer that collected a deletion it has not seen refuses, and
        the reconciler then gives the replica a fresh copy (:meth:`needs_fresh_copy`).
        """
        self.warm[ref] = set()

    def needs_fresh_copy(self, ref: Ref) -> bool:
        """Whether a peer refused a reopened warm replica a delta before any answered it."""
        return bool(self.warm.get(ref))

    def detach(self, ref: Ref) -> None:
        """Stop replicating a store."""
        self._stores.pop(ref, None)
        self.warm.pop(ref, None)
        self.status.pop(ref, None)
        self._outboxes.pop(ref, None)
        self._encoded.pop(ref, None)
        for key in [k for k in self._flushers if k[0] == ref]:
            self._flushers.pop(key).cancel()

    def peers_of(self, ref: Ref) -> list[str]:
        """The other nodes holding a replica of ``ref`` whose endpoint is known."""
        return [n for n in self.members(ref) if n != self.node and self.directory.url(n)]

    # --- push ---------------------------------------------------------------------
    def _on_local_change(self, store: ReplicaStore, delta: Delta, seq: int) -> None:
        ref = store.spec.ref
        now = time.monotonic()
        peers = [p for p in self.peers_of(ref) if self._resting.get(p, 0.0) <= now]
        if not peers:
            return  # no one to push to; anti-entropy brings later replicas up to date
        outbox = self._outboxes.get(ref)
        if outbox is None:
            outbox = self._outboxes[ref] = Outbox()
        outbox.add(seq, delta, peers)
        loop = asyncio.get_running_loop()
        for peer in outbox.peers:
            flusher = self._flushers.get((ref, peer))
            if flusher is None or flusher.done():
                self._flushers[ref, peer] = loop.create_task(self._flush(ref, peer, outbox))

    async def _flush(self, ref: Ref, peer: str, outbox: Outbox) -> None:
        while (batch := outbox.take(peer)) is not None:
            cached = self._encoded.get(ref)
            if cached is not None and cached[0] is batch:
                body = cached[1]
            else:
                store = self._stores.get(ref)
                if store is None:
                    return  # detached meanwhile
                # ``from`` names the events' origin, the store's replica id: its node is
                # the part before ``#`` (an agent of before refuses an id it does not
                # know as a peer, rather than numbering the events as its node's)
                body = encode_push(store.replica, batch.first, batch.last, batch.entries)
                self._encoded[ref] = (batch, body)
            if await self._push(ref, peer, body):
                outbox.sent(peer, batch)
            else:
                outbox.forget(peer)
                self._resting[peer] = time.monotonic() + PUSH_BACKOFF
                return

    async def _push(self, ref: Ref, peer: str, body: bytes) -> bool:
        base = self.directory.url(peer)
        if base is None:
            return False
        url = f"{base}/v1/peer/push/{ref[0]}/{ref[1]}"
        try:
            async with self.session.post(
                url,
                data=body,
                timeout=aiohttp.ClientTimeout(total=PUSH_TIMEOUT),
                **self.directory.options(peer),
            ) as response:
                await response.read()
                if response.status != 200:
                    log.debug("event=push_refused peer=%s status=%d", peer, response.status)
                    return False
        except (aiohttp.ClientError, TimeoutError) as err:
            log.debug("event=push_failed peer=%s error=%s", peer, err)
            return False
        self.sync_log.record((ref[0], ref[1], peer, "push", "out"), len(body))
        return True

    # --- anti-entropy -------------------------------------------------------------
    async def first_pull(
        self, store: ReplicaStore, peer: str, waits: Sequence[float] = FIRST_PULL_WAITS
    ) -> str | None:
        """A new replica's first pull from ``peer``, retried while it refuses us as no holder.

        :meth:`sync_with`, retried promptly while ``peer`` does not list this node as a
        holder yet. A holder learns of a new Replica from its own pass over the Replicas (once a
        second, or at once when a peer asks it about one it does not know: see
        :meth:`~statecast.agent.runtime.Agent.recheck_placement`), so a failover copy's
        first pull often comes before and is refused 403 ``replica_does_not_belong``.
        Left to the next anti-entropy round and the next Replica pass, that refusal cost
        a failover ~2 s (issue 13). Only that refusal is retried, after each of
        ``waits`` in turn; any other failure, and the last refusal, return None
        (anti-entropy goes on as before).
        """
        for wait in (*waits, None):
            mode, refusal = await self._pull(store, peer)
            if mode is not None or refusal != NOT_A_HOLDER or wait is None:
                return mode
            await asyncio.sleep(wait)
        return None  # (not reached: the last turn returns)

    async def sync_with(self, store: ReplicaStore, peer: str) -> str | None:
        """Pull what ``peer`` has and this replica lacks; return the mode, None on failure.

        The answer comes in lines (:func:`~statecast.agent.wire.encode_sync_lines`), each
        decoded and joined as it arrives, with a turn of the event loop between lines:
        a full sync of a million keys does not hold this agent's loop for seconds. An
        agent of an earlier version answers one JSON object, joined in one go.

        Raises:
            PersistenceError: What was joined could not be logged.
        """
        return (await self._pull(store, peer))[0]

    async def _pull(self, store: ReplicaStore, peer: str) -> tuple[str | None, str | None]:
        """:meth:`sync_with`'s work: (the mode or None, the code of a refusal or None)."""
        ref = store.spec.ref
        base = self.directory.url(peer)
        if base is None:
            return None, None
        warm = self.warm.get(ref)
        body = encode_sync_request(
            self.node, store.version_vector.entries, lines=True, delta_only=warm is not None
        )
        started = time.monotonic()
        try:
            async with self.session.post(
                f"{base}/v1/peer/sync/{ref[0]}/{ref[1]}",
                data=body,
                timeout=SYNC_TIMEOUT,
                **self.directory.options(peer),
            ) as response:
                if response.status != 200:
                    code = _error_code(await response.read())
                    log.debug(
                        "event=sync_refused peer=%s status=%d code=%s", peer, response.status, code
                    )
                    if code == NEEDS_FULL_COPY and warm is not None:
                        warm.add(peer)
                    return None, code
                if warm is not None and not _checked(response):
                    # an agent of before session 11 ignores delta_only: its answer may
                    # leave a key whose deletion it collected here - not joined, refused
                    log.info("event=sync_unchecked resource=%s/%s peer=%s", *ref, peer)
                    warm.add(peer)
                    return None, NEEDS_FULL_COPY
                if response.content_type == SYNC_LINES:
                    joined = await self._join_lines(store, response)
                else:
                    joined = await self._join_whole(store, await response.read())
        except (aiohttp.ClientError, TimeoutError) as err:
            log.debug("event=sync_failed peer=%s error=%s", peer, err)
            return None, None
        except BadRequestError as err:  # (not PersistenceError: that is ours to raise)
            log.warning("event=sync_bad_reply peer=%s error=%s", peer, err)
            return None, None
        mode = "full" if joined.full else "delta"
        self.sync_log.record((ref[0], ref[1], peer, "vv", "out"), len(body))
        self.sync_log.record((ref[0], ref[1], peer, mode, "in"), joined.size)
        if self.warm.pop(ref, None) is not None:  # a warm copy caught up: what it saved
            saved = 0 if joined.full else max(0, store.state.payload_bytes - joined.size)
            self.sync_log.warm_caught_up(saved)
            log.info(
                "event=warm_copy_caught_up resource=%s/%s peer=%s mode=%s bytes=%d saved=%d",
                *ref, peer, mode, joined.size, saved,
            )  # fmt: skip
        now = time.time()
        status = self.status.setdefault(ref, SyncStatus())
        status.acks[peer] = dict(joined.vector.entries)
        status.pulled[peer] = (now, joined.caught_up)
        status.last_success = now
        if joined.changed:
            status.last_mode, status.last_time = mode, now
            status.lag_seconds = joined.lag
        else:
            status.lag_seconds = 0.0
            status.last_mode = status.last_mode or mode
            status.last_time = status.last_time or now
        self.directory.observe_rtt(peer, time.monotonic() - started)
        return mode, None

    async def _join_lines(self, store: ReplicaStore, response: aiohttp.ClientResponse) -> _Joined:
        reader, joining = SyncLines(), store.joining()
        size, lag, now = 0, 0.0, time.time()
        async for chunk in response.content.iter_any():
            size += len(chunk)
            for line in reader.feed(chunk):
                entries = reader.entries(line)
                lag = max(lag, _lag(entries.values(), now))
                await joining.add_in_steps(entries)
        head = reader.end()
        changed = await joining.finish(head.full, head.vector)
        return _Joined(head.full, head.vector, head.caught_up, changed, lag, size)

    async def _join_whole(self, store: ReplicaStore, reply: bytes) -> _Joined:
        answer = decode_sync_reply(reply)
        payload = answer.payload
        lag = _lag(payload.entries.values(), time.time())
        changed = await store.apply_sync(payload)
        return _Joined(
            payload.full, payload.version_vector, answer.caught_up, changed, lag, len(reply)
        )

    async def anti_entropy_round(self) -> None:
        """One round: every replica pulls from every peer replica, then collects garbage."""
        jobs: list[Coroutine[Any, Any, str | None]] = []
        for ref, store in list(self._stores.items()):
            jobs.extend(self.sync_with(store, peer) for peer in self.peers_of(ref))
        await asyncio.gather(*jobs)
        for ref, store in list(self._stores.items()):
            others = [n for n in self.members(ref) if n != self.node]
            acks = self.status[ref].acks
            if others and all(n in acks for n in others):
                store.state.collect_garbage(acks[n] for n in others)

    def record_ack(self, ref: Ref, peer: str, vector: dict[str, int]) -> None:
        """Remember a peer's version vector (it asked us for a sync with it)."""
        status = self.status.get(ref)
        if status is not None:
            status.acks[peer] = vector

    async def measure_rtt(self) -> None:
        """Ping every known peer once."""

        async def ping(node: str, url: str) -> None:
            started = time.monotonic()
            try:
                async with self.session.get(
                    f"{url}/v1/peer/ping", **self.directory.options(node)
                ) as response:
                    await response.read()
            except (aiohttp.ClientError, TimeoutError):
                return
            self.directory.observe_rtt(node, time.monotonic() - started)

        peers = list(self.directory.peers.values())
        await asyncio.gather(*(ping(p.node, p.url) for p in peers))
