"""The ``Replica`` custom resource: one copy of a SharedResource on one node.

The operator writes Replica specs; the node agent on ``nodeName`` makes them true and
writes their status, the way a kubelet does for pods.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field

from statecast.api.shared_resource import Consistency, ReplicaPhase, ReplicaRole
from statecast.api.types import (
    CONDITIONS_LIST,
    Condition,
    Model,
    ResourceModel,
    StatusModel,
)

RESOURCE_LABEL = "statecast.io/resource"
NODE_LABEL = "statecast.io/node"

ReplicaReason = Literal[
    "minimum", "predicted", "hedge", "consumer", "failover", "rebalance", "cost", "everywhere"
]
SyncMode = Literal["auto", "full", "delta"]


class ReplicaSpec(Model):
    """Desired state of a Replica."""

    resource: Annotated[str, Field(min_length=1, max_length=253)]
    """Name of the SharedResource (same namespace) this is a replica of."""
    node_name: Annotated[str, Field(min_length=1, max_length=253)]
    """Node whose agent holds the replica."""
    role: ReplicaRole = "peer"
    """peer (eventual); leader, follower (a voter) or learner (catching up, not voting)."""
    epoch: Annotated[int, Field(ge=0)] = 0
    """Leader epoch this role belongs to; agents refuse writes from older epochs."""
    voters: Annotated[list[str], Field(max_length=15)] | None = None
    """On the leader's Replica: the epoch's voters (a majority of them commits a write)."""
    reason: ReplicaReason = "minimum"
    """Why the operator placed the replica here."""
    sync_mode: SyncMode = "auto"
    """How the agent copies state: auto picks delta when it can, else full."""
    stand_in_for: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=253)]], Field(max_length=64)
    ] = Field(default_factory=list)
    """Nodes of lost copies this replica stands in for: it was placed while no reachable
    replica held the state, so it starts from the resource's source, not from the state;
    their writes are merged into it when their agents return. Set by the operator."""


class StrongProgress(StatusModel):
    """Where a strong replica's log is (written by its agent, read by the operator)."""

    epoch: Annotated[int, Field(ge=0)] = 0
    """The highest epoch the replica promised."""
    last_epoch: Annotated[int, Field(ge=0)] = 0
    """Epoch of its last log entry."""
    last_index: Annotated[int, Field(ge=0)] = 0
    """Index of its last log entry."""
    commit_index: Annotated[int, Field(ge=0)] = 0
    """The last entry it knows committed."""
    leading: bool = False
    """It leads ``epoch`` and the epoch is open (its first entry committed)."""
    match: dict[str, int] | None = None
    """On the leader: peer -> the last entry it knows the peer stored."""
    isolated: bool | None = None
    """On the leader: no majority of the voters answered it lately."""


class ReplicaStatus(StatusModel):
    """Observed state of a Replica, written by the node agent."""

    phase: ReplicaPhase = "Pending"
    """Pending, Syncing, Ready, Stale, Lost or Draining."""
    consistency: Consistency | None = None
    """Consistency mode the agent serves the replica with."""
    version_vector: dict[str, int] = Field(default_factory=dict)
    """Replica id -> highest counter seen from it."""
    last_modified: datetime | None = None
    """Time of the last write applied."""
    bytes: Annotated[int, Field(ge=0)] = 0
    """Size of the replica's state."""
    last_sync_mode: Literal["full", "delta"] | None = None
    """How the last sync copied state."""
    last_sync_time: datetime | None = None
    """When the last sync finished."""
    lag_seconds: float | None = None
    """How far behind the most recent known write the replica is."""
    strong: StrongProgress | None = None
    """Strong consistency: the replica's log position and commit index."""
    observed_generation: int | None = None
    """The spec generation this status describes."""
    conditions: Annotated[list[Condition], Field(max_length=16)] = Field(
        default_factory=list, json_schema_extra=CONDITIONS_LIST
    )
    """Ready and Synced conditions."""


class Replica(ResourceModel):
    """One copy of a SharedResource on one node."""

    kind: ClassVar[str] = "Replica"
    plural: ClassVar[str] = "replicas"
    singular: ClassVar[str] = "replica"
    short_names: ClassVar[list[str]] = ["rep"]
    printer_columns: ClassVar[list[dict[str, Any]]] = [
        {"name": "Resource", "type": "string", "jsonPath": ".spec.resource"},
        {"name": "Node", "type": "string", "jsonPath": ".spec.nodeName"},
        {"name": "Role", "type": "string", "jsonPath": ".spec.role"},
        {"name": "Epoch", "type": "integer", "jsonPath": ".spec.epoch", "priority": 1},
        {"name": "Reason", "type": "string", "jsonPath": ".spec.reason"},
        {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
        {"name": "Stands-In-For", "type": "string", "jsonPath": ".spec.standInFor"},
        {"name": "Lag", "type": "number", "jsonPath": ".status.lagSeconds", "priority": 1},
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ]

    spec: ReplicaSpec
    """Desired state."""
    status: ReplicaStatus = Field(default_factory=ReplicaStatus)
    """Observed state."""
