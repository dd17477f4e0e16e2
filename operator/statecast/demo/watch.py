"""The cluster polled into a :class:`~statecast.demo.recording.Recording` (I/O).

Every ``period`` seconds: the resources (their ``status.forecast``), their Replica
objects (node, phase, reason) and, every few polls, the Events about them. With the
``kubernetes`` client and the admin kubeconfig of the dev cluster; a failed poll is
skipped (the API server is shared with the operator under test and may be slow).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from statecast.api.types import GROUP, VERSION
from statecast.demo.recording import Copy, Decision, NodeBand, Recording, Tick
from statecast.kubectl.view import DECISION_REASONS, parse_time

__all__ = ["Watcher"]


class Watcher:
    """Polls the resources of one namespace into a recording, in a thread of its own.

    Args:
        recording: where ticks and decisions go.
        kubeconfig: credentials to read with.
        namespace: the resources' namespace.
        resources: the resources watched.
        started: ``time.monotonic()`` at the start of the demand.
        wall_started: ``time.time()`` at the same moment (Events carry wall times).
        period: seconds between polls.
    """

    def __init__(
        self,
        recording: Recording,
        kubeconfig: Path,
        namespace: str,
        resources: Sequence[str],
        started: float,
        wall_started: float,
        period: float = 0.4,
    ) -> None:
        from kubernetes import client, config

        api = config.new_client_from_config(config_file=str(kubeconfig))
        self._custom = client.CustomObjectsApi(api)
        self._core = client.CoreV1Api(api)
        self.recording = recording
        self.namespace = namespace
        self.resources = list(resources)
        self.started = started
        self.wall_started = wall_started
        self.period = period
        self.failures = 0
        self.last_error = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        """Start polling."""
        self._thread.start()

    def stop(self) -> None:
        """Stop polling and wait for the last poll."""
        self._stop.set()
        self._thread.join(timeout=15)

    def _get(self, method: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        response = method(*args, _preload_content=False, _request_timeout=5, **kwargs)
        data: dict[str, Any] = json.loads(response.data)
        return data

    def _run(self) -> None:
        polls = 0
        while not self._stop.is_set():
            try:
                self.poll(events=polls % 3 == 0)
            except Exception as err:  # noqa: BLE001 - a failed poll is skipped, the next retries
                self.failures += 1
                self.last_error = repr(err)
            polls += 1
            self._stop.wait(self.period)

    def poll(self, *, events: bool = True) -> None:
        """Record one tick (and the new Events when ``events``)."""
        t = time.monotonic() - self.started
        replicas = self._get(
            self._custom.list_namespaced_custom_object, GROUP, VERSION, self.namespace, "replicas"
        ).get("items", [])
        copies: dict[str, list[Copy]] = {r: [] for r in self.resources}
        for item in replicas:
            spec, status = item.get("spec") or {}, item.get("status") or {}
            if spec.get("resource") in copies:
                node = str(spec.get("nodeName", ""))
                copies[spec["resource"]].append(
                    Copy(node, self.recording.zones.get(node, ""),
                         str(status.get("phase") or "Pending"), str(spec.get("reason", "")))
                )  # fmt: skip
        forecast: dict[str, tuple[NodeBand, ...]] = {}
        model: dict[str, str] = {}
        for resource in self.resources:
            body = self._get(
                self._custom.get_namespaced_custom_object,
                GROUP, VERSION, self.namespace, "sharedresources", resource,
            )  # fmt: skip
            summary = (body.get("status") or {}).get("forecast") or {}
            model[resource] = str(summary.get("model") or "")
            forecast[resource] = tuple(
                NodeBand(str(n["node"]), float(n["mean"]), float(n["lower"]), float(n["upper"]))
                for n in summary.get("nodes") or []
            )
        self.recording.tick(Tick(t, {r: tuple(c) for r, c in copies.items()}, forecast, model))
        if events:
            self._events()

    def _events(self) -> None:
        found = self._get(self._core.list_namespaced_event, self.namespace).get("items", [])
        for event in found:
            involved = event.get("involvedObject") or {}
            reason = str(event.get("reason") or "")
            if involved.get("name") not in self.resources or reason not in DECISION_REASONS:
                continue
            when = parse_time(event.get("lastTimestamp")) or parse_time(
                (event.get("metadata") or {}).get("creationTimestamp")
            )
            if when is None:
                continue
            self.recording.decision(
                Decision(
                    when.timestamp() - self.wall_started,
                    str(involved.get("name")),
                    reason,
                    str(event.get("message") or ""),
                )
            )
