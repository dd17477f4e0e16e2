"""The operator's writes to Kubernetes, behind one small interface.

Handlers receive a :class:`Gateway`; the real one (:class:`KubeGateway`) talks to the
API server with the ``kubernetes`` client, tests pass a fake that records calls.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

import kopf

from statecast.api.types import GROUP, VERSION

log = logging.getLogger(__name__)


class Gateway(Protocol):
    """What the reconcile writes besides the resource's own status."""

    def create_replica(self, body: dict[str, Any]) -> bool:
        """Create a Replica object; False when one with the same name already exists."""

    def delete_replica(self, namespace: str, name: str) -> bool:
        """Delete a Replica object; False when it was already gone."""

    def post_event(self, body: kopf.Body, type_: str, reason: str, message: str) -> None:
        """Post a Kubernetes Event about ``body``."""


class KubeGateway:
    """:class:`Gateway` on the ``kubernetes`` client (credentials as kopf found them)."""

    def __init__(self, api_client: Any | None = None) -> None:
        from kubernetes import client, config

        if api_client is None:
            try:
                config.load_incluster_config()
            except config.ConfigException:
                config.load_kube_config()
            api_client = client.ApiClient()
        self._custom = client.CustomObjectsApi(api_client)

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
        """Post an Event through kopf (which batches and retries)."""
        kopf.event(body, type=type_, reason=reason, message=message)
