"""The agent's Kubernetes edge: its Lease, the Replicas of its node, their status.

The agent is the controller of its own node's Replica objects, the way a kubelet is for
its pods. Every call to the API server goes through a :class:`ClusterGateway`; the real
one (:class:`~statecast.agent.kube_gateway.KubernetesGateway`) runs the blocking
``kubernetes`` client in worker threads, and unit tests pass a fake. The protocol, the
records and the errors worth retrying are in :mod:`statecast.agent.kube_api`; the
command (:mod:`statecast.commands.agent`) wires the real gateway in.

- :class:`LeaseKeeper` creates and renews ``Lease statecast-agent-<node>`` (endpoint and
  zone in annotations) every ``period`` seconds; the operator reads it as a heartbeat.
- :class:`PeerWatcher` reads the other agents' Leases: a fresh Lease puts its agent in
  the peer directory, an expired one takes it out.
- :class:`ReplicaReconciler` makes the node's Replicas true: it opens a replica for each
  (Pending -> Syncing -> Ready, Stale when it falls behind), closes the ones deleted,
  learns where every resource's replicas are (for sync and forwarding), and writes status.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any, Literal

from statecast.agent.certificate import CertificateKeeper
from statecast.agent.config import ResourceSpec
from statecast.agent.errors import PersistenceError
from statecast.agent.handoff import STOP_GRACE, Retirement
from statecast.agent.kube_api import (
    API_ERRORS,
    CertificateRequests,
    ClusterGateway,
    LeaseRecord,
    ReplicaRecord,
    ReplicaWatcher,
)
from statecast.agent.replica_status import ReplicaFacts, build_status, caught_up, decide_phase
from statecast.agent.retired import STRONG_DIR, Reopened, adopt, adopt_strong
from statecast.agent.runtime import Agent
from statecast.agent.seeding import SourceError, from_data, from_inline, source_ref
from statecast.agent.store import ReplicaStore
from statecast.agent.strong import StrongReplica
from statecast.api.lease import (
    AGENT_LEASE_PREFIX,
    CERTIFICATE_ANNOTATION,
    ENDPOINT_ANNOTATION,
    PEER_ENDPOINT_ANNOTATION,
    ZONE_ANNOTATION,
    agent_lease_name,
)
from statecast.core.crdt.seed import is_seed_origin, seed_entries, seed_origin
from statecast.core.liveness import RenewalWatch
from statecast.core.pki import leaf_note
from statecast.core.strong.log import Operation, seed_operation

__all__ = ["LeaseKeeper", "PeerWatcher", "ReplicaReconciler", "run_edge"]

log = logging.getLogger(__name__)

#: How often a resource known here without a Replica is checked for deletion (seconds).
FORGET_CHECK_SECONDS = 30.0


def _wall_now() -> datetime:
    """Now by this process's wall clock.

    ``time.time``, which the test-only skew of :mod:`statecast.agent.clock_skew` moves
    as a node's drifted clock would.
    """
    return datetime.fromtimestamp(time.time(), UTC)


# --- Lease ------------------------------------------------------------------------------
class LeaseKeeper:
    """Creates and renews this agent's Lease.

    Args:
        gateway: The API server.
        namespace: Namespace of the agent Leases.
        node: This node.
        endpoint: URL other agents and the operator reach this agent at.
        zone: This node's zone.
        period: Seconds between renewals (the Lease lasts three periods).
        peer_endpoint: The URL of its mutual-TLS listener while it serves one ("" when
            not, or without TLS); advertised in the Lease.
        certificate: What it says of the certificate it holds ("" for nothing; with TLS:
            :func:`statecast.core.pki.leaf_note`).
    """

    def __init__(
        self,
        gateway: ClusterGateway,
        namespace: str,
        node: str,
        endpoint: str,
        zone: str,
        period: float = 2.0,
        peer_endpoint: Callable[[], str] = lambda: "",
        certificate: Callable[[], str] = lambda: "",
    ) -> None:
        self.gateway, self.namespace, self.node = gateway, namespace, node
        self.endpoint, self.zone, self.period = endpoint, zone, period
        self.peer_endpoint, self.certificate = peer_endpoint, certificate
        self.renewals = 0

    @property
    def name(self) -> str:
        """The Lease name."""
        return agent_lease_name(self.node)

    async def renew(self) -> LeaseRecord:
        """Create or renew the Lease once."""
        current = await self.gateway.get_lease(self.namespace, self.name)
        annotations = {
            **(current.annotations if current else {}),
            ENDPOINT_ANNOTATION: self.endpoint,
            ZONE_ANNOTATION: self.zone,
        }
        for stale in (PEER_ENDPOINT_ANNOTATION, CERTIFICATE_ANNOTATION):  # of an earlier run
            annotations.pop(stale, None)
        if peer := self.peer_endpoint():
            annotations[PEER_ENDPOINT_ANNOTATION] = peer
        if held := self.certificate():
            annotations[CERTIFICATE_ANNOTATION] = held
        lease = LeaseRecord(
            name=self.name,
            holder=self.node,
            renew_time=_wall_now(),
            duration_seconds=max(1, round(self.period * 3)),
            annotations=annotations,
            resource_version=current.resource_version if current else None,
        )
        written = await self.gateway.put_lease(self.namespace, lease)
        self.renewals += 1
        return written

    async def run(self) -> None:
        """Renew forever (errors are logged and retried next period)."""
        while True:
            try:
                await self.renew()
            except API_ERRORS as err:  # the API server may be briefly unreachable
                log.warning("event=lease_renew_failed node=%s error=%s", self.node, err)
            await asyncio.sleep(self.period)


class PeerWatcher:
    """Keeps the peer directory in line with the other agents' fresh Leases."""

    def __init__(
        self,
        gateway: ClusterGateway,
        namespace: str,
        agent: Agent,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.gateway, self.namespace, self.agent = gateway, namespace, agent
        self.clock = clock
        self._watch = RenewalWatch()

    async def refresh(self) -> None:
        """Read the Leases once and update the directory.

        A peer is alive while this agent has seen its Lease's ``renewTime`` change within
        the Lease's duration, on this agent's own clock (the peer's clock may be off: see
        :mod:`statecast.core.liveness`).
        """
        leases = [
            lease
            for lease in await self.gateway.list_leases(self.namespace)
            if lease.name.startswith(AGENT_LEASE_PREFIX) and lease.holder != self.agent.node
        ]
        now = self.clock()
        tls = self.agent.tls is not None
        self._watch.forget_others([lease.holder for lease in leases])
        alive: set[str] = set()
        for lease in leases:
            endpoint = lease.annotations.get(ENDPOINT_ANNOTATION)
            if lease.renew_time is None:
                continue
            silent = self._watch.silent_for(lease.holder, lease.renew_time, now)
            # with TLS a peer is reached only at its mutual-TLS listener, once it serves one
            peer_url = lease.annotations.get(PEER_ENDPOINT_ANNOTATION) if tls else endpoint
            if endpoint and peer_url and silent <= lease.duration_seconds:
                alive.add(lease.holder)
                zone = lease.annotations.get(ZONE_ANNOTATION, "")
                self.agent.directory.set(lease.holder, peer_url, zone, app_url=endpoint)
        for node in list(self.agent.directory.peers):
            if node not in alive:
                self.agent.directory.remove(node)


# --- Replicas ---------------------------------------------------------------------------
#: Seconds between attempts to seed from a source that cannot be read: doubling from
#: the first, at most the last.
SEED_RETRY_FIRST, SEED_RETRY_MAX = 1.0, 30.0
#: Seconds between attempts to open a replica whose files cannot be used (the same).
OPEN_RETRY_FIRST, OPEN_RETRY_MAX = 1.0, 30.0


@dataclass
class _Held:
    opened_at: float
    synced: bool = False
    seeded: bool = False
    source_error: str | None = None
    seed_retry_at: float = 0.0
    seed_retry_delay: float = 0.0
    last_written: dict[str, Any] | None = None
    written_at: float = 0.0
    peered_at: float | None = None
    """When it last went from no live peer to some (None: it has none now)."""
    warm: bool = False
    """Reopened from files kept warm: behind its resource until a caught-up peer answers."""


@dataclass
class _OpenFailure:
    """A replica whose files could not be opened here (a full or unreadable disk)."""

    error: str
    retry_at: float
    delay: float


class ReplicaReconciler:
    """Makes this node's Replica objects true and reports their status.

    Args:
        gateway: The API server.
        agent: The agent.
        stale_after: Seconds without a successful sync (or of lag) that make a replica Stale.
        status_every: Seconds between status writes when nothing but counters changed.
    """

    def __init__(
        self,
        gateway: ClusterGateway,
        agent: Agent,
        stale_after: float = 10.0,
        status_every: float = 5.0,
        retired_retention: float = 86400.0,
        warm_retention: float = 0.0,
        warm_budget: float | None = None,
    ) -> None:
        self.gateway, self.agent = gateway, agent
        self.stale_after, self.status_every = stale_after, status_every
        self.held: dict[tuple[str, str], _Held] = {}
        #: Replicas whose files could not be opened: tried again after a growing delay.
        self.open_failures: dict[tuple[str, str], _OpenFailure] = {}
        self._specs: dict[tuple[str, str], tuple[str, ResourceSpec]] = {}
        self.retirement = Retirement(
            agent,
            self._resource_uid,
            retired_retention,
            resource_voters=self._resource_voters,
            warm_retention=warm_retention,
            warm_budget=warm_budget,
        )
        self._uids: dict[tuple[str, str], str] = {}
        #: Resources known here without a Replica: when their deletion was last checked.
        self._absent_since: dict[tuple[str, str], float] = {}

    async def _resource_uid(self, namespace: str, name: str) -> str | None:
        obj = await self.gateway.get_resource(namespace, name)
        return None if obj is None else str((obj.get("metadata") or {}).get("uid") or "")

    async def _resource_voters(
        self, namespace: str, name: str
    ) -> tuple[str, tuple[str, ...]] | None:
        obj = await self.gateway.get_resource(namespace, name)
        if obj is None:
            return None
        uid = str((obj.get("metadata") or {}).get("uid") or "")
        voters = (obj.get("status") or {}).get("voters") or ()
        return uid, tuple(str(v) for v in voters)

    async def _spec(self, namespace: str, resource: str, uid: str = "") -> ResourceSpec | None:
        ref = (namespace, resource)
        cached = self._specs.get(ref)
        if cached is not None and cached[0] == uid:
            return cached[1]  # a resource made anew under this name is read again
        obj = await self.gateway.get_resource(namespace, resource)
        if obj is None:
            return None
        raw = obj.get("spec") or {}
        spec = ResourceSpec(
            namespace=namespace,
            name=resource,
            merge="multi-value" if raw.get("merge") == "multi-value" else "lww",
            consistency="strong" if raw.get("consistency") == "strong" else "eventual",
        )
        self._specs[ref] = (uid, spec)
        return spec

    async def reconcile(self) -> None:
        """One level-triggered pass over every Replica in the cluster."""
        agent = self.agent
        started = time.monotonic()
        replicas = await self.gateway.list_replicas()
        members: dict[tuple[str, str], list[str]] = {}
        uids: dict[tuple[str, str], str] = {}
        for record in replicas:
            if not record.deleting:
                ref = (record.namespace, record.resource)
                members.setdefault(ref, []).append(record.node)
                uids[ref] = record.owner_uid or uids.get(ref, "")
        for ref, nodes in members.items():
            spec = await self._spec(*ref, uids.get(ref, ""))
            if spec is not None:
                agent.declare(spec, tuple(sorted(nodes)))
        self._learn_leaders(replicas)
        for ref in [r for r in agent.locations if r not in members]:
            agent.locations[ref] = ()
        mine = {
            (r.namespace, r.resource): r
            for r in replicas
            if r.node == agent.node and not r.deleting
        }
        self.retirement.held = frozenset(mine)
        for ref in [r for r in self.open_failures if r not in mine]:
            del self.open_failures[ref]
        self.retirement.members = {ref: tuple(nodes) for ref, nodes in members.items()}
        for ref in [r for r in [*agent.stores, *agent.strong] if r not in mine]:
            log.info("event=replica_closed resource=%s/%s", *ref)
            await self.retirement.retire(ref, self._uids.pop(ref, ""))
            self.held.pop(ref, None)
        for ref, record in mine.items():
            spec = agent.specs.get(ref)
            if spec is None:
                continue  # its SharedResource is gone or not readable yet
            try:  # one replica's disk trouble stops neither the others nor the agent
                await self._replica_pass(spec, record, replicas)
            except PersistenceError as err:
                log.warning("event=replica_pass_failed resource=%s/%s error=%s", *ref, err)
        agent.resources_known = True  # every resource with a Replica is declared now
        agent.resources_as_of = started
        self.retirement.replicas_known.set()  # its sweeps may tell live from retired now
        await self._forget_deleted(members)  # last: its reads must not delay the reports

    async def _replica_pass(
        self, spec: ResourceSpec, record: ReplicaRecord, replicas: list[ReplicaRecord]
    ) -> None:
        """Open, seed, lead and report one of this node's replicas, as due."""
        ref = spec.ref
        if spec.consistency == "strong":
            await self._strong(spec, record)
            return
        if self.agent.replication.needs_fresh_copy(ref) and not await self._refresh(ref):
            return  # no live replica took its writes yet: its files stay, tried again
        if ref not in self.agent.stores and not await self._open(spec, record):
            return  # its files cannot be used now: Pending, tried again later
        held = self.held.get(ref)
        if held is not None and not held.seeded:
            await self._seed(ref, record, held, replicas)
        await self._report(ref, record, replicas)

    async def _forget_deleted(self, members: dict[tuple[str, str], list[str]]) -> None:
        """Forget the resources without a Replica whose SharedResource is gone.

        One without Replicas is asked for at once and then every
        :data:`FORGET_CHECK_SECONDS` while it has none (it may be between placements).
        """
        now = time.monotonic()
        for ref in list(self._absent_since):
            if ref in members:
                del self._absent_since[ref]
        for ref in [r for r in self.agent.specs if r not in members]:
            checked = self._absent_since.get(ref)
            if checked is not None and now - checked < FORGET_CHECK_SECONDS:
                continue
            self._absent_since[ref] = now
            if await self.gateway.get_resource(*ref) is None and self.agent.forget(ref):
                log.info("event=resource_forgotten resource=%s/%s", *ref)
                self._specs.pop(ref, None)
                del self._absent_since[ref]

    def _learn_leaders(self, replicas: list[ReplicaRecord]) -> None:
        """Who leads each strong resource: its Replica with role leader of the newest epoch."""
        leaders: dict[tuple[str, str], tuple[int, str]] = {}
        for record in replicas:
            ref = (record.namespace, record.resource)
            newest = leaders.get(ref, (-1, ""))[0]
            if record.role == "leader" and not record.deleting and record.epoch >= newest:
                leaders[ref] = (record.epoch, record.node)
        self.agent.leaders = {ref: node for ref, (_, node) in leaders.items()}

    async def _strong(self, spec: ResourceSpec, record: ReplicaRecord) -> None:
        """Hold a strong replica, lead it when its Replica says so, report its progress."""
        agent = self.agent
        replica = agent.strong.get(spec.ref)
        if replica is None:
            failure = self.open_failures.get(spec.ref)
            if failure is not None and time.monotonic() < failure.retry_at:
                return
            if failure is None:
                await self._write(record, "Pending", force=True)
            try:  # a full disk stops this replica (Pending), never the agent
                replica = await self._open_strong(spec, record)
            except (PersistenceError, OSError) as err:
                await self._open_failed(record, failure, str(err))
                return
            self.open_failures.pop(spec.ref, None)
            self.held[spec.ref] = _Held(opened_at=time.time(), seeded=True)
            self._uids[spec.ref] = record.owner_uid
        if record.role == "leader" and record.epoch > 0:
            learners = [n for n in agent.locations.get(spec.ref, ()) if n not in record.voters]
            opens = replica.opens(record.epoch)
            seed = await self._strong_seed(spec.ref, record) if opens else None
            if seed is not False:  # False: the source is not readable yet, do not open
                await replica.lead(record.epoch, record.voters, learners, seed)
        leading = replica.core.leader is not None
        if replica.core.active or (not leading and replica.fresh_within(self.stale_after / 2)):
            phase = "Ready"
        elif replica.heard_at is not None:
            phase = "Stale"
        else:
            phase = "Syncing"
        await self._write(record, phase)

    async def _open_strong(self, spec: ResourceSpec, record: ReplicaRecord) -> StrongReplica:
        """Open a strong replica from its files, once they are this resource's (its uid)."""
        directory = self.agent.config.data_dir / spec.namespace / spec.name / STRONG_DIR
        # not while the strong sweep deletes a retired copy there (an eventual copy's
        # hand-off, under the other lock, leaves strong directories alone)
        async with self.retirement.strong_lock:
            await asyncio.to_thread(adopt_strong, spec.ref, directory, record.owner_uid)
            return await asyncio.to_thread(self.agent.open_strong, spec)

    async def _strong_seed(
        self, ref: tuple[str, str], record: ReplicaRecord
    ) -> Operation | Literal[False] | None:
        """The seed the first leader of a strong resource opens its log with.

        None: the resource has no source. False: its source cannot be read yet (tried
        again with a growing delay; the epoch is not opened meanwhile, so no write comes
        before the seed).
        """
        held = self.held[ref]
        if time.monotonic() < held.seed_retry_at:
            return False
        obj = await self.gateway.get_resource(*ref)
        source = ((obj or {}).get("spec") or {}).get("source") or {}
        if not source:
            return None
        try:
            values = await self._source_values(ref[0], source)
        except SourceError as err:
            await self._seed_failed(ref, record, held, err)
            return False
        held.source_error, held.seed_retry_delay = None, 0.0
        log.info("event=replica_seeded resource=%s/%s keys=%d strong=1", *ref, len(values))
        await self.gateway.post_event(
            record, "Seeded", f"initial state: {len(values)} keys from the source", warning=False
        )
        return seed_operation(values)

    async def _seed_failed(
        self, ref: tuple[str, str], record: ReplicaRecord, held: _Held, err: SourceError
    ) -> None:
        held.seed_retry_delay = min(
            SEED_RETRY_MAX, max(SEED_RETRY_FIRST, 2 * held.seed_retry_delay)
        )
        held.seed_retry_at = time.monotonic() + held.seed_retry_delay
        if held.source_error != str(err):
            held.source_error = str(err)
            log.warning("event=seed_failed resource=%s/%s error=%s", *ref, err)
            await self.gateway.post_event(record, "SeedFailed", str(err), warning=True)

    async def _open(self, spec: ResourceSpec, record: ReplicaRecord) -> bool:
        """Open ``record``'s replica here; False when its files cannot be used now.

        A data directory that cannot be written (a full disk) or read stops this replica,
        not the agent: its Lease, its other replicas and the forwarding of this one's
        requests to the other copies go on. The Replica stays Pending with the reason
        (``StorageUnavailable``, and a Warning Event when the error changes), and opening
        is tried again after a delay that doubles from 1 s to 30 s.
        """
        agent = self.agent
        failure = self.open_failures.get(spec.ref)
        if failure is not None and time.monotonic() < failure.retry_at:
            return False
        started = time.monotonic()
        # Each status write is a round trip to the API server: made beside the work it
        # reports, not before it (at load each took 0.1-0.5 s of a failover's time).
        pending = self._write(record, "Pending", force=True) if failure is None else _nothing()
        self._uids[spec.ref] = record.owner_uid
        opened, _ = await asyncio.gather(self._open_files(spec, record), pending)
        if isinstance(opened, Exception):
            await self._open_failed(record, failure, str(opened))
            return False
        store, reopened = opened
        self.open_failures.pop(spec.ref, None)
        warm = reopened == "warm"  # (not a copy not handed off: that holds state of its own)
        self.held[spec.ref] = _Held(opened_at=time.time(), warm=warm)
        log.info(
            "event=replica_opened resource=%s/%s keys=%d after_s=%.3f",
            *spec.ref, len(store.state), time.monotonic() - started,
        )  # fmt: skip
        peers = agent.replication.peers_of(spec.ref)
        await asyncio.gather(
            self._write(record, "Syncing", force=True),
            *(agent.replication.first_pull(store, p) for p in peers),
        )
        log.info(
            "event=replica_first_sync resource=%s/%s peers=%d after_s=%.3f warm=%s",
            *spec.ref, len(peers), time.monotonic() - started, warm,
        )  # fmt: skip
        if agent.replication.needs_fresh_copy(spec.ref):  # refused a delta, answered by none
            if not await self._refresh(spec.ref):
                return False
            return await self._open(spec, record)
        return True

    async def _refresh(self, ref: tuple[str, str]) -> bool:
        """Close a reopened replica a peer refused a delta; replace its files by a new copy.

        It may hold a key whose deletion those peers collected (see
        ``DeltaMap.behind_collection``); its next open is a new copy, pulled whole. It may
        also hold writes no live replica has (a retired copy reopened before its hand-off;
        a write taken meanwhile whose push failed): they are handed off first, and its
        files deleted only once a live replica holds all of them
        (``Retirement.replace_copy``). False when none took them: closed, its files kept
        (marked retired), opened again on a later pass.
        """
        agent = self.agent
        refused = sorted(agent.replication.warm.get(ref, ()))  # reachable, and behind it
        store = agent.stores.get(ref)
        await agent.close_replica(ref)
        self.held.pop(ref, None)
        directory = agent.config.data_dir / ref[0] / ref[1]
        targets = [*refused, *(p for p in agent.replication.peers_of(ref) if p not in refused)]
        uid = self._uids.get(ref, "")
        if store is None:
            return True
        taken_by = await self.retirement.replace_copy(ref, store.state, directory, uid, targets)
        if taken_by is None:
            log.warning("event=warm_copy_kept resource=%s/%s reason=no_replica_took_it", *ref)
            return False
        agent.sync_log.warm["refreshed"] += 1
        log.warning(
            "event=warm_copy_refreshed resource=%s/%s reason=needs_full_copy handed_to=%s",
            *ref, taken_by,
        )  # fmt: skip
        return True

    async def _open_files(
        self, spec: ResourceSpec, record: ReplicaRecord
    ) -> tuple[ReplicaStore, Reopened] | PersistenceError | OSError:
        """Open the replica's files (not serving yet); the error when they cannot be used.

        Also says what was reopened (:func:`~statecast.agent.retired.adopt`): a warm copy,
        or a retired copy not handed off yet. Either pulls a delta only until a peer
        answered it (a peer that collected a deletion it has not seen refuses, and it is
        replaced by a new copy once its own writes are handed off: :meth:`_refresh`), and
        answers no peer's sync meanwhile.
        """
        agent = self.agent
        directory = agent.config.data_dir / spec.namespace / spec.name
        try:
            async with self.retirement.lock:  # not while a retired copy there is handed off
                # Files of an earlier resource of this name are set aside, not opened as ours.
                handing = self.retirement.handing(directory)  # back before its hand-off
                reopened = await asyncio.to_thread(
                    adopt, directory, record.owner_uid, agent.config.data_dir, handing=handing
                )
                # Not serving reads until its phase says it holds what its peers hold.
                store = await asyncio.to_thread(partial(agent.open_replica, spec, serving=False))
        except (PersistenceError, OSError) as err:
            return err
        if reopened:
            agent.replication.reopened(spec.ref)
            if reopened == "warm":
                agent.sync_log.warm["reopened"] += 1
            log.info(
                "event=%s resource=%s/%s keys=%d",
                "warm_copy_reopened" if reopened == "warm" else "retired_copy_reopened",
                *spec.ref, len(store.state),
            )  # fmt: skip
        return store, reopened

    async def _open_failed(
        self, record: ReplicaRecord, failure: _OpenFailure | None, error: str
    ) -> None:
        """Note a failed open: when to try again; the reason in status and an Event."""
        ref = (record.namespace, record.resource)
        delay = min(OPEN_RETRY_MAX, max(OPEN_RETRY_FIRST, 2 * failure.delay if failure else 0.0))
        self.open_failures[ref] = _OpenFailure(error, time.monotonic() + delay, delay)
        if failure is not None and failure.error == error:
            return
        log.warning("event=replica_open_failed resource=%s/%s error=%s", *ref, error)
        message = f"its files cannot be used here: {error}"
        await self._write(record, "Pending", force=True, reason=("StorageUnavailable", message))
        await self.gateway.post_event(record, "StorageUnavailable", message, warning=True)

    async def _seed(
        self,
        ref: tuple[str, str],
        record: ReplicaRecord,
        held: _Held,
        replicas: list[ReplicaRecord],
    ) -> None:
        """Seed a replica from its resource's source when it is to (see statecast.agent.seeding).

        It is when its vector holds no seed yet and either no other replica of the
        resource has ever held state (their reported vectors are empty: the resource is
        being created), or the operator placed it to stand in for lost copies. A source
        that cannot be read is tried again with a growing delay, and the replica is not
        Ready meanwhile.
        """
        store = self.agent.stores[ref]
        if any(is_seed_origin(origin) for origin in store.version_vector.entries):
            held.seeded = True  # seeded before (or holds what became of the seed)
            return
        if time.monotonic() < held.seed_retry_at:
            return
        if _others_held(replicas, ref, record.node) and not record.stand_in_for:
            held.seeded = True  # the state lives elsewhere: copy it (no source to read)
            return
        obj = await self.gateway.get_resource(*ref)
        if obj is None:
            return
        source = (obj.get("spec") or {}).get("source") or {}
        if not source:
            held.seeded = True  # nothing to seed
            return
        try:
            values = await self._source_values(ref[0], source)
        except SourceError as err:
            await self._seed_failed(ref, record, held, err)
            return
        multi_value = store.spec.merge == "multi-value"
        entries = seed_entries(values, multi_value=multi_value)
        if entries:
            await store.apply_push(seed_origin(values), 1, len(entries), entries)
        held.seeded, held.source_error, held.seed_retry_delay = True, None, 0.0
        lost = ", ".join(record.stand_in_for)
        stands = f" (a stand-in for {lost})" if lost else ""
        log.info("event=replica_seeded resource=%s/%s keys=%d%s", *ref, len(entries), stands)
        await self.gateway.post_event(
            record,
            "Seeded",
            f"initial state: {len(entries)} keys from the source{stands}",
            warning=False,
        )

    async def _source_values(self, namespace: str, source: dict[str, Any]) -> dict[str, bytes]:
        limits = self.agent.config.limits
        ref = source_ref(source)
        if ref is None:
            inline = source.get("inline") or {}
            return from_inline(inline, limits) if isinstance(inline, dict) else {}
        data = await self.gateway.get_source_data(namespace, ref.kind, ref.name)
        if data is None:
            raise SourceError(f"{ref!r} not found in namespace {namespace}")
        return from_data(ref, data, limits)

    async def _report(
        self, ref: tuple[str, str], record: ReplicaRecord, replicas: list[ReplicaRecord]
    ) -> None:
        agent = self.agent
        held = self.held.setdefault(ref, _Held(opened_at=time.time()))
        status = agent.replication.status.get(ref)
        peers = agent.replication.peers_of(ref)
        store = agent.stores.get(ref)
        if not held.synced:  # once caught up, it stays so (Stale says when it falls behind)
            held.synced = caught_up(
                held.opened_at,
                peers,
                status.pulled if status else {},
                # a warm copy's state was handed to a live replica: others hold it
                others_held=held.warm or _others_held(replicas, ref, agent.node),
                # a warm copy's state is its own from before: behind, not a holder's
                holds_state=bool(record.stand_in_for)
                or (store is not None and bool(store.version_vector.entries) and not held.warm),
            )
        if not peers:
            held.peered_at = None
        elif held.peered_at is None:
            held.peered_at = time.time()
        facts = ReplicaFacts(
            live_peers=len(peers),
            caught_up=held.synced,
            seconds_since_sync=(
                time.time() - status.last_success
                if status is not None and status.last_success is not None
                else None
            ),
            lag_seconds=status.lag_seconds if status is not None else 0.0,
            awaiting_seed=not held.seeded,
            seconds_with_peers=None if held.peered_at is None else time.time() - held.peered_at,
        )
        phase = decide_phase(facts, self.stale_after)
        if store is not None:
            store.stand_in_for = record.stand_in_for
            store.serving = phase in ("Ready", "Stale")
        if phase == "Ready" and (held.last_written or {}).get("phase") not in ("Ready", None):
            log.info(
                "event=replica_ready resource=%s/%s after_open_s=%.3f",
                *ref, time.time() - held.opened_at,
            )  # fmt: skip
        await self._write(record, phase)

    async def _write(
        self,
        record: ReplicaRecord,
        phase: str,
        force: bool = False,
        reason: tuple[str, str] | None = None,
    ) -> None:
        ref = (record.namespace, record.resource)
        report = self.agent.report(ref)
        spec = self.agent.specs.get(ref)
        held = self.held.get(ref)
        previous = (held.last_written if held else None) or record.status
        waiting = reason
        if phase == "Syncing" and held is not None and held.source_error is not None:
            waiting = ("AwaitingSource", f"waiting to seed from the source: {held.source_error}")
        failure = self.open_failures.get(ref)
        body = build_status(
            phase=phase,  # type: ignore[arg-type]
            consistency=spec.consistency if spec else "eventual",
            version_vector=report.version_vector if report else {},
            bytes_held=report.bytes if report else 0,
            last_modified=report.last_modified if report else None,
            last_sync_mode=report.last_sync_mode if report else None,
            last_sync_time=report.last_sync_time if report else None,
            lag_seconds=report.lag_seconds if report else 0.0,
            generation=record.generation,
            previous=previous,
            ready_reason=waiting,
            stand_in_for=record.stand_in_for,
            strong=report.strong if report else None,
            storage_failure=failure.error
            if failure
            else report.storage_failure
            if report
            else None,
        )
        now = time.monotonic()
        if held is not None and not force:
            last = held.last_written or {}
            same_phase = last.get("phase") == body["phase"] and _reasons(last) == _reasons(body)
            recent = same_phase and now - held.written_at < self.status_every
            last = held.last_written or {}
            same_vector = body.get("versionVector") == last.get("versionVector")
            strong, last_strong = body.get("strong") or {}, last.get("strong") or {}
            same_vector = same_vector and all(
                strong.get(k) == last_strong.get(k) for k in ("epoch", "leading", "isolated")
            )
            unchanged = body == held.last_written or (recent and same_vector)
            overwrite = _marked_lost(record, body) and now - held.written_at >= self.status_every
            if unchanged and not overwrite:
                return  # counters alone changed recently: batch them into a later write
        await self.gateway.patch_replica_status(record.namespace, record.name, body)
        if held is not None:
            held.last_written, held.written_at = body, now

    async def run(self, wake: asyncio.Event, period: float = 1.0) -> None:
        """Reconcile on every wake-up (a watch event) and at least every ``period``."""
        while True:
            try:
                await self.reconcile()
            except API_ERRORS as err:  # keep reconciling through API hiccups
                log.warning("event=reconcile_failed error=%s", err)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), period)
            wake.clear()


