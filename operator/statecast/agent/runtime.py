"""The agent: its replicas, what it knows of the others, and its background work."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from statecast.agent.accounting import AccessLog, RequestLog, SyncLog, build_registry
from statecast.agent.auth import Gate
from statecast.agent.config import AgentConfig, ResourceSpec
from statecast.agent.directory import PeerDirectory
from statecast.agent.disk_space import DiskSpace
from statecast.agent.errors import PersistenceError
from statecast.agent.housekeeping import Housekeeper
from statecast.agent.incarnation import replica_id
from statecast.agent.looplag import LoopLag, LoopLagCollector
from statecast.agent.persistence import ReplicaFiles
from statecast.agent.replication import Replication
from statecast.agent.retired import RetiredLedger
from statecast.agent.store import ReplicaStore
from statecast.agent.strong import StrongReplica, StrongTimings
from statecast.agent.strong_link import HttpPeerLink
from statecast.agent.watch import WatchHub
from statecast.api.types import Ref
from statecast.pki.contexts import TlsMaterial

__all__ = ["UNKNOWN_VERDICT_SECONDS", "Agent", "ReplicaReport"]

log = logging.getLogger(__name__)

#: Seconds a pass over the Replicas that did not list a resource answers for it (404).
UNKNOWN_VERDICT_SECONDS = 2.0
#: Resources asked for but unknown that are remembered at most (then forgotten at once).
UNKNOWN_ASKS_KEPT = 1024


@dataclass(frozen=True)
class ReplicaReport:
    """What the agent knows of one of its replicas (for Replica status and /v1/stats)."""

    namespace: str
    resource: str
    keys: int
    bytes: int
    version_vector: dict[str, int]
    last_modified: float | None
    last_sync_mode: str | None
    last_sync_time: float | None
    last_sync_success: float | None
    lag_seconds: float
    strong: dict[str, Any] | None = None
    """Strong resources: the protocol's progress (epoch, log position, commit, leading)."""
    storage_failure: str | None = None
    """Why its last log write failed (a full disk); None while its files are written."""


