"""What the agent's Kubernetes edge asks of the API server: the gateway protocol.

One module that both sides use, so neither imports the other: the edge's logic
(:mod:`statecast.agent.kube`) calls a :class:`ClusterGateway`; the real one
(:class:`statecast.agent.kube_gateway.KubernetesGateway`) implements it on the
``kubernetes`` client; unit tests pass a fake. It holds the records the gateway
returns (:class:`LeaseRecord`, :class:`ReplicaRecord`) and :data:`API_ERRORS`, the
errors a call to the API server may raise that are worth retrying.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from kubernetes.client.exceptions import OpenApiException
from urllib3.exceptions import HTTPError

from statecast.agent.seeding import SourceKind

__all__ = [
    "API_ERRORS",
    "CertificateRequests",
    "ClusterGateway",
    "LeaseRecord",
    "ReplicaRecord",
    "ReplicaWatcher",
    "RequestState",
]

#: What a call to the API server can raise and is worth retrying: an HTTP status
#: error (:class:`~kubernetes.client.exceptions.ApiException` and the client's other
#: errors), a transport error, or a socket error. ``ValueError``, ``KeyError`` and
#: ``TypeError`` are not in it: they are bugs, and surface instead of being retried.
API_ERRORS: tuple[type[Exception], ...] = (OpenApiException, HTTPError, OSError)


@dataclass(frozen=True)
class LeaseRecord:
    """An agent Lease as the edge sees it."""

    name: str
    holder: str
    renew_time: datetime | None
    duration_seconds: int
    annotations: dict[str, str] = field(default_factory=dict)
    resource_version: str | None = None


@dataclass(frozen=True)
class ReplicaRecord:
    """A Replica object (spec and the status fields the agent needs)."""

    namespace: str
    name: str
    resource: str
    node: str
    generation: int | None
    deleting: bool
    status: dict[str, Any] = field(default_factory=dict)
    uid: str = ""
    stand_in_for: tuple[str, ...] = ()
    """Lost copies this replica stands in for (its spec, set by the operator)."""
    owner_uid: str = ""
    """The uid of its SharedResource (its owner reference)."""
    role: str = "peer"
    """peer (eventual); leader, follower or learner (strong)."""
    epoch: int = 0
    """The leader epoch the role belongs to (strong)."""
    voters: tuple[str, ...] = ()
    """On the leader's Replica: the epoch's voters (strong)."""


class ClusterGateway(Protocol):
    """Everything the agent asks of the API server."""

    async def get_lease(self, namespace: str, name: str) -> LeaseRecord | None:
        """The Lease, or None if it does not exist."""
        ...

    async def put_lease(self, namespace: str, lease: LeaseRecord) -> LeaseRecord:
        """Create the Lease (no resource version) or replace it (optimistic concurrency)."""
        ...

    async def list_leases(self, namespace: str) -> list[LeaseRecord]:
        """Every Lease in the namespace."""
        ...

    async def list_replicas(self) -> list[ReplicaRecord]:
        """Every Replica in the cluster."""
        ...

    async def get_resource(self, namespace: str, name: str) -> dict[str, Any] | None:
        """A SharedResource (the whole object), or None if it does not exist."""
        ...

    async def get_source_data(
        self, namespace: str, kind: SourceKind, name: str
    ) -> dict[str, bytes] | None:
        """The data of a ConfigMap or (decoded) Secret, or None if it does not exist.

        Raises:
            SourceError: The agent may not read that Secret (RBAC), with how to allow it.
        """
        ...

    async def post_event(
        self, record: ReplicaRecord, reason: str, message: str, *, warning: bool
    ) -> None:
        """Record an Event about a Replica."""
        ...

    async def patch_replica_status(self, namespace: str, name: str, status: dict[str, Any]) -> None:
        """Merge-patch the status subresource of a Replica."""
        ...


@dataclass(frozen=True)
class RequestState:
    """Where a certificate request of this agent stands.

    Attributes:
        certificate: the signed certificate (PEM); empty until it is signed.
        refused: the message of its ``Denied`` or ``Failed`` condition; empty unless so.
    """

    certificate: bytes = b""
    refused: str = ""


class CertificateRequests(Protocol):
    """The agent's certificate requests (Kubernetes ``CertificateSigningRequest``)."""

    async def request_certificate(self, name: str, request: bytes, signer: str, node: str) -> None:
        """Create request ``name`` for ``signer`` holding ``request`` (PKCS#10 PEM)."""
        ...

    async def certificate_request(self, name: str) -> RequestState | None:
        """Where request ``name`` stands; None when it does not exist (any more)."""
        ...


class ReplicaWatcher(Protocol):
    """Something that blocks watching this node's Replicas (run in a thread)."""

    def watch_node_replicas(
        self, node: str, wake: Callable[[], None], stop: threading.Event
    ) -> None:
        """Call ``wake`` on every change to ``node``'s Replicas until ``stop`` is set."""
        ...
