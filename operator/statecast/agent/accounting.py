"""Access and sync accounting: plain counters on the hot path, read at scrape time.

Accesses are counted per (namespace, resource, node, operation, served local/remote),
where ``node`` is the node whose pods asked: a read forwarded to another replica counts
as remote demand at the node that forwarded it, and not again at the one that answered.
Prometheus sees them through a collector over its own registry; the operator samples
the compact JSON of :meth:`AccessLog.snapshot` from ``/v1/stats``.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

__all__ = ["AccessLog", "ReplicaGauge", "SyncLog", "build_registry"]

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

    def record(self, key: SyncKey, size: int) -> None:
        """Count one message of ``size`` bytes."""
        self.bytes[key] += size
        self.messages[key] += 1

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


#: Row per replica: (namespace, resource, keys, bytes, lag seconds).
ReplicaGauge = Callable[[], list[tuple[str, str, int, int, float]]]


class _Collector(Collector):
    def __init__(self, access: AccessLog, sync: SyncLog, replicas: ReplicaGauge) -> None:
        self._access, self._sync, self._replicas = access, sync, replicas

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        accesses = CounterMetricFamily(
            "statecast_agent_accesses",
            "Accesses by the pods of this node",
            labels=["namespace", "resource", "node", "operation", "served"],
        )
        for (ns, res, op, served), n in self._access.counts.items():
            accesses.add_metric([ns, res, self._access.node, op, served], n)
        yield accesses
        sync_bytes = CounterMetricFamily(
            "statecast_agent_sync_bytes",
            "Bytes exchanged with peer agents",
            labels=["namespace", "resource", "peer", "mode", "direction"],
        )
        for key, n in self._sync.bytes.items():
            sync_bytes.add_metric(list(key), n)
        yield sync_bytes
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


def build_registry(access: AccessLog, sync: SyncLog, replicas: ReplicaGauge) -> CollectorRegistry:
    """A registry of this agent's own (tests can build many agents in one process)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(access, sync, replicas))
    return registry
