"""The agent's real :class:`~statecast.agent.kube_api.ClusterGateway`: the kubernetes client.

Calls run in worker threads, so the event loop that serves reads never waits on the
API server.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from statecast.agent.kube_api import API_ERRORS, LeaseRecord, ReplicaRecord, RequestState
from statecast.agent.seeding import SourceError, SourceKind
from statecast.api.replica import NODE_LABEL
from statecast.api.types import GROUP, VERSION

__all__ = ["KubernetesGateway"]

log = logging.getLogger(__name__)


def _lease_record(obj: Any) -> LeaseRecord:
    meta, spec = obj.metadata, obj.spec
    renew = spec.renew_time
    if renew is not None and renew.tzinfo is None:
        renew = renew.replace(tzinfo=UTC)
    return LeaseRecord(
        name=meta.name,
        holder=spec.holder_identity or "",
        renew_time=renew,
        duration_seconds=spec.lease_duration_seconds or 0,
        annotations=dict(meta.annotations or {}),
        resource_version=meta.resource_version,
    )


def _replica_record(obj: dict[str, Any]) -> ReplicaRecord:
    meta, spec = obj.get("metadata", {}), obj.get("spec", {})
    return ReplicaRecord(
        namespace=meta.get("namespace", ""),
        name=meta.get("name", ""),
        resource=spec.get("resource", ""),
        node=spec.get("nodeName", ""),
        generation=meta.get("generation"),
        deleting=meta.get("deletionTimestamp") is not None,
        status=obj.get("status") or {},
        uid=meta.get("uid", ""),
        stand_in_for=tuple(str(n) for n in spec.get("standInFor") or ()),
        owner_uid=next(
            (
                str(o.get("uid", ""))
                for o in meta.get("ownerReferences") or ()
                if o.get("kind") == "SharedResource"
            ),
            "",
        ),
        role=str(spec.get("role") or "peer"),
        epoch=int(spec.get("epoch") or 0),
        voters=tuple(str(v) for v in spec.get("voters") or ()),
    )


class KubernetesGateway:
    """:class:`ClusterGateway` over the ``kubernetes`` client, off the event loop.

    Args:
        kubeconfig: A kubeconfig file (None: in-cluster configuration, else the default).
    """

    def __init__(self, kubeconfig: str | None = None) -> None:
        from kubernetes import client, config

        if kubeconfig:
            api = config.new_client_from_config(config_file=kubeconfig)
        else:
            try:
                config.load_incluster_config()
            except config.ConfigException:
                config.load_kube_config()
            api = client.ApiClient()
        self._client = client
        self.api = api
        self.coordination = client.CoordinationV1Api(api)
        self.custom = client.CustomObjectsApi(api)
        # Built here, not when first needed: kubernetes.client imports CoreV1Api and its
        # models lazily (about a second of CPU, more on a busy machine), and an import on
        # the event loop stalls every request and the Lease renewal meanwhile.
        self.core = client.CoreV1Api(api)
        self.certificates = client.CertificatesV1Api(api)

    async def get_lease(self, namespace: str, name: str) -> LeaseRecord | None:
        """See :class:`ClusterGateway`."""
        from kubernetes.client.exceptions import ApiException

        try:
            obj = await asyncio.to_thread(self.coordination.read_namespaced_lease, name, namespace)
        except ApiException as err:
            if err.status == 404:
                return None
            raise
        return _lease_record(obj)

    async def put_lease(self, namespace: str, lease: LeaseRecord) -> LeaseRecord:
        """See :class:`ClusterGateway`."""
        renew = lease.renew_time.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if lease.renew_time else None
        body: Any = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": lease.name, "annotations": lease.annotations},
            "spec": {
                "holderIdentity": lease.holder,
                "leaseDurationSeconds": lease.duration_seconds,
                "renewTime": renew,
            },
        }
        if lease.resource_version is None:
            body["spec"]["acquireTime"] = renew
            obj = await asyncio.to_thread(
                self.coordination.create_namespaced_lease, namespace, body
            )
        else:
            body["metadata"]["resourceVersion"] = lease.resource_version
            obj = await asyncio.to_thread(
                self.coordination.replace_namespaced_lease, lease.name, namespace, body
            )
        return _lease_record(obj)

    async def list_leases(self, namespace: str) -> list[LeaseRecord]:
        """See :class:`ClusterGateway`."""
        result = await asyncio.to_thread(self.coordination.list_namespaced_lease, namespace)
        return [_lease_record(item) for item in result.items]

    async def list_replicas(self) -> list[ReplicaRecord]:
        """See :class:`ClusterGateway`."""
        result: Any = await asyncio.to_thread(
            self.custom.list_cluster_custom_object, GROUP, VERSION, "replicas"
        )
        return [_replica_record(item) for item in result.get("items", [])]

    async def get_resource(self, namespace: str, name: str) -> dict[str, Any] | None:
        """See :class:`ClusterGateway`."""
        from kubernetes.client.exceptions import ApiException

        try:
            obj: Any = await asyncio.to_thread(
                self.custom.get_namespaced_custom_object,
                GROUP,
                VERSION,
                namespace,
                "sharedresources",
                name,
            )
        except ApiException as err:
            if err.status == 404:
                return None
            raise
        return dict(obj)

    async def get_source_data(
        self, namespace: str, kind: SourceKind, name: str
    ) -> dict[str, bytes] | None:
        """See :class:`ClusterGateway`."""
        from kubernetes.client.exceptions import ApiException

        core = self.core
        read = (
            core.read_namespaced_config_map if kind == "ConfigMap" else core.read_namespaced_secret
        )
        try:
            obj: Any = await asyncio.to_thread(read, name, namespace)
        except ApiException as err:
            if err.status == 404:
                return None
            if err.status == 403 and kind == "Secret":  # least privilege: say how to allow it
                raise SourceError(
                    f"the agents may not read Secret {name} in namespace {namespace}: list it"
                    " in the chart value agent.secretSources, or bind ClusterRole"
                    " statecast-secret-source-reader to ServiceAccount statecast-agent in"
                    f" {namespace} (docs/security.md)"
                ) from err
            raise
        data: dict[str, str] = obj.data or {}
        if kind == "Secret":
            return {k: base64.b64decode(v) for k, v in data.items()}
        return {k: v.encode() for k, v in data.items()}

    async def post_event(
        self, record: ReplicaRecord, reason: str, message: str, *, warning: bool
    ) -> None:
        """See :class:`ClusterGateway`."""
        now = datetime.now(UTC)
        body: Any = {
            "metadata": {"generateName": f"{record.name}.", "namespace": record.namespace},
            "involvedObject": {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": "Replica",
                "name": record.name,
                "namespace": record.namespace,
                "uid": record.uid,
            },
            "reason": reason,
            "message": message[:1024],
            "type": "Warning" if warning else "Normal",
            "source": {"component": "statecast-agent", "host": record.node},
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        core = self.core
        try:
            await asyncio.to_thread(core.create_namespaced_event, record.namespace, body)
        except API_ERRORS as err:  # an Event is best effort
            log.warning("event=event_post_failed reason=%s error=%s", reason, err)

    async def patch_replica_status(self, namespace: str, name: str, status: dict[str, Any]) -> None:
        """See :class:`ClusterGateway`."""
        from kubernetes.client.exceptions import ApiException

        try:
            await asyncio.to_thread(
                self.custom.patch_namespaced_custom_object_status,
                GROUP,
                VERSION,
                namespace,
                "replicas",
                name,
                {"status": status},
            )
        except ApiException as err:
            if err.status != 404:  # deleted meanwhile: the next pass closes it
                raise

    async def request_certificate(self, name: str, request: bytes, signer: str, node: str) -> None:
        """See :class:`~statecast.agent.kube_api.CertificateRequests`."""
        body: Any = {
            "apiVersion": "certificates.k8s.io/v1",
            "kind": "CertificateSigningRequest",
            "metadata": {"name": name, "labels": {f"{GROUP}/node": node}},
            "spec": {
                "request": base64.b64encode(request).decode("ascii"),
                "signerName": signer,
                "usages": ["digital signature", "server auth", "client auth"],
            },
        }
        await asyncio.to_thread(self.certificates.create_certificate_signing_request, body)

    async def certificate_request(self, name: str) -> RequestState | None:
        """See :class:`~statecast.agent.kube_api.CertificateRequests`."""
        from kubernetes.client.exceptions import ApiException

        try:
            obj: Any = await asyncio.to_thread(
                self.certificates.read_certificate_signing_request, name
            )
        except ApiException as err:
            if err.status == 404:
                return None
            raise
        status = obj.status
        refused = [
            f"{c.type}: {c.message or c.reason or ''}"
            for c in (status.conditions if status else None) or []
            if c.type in ("Denied", "Failed")
        ]
        if refused:
            return RequestState(refused="; ".join(refused))
        issued = status.certificate if status else None
        return RequestState(certificate=base64.b64decode(issued) if issued else b"")

    def watch_node_replicas(
        self, node: str, wake: Callable[[], None], stop: threading.Event
    ) -> None:
        """Block, calling ``wake`` on every change to this node's Replicas (run in a thread)."""
        from kubernetes import watch

        while not stop.is_set():
            try:
                stream = watch.Watch().stream(
                    self.custom.list_cluster_custom_object,
                    GROUP,
                    VERSION,
                    "replicas",
                    label_selector=f"{NODE_LABEL}={node}",
                    timeout_seconds=30,
                )
                for _event in stream:
                    wake()
                    if stop.is_set():
                        return
            except API_ERRORS as err:  # reconnect after API errors
                log.debug("event=replica_watch_restart error=%s", err)
                stop.wait(1.0)
