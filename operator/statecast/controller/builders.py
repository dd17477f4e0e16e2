"""Pure builders of the objects the operator writes."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from statecast.api.replica import NODE_LABEL, RESOURCE_LABEL, Replica, ReplicaSpec
from statecast.api.types import API_VERSION

MANAGED_BY = {"app.kubernetes.io/managed-by": "statecast"}
_MAX_NAME = 253


def replica_name(resource: str, node: str) -> str:
    """Name of the Replica of ``resource`` on ``node``: ``<resource>-<node>``, hashed if long."""
    name = f"{resource}-{node}"
    if len(name) <= _MAX_NAME:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:10]
    return f"{name[: _MAX_NAME - 11]}-{digest}"


def _label_value(value: str) -> str:
    if len(value) <= 63:
        return value
    return value[:52] + "-" + hashlib.sha256(value.encode()).hexdigest()[:10]


def build_replica(
    resource: Mapping[str, Any],
    node: str,
    *,
    reason: str,
    role: str = "peer",
    epoch: int = 0,
    stand_in_for: tuple[str, ...] = (),
) -> dict[str, Any]:
    """The Replica object for ``resource`` (a SharedResource body) on ``node``.

    It is owned by the resource (controller reference, so garbage collection removes
    it with the resource) and labelled with the resource and node names;
    ``stand_in_for`` names the lost copies it stands in for (see
    :mod:`statecast.core.custody`).
    """
    meta = resource["metadata"]
    spec = ReplicaSpec(
        resource=meta["name"],
        node_name=node,
        role=role,
        epoch=epoch,
        reason=reason,
        stand_in_for=list(stand_in_for),
    )
    return {
        "apiVersion": API_VERSION,
        "kind": Replica.kind,
        "metadata": {
            "name": replica_name(meta["name"], node),
            "namespace": meta["namespace"],
            "labels": {
                **MANAGED_BY,
                RESOURCE_LABEL: _label_value(meta["name"]),
                NODE_LABEL: _label_value(node),
            },
            "ownerReferences": [
                {
                    "apiVersion": API_VERSION,
                    "kind": "SharedResource",
                    "name": meta["name"],
                    "uid": meta["uid"],
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": {k: v for k, v in spec.to_k8s().items() if k != "standInFor" or v},
    }
