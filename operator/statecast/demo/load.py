"""Readers on every node, reading through the client library at the schedule's rates.

One thread per node, each with a :class:`~statecast.client.Client` bound to its node's
agent (as a pod's client is, through ``HOST_IP``), reads one key of every resource
each time its node's rate allows, and records where each read was served and how long
it took. Both resources are read at the same moments, so their outcomes compare.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence

from statecast.client import Client, StatecastError
from statecast.demo.recording import Recording

__all__ = ["Load"]


class Load:
    """The readers, started and stopped together.

    Args:
        recording: where reads are counted (its schedule sets the rates).
        agents: node -> its agent's URL.
        namespace: the resources' namespace.
        resources: the resources to read, each at every read.
        key: the key read.
        started: ``time.monotonic()`` at the start of the demand.
    """

    def __init__(
        self,
        recording: Recording,
        agents: Mapping[str, str],
        namespace: str,
        resources: Sequence[str],
        key: str,
        started: float,
    ) -> None:
        self.recording = recording
        self.agents = dict(agents)
        self.namespace = namespace
        self.resources = list(resources)
        self.key = key
        self.started = started
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Start one reader per node."""
        for node in sorted(self.agents):
            thread = threading.Thread(target=self._read, args=(node,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Stop every reader and wait for them."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)

    def _read(self, node: str) -> None:
        schedule = self.recording.schedule
        zone = self.recording.zones.get(node, "")
        credit = 0.0
        last = time.monotonic()
        with Client([self.agents[node]], discover_peers=False, timeout=2.0) as client:
            while not self._stop.is_set():
                now = time.monotonic()
                rate = schedule.rate(zone, now - self.started)
                # after a stall (a slow answer) no burst: at most a second's reads are owed
                credit = min(credit + rate * (now - last), max(rate, 1.0))
                last = now
                while credit >= 1.0 and not self._stop.is_set():
                    credit -= 1.0
                    for resource in self.resources:
                        self._once(client, node, resource)
                self._stop.wait(0.01)

    def _once(self, client: Client, node: str, resource: str) -> None:
        began = time.monotonic()
        try:
            client.get(self.namespace, resource, self.key)
            served: str | None = client.last_served or "local"
        except StatecastError:
            served = None
        ended = time.monotonic()
        self.recording.read(resource, node, began - self.started, served, (ended - began) * 1e3)
