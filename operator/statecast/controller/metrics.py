"""The operator's Prometheus metrics, in a registry of its own."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Enum

REGISTRY = CollectorRegistry(auto_describe=True)

REPLICA_ACTIONS = Counter(
    "statecast_replica_actions",
    "Replica objects created or deleted by the operator, by action and reason code.",
    ["action", "reason"],
    registry=REGISTRY,
)

RESOURCE_PHASE = Enum(
    "statecast_resource_phase",
    "Phase of each SharedResource.",
    ["namespace", "resource"],
    states=["Pending", "Progressing", "Ready", "Degraded", "Failed"],
    registry=REGISTRY,
)
