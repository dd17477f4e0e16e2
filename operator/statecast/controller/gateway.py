"""The operator's writes to Kubernetes, behind one small interface.

Handlers receive a :class:`Gateway`; the real one (:class:`KubeGateway`) talks to the
API server with the ``kubernetes`` client, tests pass a fake that records calls.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import os
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import httpx
import kopf

from statecast.api.lease import (
    AGENT_LEASE_PREFIX,
    CERTIFICATE_ANNOTATION,
    ENDPOINT_ANNOTATION,
    PEER_ENDPOINT_ANNOTATION,
)
from statecast.api.types import GROUP, VERSION
from statecast.controller.agent_link import AgentLink
from statecast.controller.history_keeper import BLOB_KEY, history_name
from statecast.core.pki import leaf_from_note
from statecast.core.reconcile.views import AgentLease
from statecast.core.strong.log import LogPosition

log = logging.getLogger(__name__)

#: Connections kept open to the API server (one per thread that may wait on it).
CONNECTIONS = 32
#: Seconds an agent has to promise an epoch durably and answer.
FENCE_TIMEOUT = 2.0


class Gateway(Protocol):
    """What the reconcile writes besides the resource's own status."""

    def create_replica(self, body: dict[str, Any]) -> bool:
        """Create a Replica object; False when one with the same name already exists."""

    def delete_replica(self, namespace: str, name: str) -> bool:
        """Delete a Replica object; False when it was already gone."""

    def post_event(self, body: kopf.Body, type_: str, reason: str, message: str) -> None:
        """Post a Kubernetes Event about ``body``."""

    def agent_leases(self) -> list[AgentLease]:
        """The node agents' Leases."""

    def mark_replica_lost(self, namespace: str, name: str, reason: str, message: str) -> None:
        """Set a Replica's status phase to Lost (its agent cannot report any more)."""

    def set_stand_in(self, namespace: str, name: str, nodes: tuple[str, ...]) -> None:
        """Set a Replica's ``spec.standInFor`` (empty: remove it)."""

    def read_history(self, namespace: str, name: str, uid: str) -> bytes | None:
        """The demand history saved for resource ``name`` (``uid``); None when there is none."""

    def write_history(self, body: dict[str, Any]) -> None:
        """Create or replace a demand history ConfigMap."""

    def patch_status(self, namespace: str, name: str, status: dict[str, Any]) -> None:
        """Merge-patch a SharedResource's status (a woken reconcile's, outside kopf)."""


