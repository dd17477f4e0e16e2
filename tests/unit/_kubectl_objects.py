"""API objects as the API server sends them, for the kubectl plugin's view tests."""

from __future__ import annotations

import datetime as dt
from typing import Any

NOW = dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.UTC)
ZONE = "topology.kubernetes.io/zone"


def stamp(seconds_ago: float) -> str:
    return (NOW - dt.timedelta(seconds=seconds_ago)).isoformat().replace("+00:00", "Z")


def node(
    name: str,
    zone: str,
    *,
    ready: bool = True,
    unschedulable: bool = False,
    labels: dict[str, str] | None = None,
    taints: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": {ZONE: zone, **(labels or {})}},
        "spec": {"unschedulable": unschedulable, "taints": taints or []},
        "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "Unknown"}]},
    }


def replica(
    node_name: str,
    reason: str = "minimum",
    phase: str = "Ready",
    *,
    resource: str = "flags",
    age: float = 600,
    lag: float | None = 0.2,
) -> dict[str, Any]:
    status: dict[str, Any] = {"phase": phase, "bytes": 120}
    if lag is not None:
        status["lagSeconds"] = lag
    return {
        "metadata": {
            "name": f"{resource}-{node_name}",
            "namespace": "shop",
            "creationTimestamp": stamp(age),
        },
        "spec": {"resource": resource, "nodeName": node_name, "reason": reason, "role": "peer"},
        "status": status,
    }


def event(reason: str, message: str, seconds_ago: float, type_: str = "Normal") -> dict[str, Any]:
    return {
        "metadata": {
            "name": f"flags.{reason}.{seconds_ago}",
            "creationTimestamp": stamp(seconds_ago),
        },
        "involvedObject": {"kind": "SharedResource", "name": "flags", "uid": "u-1"},
        "reason": reason,
        "message": message,
        "type": type_,
        "lastTimestamp": stamp(seconds_ago),
    }


def resource(
    *,
    policy: str = "predictive",
    replicas: list[dict[str, Any]] | None = None,
    forecast: list[dict[str, float | str]] | None = None,
    spec: dict[str, Any] | None = None,
    hit: float | None = 0.8,
    conditions: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    status: dict[str, Any] = {
        "phase": "Ready",
        "readyReplicas": len(replicas or []),
        "desiredReplicas": len(replicas or []),
        "ready": f"{len(replicas or [])}/{len(replicas or [])}",
        "replicas": replicas or [],
        "conditions": conditions
        or [
            {
                "type": "Ready",
                "status": "True",
                "reason": "Ready",
                "message": "2/2 replicas Ready",
                "lastTransitionTime": stamp(500),
            },
        ],
    }
    if hit is not None:
        status["localHitRatio"] = hit
        status["hitPercent"] = round(hit * 100)
    if forecast is not None:
        status["forecast"] = {
            "model": "fastpath",
            "generatedAt": stamp(5),
            "level": 0.9,
            "nodes": forecast,
        }
    return {
        "apiVersion": "statecast.io/v1alpha1",
        "kind": "SharedResource",
        "metadata": {
            "name": "flags",
            "namespace": "shop",
            "uid": "u-1",
            "creationTimestamp": stamp(3600),
        },
        "spec": {
            "replicas": {"min": 2},
            "prediction": {"interval": "5s", "horizon": "30s"},
            "replication": {"policy": policy},
            **(spec or {}),
        },
        "status": status,
    }


def summary(
    node_name: str, zone: str, reason: str = "minimum", phase: str = "Ready"
) -> dict[str, Any]:
    return {
        "node": node_name,
        "zone": zone,
        "role": "peer",
        "phase": phase,
        "reason": reason,
        "lagSeconds": 0.2,
    }
