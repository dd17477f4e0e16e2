"""The SharedResources' latest bodies, kept from kopf's events: what a woken reconcile reads.

Until session 15 they were a kopf index (``@kopf.index`` on SharedResources). kopf holds
back every handler until each object of each indexed kind is indexed, and it tracks that
with one toggle per object in one set: every object's toggle, made and dropped, wakes
every object already waiting, so a start over N new resources made some N x N wake-ups
on kopf's event loop before the first reconcile (at 1,000 resources, about 1.6 s of the
operator's CPU in a profile of the first pass, and close to half of the loop's busy
time in its first 12 s; docs/scale-history.md, session 15). Every event of a SharedResource
reaches :func:`statecast.controller.handlers.resource_seen` anyway: it keeps the body
here (:meth:`ResourceBodies.seen`), then queues the resource, so a reconcile reads the
body of the event that woke it, or a later one.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from statecast.api.types import Ref

__all__ = ["ResourceBodies", "kept_body"]


def kept_body(body: Mapping[str, Any]) -> dict[str, Any]:
    """``body`` as kept: without ``metadata.managedFields``.

    No reconcile reads them: about half of a resource's body, kept for every resource.
    """
    raw = dict(body)
    metadata = body.get("metadata") or {}
    raw["metadata"] = {k: v for k, v in metadata.items() if k != "managedFields"}
    return raw


class ResourceBodies:
    """SharedResource bodies by (namespace, name), as their last event brought them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._bodies: dict[Ref, dict[str, Any]] = {}

    def seen(self, body: Mapping[str, Any]) -> Ref:
        """Keep ``body`` (listed, added or modified) as its resource's latest; return its ref."""
        kept = kept_body(body)
        metadata = kept["metadata"]
        ref = (metadata.get("namespace") or "", metadata.get("name") or "")
        with self._lock:
            self._bodies[ref] = kept
        return ref

    def gone(self, ref: Ref) -> None:
        """The resource was deleted: its body is no longer kept."""
        with self._lock:
            self._bodies.pop(ref, None)

    def get(self, ref: Ref) -> dict[str, Any] | None:
        """The resource's latest body (None: never seen, or deleted)."""
        with self._lock:
            return self._bodies.get(ref)

    def __len__(self) -> int:
        with self._lock:
            return len(self._bodies)
