"""The operator's Prometheus metrics, in a registry of their own per operator."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Enum

__all__ = ["OperatorMetrics"]


class OperatorMetrics:
    """The operator's metrics in a fresh :class:`CollectorRegistry` (so tests can build many).

    Attributes:
        registry: what ``/metrics`` serves.
        replica_actions: Replica objects created or deleted, by action and reason code.
        resource_phase: each SharedResource's phase.
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.replica_actions = Counter(
            "statecast_replica_actions",
            "Replica objects created or deleted by the operator, by action and reason code.",
            ["action", "reason"],
            registry=self.registry,
        )
        self.resource_phase = Enum(
            "statecast_resource_phase",
            "Phase of each SharedResource.",
            ["namespace", "resource"],
            states=["Pending", "Progressing", "Ready", "Degraded", "Failed"],
            registry=self.registry,
        )
