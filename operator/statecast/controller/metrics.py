"""The operator's Prometheus metrics, in a registry of their own per operator.

Labels are bounded: per resource (namespace, resource) at most, with fixed sets of
phases, actions, reasons and policies; nothing per key or per request. Every series
of a resource goes with it (:meth:`OperatorMetrics.forget`), so an alert on a deleted
resource clears. ``manifests/grafana/statecast.json`` is a dashboard over them and the
agents' metrics (docs/operations.md).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Enum, Gauge, Histogram

from statecast.api.shared_resource import ReplicaPhase

__all__ = ["REPLICA_PHASES", "OperatorMetrics"]

#: Every Replica phase, as the agents report it (a zero series for those none is in).
REPLICA_PHASES: tuple[ReplicaPhase, ...] = (
    "Pending", "Syncing", "Ready", "Stale", "Lost", "Draining",
)  # fmt: skip
#: Upper bounds (seconds) of the reconcile duration histogram's buckets.
RECONCILE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                     10.0)  # fmt: skip


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
        reconcile_seconds: how long one reconcile of a resource took, by policy.
        replicas: each resource's Replicas by phase (Lost: its agent cannot report).
        local_hit_ratio: each resource's share of accesses served locally (5 minutes).
        forecast_mae: each predictive resource's rolling mean absolute error of its
            one-interval-ahead forecast, in accesses per interval and node.
        forecast_coverage: the share of those forecasts whose interval held the demand.
        bytes_moved: bytes the new Replicas had to copy (the resource's size when each
            was created), by reason.
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

        self.reconcile_seconds = Histogram(
            "statecast_reconcile_duration_seconds",
            "Time one reconcile of a SharedResource took (observe, decide, apply), by policy.",
            ["policy"],
            buckets=RECONCILE_BUCKETS,
            registry=self.registry,
        )
        self.replicas = Gauge(
            "statecast_replicas",
            "Replicas of each SharedResource by phase (Lost: its agent cannot report).",
            ["namespace", "resource", "phase"],
            registry=self.registry,
        )
        self.local_hit_ratio = Gauge(
            "statecast_local_hit_ratio",
            "Share of each SharedResource's accesses served by a replica on the asking node"
            " (the last 5 minutes, as in status.localHitRatio).",
            ["namespace", "resource"],
            registry=self.registry,
        )
        self.forecast_mae = Gauge(
            "statecast_forecast_mae",
            "Rolling mean absolute error of each predictive resource's forecast one interval"
            " ahead, in accesses per interval and node.",
            ["namespace", "resource"],
            registry=self.registry,
        )
        self.forecast_coverage = Gauge(
            "statecast_forecast_interval_coverage",
            "Rolling share of each predictive resource's one-interval-ahead forecasts whose"
            " interval held the demand (compare with prediction.level).",
            ["namespace", "resource"],
            registry=self.registry,
        )
        self.bytes_moved = Counter(
            "statecast_bytes_moved",
            "Bytes the Replicas the operator created had to copy (the resource's size at"
            " creation), by reason code.",
            ["reason"],
            registry=self.registry,
        )

    def resource_seen(
        self,
        namespace: str,
        resource: str,
        status: Mapping[str, Any],
        score: tuple[float, float] | None = None,
    ) -> None:
        """Set a resource's gauges from the status a reconcile wrote.

        Args:
            namespace: the resource's namespace.
            resource: its name.
            status: its new status (phase, replicas, localHitRatio).
            score: its forecast's (rolling MAE, interval coverage), None: none yet.
        """
        self.resource_phase.labels(namespace=namespace, resource=resource).state(status["phase"])
        rows: Sequence[Mapping[str, Any]] = status.get("replicas") or []
        for phase in REPLICA_PHASES:
            count = sum(1 for row in rows if row.get("phase") == phase)
            self.replicas.labels(namespace, resource, phase).set(count)
        ratio = status.get("localHitRatio")
        if ratio is None:
            _remove(self.local_hit_ratio, namespace, resource)
        else:
            self.local_hit_ratio.labels(namespace, resource).set(float(ratio))
        if score is None:
            _remove(self.forecast_mae, namespace, resource)
            _remove(self.forecast_coverage, namespace, resource)
        else:
            self.forecast_mae.labels(namespace, resource).set(score[0])
            self.forecast_coverage.labels(namespace, resource).set(score[1])

    def forget(self, namespace: str, resource: str) -> None:
        """Remove a deleted resource's series (an alert on its phase must clear)."""
        for metric in (self.resource_phase, self.reconcile_errors, self.local_hit_ratio,
                       self.forecast_mae, self.forecast_coverage):  # fmt: skip
            _remove(metric, namespace, resource)
        for phase in REPLICA_PHASES:
            _remove(self.replicas, namespace, resource, phase)


def _remove(metric: Any, *labels: str) -> None:
    with contextlib.suppress(KeyError):  # never exported
        metric.remove(*labels)