class Agent:
    """One node's agent.

    Args:
        config: Its configuration (standalone: resources and peers listed there).
    """

    def __init__(self, config: AgentConfig) -> None:
        self.config = config
        self.node = config.node
        #: This agent's certificate, key and trust bundle (TLS on): loaded by
        #: :meth:`reload_tls` (files) or by the Kubernetes edge (its Secret).
        self.tls = TlsMaterial() if config.tls else None
        self.directory = PeerDirectory(config.node, config.zone, config.peer_routes, self.tls)
        for peer in config.peers:
            self.directory.set(peer.node, peer.url)
        self.access = AccessLog(config.node)
        self.sync_log = SyncLog()
        self.requests = RequestLog()
        #: Checks application requests when ``config.auth`` is on (set by the edge).
        self.gate: Gate | None = None
        self.stores: dict[Ref, ReplicaStore] = {}
        self.specs: dict[Ref, ResourceSpec] = {}
        self.locations: dict[Ref, tuple[str, ...]] = {}
        self.replication = Replication(
            config.node, self.directory, self.sync_log, lambda ref: self.locations.get(ref, ())
        )
        self.housekeeper = Housekeeper(lambda: [s.state for s in self.stores.values()])
        self.watch = WatchHub(self.stores)
        self.loop_lag = LoopLag()
        #: This agent's replicas of strong resources (leader, follower or learner).
        self.strong: dict[Ref, StrongReplica] = {}
        #: Resource -> the node leading it, as the Replica objects say (strong only).
        self.leaders: dict[Ref, str] = {}
        self.strong_timings = StrongTimings()
        self.strong_link = HttpPeerLink(
            config.node, self.directory, lambda: self.replication.session
        )
        #: Retired copies on this node not handed off yet (kept by the edge's Retirement).
        self.retired = RetiredLedger()
        #: Room left for the replicas' files: a copy short of it says so before a write fails.
        self.disk = DiskSpace(config.data_dir, config.min_free_bytes)
        self.registry = build_registry(
            self.access,
            self.sync_log,
            self._gauge_rows,
            self.requests,
            self._file_rows,
            self.retired.counts,
        )
        self.registry.register(LoopLagCollector(self.loop_lag))
        self.ready = False
        #: The mutual-TLS listener is serving (advertised only then).
        self.peer_listening = False
        #: False until the agent knows which resources exist (the Kubernetes edge sets it
        #: after its first pass over the Replicas): a resource it does not know of yet is
        #: then answered 503 ``not_ready``, not 404 ``unknown_resource``.
        self.resources_known = True
        #: When the agent's list of resources was last complete: the start (monotonic) of
        #: the last finished pass over the Replicas (standalone: the configuration, always).
        self.resources_as_of = math.inf
        #: Asks the Kubernetes edge for a pass over the Replicas now (set by the edge).
        self.learn_resources: Callable[[], None] | None = None
        self._unknown_asked: dict[Ref, float] = {}
        #: When :meth:`recheck_placement` last asked the edge for a pass (monotonic).
        self._placement_asked = -math.inf
        self._tasks: list[asyncio.Task[None]] = []

    # --- replicas -----------------------------------------------------------------
    def surely_unknown(self, ref: Ref) -> bool:
        """Whether a resource this agent does not know of may be answered "unknown" (404).

        The agent learns resources from the Replicas it lists (once a second, and on its
        own Replicas' events): one created moments ago may not be among them yet, and a
        client that saw it Ready must not be told it does not exist. So "unknown" is said
        only from a pass over the Replicas that began after the resource was asked for
        (a client asks after the Replicas it waited for exist, so that pass lists them),
        and for :data:`UNKNOWN_VERDICT_SECONDS` after that ask; until then the question
        asks the edge for a pass and is answered 503 ``not_ready`` (retry).
        """
        now = time.monotonic()
        asked = self._unknown_asked.get(ref)
        if asked is None or now - asked > UNKNOWN_VERDICT_SECONDS:
            if len(self._unknown_asked) >= UNKNOWN_ASKS_KEPT:
                self._unknown_asked.clear()
            asked = self._unknown_asked[ref] = now
        if self.resources_as_of >= asked:
            return True
        if self.learn_resources is not None:
            self.learn_resources()
        return False

    def recheck_placement(self) -> None:
        """Ask the edge for a pass over the Replicas now (a peer asked for a copy here).

        The peer asked about a replica this agent does not list it as holding: it may
        have been placed moments ago. At most once per pass: an ask made while no pass
        has begun since the last one adds nothing, so refused peers cannot make the edge
        list the Replicas more often than back to back.
        """
        if self.learn_resources is None or self._placement_asked > self.resources_as_of:
            return
        self._placement_asked = time.monotonic()
        self.learn_resources()

    def declare(self, spec: ResourceSpec, nodes: tuple[str, ...]) -> None:
        """Know a resource and the nodes holding its replicas (for routing and sync)."""
        self.specs[spec.ref] = spec
        self.locations[spec.ref] = nodes

    def forget(self, ref: Ref) -> bool:
        """Forget a resource deleted from the cluster: its routes and its counters.

        Without this an agent that lives through many resources keeps a spec, a route
        and access, sync and request counters (and their metric series) for every
        resource it ever saw. A replica still held here is not forgotten (False).
        """
        if ref in self.stores or ref in self.strong:
            return False
        self.specs.pop(ref, None)
        self.locations.pop(ref, None)
        self.leaders.pop(ref, None)
        self.access.forget(*ref)
        self.sync_log.forget(*ref)
        self.requests.forget(*ref)
        return True

    def open_replica(self, spec: ResourceSpec, *, serving: bool = True) -> ReplicaStore:
        """Hold a replica of ``spec`` here (recovered from the data directory).

        Args:
            spec: the resource.
            serving: whether it answers reads at once (the Kubernetes edge opens
                replicas not serving until they have caught up with a peer).
        """
        store = self.stores.get(spec.ref)
        if store is not None:
            return store
        directory = self.config.data_dir / spec.namespace / spec.name
        files = ReplicaFiles(
            directory,
            self.config.fsync,
            self.config.fsync_interval,
            self.config.snapshot_writer,
        )
        # a copy's own id, never the id of an earlier copy on this node (incarnation.py)
        replica = replica_id(directory, self.node)
        store = ReplicaStore(spec, replica, files, self.config.index_limit)
        store.on_busy = self.housekeeper.wake
        store.on_changed = self.watch.changed
        store.open()
        store.serving = serving  # before the store is visible to the server
        self.stores[spec.ref] = store
        self.specs.setdefault(spec.ref, spec)
        self.replication.attach(store)
        return store

    def open_strong(self, spec: ResourceSpec) -> StrongReplica:
        """Hold a replica of the strong resource ``spec`` here (recovered from disk)."""
        replica = self.strong.get(spec.ref)
        if replica is not None:
            return replica
        directory = self.config.data_dir / spec.namespace / spec.name / "strong"
        replica = StrongReplica(spec, self.node, directory, self.strong_link, self.strong_timings)
        replica.open()
        self.strong[spec.ref] = replica
        self.specs.setdefault(spec.ref, spec)
        return replica

    async def close_replica(self, ref: Ref) -> None:
        """Stop holding a replica (its files stay for a later return)."""
        self.disk.forget(ref)
        strong = self.strong.pop(ref, None)
        if strong is not None:
            await strong.close()
        store = self.stores.pop(ref, None)
        if store is None:
            return
        self.replication.detach(ref)
        await _snapshot_and_close(store)

    def report(self, ref: Ref) -> ReplicaReport | None:
        """The status of one replica held here."""
        strong = self.strong.get(ref)
        if strong is not None:
            return ReplicaReport(
                namespace=ref[0],
                resource=ref[1],
                keys=len(strong.core.machine),
                bytes=strong.core.machine.payload_bytes,
                version_vector={},
                last_modified=strong.last_modified,
                last_sync_mode=None,
                last_sync_time=None,
                last_sync_success=None,
                lag_seconds=0.0,
                strong=strong.progress(),
                storage_failure=strong.files.failure
                or self.disk.shortfall(ref, strong.core.machine.payload_bytes),
            )
        store = self.stores.get(ref)
        if store is None:
            return None
        status = self.replication.status.get(ref)
        return ReplicaReport(
            namespace=ref[0],
            resource=ref[1],
            keys=len(store.state),
            bytes=store.state.payload_bytes,
            version_vector=store.version_vector.to_json(),
            last_modified=store.last_modified,
            last_sync_mode=status.last_mode if status else None,
            last_sync_time=status.last_time if status else None,
            last_sync_success=status.last_success if status else None,
            lag_seconds=status.lag_seconds if status else 0.0,
            storage_failure=self._storage_failure(ref, store),
        )

    def _storage_failure(self, ref: Ref, store: ReplicaStore) -> str | None:
        """Why a copy's files cannot be written (or soon cannot): None while they can."""
        if store.files is None:  # held in memory only
            return None
        return store.files.failure or self.disk.shortfall(ref, store.state.payload_bytes)

    def _gauge_rows(self) -> list[tuple[str, str, int, int, float]]:
        rows = []
        for ref in [*self.stores, *self.strong]:
            report = self.report(ref)
            if report is not None:
                rows.append((ref[0], ref[1], report.keys, report.bytes, report.lag_seconds))
        return rows

    def _file_rows(self) -> list[tuple[str, str, int, int, int]]:
        return [
            (
                ref[0],
                ref[1],
                store.files.wal_bytes,
                store.files.last_snapshot_bytes,
                store.files.writer_kills,
            )
            for ref, store in self.stores.items()
            if store.files is not None
        ]

    # --- lifecycle ----------------------------------------------------------------
    def load_standalone(self) -> None:
        """Declare and open the resources listed in the configuration."""
        everyone = (self.node, *(p.node for p in self.config.peers))
        for spec in self.config.resources:
            nodes = spec.replicas if spec.replicas is not None else everyone
            self.declare(spec, tuple(nodes))
            if spec.consistency == "strong" and spec.leader is not None:
                self.leaders[spec.ref] = spec.leader
            if self.node in nodes and spec.consistency == "strong":
                self.open_strong(spec)
            elif self.node in nodes:
                self.open_replica(spec)

    async def _lead_standalone(self) -> None:
        """Lead the standalone strong resources that name this node (a fixed epoch 1)."""
        for ref, replica in self.strong.items():
            spec = self.specs[ref]
            if spec.leader == self.node:
                voters = self.locations.get(ref, (self.node,))
                await replica.fence(1)
                await replica.lead(1, voters, ())

    async def start(self) -> None:
        """Catch up with the peers once, then start the background loops."""
        self.loop_lag.start()
        await asyncio.gather(self.replication.measure_rtt(), self.replication.anti_entropy_round())
        await self._lead_standalone()
        self.ready = True
        self._tasks = [
            asyncio.create_task(self.housekeeper.run()),
            asyncio.create_task(self._every(self.config.sync_interval, self._anti_entropy)),
            asyncio.create_task(
                self._every(self.config.rtt_interval, self.replication.measure_rtt)
            ),
            asyncio.create_task(self._every(self.config.fsync_interval, self._flush_logs)),
            asyncio.create_task(self._every(self.config.snapshot_interval, self._snapshots)),
        ]

    async def stop(self) -> None:
        """Stop the loops, snapshot every replica, close the logs and the session."""
        self.loop_lag.stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for strong in list(self.strong.values()):
            await strong.close()
        await self.replication.close()
        for store in self.stores.values():
            await _snapshot_and_close(store)

    async def _every(self, seconds: float, job: Callable[[], Awaitable[None]]) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                await job()
            except Exception:  # a loop must outlive one bad round
                log.exception("event=background_job_failed job=%s", job.__name__)

    async def _anti_entropy(self) -> None:
        await self.replication.anti_entropy_round()

    async def _flush_logs(self) -> None:
        for store in list(self.stores.values()):
            if store.files is not None and store.files.fsync == "interval":
                await store.files.sync_now()

    async def _snapshots(self) -> None:
        cap = self.config.snapshot_wal_bytes
        for store in list(self.stores.values()):
            files = store.files
            if files is not None and (files.worth_folding() or files.wal_bytes >= cap):
                started = time.monotonic()
                size = await store.snapshot()
                log.info(
                    "event=snapshot resource=%s/%s bytes=%d seconds=%.3f",
                    *store.spec.ref,
                    size,
                    time.monotonic() - started,
                )


async def _snapshot_and_close(store: ReplicaStore) -> None:
    """Snapshot ``store`` and close its log; on a full disk the log alone must do.

    The snapshot only shortens the next recovery: what was acknowledged is in the log.
    """
    try:
        await store.snapshot()
    except (PersistenceError, OSError) as err:
        log.warning("event=snapshot_on_close_failed resource=%s/%s error=%s", *store.ref, err)
    store.close()
