"""The operator's Prometheus metrics, in a registry of their own per operator."""

from __future__ import annotations

import contextlib

from prometheus_client import CollectorRegistry, Counter, Enum

__all__ = ["OperatorMetrics"]


class OperatorMetrics:
    """The operator's metrics in a fresh :class:`CollectorRegistry` (so tests can build many).

    Attributes:
        registry: what ``/metrics`` serves.
        replica_actions: Replica objects created or deleted, by action and reason code.
        resource_phase: each SharedResource's phase (its series go with the resource).
        reconcile_errors: reconciles of a SharedResource that raised (they go with it).
        agent_samples: readings of the agents' ``/v1/stats``, by node and outcome
            (``ok``, ``failed``: no answer or a malformed one, ``ignored``: its clock
            runs ahead).
        elections: strong resources' elections, by reason and outcome.
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
        self.reconcile_errors = Counter(
            "statecast_reconcile_errors",
            "Reconciles of a SharedResource that raised (the resource's Ready condition"
            " and a ReconcileFailed Event say why).",
            ["namespace", "resource"],
            registry=self.registry,
        )
        self.agent_samples = Counter(
            "statecast_agent_samples",
            "Readings of the agents' access counters (/v1/stats), by node and outcome.",
            ["node", "outcome"],
            registry=self.registry,
        )
        self.elections = Counter(
            "statecast_leader_elections",
            "Epochs the operator opened for strong resources, by reason and outcome"
            " (elected, no_leader: too few voters answered, conflict: another operator moved).",
            ["reason", "outcome"],
            registry=self.registry,
        )

    def forget(self, namespace: str, resource: str) -> None:
        """Remove a deleted resource's series (an alert on its phase must clear)."""
        for metric in (self.resource_phase, self.reconcile_errors):
            with contextlib.suppress(KeyError):  # never exported
                metric.remove(namespace, resource)
