"""Lightweight node agents for the operator scale benchmark: Leases and synthetic stats.

One process stands in for every node's agent: :class:`FakeAgents` renews each node's
agent Lease (``statecast-agent-<node>`` in the agents' namespace, with the endpoint
annotation the operator reads) from one thread, and one HTTP server answers
``GET /n/<node>/v1/stats`` for every node with cumulative access counters in the shape
of the real agent's ``/v1/stats``. Demand moves over time: resource ``r`` is read on a
few nodes around a hot node that steps to the next node every ``shift_s`` seconds, with
a daily-like sine on the rate, so forecasts and placements have something to follow.

A node is "lost" with :meth:`FakeAgents.lose`: its Lease is no longer renewed (and its
stats are no longer served), exactly what the operator sees when an agent dies.

:class:`ReplicaReports` (since session 9) reports each new Replica's status as a real
agent does: ``Ready`` once it synced, ``step_s`` after it saw the copy.
Without it every copy stayed Pending, and the operator, which removes a copy only once
the copies that stay are Ready (the hand-off), never removed one: the copies placed
for the demand's moves piled up and the benchmark never reached a steady state.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import heapq
import json
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from statecast.api.lease import ENDPOINT_ANNOTATION, agent_lease_name

__all__ = ["DemandModel", "FakeAgents", "ReplicaReports", "follow_objects"]


@dataclass
class DemandModel:
    """Synthetic reads per second of each resource on each node, moving over time.

    Args:
        resources: (namespace, name) of every resource.
        nodes: every node's name.
        readers: at most how many nodes read a resource at once (resource r: 1 + r % readers).
        shift_s: seconds before a resource's hot node moves to the next node.
        period_s: period of the sine on every rate.
        staggered: each resource moves at its own time (resource r ``r / len(resources)``
            of ``shift_s`` after resource 0), so the moves are spread evenly over time;
            else (the published runs) every resource moves at once, every ``shift_s``.
        pinned: since session 12, resource index -> node index for resources read on
            that one node only, never moving (empty: none, as before). A resource read
            on one node that does not move keeps its replicas.min copies (the reader's
            and the floor's): the scale benchmark pins some to the node it will lose so
            that the loss leaves them short and the replacement is timed over tens of
            resources (in the moving demand every resource keeps a copy more than its
            minimum for the 5 minutes after each move: session 10's final run had none
            short).
    """

    resources: list[tuple[str, str]]
    nodes: list[str]
    readers: int = 3
    shift_s: float = 120.0
    period_s: float = 300.0
    start: float = field(default_factory=time.time)
    staggered: bool = False
    pinned: dict[int, int] = field(default_factory=dict)

    def step(self, r: int, elapsed: float) -> int:
        """How many times resource ``r``'s hot node moved ``elapsed`` seconds in."""
        ahead = self.shift_s * r / len(self.resources) if self.staggered else 0.0
        return int((elapsed + ahead) // self.shift_s)

    def rates(self, node_index: int, now: float) -> dict[int, float]:
        """Resource index -> reads per second on node ``node_index`` at ``now``."""
        m, elapsed = len(self.nodes), now - self.start
        wave = 1.0 + 0.5 * math.sin(2 * math.pi * elapsed / self.period_s)
        found: dict[int, float] = {}
        # Resource r is hot on nodes first, first + 1, ... (readers of them).
        for r in range(len(self.resources)):
            pinned = self.pinned.get(r)
            if pinned is not None:
                if pinned == node_index:
                    found[r] = wave * 20.0 * (1 + (r % 5))
                continue
            first = (r * 7 + self.step(r, elapsed)) % m
            offset = (node_index - first) % m
            if offset < 1 + r % self.readers:
                found[r] = wave * (20.0 / (1 + offset)) * (1 + (r % 5))
        return found


class _Counters:
    """Cumulative counters per node, advanced on each read."""

    def __init__(self, model: DemandModel) -> None:
        self.model = model
        self.lock = threading.Lock()
        self.started = time.time()
        self.last: dict[int, float] = {}
        self.counts: dict[int, dict[int, float]] = {}

    def snapshot(self, node_index: int) -> dict[str, Any]:
        now = time.time()
        with self.lock:
            last = self.last.get(node_index, self.started)
            counts = self.counts.setdefault(node_index, {})
            for r, rate in self.model.rates(node_index, now).items():
                counts[r] = counts.get(r, 0.0) + rate * (now - last)
            self.last[node_index] = now
            rows = [
                {
                    "namespace": self.model.resources[r][0],
                    "resource": self.model.resources[r][1],
                    "served": "local",
                    "operation": "get",
                    "count": int(c),
                }
                for r, c in counts.items()
            ]
        node = self.model.nodes[node_index]
        return {"node": node, "time": now, "startedAt": self.started, "accesses": rows}


class FakeAgents:
    """Every node's agent Lease and ``/v1/stats``, from one process (see the module doc).

    Args:
        coordination: a ``kubernetes`` CoordinationV1Api.
        namespace: the agents' namespace (where the operator lists Leases).
        model: the demand to serve.
        lease_s: the Leases' duration.
        renew_s: seconds between two renewals of each Lease.
    """

    def __init__(
        self,
        coordination: Any,
        namespace: str,
        model: DemandModel,
        *,
        lease_s: int = 30,
        renew_s: float = 5.0,
    ) -> None:
        self.coordination, self.namespace, self.model = coordination, namespace, model
        self.lease_s, self.renew_s = lease_s, renew_s
        self.counters = _Counters(model)
        self.lost: dict[str, float] = {}  # node -> its last renewal (time.time())
        self.renewed: dict[str, float] = {}
        self._renewing = {node: threading.Lock() for node in model.nodes}
        self.renewals = 0
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(8)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._threads = [
            threading.Thread(target=self._server.serve_forever, daemon=True),
            threading.Thread(target=self._renew_loop, daemon=True),
        ]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        agents = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = self.path.strip("/").split("/")
                if len(parts) != 4 or parts[0] != "n" or parts[2:] != ["v1", "stats"]:
                    self.send_error(404)
                    return
                node = parts[1]
                if node in agents.lost or node not in agents.model.nodes:
                    self.send_error(503)
                    return
                body = json.dumps(agents.counters.snapshot(agents.model.nodes.index(node))).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                # The operator may have given up waiting (its timeout): a failed reading.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    def endpoint(self, node: str) -> str:
        """The URL the operator reads ``node``'s stats under."""
        return f"http://127.0.0.1:{self.port}/n/{node}"

    def start(self) -> None:
        """Create every Lease, then serve and renew in the background."""
        self.renew_all()
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Stop renewing and serving."""
        self._stop.set()
        self._server.shutdown()

    def lose(self, node: str) -> float:
        """Stop ``node``'s agent; return when its Lease expires (time.time()).

        A renewal of ``node`` under way finishes first and counts: the expiry was taken
        from the renewal before it, while the one under way (a round of 50 renewals
        takes seconds on a loaded machine) made the Lease last up to a round longer.
        """
        with self._renewing[node]:
            self.lost[node] = self.renewed.get(node, time.time())
        return self.lost[node] + self.lease_s

    def renew_all(self) -> None:
        """Renew (or create) the Lease of every node not lost, eight at a time.

        One at a time, 50 renewals took longer than a Lease lasts on a loaded machine.
        """
        nodes = [n for n in self.model.nodes if n not in self.lost]
        list(self._pool.map(self._renew, nodes))

    def _renew_loop(self) -> None:
        while not self._stop.wait(self.renew_s):
            try:
                self.renew_all()
            except Exception as err:  # noqa: BLE001 - a failed round is retried
                print(f"lease renewal failed: {err}", flush=True)

    def _renew(self, node: str) -> None:
        with self._renewing[node]:  # a lost node's agent renews no more
            if node in self.lost:
                return
            self._renew_now(node)

    def _renew_now(self, node: str) -> None:
        from kubernetes.client.exceptions import ApiException

        now = dt.datetime.now(dt.UTC)
        body = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {
                "name": agent_lease_name(node),
                "annotations": {ENDPOINT_ANNOTATION: self.endpoint(node)},
            },
            "spec": {
                "holderIdentity": node,
                "leaseDurationSeconds": self.lease_s,
                "renewTime": now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            },
        }
        name = agent_lease_name(node)
        try:
            self.coordination.patch_namespaced_lease(name, self.namespace, body)
        except ApiException as err:
            if err.status != 404:
                raise
            self.coordination.create_namespaced_lease(self.namespace, body)
        self.renewed[node] = now.timestamp()
        self.renewals += 1


class ReplicaReports:
    """Each new Replica's status, as its node's agent would write it.

    A Replica ADDED without a status, on a node whose agent is not lost, gets its
    ``phases`` one after the other, a PATCH of its status each, ``step_s`` apart (the
    first ``step_s`` after the ADDED event). The real agent makes a new copy Ready in
    its first pass over its Replicas, a median ~0.4 s after the operator added it
    (0.0-1.4 s in session 8's failovers, ``docs/faults.md``), and writes ``Syncing``
    first only when the first pull does not come through in that pass.

    Args:
        custom: a ``kubernetes`` CustomObjectsApi (the agents' client).
        namespace: the Replicas' namespace.
        lost: the nodes whose agents are lost (``FakeAgents.lost``): none of theirs is
            reported.
        phases: the phases to write.
        step_s: seconds between two of them.
    """

    def __init__(
        self,
        custom: Any,
        namespace: str,
        lost: dict[str, float],
        *,
        phases: tuple[str, ...] = ("Ready",),
        step_s: float = 0.4,
        writers: int = 8,
    ) -> None:
        self.custom, self.namespace, self.lost = custom, namespace, lost
        self.phases, self.step_s = phases, step_s
        self.written = 0
        self._reported: set[str] = set()  # a watch started again lists them again
        self._due: list[tuple[float, str, str, int]] = []  # (when, name, node, phase index)
        self._ready = threading.Condition()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._watch, daemon=True)] + [
            threading.Thread(target=self._write_due, daemon=True) for _ in range(writers)
        ]

    def start(self, watch: bool = True) -> None:
        """Write the statuses in the background; ``watch``: of the Replicas a watch sees
        (else of those given to :meth:`seen`)."""
        if self.phases:
            for thread in self._threads[0 if watch else 1 :]:
                thread.start()

    def stop(self) -> None:
        """Write no more."""
        self._stop.set()
        with self._ready:
            self._ready.notify_all()

    def seen(self, kind: str, obj: dict[str, Any]) -> bool:
        """A watch event: report the Replica if it is new; whether it will be."""
        node = (obj.get("spec") or {}).get("nodeName", "")
        name = obj["metadata"]["name"]
        if kind != "ADDED" or obj.get("status") or node in self.lost or name in self._reported:
            return False
        if self._stop.is_set() or not self.phases:
            return False
        self._reported.add(name)
        self._schedule(name, node, 0)
        return True

    def _schedule(self, name: str, node: str, phase: int) -> None:
        with self._ready:
            heapq.heappush(self._due, (time.monotonic() + self.step_s, name, node, phase))
            self._ready.notify()

    def _next(self) -> tuple[str, str, int] | None:
        """The next status due (waiting for it); None once stopped."""
        with self._ready:
            while not self._stop.is_set():
                wait = self._due[0][0] - time.monotonic() if self._due else None
                if wait is not None and wait <= 0:
                    _, name, node, phase = heapq.heappop(self._due)
                    return name, node, phase
                self._ready.wait(wait)
        return None

    def _write_due(self) -> None:
        while (due := self._next()) is not None:
            name, node, phase = due
            try:
                written = node not in self.lost and self._write(name, self.phases[phase])
                if written and phase + 1 < len(self.phases):
                    self._schedule(name, node, phase + 1)
            except Exception as err:  # noqa: BLE001 - one failed report, the rest go on
                print(f"replica status of {name} not written: {err}", flush=True)

    def _write(self, name: str, phase: str) -> bool:
        """PATCH ``name``'s status to ``phase``; False when it is gone."""
        from kubernetes.client.exceptions import ApiException

        from statecast.api.types import GROUP, VERSION

        try:
            self.custom.patch_namespaced_custom_object_status(
                GROUP, VERSION, self.namespace, "replicas", name, {"status": {"phase": phase}}
            )
        except ApiException as err:
            if err.status == 404:  # removed meanwhile
                return False
            raise
        with self._ready:
            self.written += 1
        return True

    def _watch(self) -> None:
        follow_objects(
            self.custom, self.namespace, "replicas", self.seen, self._stop, "replica reports'"
        )


def follow_objects(
    custom: Any,
    namespace: str,
    plural: str,
    seen: Callable[[str, dict[str, Any]], object],
    stop: threading.Event,
    label: str,
) -> None:
    """Watch ``namespace``'s objects of our ``plural`` (replicas, sharedresources) until
    ``stop`` is set, handing each event's type and object to ``seen``; a broken watch is
    started again (from the start, after 0.5 s).

    Each event is decoded once: the client's ``Watch`` decodes a custom object twice (a
    JSON round trip to "deserialize" it into the dict it was), CPU this process took
    from the operator and the API server on the same two cores (session 16).
    """
    from kubernetes.watch.watch import iter_resp_lines

    from statecast.api.types import GROUP, VERSION

    version = None
    while not stop.is_set():
        kwargs: dict[str, Any] = {"timeout_seconds": 60}
        if version:
            kwargs["resource_version"] = version
        try:
            response = custom.list_namespaced_custom_object(
                GROUP, VERSION, namespace, plural, watch=True, _preload_content=False, **kwargs
            )
            try:
                for line in iter_resp_lines(response):
                    event = json.loads(line)
                    if event.get("type") == "ERROR":
                        raise RuntimeError(f"watch error: {event.get('object')}")
                    seen(event["type"], event["object"])
                    version = event["object"]["metadata"].get("resourceVersion", version)
                    if stop.is_set():
                        return
            finally:
                response.close()
                response.release_conn()
        except Exception as err:  # noqa: BLE001 - a broken watch is started again
            print(f"{label} watch restarted: {err}", flush=True)
            version = None
            time.sleep(0.5)