def _marked_lost(record: ReplicaRecord, body: Mapping[str, Any]) -> bool:
    """Whether the Replica says ``Lost`` (the operator's mark) where the agent sees otherwise.

    The operator marks the copy of an agent whose Lease lapsed; an agent that runs again
    (it was starved or stopped, not restarted) still holds its last write, equal to what
    it reports now, and would write nothing: the mark would stay for good. It is
    overwritten, at most once a ``status_every``: an agent whose replicas report while
    its Lease does not renew is marked again by the operator each time, and the two
    would otherwise write in turn as fast as their watches carry it.
    """
    return record.status.get("phase") == "Lost" and body.get("phase") != "Lost"


async def _nothing() -> None:
    """An awaitable that does nothing (a status write not due)."""


def _others_held(replicas: list[ReplicaRecord], ref: tuple[str, str], node: str) -> bool:
    """Another Replica of ``ref`` (not on ``node``) has reported holding state."""
    return any(
        r.status.get("versionVector")
        for r in replicas
        if (r.namespace, r.resource) == ref and r.node != node and not r.deleting
    )


def _reasons(status: dict[str, Any]) -> list[tuple[str, str, str]]:
    """The conditions' types, statuses and reasons (a change is written at once)."""
    return [
        (c.get("type", ""), c.get("status", ""), c.get("reason", ""))
        for c in status.get("conditions") or []
    ]


