"""What the control plane did during a run: the resource's Replicas, polled.

A thread lists the resource's Replica objects every ``period`` seconds and records each
change: a Replica created (with its node and reason), deleted, or changing phase. From
that timeline the report takes when a faulted node's Replica was marked ``Lost``, when
``replicas.min`` copies were Ready again, and how many actions the operator took in a
window.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kubernetes import client

from statecast.api.replica import RESOURCE_LABEL
from statecast.api.types import GROUP, VERSION

__all__ = ["ReplicaEvent", "ReplicaObserver"]


@dataclass(frozen=True)
class ReplicaEvent:
    """A change seen on one Replica.

    Attributes:
        at: Seconds since the run began.
        change: ``added``, ``removed`` or ``phase``.
        replica: The Replica's name.
        node: Its node.
        reason: Why it was placed (``spec.reason``).
        phase: Its phase after the change.
    """

    at: float
    change: str
    replica: str
    node: str
    reason: str
    phase: str


@dataclass
class ReplicaObserver:
    """Polls the Replicas of one resource (through an admin ``ApiClient``)."""

    api: client.ApiClient
    namespace: str
    resource: str
    clock: Callable[[], float]
    period: float = 0.2
    events: list[ReplicaEvent] = field(default_factory=list)
    current: dict[str, dict[str, str]] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def replicas(self) -> dict[str, dict[str, str]]:
        """The resource's Replicas now: name -> {node, reason, phase}."""
        found: Any = client.CustomObjectsApi(self.api).list_namespaced_custom_object(
            GROUP, VERSION, self.namespace, "replicas",
            label_selector=f"{RESOURCE_LABEL}={self.resource}",
        )  # fmt: skip
        items: list[dict[str, Any]] = found["items"]
        return {
            r["metadata"]["name"]: {
                "node": r["spec"]["nodeName"],
                "reason": r["spec"].get("reason", ""),
                "phase": (r.get("status") or {}).get("phase", ""),
            }
            for r in items
            if not r["metadata"].get("deletionTimestamp")
        }

    def poll(self) -> None:
        """Take one look and record what changed."""
        now = self.replicas()
        at = self.clock()
        with self._lock:
            for name, info in now.items():
                before = self.current.get(name)
                if before is None:
                    self.events.append(
                        ReplicaEvent(at, "added", name, info["node"], info["reason"], info["phase"])
                    )
                elif before["phase"] != info["phase"]:
                    self.events.append(
                        ReplicaEvent(at, "phase", name, info["node"], info["reason"], info["phase"])
                    )
            for name, info in self.current.items():
                if name not in now:
                    self.events.append(
                        ReplicaEvent(at, "removed", name, info["node"], info["reason"], "")
                    )
            self.current = now

    def start(self) -> None:
        """Poll in a thread until :meth:`stop`."""
        self.poll()
        self.events.clear()  # what existed before the run is not a change

        def loop() -> None:
            while not self._stop.wait(self.period):
                try:
                    self.poll()
                except (client.ApiException, OSError, ValueError):
                    continue  # the API server may be briefly unreachable

        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop polling."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def ready_nodes(self) -> set[str]:
        """Nodes whose Replica is Ready now."""
        with self._lock:
            return {i["node"] for i in self.current.values() if i["phase"] == "Ready"}

    def live_nodes(self) -> set[str]:
        """Nodes holding a Replica that is not Lost (Ready, Stale, Syncing, Pending)."""
        with self._lock:
            return {i["node"] for i in self.current.values() if i["phase"] != "Lost"}

    def snapshot(self) -> list[ReplicaEvent]:
        """The events so far."""
        with self._lock:
            return list(self.events)