class KubeGateway:
    """:class:`Gateway` on the ``kubernetes`` client (credentials as kopf found them).

    Args:
        api_client: A configured client (default: in-cluster, else the kubeconfig).
        agent_namespace: Where the agents keep their Leases (``STATECAST_AGENT_NAMESPACE``,
            default ``statecast-system``).
    """

    def __init__(
        self,
        api_client: Any | None = None,
        agent_namespace: str | None = None,
        link: AgentLink | None = None,
    ) -> None:
        from kubernetes import client, config

        #: How agents are called (plain HTTP, or mutual TLS).
        self.link = link or AgentLink()

        if api_client is None:
            try:
                config.load_incluster_config()
            except config.ConfigException:
                config.load_kube_config()
            settings = client.Configuration.get_default_copy()
            # kopf's 8 workers, the woken reconciles', the Replica writers', the history
            # readers and the sampler share it: the default 5 per core made the others
            # open (and drop) a new TLS connection per request
            settings.connection_pool_maxsize = CONNECTIONS
            api_client = client.ApiClient(settings)
        self._custom = client.CustomObjectsApi(api_client)
        self._coordination = client.CoordinationV1Api(api_client)
        self._api_client = api_client
        # History ConfigMaps known to exist (read, or written): replaced in one request.
        self._histories: set[tuple[str, str]] = set()
        self.agent_namespace = agent_namespace or os.environ.get(
            "STATECAST_AGENT_NAMESPACE", "statecast-system"
        )

    @functools.cached_property
    def core(self) -> Any:
        """The core API (Events, history ConfigMaps, Secrets), made on first use.

        Its module loads some 250 model modules: half a second of CPU, on the operator's
        start-up path before the first reconcile, on a machine where the operator gets a
        tenth of a core (a first pass over new resources does not use it), and 20 MiB.
        The operator's warm-up (:meth:`warm_up_steps`) makes it after the first pass.
        """
        from kubernetes import client

        return client.CoreV1Api(self._api_client)

    def warm_up_steps(self) -> dict[str, Callable[[], object]]:
        """What the operator builds ahead of first use (:mod:`statecast.controller.warmup`)."""
        return {"core-api": lambda: self.core}

    def create_replica(self, body: dict[str, Any]) -> bool:
        """Create a Replica; a 409 (it exists) is fine: the reconcile is idempotent."""
        from kubernetes.client.exceptions import ApiException

        meta = body["metadata"]
        try:
            self._custom.create_namespaced_custom_object(
                GROUP, VERSION, meta["namespace"], "replicas", body, field_manager="statecast"
            )
        except ApiException as err:
            if err.status != 409:
                raise
            log.debug("event=replica-exists namespace=%s name=%s", meta["namespace"], meta["name"])
            return False
        return True

    def delete_replica(self, namespace: str, name: str) -> bool:
        """Delete a Replica; a 404 (already gone) is fine."""
        from kubernetes.client.exceptions import ApiException

        try:
            self._custom.delete_namespaced_custom_object(
                GROUP, VERSION, namespace, "replicas", name
            )
        except ApiException as err:
            if err.status != 404:
                raise
            return False
        return True

    def post_event(self, body: kopf.Body, type_: str, reason: str, message: str) -> None:
        """Post an Event through kopf (which batches and retries).

        Outside kopf's handlers (the standby elections' thread: kopf's event queue is a
        context variable of its handlers) the Event is created directly; a failure to
        post one is logged, never raised (an election must not stop half-way for it).
        """
        try:
            kopf.event(body, type=type_, reason=reason, message=message)
        except LookupError:
            self._create_event(body, type_, reason, message)

    def _create_event(self, body: kopf.Body, type_: str, reason: str, message: str) -> None:
        from kubernetes.client.exceptions import ApiException

        meta = body.get("metadata") or {}
        namespace, name = meta.get("namespace") or "default", meta.get("name") or ""
        now = dt.datetime.now(dt.UTC).isoformat()
        event: Any = {
            "metadata": {"generateName": f"{name}.", "namespace": namespace},
            "involvedObject": {
                "apiVersion": body.get("apiVersion"),
                "kind": body.get("kind"),
                "name": name,
                "namespace": namespace,
                "uid": meta.get("uid"),
            },
            "type": type_,
            "reason": reason,
            "message": message[:1024],
            "source": {"component": "statecast"},
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        try:
            self.core.create_namespaced_event(namespace, event)
        except ApiException as err:
            log.warning("event=event-not-posted reason=%s status=%s", reason, err.status)

    def agent_leases(self) -> list[AgentLease]:
        """List the agents' Leases in the agent namespace.

        One small LIST: the namespace holds only these, while a cluster-wide Lease
        watch would carry every kubelet's heartbeat.
        """
        return self.agent_leases_at()[0]

    def agent_leases_at(self) -> tuple[list[AgentLease], str]:
        """The agents' Leases and the list's resource version (to watch from)."""
        listed = self._coordination.list_namespaced_lease(self.agent_namespace)
        leases = [view for view in map(_agent_lease, listed.items) if view is not None]
        version = listed.metadata.resource_version if listed.metadata is not None else None
        return leases, str(version or "")

    def watch_agent_leases(
        self, resource_version: str, timeout: int = 300
    ) -> Iterator[tuple[str, AgentLease]]:
        """The agents' Lease events after ``resource_version``: (type, lease).

        For ``timeout`` seconds at most; the agent namespace only, as for the list.

        Raises:
            ApiException: the version is too old (410) or the watch failed; list again.
        """
        from kubernetes import watch

        stream = watch.Watch().stream(
            self._coordination.list_namespaced_lease,
            self.agent_namespace,
            resource_version=resource_version,
            timeout_seconds=timeout,
            allow_watch_bookmarks=False,
            _request_timeout=timeout + 30,  # a connection that stalls: list and watch again
        )
        for event in stream:
            if event.get("type") == "ERROR":
                raise RuntimeError(f"lease watch error: {event.get('raw_object')}")
            view = _agent_lease(event.get("object"))
            if view is not None:
                yield str(event.get("type")), view

    def replicas_at(self, namespace: str | None = None) -> tuple[list[dict[str, Any]], str]:
        """Every Replica (of ``namespace``; None: all) and the list's resource version."""
        listed: Any = (
            self._custom.list_cluster_custom_object(GROUP, VERSION, "replicas")
            if namespace is None
            else self._custom.list_namespaced_custom_object(GROUP, VERSION, namespace, "replicas")
        )
        version = (listed.get("metadata") or {}).get("resourceVersion")
        return list(listed.get("items") or []), str(version or "")

    def watch_replicas(
        self, resource_version: str, timeout: int = 300, namespace: str | None = None
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """The Replica events after ``resource_version``: (type, body), bookmarks included.

        Of ``namespace`` (None: all).

        For ``timeout`` seconds at most. Each line is decoded once (the client's
        ``Watch`` decodes a custom object twice).

        Raises:
            RuntimeError: the server ended the watch with an error (a 410: list again).
        """
        import json

        from kubernetes.watch.watch import iter_resp_lines

        options: dict[str, Any] = {
            "watch": True,
            "resource_version": resource_version,
            "allow_watch_bookmarks": True,
            "timeout_seconds": timeout,
            "_preload_content": False,
            "_request_timeout": timeout + 30,  # a connection that stalls: list and watch again
        }
        response: Any = (
            self._custom.list_cluster_custom_object(GROUP, VERSION, "replicas", **options)
            if namespace is None
            else self._custom.list_namespaced_custom_object(
                GROUP, VERSION, namespace, "replicas", **options
            )
        )
        try:
            for line in iter_resp_lines(response):
                event = json.loads(line)
                kind = str(event.get("type"))
                if kind == "ERROR":
                    raise RuntimeError(f"replica watch error: {event.get('object')}")
                yield kind, event.get("object") or {}
        finally:
            response.close()
            response.release_conn()

    def mark_replica_lost(self, namespace: str, name: str, reason: str, message: str) -> None:
        """Patch the Replica's status to Lost; a 404 (already gone) is fine."""
        import datetime as dt

        from kubernetes.client.exceptions import ApiException

        now = dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")
        condition = {
            "type": "Ready",
            "status": "False",
            "reason": reason,
            "message": message,
            "lastTransitionTime": now,
        }
        try:
            self._custom.patch_namespaced_custom_object_status(
                GROUP,
                VERSION,
                namespace,
                "replicas",
                name,
                {"status": {"phase": "Lost", "conditions": [condition]}},
            )
        except ApiException as err:
            if err.status != 404:
                raise

    def patch_status(self, namespace: str, name: str, status: dict[str, Any]) -> None:
        """Merge-patch the SharedResource's status; a 404 (deleted meanwhile) is fine."""
        from kubernetes.client.exceptions import ApiException

        try:
            self._custom.patch_namespaced_custom_object_status(
                GROUP, VERSION, namespace, "sharedresources", name, {"status": status}
            )
        except ApiException as err:
            if err.status != 404:
                raise

    def set_stand_in(self, namespace: str, name: str, nodes: tuple[str, ...]) -> None:
        """Merge-patch the Replica's ``spec.standInFor``; a 404 (already gone) is fine."""
        from kubernetes.client.exceptions import ApiException

        body = {"spec": {"standInFor": list(nodes) if nodes else None}}
        try:
            self._custom.patch_namespaced_custom_object(
                GROUP, VERSION, namespace, "replicas", name, body
            )
        except ApiException as err:
            if err.status != 404:
                raise

    def read_history(self, namespace: str, name: str, uid: str) -> bytes | None:
        """Read resource ``name``'s history ConfigMap; None when it does not exist.

        One owned by another resource of that name (deleted, its ConfigMap not collected
        yet) counts as none.
        """
        import base64

        from kubernetes.client.exceptions import ApiException

        try:
            found = self.core.read_namespaced_config_map(history_name(name), namespace)
        except ApiException as err:
            if err.status != 404:
                raise
            self._histories.discard((namespace, history_name(name)))
            return None
        self._histories.add((namespace, history_name(name)))
        owners = (found.metadata.owner_references if found.metadata else None) or []
        if uid and not any(o.uid == uid for o in owners):
            return None
        encoded = (found.binary_data or {}).get(BLOB_KEY)
        return None if encoded is None else base64.b64decode(encoded)

    def write_history(self, body: dict[str, Any]) -> None:
        """Replace the history ConfigMap, or create it the first time.

        One request either way: one known to exist (read or written before) is replaced
        (created should it be gone), any other created (replaced should it exist) - a
        first save of a thousand resources took a refused replace and a create each.
        """
        from kubernetes.client.exceptions import ApiException

        meta = body["metadata"]
        key = (meta["namespace"], meta["name"])
        config_map: Any = body  # the client takes a plain dict as well as a V1ConfigMap

        def replace() -> None:
            self.core.replace_namespaced_config_map(
                meta["name"], meta["namespace"], config_map, field_manager="statecast"
            )

        def create() -> None:
            self.core.create_namespaced_config_map(
                meta["namespace"], config_map, field_manager="statecast"
            )

        first, then, missing = (replace, create, 404) if key in self._histories else (
            create, replace, 409
        )  # fmt: skip
        try:
            first()
        except ApiException as err:
            if err.status != missing:
                raise
            then()
        self._histories.add(key)

    # --- strong resources (statecast.controller.strong.StrongGateway) ---------------
    def read_resource(self, namespace: str, name: str) -> dict[str, Any] | None:
        """Read a SharedResource; None when it is gone."""
        from kubernetes.client.exceptions import ApiException

        try:
            found: Any = self._custom.get_namespaced_custom_object(
                GROUP, VERSION, namespace, "sharedresources", name
            )
        except ApiException as err:
            if err.status != 404:
                raise
            return None
        return dict(found)

    def write_config(
        self, namespace: str, name: str, config: dict[str, Any], resource_version: str
    ) -> str | None:
        """Merge-patch the status if the object is still at ``resource_version``.

        The resource version in the patch makes the API server refuse it (409) when
        anything changed the object since: a compare-and-swap. Returns the new version,
        None on a conflict or when the object is gone.
        """
        from kubernetes.client.exceptions import ApiException

        body = {"metadata": {"resourceVersion": resource_version}, "status": config}
        try:
            written: Any = self._custom.patch_namespaced_custom_object_status(
                GROUP, VERSION, namespace, "sharedresources", name, body
            )
        except ApiException as err:
            if err.status not in (404, 409):
                raise
            return None
        return str(written["metadata"]["resourceVersion"])

    def set_replica_role(
        self, namespace: str, name: str, role: str, epoch: int, voters: list[str] | None
    ) -> None:
        """Patch a Replica's role, epoch and voters; a 404 (gone) is fine."""
        from kubernetes.client.exceptions import ApiException

        body = {"spec": {"role": role, "epoch": epoch, "voters": voters}}
        try:
            self._custom.patch_namespaced_custom_object(
                GROUP, VERSION, namespace, "replicas", name, body
            )
        except ApiException as err:
            if err.status != 404:
                raise

    def fence(
        self, node: str, endpoint: str, namespace: str, name: str, epoch: int
    ) -> LogPosition | None:
        """Ask ``node``'s agent to promise ``epoch`` for its replica: its log position.

        None when the agent cannot be reached, holds no such replica, or promised a
        newer epoch already.
        """
        url = f"{endpoint.rstrip('/')}/v1/peer/strong/fence/{namespace}/{name}"
        try:
            with httpx.Client(verify=self.link.verify(), timeout=FENCE_TIMEOUT) as client:
                reply = client.post(
                    url, json={"epoch": epoch}, extensions=self.link.extensions(node)
                )
            reply.raise_for_status()
            answer = reply.json()
        except (httpx.HTTPError, ValueError) as err:
            log.info("event=fence-failed endpoint=%s epoch=%d error=%s", endpoint, epoch, err)
            return None
        if not answer.get("promised"):
            return None
        position = answer["position"]
        return LogPosition(int(position["epoch"]), int(position["index"]))

    # --- a standby's own lists (statecast.controller.strong_standby.StrongLister) ------
    def strong_resources(self) -> list[dict[str, Any]]:
        """Every SharedResource with ``consistency: strong`` (one cluster-wide LIST)."""
        found: Any = self._custom.list_cluster_custom_object(GROUP, VERSION, "sharedresources")
        return [
            dict(item)
            for item in found.get("items", [])
            if (item.get("spec") or {}).get("consistency") == "strong"
        ]

    def replicas_of(self, namespace: str, name: str) -> list[dict[str, Any]]:
        """The Replicas of resource ``namespace/name`` (its namespace listed)."""
        found: Any = self._custom.list_namespaced_custom_object(
            GROUP, VERSION, namespace, "replicas"
        )
        return [
            dict(item)
            for item in found.get("items", [])
            if (item.get("spec") or {}).get("resource") == name
        ]

    def nodes(self) -> list[dict[str, Any]]:
        """Every Node, as the API server serves it (JSON, not client models)."""
        listed = self.core.list_node()
        serialized: list[dict[str, Any]] = self.core.api_client.sanitize_for_serialization(
            listed.items
        )
        return serialized


def _agent_lease(lease: Any) -> AgentLease | None:
    """An agent's Lease as the operator reads it (None: not an agent's)."""
    name = (lease.metadata.name if lease.metadata else None) or ""
    if not name.startswith(AGENT_LEASE_PREFIX) or lease.spec is None:
        return None
    annotations = (lease.metadata.annotations if lease.metadata else None) or {}
    node = lease.spec.holder_identity or name.removeprefix(AGENT_LEASE_PREFIX)
    note = annotations.get(CERTIFICATE_ANNOTATION)
    return AgentLease(
        node=node,
        renew_time=lease.spec.renew_time,
        duration_seconds=int(lease.spec.lease_duration_seconds or 0),
        endpoint=annotations.get(ENDPOINT_ANNOTATION, ""),
        peer_endpoint=annotations.get(PEER_ENDPOINT_ANNOTATION, ""),
        certificate=leaf_from_note(node, note) if note else None,
        version=str((lease.metadata.resource_version if lease.metadata else None) or ""),
    )