# --- wiring -----------------------------------------------------------------------------
async def run_edge(
    agent: Agent,
    gateway: ClusterGateway,
    namespace: str,
    advertise: str,
    lease_seconds: float,
    watcher: ReplicaWatcher | None = None,
    retired_retention: float = 86400.0,
    peer_advertise: str = "",
    requests: CertificateRequests | None = None,
    warm_retention: float = 0.0,
    warm_budget: float | None = None,
) -> None:
    """Run the Lease keeper, the peer watcher and the Replica reconciler until cancelled.

    With TLS, also keep the agent's certificate requested from the operator through
    ``requests`` (None: the agent reads files) and advertise ``peer_advertise`` while
    the mutual-TLS listener serves.
    """
    certificates = None
    if agent.tls is not None and requests is not None:
        certificates = CertificateKeeper(agent, gateway, requests, namespace)
    keeper = LeaseKeeper(
        gateway,
        namespace,
        agent.node,
        advertise,
        agent.config.zone,
        lease_seconds,
        peer_endpoint=lambda: peer_advertise if agent.peer_listening else "",
        certificate=lambda: (
            leaf_note(certificates.leaf) if certificates and certificates.leaf else ""
        ),
    )
    peers = PeerWatcher(gateway, namespace, agent)
    reconciler = ReplicaReconciler(
        gateway, agent, 10.0, 5.0, retired_retention, warm_retention, warm_budget
    )
    agent.resources_known = False  # until the first pass over the Replicas
    agent.resources_as_of = -math.inf
    wake = asyncio.Event()
    agent.learn_resources = wake.set
    loop = asyncio.get_running_loop()
    stop = threading.Event()

    async def watch_peers() -> None:
        while True:
            try:
                await peers.refresh()
            except API_ERRORS as err:  # keep the last known peers through API hiccups
                log.warning("event=peer_refresh_failed error=%s", err)
            await asyncio.sleep(lease_seconds)

    async def relearn_peers() -> None:  # a sender unknown here may have just (re)started
        try:
            await peers.refresh()
        except API_ERRORS as err:
            log.warning("event=peer_refresh_failed error=%s", err)

    await relearn_peers()  # know the live peers before the first reconcile: alone != unknown
    agent.directory.relearn = relearn_peers
    tasks = [
        asyncio.create_task(keeper.run()),
        asyncio.create_task(watch_peers()),
        asyncio.create_task(reconciler.run(wake)),
        asyncio.create_task(reconciler.retirement.run()),
    ]
    if certificates is not None:
        tasks.append(asyncio.create_task(certificates.run(agent.config.tls_reload_seconds)))
    thread = None
    if watcher is not None:
        thread = threading.Thread(
            target=watcher.watch_node_replicas,
            args=(agent.node, lambda: loop.call_soon_threadsafe(wake.set), stop),
            daemon=True,
        )
        thread.start()
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            task.result()  # a task that failed stops the edge (and the agent)
    finally:
        stop.set()
        await _wind_down(agent, reconciler, tasks)


async def _wind_down(
    agent: Agent, reconciler: ReplicaReconciler, tasks: list[asyncio.Task[None]]
) -> None:
    """Stop the edge's loops (``tasks`` as ``run_edge`` made them), hand-offs first.

    A stop (SIGTERM) first ends the Replica passes, then finishes the hand-offs in flight
    while the Lease is still renewed and the server still answers (peers take a hand-off
    only from a peer they know), for at most ``STOP_GRACE``.
    """
    tasks[2].cancel()  # the Replica passes
    await reconciler.retirement.stop(STOP_GRACE, sweeper=tasks[3])
    agent.directory.relearn = None
    for task in tasks:
        task.cancel()
