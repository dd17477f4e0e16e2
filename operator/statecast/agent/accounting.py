"""Access and sync accounting: plain counters on the hot path, read at scrape time.

Accesses are counted per (namespace, resource, node, operation, served local/remote),
where ``node`` is the node whose pods asked: a read forwarded to another replica counts
as remote demand at the node that forwarded it, and not again at the one that answered.
Prometheus sees them through a collector over its own registry; the operator samples
the compact JSON of :meth:`AccessLog.snapshot` from ``/v1/stats``.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.registry import Collector

__all__ = [
    "LATENCY_BUCKETS",
    "AccessLog",
    "FileGauge",
    "ReplicaGauge",
    "RequestLog",
    "SyncLog",
    "build_registry",
]

#: (namespace, resource, operation, served) -> count, for this node.
AccessKey = tuple[str, str, str, str]
#: (namespace, resource, peer, mode, direction) -> bytes, messages
SyncKey = tuple[str, str, str, str, str]


class AccessLog:
    """Counts of accesses made by the pods of this node."""

    def __init__(self, node: str) -> None:
        self.node = node
        self.counts: Counter[AccessKey] = Counter()
        self.started = time.time()

    def count(self, namespace: str, resource: str, operation: str, served: str) -> None:
        """Count one access."""
        self.counts[namespace, resource, operation, served] += 1

    def forget(self, namespace: str, resource: str) -> None:
        """Drop the counters of a resource deleted from the cluster."""
        for key in [k for k in self.counts if k[:2] == (namespace, resource)]:
            del self.counts[key]

    def snapshot(self) -> list[dict[str, Any]]:
        """The counters as JSON rows (cumulative since the agent started)."""
        return [
            {
                "namespace": ns,
                "resource": res,
                "node": self.node,
                "operation": op,
                "served": served,
                "count": n,
            }
            for (ns, res, op, served), n in sorted(self.counts.items())
        ]


class SyncLog:
    """Bytes and messages exchanged with peers, per mode (push, delta, full)."""

    def __init__(self) -> None:
        self.bytes: Counter[SyncKey] = Counter()
        self.messages: Counter[SyncKey] = Counter()
        #: Warm copies (docs/agent.md, *Warm copies*) by what became of them: ``kept``
        #: (handed off, files kept), ``reopened``, ``caught_up`` (by one pull),
        #: ``refreshed`` (refused a delta: a fresh copy), ``expired``, ``evicted``.
        self.warm: Counter[str] = Counter()
        #: Bytes warm copies did not receive: their state's key and value bytes (what a
        #: full copy carries at least) less the catch-up answer's bytes.
        self.warm_saved_bytes = 0

    def warm_caught_up(self, saved: int) -> None:
        """A reopened warm copy caught up, receiving ``saved`` bytes fewer than a full copy."""
        self.warm["caught_up"] += 1
        self.warm_saved_bytes += saved

    def record(self, key: SyncKey, size: int) -> None:
        """Count one message of ``size`` bytes."""
        self.bytes[key] += size
        self.messages[key] += 1

    def forget(self, namespace: str, resource: str) -> None:
        """Drop the counters of a resource deleted from the cluster."""
        for key in [k for k in self.bytes if k[:2] == (namespace, resource)]:
            del self.bytes[key]
            self.messages.pop(key, None)

    def total(self, mode: str, direction: str) -> int:
        """Bytes of one mode and direction over every resource and peer."""
        return sum(n for k, n in self.bytes.items() if k[3] == mode and k[4] == direction)

    def snapshot(self) -> list[dict[str, Any]]:
        """The counters as JSON rows."""
        return [
            {
                "namespace": k[0],
                "resource": k[1],
                "peer": k[2],
                "mode": k[3],
                "direction": k[4],
                "bytes": n,
                "messages": self.messages[k],
            }
            for k, n in sorted(self.bytes.items())
        ]


#: Upper bounds (seconds) of the request latency histogram's buckets (+Inf implied).
LATENCY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                   0.25, 0.5, 1.0, 2.5)  # fmt: skip


class RequestLog:
    """What the agent answered.

    Responses by route and status code, latency per route, failed forwards, and answers
    refused because a replica is still catching up. Plain counters on the request path
    (a dict increment and a bisect, about a microsecond), turned into Prometheus
    families at scrape time.
    """

    def __init__(self) -> None:
        self.responses: Counter[tuple[str, int]] = Counter()
        self.latency: dict[str, list[int]] = {}
        self.latency_sum: dict[str, float] = {}
        self.forward_failures: Counter[tuple[str, str, str]] = Counter()
        self.syncing_answers: Counter[tuple[str, str]] = Counter()

    def answered(self, route: str, status: int, seconds: float) -> None:
        """Count one answer of ``route`` (a route name such as ``get``) and its latency."""
        self.responses[route, status] += 1
        buckets = self.latency.get(route)
        if buckets is None:
            buckets = self.latency[route] = [0] * (len(LATENCY_BUCKETS) + 1)
        buckets[bisect_left(LATENCY_BUCKETS, seconds)] += 1
        self.latency_sum[route] = self.latency_sum.get(route, 0.0) + seconds

    def forward_failed(self, namespace: str, resource: str, reason: str) -> None:
        """Count a forward not answered (``unreachable``) or refused (``unavailable``)."""
        self.forward_failures[namespace, resource, reason] += 1

    def syncing(self, namespace: str, resource: str) -> None:
        """A request answered 503 ``replica_syncing``: the replica here is catching up."""
        self.syncing_answers[namespace, resource] += 1

    def forget(self, namespace: str, resource: str) -> None:
        """Drop the per-resource counters of a resource deleted from the cluster."""
        ref = (namespace, resource)
        for failed in [k for k in self.forward_failures if k[:2] == ref]:
            del self.forward_failures[failed]
        self.syncing_answers.pop(ref, None)

    def families(self) -> Iterator[CounterMetricFamily | HistogramMetricFamily]:
        """The Prometheus families of these counters."""
        responses = CounterMetricFamily(
            "statecast_agent_responses",
            "Answers by route and status code",
            labels=["route", "code"],
        )
        for (route, code), n in sorted(self.responses.items()):
            responses.add_metric([route, str(code)], n)
        yield responses
        latency = HistogramMetricFamily(
            "statecast_agent_request_seconds",
            "Time from a parsed request to its answer, by route",
            labels=["route"],
        )
        for route, counts in sorted(self.latency.items()):
            cumulative, total = [], 0
            for bound, n in zip((*LATENCY_BUCKETS, float("inf")), counts, strict=True):
                total += n
                cumulative.append((str(bound) if bound != float("inf") else "+Inf", total))
            latency.add_metric([route], cumulative, self.latency_sum[route])
        yield latency
        forwards = CounterMetricFamily(
            "statecast_agent_forward_failures",
            "Forwarded requests a replica did not answer (unreachable) or refused (unavailable)",
            labels=["namespace", "resource", "reason"],
        )
        for key, n in sorted(self.forward_failures.items()):
            forwards.add_metric(list(key), n)
        yield forwards
        syncing = CounterMetricFamily(
            "statecast_agent_syncing_answers",
            "Requests answered 503 replica_syncing (the replica here is catching up)",
            labels=["namespace", "resource"],
        )
        for (ns, res), n in sorted(self.syncing_answers.items()):
            syncing.add_metric([ns, res], n)
        yield syncing


#: Row per replica: (namespace, resource, keys, bytes, lag seconds).
ReplicaGauge = Callable[[], list[tuple[str, str, int, int, float]]]
#: Row per replica kept on disk: (namespace, resource, log bytes, snapshot bytes,
#: snapshot writer processes killed).
FileGauge = Callable[[], list[tuple[str, str, int, int, int]]]
#: Retired copies not handed off yet, per resource: (namespace, name) -> copies.
RetiredGauge = Callable[[], Mapping[tuple[str, str], int]]


class _Collector(Collector):
    def __init__(
        self,
        access: AccessLog,
        sync: SyncLog,
        replicas: ReplicaGauge,
        requests: RequestLog | None = None,
        files: FileGauge | None = None,
        retired: RetiredGauge | None = None,
    ) -> None:
        self._access, self._sync, self._replicas = access, sync, replicas
        self._requests, self._files, self._retired = requests, files, retired

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily | HistogramMetricFamily]:
        accesses = CounterMetricFamily(
            "statecast_agent_accesses",
            "Accesses by the pods of this node",
            labels=["namespace", "resource", "node", "operation", "served"],
        )
        for (ns, res, op, served), n in self._access.counts.items():
            accesses.add_metric([ns, res, self._access.node, op, served], n)
        yield accesses
        started = GaugeMetricFamily(
            "statecast_agent_start_time_seconds",
            "When this agent's counters started (seconds since the epoch; a new value: it"
            " restarted and its counters began again from zero)",
            labels=["node"],
        )
        started.add_metric([self._access.node], self._access.started)
        yield started
        sync_bytes = CounterMetricFamily(
            "statecast_agent_sync_bytes",
            "Bytes exchanged with peer agents",
            labels=["namespace", "resource", "peer", "mode", "direction"],
        )
        for key, n in self._sync.bytes.items():
            sync_bytes.add_metric(list(key), n)
        yield sync_bytes
        yield from _warm_families(self._sync)
        keys = GaugeMetricFamily(
            "statecast_agent_replica_keys", "Keys held", labels=["namespace", "resource"]
        )
        size = GaugeMetricFamily(
            "statecast_agent_replica_bytes", "Bytes held", labels=["namespace", "resource"]
        )
        lag = GaugeMetricFamily(
            "statecast_agent_replica_lag_seconds",
            "Replication lag",
            labels=["namespace", "resource"],
        )
        for ns, res, n_keys, n_bytes, lag_s in self._replicas():
            keys.add_metric([ns, res], n_keys)
            size.add_metric([ns, res], n_bytes)
            lag.add_metric([ns, res], lag_s)
        yield keys
        yield size
        yield lag
        if self._files is not None:
            yield from _file_families(self._files())
        if self._retired is not None:
            retired = GaugeMetricFamily(
                "statecast_agent_retired_copies",
                "Copies of removed Replicas on this node not handed off to a live replica yet"
                " (they may hold writes no live replica has)",
                labels=["namespace", "resource"],
            )
            for (ns, res), n in sorted(self._retired().items()):
                retired.add_metric([ns, res], n)
            yield retired
        if self._requests is not None:
            yield from self._requests.families()


def _warm_families(sync: SyncLog) -> Iterator[CounterMetricFamily]:
    copies = CounterMetricFamily(
        "statecast_agent_warm_copies",
        "Copies kept warm after their hand-off, by what became of them (kept, reopened,"
        " caught_up, refreshed, expired, evicted)",
        labels=["outcome"],
    )
    for outcome, n in sorted(sync.warm.items()):
        copies.add_metric([outcome], n)
    yield copies
    yield CounterMetricFamily(
        "statecast_agent_warm_bytes_saved",
        "Bytes reopened warm copies did not receive: their state's key and value bytes less"
        " the catch-up's answer",
        value=sync.warm_saved_bytes,
    )


def _file_families(
    rows: list[tuple[str, str, int, int, int]],
) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
    wal = GaugeMetricFamily(
        "statecast_agent_wal_bytes",
        "Bytes in the replica's current write-ahead log segment (folded into the snapshot"
        " as it grows)",
        labels=["namespace", "resource"],
    )
    snapshot = GaugeMetricFamily(
        "statecast_agent_snapshot_bytes",
        "Bytes of the replica's last snapshot written or read",
        labels=["namespace", "resource"],
    )
    kills = CounterMetricFamily(
        "statecast_agent_snapshot_writer_kills",
        "Snapshot writer processes killed for running past their deadline (the replica then"
        " writes its snapshots with a thread)",
        labels=["namespace", "resource"],
    )
    for ns, res, wal_bytes, snapshot_bytes, killed in rows:
        wal.add_metric([ns, res], wal_bytes)
        snapshot.add_metric([ns, res], snapshot_bytes)
        kills.add_metric([ns, res], killed)
    yield wal
    yield snapshot
    yield kills


def build_registry(
    access: AccessLog,
    sync: SyncLog,
    replicas: ReplicaGauge,
    requests: RequestLog | None = None,
    files: FileGauge | None = None,
    retired: RetiredGauge | None = None,
) -> CollectorRegistry:
    """A registry of this agent's own (tests can build many agents in one process)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(access, sync, replicas, requests, files, retired))
    return registry
