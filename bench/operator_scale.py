"""The operator at scale: N SharedResources x M KWOK nodes on the built-in dev cluster.

Run from the repository root (``make bench-operator-scale`` runs the docs' sizes)::

    nice -n 10 .venv/bin/python -m bench.operator_scale --resources 1000 --nodes 50 \
        --json out/operator-scale-1000.json

What runs: the dev cluster (etcd, kube-apiserver, controllers; node 1 with its own
KWOK, nodes 2..M managed by one more KWOK process so that 50 nodes do not need 50
processes), lightweight agents (:mod:`bench.scale_agents`: one process renewing every
node's agent Lease and serving every node's synthetic ``/v1/stats``, demand moving over
time) and the real operator (``statecast operator``, as the chart's ServiceAccount,
production resync and sampling settings unless ``--env`` says otherwise).

The run, in order:

1. N predictive resources (``replicas.min 2``) are created before the operator starts;
   ``full_pass_s`` is the time from the operator's start until every resource has a
   status for its generation and its Replicas (the first full pass).
2. ``--steady`` seconds right after the pass (``first_placements``): no spec change, no
   node change, the demand moving as the synthetic stats do - while the forecasts place
   their first copies (none is removed before the cooldown). The kube-apiserver's own
   ``apiserver_request_total`` over the window, without the simulated agents' and
   KWOK's heartbeats (Lease and Node updates; the total is reported too), the operator's
   CPU time (100 = one core), and the audit log's split by client, verb and resource
   (:mod:`bench.api_traffic`).
3. ``--changes`` spec changes (``replicas.min`` 2 -> 3, one every half second): time
   from the PATCH's answer to the new Replica's ADDED event on a watch.
4. One node loss: the node's agent stops renewing its Lease; for every resource with a
   copy there, the time from the Lease's expiry to the replacement Replica's ADDED event.
   ``change_to_replicas_p50_s``/``_p99_s`` are over the changes and losses together (also
   reported apart). With ``--pinned K`` (since session 12) K resources are read on the
   last node only and never move: they keep their minimum of copies, so that node's
   loss leaves them short (``node_loss_resources``): without it, the moving demand kept
   every resource a copy above its minimum and a loss often timed none. They have a
   copy more (both first copies for the minimum and their reader's) until the first
   copies' cooldown has passed: ``--loss-after`` seconds from the start, not before.
5. ``after_changes``: the same measures over a window right after the node loss.
6. ``settled``: the same over ``--settled`` seconds from ``--settle-after`` seconds after
   the operator's start (no spec or node change in it; the first placements' cooldowns
   have passed, copies are removed as well as added). ``api_requests_per_s`` and
   ``cpu_percent`` are this window's (``api_requests_judged_on`` says which window they
   are: ``first_placements`` when ``--settled 0``).
7. ``operator_rss_mb`` at the end (``operator_rss_start_mb`` after the first pass),
   with the demand intervals the history holds by then (``--interval`` each). Since
   session 12 ``--duration`` keeps the run going (3600: an hour; the settled window can
   span it, ``--settled``), the RSS is read every ``--sample-every`` seconds
   (``operator_rss_samples``, ``_max_mb``, ``_hour_mb``: the first reading an hour in)
   and the API server's counters every ``--api-every`` seconds (``api_requests_blocks``
   from the settled window's start: the traffic's steadiness).

The figures depend on the machine: the docs say how loaded it was.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from bench import api_traffic
from bench.apiserver_audit import (
    POLICY,
    Request,
    Write,
    copies_at,
    first_after,
    pass_done,
    read_requests,
    timed,
)
from bench.change_anatomy import anatomy, log_times, needing_a_copy, operator_log
from bench.scale_agents import DemandModel, FakeAgents, ReplicaReports, follow_objects
from statecast.api.types import GROUP, VERSION
from statecast.controller.builders import replica_name
from statecast.devcluster import DevCluster, build, components, processes
from statecast.devcluster.cluster import KWOK_ANNOTATION, KWOK_MANAGED, ZONE_LABEL, zone_name
from statecast.devcluster.components import node_name
from statecast.devcluster.system import OPERATOR_ACCOUNT

NAMESPACE = "scale"
AGENT_NAMESPACE = "statecast-system"
BENCH_LABEL = "statecast.io/scale-bench"
#: Requests the simulated agents and KWOK make (heartbeats), not the operator.
HEARTBEATS = {("PUT", "leases"), ("PATCH", "leases"), ("PATCH", "nodes"), ("PUT", "nodes")}


def _heartbeat(key: tuple[str, str]) -> bool:
    """Whether a (verb, resource[/subresource]) is the agents' or KWOK's heartbeat."""
    return (key[0], key[1].split("/")[0]) in HEARTBEATS


def requests_between(
    before: dict[tuple[str, str], float], after: dict[tuple[str, str], float], per: float
) -> dict[str, float]:
    """The API requests between two :func:`api_requests` readings, divided by ``per``
    (heartbeats left out)."""
    delta = {k: v - before.get(k, 0.0) for k, v in after.items()}
    return {
        f"{v} {r}": round(n / per, 2)
        for (v, r), n in sorted(delta.items())
        if n > 0 and not _heartbeat((v, r))
    }


def percentile(values: list[float], q: float) -> float | None:
    """The ``q``-th percentile (nearest rank) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


# --- the cluster ---------------------------------------------------------------------


def add_nodes(cluster: DevCluster, api: Any, nodes: int, zones: int) -> None:
    """Nodes 2..``nodes``, managed by one KWOK process (node 1 has the cluster's own)."""
    from kubernetes.client.exceptions import ApiException

    core = api["core"]
    for index in range(2, nodes + 1):
        name = node_name(index)
        body = {
            "metadata": {
                "name": name,
                "annotations": {KWOK_ANNOTATION: KWOK_MANAGED},
                "labels": {
                    "kubernetes.io/hostname": name,
                    "type": "kwok",
                    BENCH_LABEL: "true",
                    ZONE_LABEL: zone_name(index, zones),
                },
            },
            "status": {"addresses": [{"type": "InternalIP", "address": f"127.0.2.{index}"}]},
        }
        try:
            core.create_node(body)
        except ApiException as err:
            if err.status != 409:
                raise
    argv = [
        str(build.binary("kwok")),
        f"--kubeconfig={cluster.state_dir / 'kwok.kubeconfig'}",
        f"--config={Path(components.__file__).parent / 'kwok.yaml'}",
        f"--manage-nodes-with-label-selector={BENCH_LABEL}=true",
        f"--node-lease-duration-seconds={components.NODE_LEASE_SECONDS}",
        f"--server-address=127.0.0.1:{components.free_port()}",
        "--cidr=10.245.0.0/16",
    ]
    if processes.running_pid(cluster.state_dir, "kwok-scale-bench") is None:
        processes.start(cluster.state_dir, "kwok-scale-bench", argv)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if sum(n.ready == "True" for n in cluster.nodes()) >= nodes:
            return
        time.sleep(1)
    raise RuntimeError("the scale bench's nodes did not become Ready")


def clients(kubeconfig: Path, agent: str = api_traffic.BENCH_AGENT) -> dict[str, Any]:
    """kubernetes API objects on the admin kubeconfig, sending ``agent`` as their
    User-Agent (the audit log tells the benchmark's requests from the simulated agents')."""
    from kubernetes import client, config

    api_client = config.new_client_from_config(config_file=str(kubeconfig))
    api_client.user_agent = agent
    api_client.rest_client.pool_manager.connection_pool_kw["maxsize"] = 8
    return {
        "core": client.CoreV1Api(api_client),
        "custom": client.CustomObjectsApi(api_client),
        "coordination": client.CoordinationV1Api(api_client),
        "client": api_client,
    }


def api_requests(cluster: DevCluster) -> dict[tuple[str, str], float]:
    """The kube-apiserver's ``apiserver_request_total`` by (verb, resource[/subresource])."""
    import urllib.request

    server = cluster.server()
    with urllib.request.urlopen(f"{server}/metrics", context=cluster._ssl_context()) as reply:
        text = reply.read().decode()
    totals: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(text):
        if family.name != "apiserver_request":
            continue
        for sample in family.samples:
            if sample.name != "apiserver_request_total":
                continue
            resource, sub = sample.labels.get("resource", ""), sample.labels.get("subresource")
            key = (sample.labels.get("verb", ""), f"{resource}/{sub}" if sub else resource)
            totals[key] = totals.get(key, 0.0) + sample.value
    return totals


# --- the resources and their Replicas -------------------------------------------------


def resource_body(name: str, interval: str, horizon: str) -> dict[str, Any]:
    """A predictive SharedResource with two copies at least."""
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "SharedResource",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "replicas": {"min": 2},
            "replication": {"policy": "predictive"},
            "prediction": {"interval": interval, "horizon": horizon},
        },
    }


class ReplicaWatch:
    """Every Replica ADDED in the bench namespace, with when this process saw it.

    ``also`` is handed every event after it (the simulated agents' reports,
    :meth:`ReplicaReports.seen`): one watch of the Replicas in this process, not one for
    the timing and one for the agents (each event decoded twice, CPU taken from the
    operator and the API server on the same cores; a real cluster has no timing watch).
    """

    plural = "replicas"

    def __init__(
        self, api: dict[str, Any], also: Callable[[str, dict[str, Any]], object] | None = None
    ) -> None:
        self.api, self.also = api, also
        self.lock = threading.Lock()
        self.added: dict[str, list[tuple[str, float]]] = {}  # resource -> [(node, time)]
        self.live: dict[str, set[str]] = {}  # resource -> nodes with a Replica now
        self.lost: dict[tuple[str, str], float] = {}  # (resource, node) -> Lost or deleted
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        """Watch in the background."""
        self._thread.start()

    def stop(self) -> None:
        """Stop at the next event or timeout."""
        self._stop.set()

    def _run(self) -> None:
        follow_objects(
            self.api["custom"], NAMESPACE, self.plural, self._seen, self._stop, self.plural
        )

    def _seen(self, kind: str, obj: dict[str, Any]) -> None:
        now = time.time()
        spec = obj.get("spec") or {}
        resource, node = spec.get("resource", ""), spec.get("nodeName") or spec.get("node", "")
        with self.lock:
            live = self.live.setdefault(resource, set())
            if kind == "ADDED" and node not in live:
                live.add(node)
                self.added.setdefault(resource, []).append((node, now))
            elif kind == "DELETED":
                live.discard(node)
            phase = (obj.get("status") or {}).get("phase")
            gone = kind == "DELETED" or phase == "Lost"  # removed, or marked: answered
            if gone and (resource, node) not in self.lost:
                self.lost[(resource, node)] = now
        if self.also is not None:
            self.also(kind, obj)

    def added_after(self, resource: str, since: float) -> float | None:
        """When the first Replica of ``resource`` added after ``since`` was seen."""
        with self.lock:
            times = [t for _, t in self.added.get(resource, []) if t >= since]
        return min(times) if times else None

    def clear_lost(self, node: str) -> None:
        """Forget the Lost marks seen so far on ``node``."""
        with self.lock:
            self.lost = {k: t for k, t in self.lost.items() if k[1] != node}

    def lost_at(self, resource: str, node: str) -> float | None:
        """When ``resource``'s Replica on ``node`` was first seen marked Lost or deleted."""
        with self.lock:
            return self.lost.get((resource, node))

    def count(self, resource: str) -> int:
        """How many Replicas ``resource`` has now."""
        with self.lock:
            return len(self.live.get(resource, ()))

    def holders(self, node: str) -> list[str]:
        """Resources with a Replica on ``node`` now."""
        with self.lock:
            return [r for r, nodes in self.live.items() if node in nodes]


class StatusWatch(ReplicaWatch):
    """The SharedResources whose status is for their generation, from a watch.

    The first pass was polled with a LIST of every resource every 2 s: at 1,000
    resources megabytes a poll from etcd (a paged LIST skips the watch cache), a load on
    the API server the operator under test waited on.
    """

    plural = "sharedresources"

    def __init__(self, api: dict[str, Any]) -> None:
        super().__init__(api)
        self.current: set[str] = set()

    def _seen(self, kind: str, obj: dict[str, Any]) -> None:
        name, generation = obj["metadata"]["name"], obj["metadata"].get("generation")
        fresh = (obj.get("status") or {}).get("observedGeneration") == generation
        with self.lock:
            if fresh and kind != "DELETED":
                self.current.add(name)
            else:
                self.current.discard(name)


# --- the operator process -------------------------------------------------------------


def proc_usage(pid: int) -> tuple[float, float]:
    """(CPU seconds, RSS in MB) of process ``pid``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    rss = int(fields[21]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    return cpu, rss


def wait_full_pass(
    statuses: StatusWatch, watch: ReplicaWatch, names: list[str], t0: float
) -> float:
    """Seconds from ``t0`` until every resource has its status and two Replicas."""
    deadline, shown = t0 + 1800, 0.0
    while time.time() < deadline:
        with statuses.lock:
            current = set(statuses.current)
        done = sum(1 for name in names if name in current and watch.count(name) >= 2)
        if done >= len(names):
            return time.time() - t0
        if time.time() - shown >= 5:
            print(f"  first pass: {done}/{len(names)} after {time.time() - t0:.0f} s", flush=True)
            shown = time.time()
        time.sleep(0.2)
    raise RuntimeError("the first full pass did not finish in 30 minutes")


def spec_changes(
    api: dict[str, Any],
    watch: ReplicaWatch,
    names: list[str],
    count: int,
    timeout: float = 120.0,
    pause: float = 0.5,
) -> tuple[list[float], dict[str, float], dict[str, int]]:
    """Raise ``replicas.min`` above the copies it has on ``count`` resources.

    Returns the seconds from each PATCH's answer to the new Replica's ADDED event on
    this process's watch (a higher minimum than the copies placed for demand needs one
    more; 0 when the watch saw it before the answer was back), when each resource was
    patched, and the minimum each was given. Until session 12 only an ADDED event seen
    after the answer counted: the operator made a Replica within milliseconds of the
    PATCH, the watch saw it before this thread took the answer's time, and the change
    was timed at the resource's next Replica (session 10's final run: res-0350's new
    copy answered 0.00 s after its PATCH by the audit log, timed 38.53 s by the watch,
    its next copy's creation).
    """
    chosen = names[:: max(1, len(names) // max(1, count))][:count]
    patched: dict[str, float] = {}
    sent: dict[str, float] = {}
    wanted: dict[str, int] = {}
    for name in chosen:
        wanted[name] = watch.count(name) + 1
        sent[name] = time.time()
        api["custom"].patch_namespaced_custom_object(
            GROUP, VERSION, NAMESPACE, "sharedresources", name,
            {"spec": {"replicas": {"min": wanted[name]}}},
        )  # fmt: skip
        patched[name] = time.time()
        time.sleep(pause)
    return wait_added(watch, sent, timeout=timeout, origin=patched), patched, wanted


def spec_times(writes: list[Write], patched: dict[str, float], end: float) -> list[float]:
    """Seconds from each spec PATCH's answer (audit log) to its next Replica's creation
    (``end`` minus the PATCH when none came)."""
    times = []
    for name, sent in patched.items():
        at = first_after(writes, sent - 5.0, "patch", "sharedresources", name=name) or sent
        made = first_after(writes, at, "create", "replicas", prefix=f"{name}-")
        times.append((made if made is not None else end) - at)
    return times


def late_candidates(names: list[str], pinned: Iterable[int], changes: int) -> list[str]:
    """The resources the late changes may raise: neither pinned nor changed early, from
    half a stride on (so :func:`spec_changes`' stride picks others than the early ones)."""
    skip = set(pinned) | set(changed_indices(len(names), changes))
    offset = max(1, len(names) // max(1, changes)) // 2
    return [n for i, n in enumerate(names) if i not in skip and i >= offset]


class LateChanges:
    """``--late-changes`` spec changes made ``--late-changes-after`` seconds after the
    operator's start, in the background (since session 13: a change timed after the
    operator has run for a while, not only right after the pass)."""

    def __init__(
        self, api: dict[str, Any], watch: ReplicaWatch, names: list[str],
        args: argparse.Namespace,
    ) -> None:  # fmt: skip
        self.api, self.watch, self.names = api, watch, names
        self.count, self.after = args.late_changes, args.late_changes_after
        self.seen: list[float] = []
        self.patched: dict[str, float] = {}
        self.wanted: dict[str, int] = {}
        self._thread: threading.Thread | None = None

    def start(self, t0: float) -> None:
        """Make the changes at ``t0 + after`` (nothing with ``count`` 0)."""
        if self.count <= 0:
            return

        def run() -> None:
            time.sleep(max(0.0, t0 + self.after - time.time()))
            print(f"late spec changes at {time.time() - t0:.0f} s", flush=True)
            self.seen, self.patched, self.wanted = spec_changes(
                self.api, self.watch, self.names, self.count
            )

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()

    def join(self) -> None:
        """Wait for the changes and their Replicas (the run lasts until they are done)."""
        if self._thread is not None:
            self._thread.join()


def node_to_lose(
    holders: dict[str, list[str]], counts: dict[str, int], minimums: dict[str, int]
) -> str:
    """The node whose loss leaves the most resources at most at their minimum, then the
    one with the most copies, then the first by name.

    The node with the most copies was lost before: at 1,000 resources on main 94c9cfb
    (session 8) each of its 122 holders had a copy beyond its minimum (placed for
    demand), the loss left none short, and the run timed no replacement.
    """

    def short(node: str) -> int:
        return sum(counts.get(r, 0) <= minimums.get(r, 2) for r in holders[node])

    return min(holders, key=lambda n: (-short(n), -len(holders[n]), n))


def until_between_steps(elapsed: float, shift_s: float, after_s: float = 75.0) -> float:
    """Seconds to wait from ``elapsed`` seconds into the demand until ``after_s`` past one
    of its steps (every ``shift_s``).

    A node lost at any moment could see its Lease expire (30 s later) after one of the
    demand's steps: the copies that step placed then gave the resources at their minimum
    one copy more, and the loss left none short (session 9, wave16's try at 1,000: 29 at
    the minimum when the agent stopped, none at the expiry - nothing to time). Stopped
    ``after_s`` past a step (the step's copies come 20-40 s after it: the sampling, a
    forecast interval), the expiry comes before the next one.
    """
    return (after_s - elapsed) % shift_s


def spec_minimums(bodies: Iterable[dict[str, Any]]) -> dict[str, int]:
    """Resource name -> its ``spec.replicas.min`` (2, the benchmark's, when unset).

    The node loss judges a resource short against this: it was taken from the copies a
    spec-changed resource had after its change (the raised minimum plus the copies
    placed for demand), so a resource left at its minimum counted as short and as
    never replaced (session 8, 300 x 50: 4 of 48, p99 92 s).
    """
    return {
        body["metadata"]["name"]: int(body.get("spec", {}).get("replicas", {}).get("min", 2))
        for body in bodies
    }


def wait_added(
    watch: ReplicaWatch,
    since: dict[str, float],
    timeout: float,
    origin: dict[str, float] | None = None,
) -> list[float]:
    """Seconds from ``origin[r]`` (``since[r]`` when not given) to ``r``'s first Replica
    seen at or after ``since[r]``, at least 0, for each r (missing ones: timeout)."""
    deadline = time.time() + timeout
    found: dict[str, float] = {}
    start = origin or since
    while time.time() < deadline and len(found) < len(since):
        for name, t in since.items():
            added = watch.added_after(name, t)
            if added is not None:
                found[name] = max(0.0, added - start.get(name, t))
        time.sleep(0.2)
    missing = len(since) - len(found)
    if missing:
        print(f"  {missing} of {len(since)} got no new Replica within {timeout:.0f} s", flush=True)
    return list(found.values()) + [float(timeout)] * missing


def holders_at(watch: ReplicaWatch, node: str, before: list[str], at: float) -> list[str]:
    """The resources with a copy on ``node`` at ``at``, by the watch: those it holds now,
    and those of ``before`` (the holders earlier) whose copy went at or after ``at``."""
    now = watch.holders(node)
    gone = [r for r in before if r not in now and (watch.lost_at(r, node) or at - 1.0) >= at]
    return sorted({*now, *gone})


def node_loss(
    agents: FakeAgents, watch: ReplicaWatch, node: str, minimums: dict[str, int]
) -> tuple[list[float], list[float], float, list[str], list[str]]:
    """Stop ``node``'s agent; seconds from its Lease's expiry to the operator's answer.

    Returns (replaced, marked, expiry, at_min, holders). ``holders``: the resources with
    a copy on the node at the Lease's expiry, by this process's watch; ``at_min``: those
    of them at their minimum then (left below it by the loss). ``replaced``: for each
    of ``at_min``, the time to its next Replica's ADDED event on the watch (they must be
    replaced; a copy placed for demand beyond the minimum need not be); ``marked``: for
    each holder, the time until its copy is seen marked Lost or deleted (the operator's
    first reaction); ``expiry``: when the Lease expired. Until session 10 both sets were
    taken when the agent stopped, 30 s before the expiry: a resource the demand gave a
    copy meanwhile needed no replacement and counted as never replaced (60 s), and a
    copy removed for cost meanwhile as never marked (the audit log's measure,
    :func:`served_times`, takes them at the expiry too).
    """
    before = watch.holders(node)
    stopped = [r for r in before if watch.count(r) <= minimums.get(r, 2)]
    watch.clear_lost(node)  # a mark from an earlier blip is not this loss's
    expiry = agents.lose(node)
    print(f"  node loss: {node}: {len(before)} copies, {len(stopped)} at the minimum", flush=True)
    time.sleep(max(0.0, expiry - time.time()))
    holders, now = holders_at(watch, node, before, expiry), set(watch.holders(node))
    at_min = [r for r in holders if watch.count(r) + (r not in now) <= minimums.get(r, 2)]
    print(f"  at the expiry: {len(holders)} copies, {len(at_min)} at the minimum", flush=True)
    replaced = wait_added(watch, dict.fromkeys(at_min, expiry), timeout=60)
    deadline = time.time() + 60
    while time.time() < deadline and any(watch.lost_at(r, node) is None for r in holders):
        time.sleep(0.5)
    marked = [(watch.lost_at(r, node) or time.time()) - expiry for r in holders]
    return replaced, marked, expiry, at_min, holders


def pinned_resources(total: int, count: int, avoid: Iterable[int] = ()) -> list[int]:
    """``count`` resource indices spread evenly over ``range(total)``, none in ``avoid``
    (the spec changes' resources: a raised minimum would not be the one the loss leaves
    short). Since session 12 the benchmark pins them to the node it will lose
    (:class:`bench.scale_agents.DemandModel` ``pinned``)."""
    avoided = set(avoid)
    free = [i for i in range(total) if i not in avoided]
    count = min(max(0, count), len(free))
    return [free[int((k + 0.5) * len(free) / count)] for k in range(count)]


def changed_indices(total: int, count: int) -> list[int]:
    """The indices of the resources :func:`spec_changes` raises the minimum of."""
    return list(range(0, total, max(1, total // max(1, count))))[:count]


class Sampler:
    """The operator's RSS and CPU time every ``every`` seconds from ``t0``, and the API
    server's request counters every ``api_every`` seconds (since session 12: the figures
    through an hour's run, not only after the pass and at the end)."""

    def __init__(
        self, cluster: DevCluster, pid: int, t0: float, every: float, api_every: float
    ) -> None:
        self.cluster, self.pid, self.t0 = cluster, pid, t0
        self.every, self.api_every = every, api_every
        self.rss: list[tuple[float, float, float]] = []  # (s from t0, MB, CPU s)
        self.api: list[tuple[float, dict[tuple[str, str], float]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        """Sample in the background."""
        self._thread.start()

    def stop(self) -> None:
        """Stop sampling."""
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        next_api = 0.0
        while True:
            at = time.time() - self.t0
            try:
                cpu, rss = proc_usage(self.pid)
            except OSError:
                return
            self.rss.append((round(at, 1), round(rss, 1), round(cpu, 1)))
            if at >= next_api:
                try:
                    self.api.append((round(at, 1), api_requests(self.cluster)))
                    next_api = at + self.api_every
                except Exception as err:  # noqa: BLE001 - a missed reading is a gap
                    print(f"api reading failed: {err}", flush=True)
            if self._stop.wait(self.every):
                return


def rss_figures(samples: list[tuple[float, float, float]], hour_s: float) -> dict[str, Any]:
    """The operator's RSS through the run from :class:`Sampler` readings (seconds from the
    start, MB, CPU seconds): the largest, the first reading at or after ``hour_s``
    (None when the run was shorter) and every reading."""
    hour = next((mb for at, mb, _ in samples if at >= hour_s), None)
    return {
        "operator_rss_max_mb": max((mb for _, mb, _ in samples), default=None),
        "operator_rss_hour_mb": hour,
        "operator_rss_samples": [list(row) for row in samples],
    }


def api_blocks(
    readings: list[tuple[float, dict[tuple[str, str], float]]], after_s: float
) -> list[dict[str, float]]:
    """The API requests per second (heartbeats left out, as ``api_requests_per_s``)
    between each two consecutive readings (seconds from the start, the counters) that
    begin at or after ``after_s``: how steady the settled traffic is over the run."""
    blocks = []
    for (t0, before), (t1, after) in itertools.pairwise(readings):
        if t0 < after_s or t1 <= t0:
            continue
        own = sum(n - before.get(key, 0.0) for key, n in after.items() if not _heartbeat(key))
        blocks.append({"from_s": t0, "to_s": t1, "api_requests_per_s": round(own / (t1 - t0), 2)})
    return blocks


def window(cluster: DevCluster, pid: int, seconds: float) -> dict[str, Any]:
    """Steady state over ``seconds``: API requests per second and the operator's CPU
    (``start``/``end``: when, for the audit log's split, :func:`split_windows`)."""
    before, (cpu0, _) = api_requests(cluster), proc_usage(pid)
    t0 = time.time()
    time.sleep(seconds)
    after, (cpu1, rss) = api_requests(cluster), proc_usage(pid)
    t1 = time.time()
    elapsed = t1 - t0
    delta = {k: v - before.get(k, 0.0) for k, v in after.items()}
    delta = {k: v for k, v in delta.items() if v > 0}
    own = sum(v for k, v in delta.items() if not _heartbeat(k))
    return {
        "seconds": round(elapsed, 1),
        "api_requests_per_s": round(own / elapsed, 2),
        "api_requests_total_per_s": round(sum(delta.values()) / elapsed, 2),
        "api_requests_by_verb_resource": {
            f"{v} {r}": round(n / elapsed, 2) for (v, r), n in sorted(delta.items())
        },
        "cpu_percent": round(100 * (cpu1 - cpu0) / elapsed, 1),
        "rss_mb": round(rss, 1),
        "start": round(t0, 3),
        "end": round(t1, 3),
    }


def split_windows(
    requests: list[Request],
    windows: dict[str, dict[str, Any]],
    t0: float,
    churn_s: float,
    lost: str = "",
) -> dict[str, Any]:
    """Each window's requests by client, verb and resource from the audit log, what the
    operator's status PATCHes and Events carried; the operator's requests over the run in
    30 s bins, and the Replicas' lifetimes (churn: within ``churn_s``; the ``lost`` node's
    copies, removed by the failover once replaced, left out as docs/scale.md says - until
    session 11 they were counted)."""
    operator = next(
        (r.write.user for r in requests if r.write.user.endswith(f":{OPERATOR_ACCOUNT}")), ""
    )
    for measured in windows.values():
        start, end = measured["start"], measured["end"]
        measured["from_s"], measured["to_s"] = round(start - t0, 1), round(end - t0, 1)
        measured["audit"] = api_traffic.breakdown(requests, start, end, operator)
        measured["status_patches"] = api_traffic.status_patches(requests, start, end, operator)
        measured["events"] = api_traffic.events(requests, start, end, operator)
    end = max((r.write.at for r in requests), default=t0)
    return {
        "operator_requests_series": api_traffic.series(requests, t0, end, 30.0, operator),
        "replica_churn": api_traffic.churn(
            [r for r in requests if r.write.at >= t0], churn_s, lost
        ),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    """One whole run (see the module docstring); returns the report."""
    cluster = DevCluster(args.cluster)
    policy = Path(f"/tmp/{args.cluster}-audit-policy.yaml")
    policy.write_text(POLICY.format(namespace=NAMESPACE))
    cluster.up(nodes=1, zones=args.zones, timeout=300, audit_policy=policy)
    api = clients(cluster.kubeconfig)
    agents_api = clients(cluster.kubeconfig, api_traffic.AGENTS_AGENT)
    add_nodes(cluster, api, args.nodes, args.zones)
    system = cluster.system()
    system.install()
    from kubernetes.client.exceptions import ApiException

    try:
        api["core"].create_namespace({"metadata": {"name": NAMESPACE}})
    except ApiException as err:
        if err.status != 409:
            raise
    names = [f"res-{i:04d}" for i in range(args.resources)]
    nodes = [node_name(i) for i in range(1, args.nodes + 1)]
    pinned = pinned_resources(
        args.resources, args.pinned, changed_indices(args.resources, args.changes)
    )
    agents = FakeAgents(
        agents_api["coordination"],
        AGENT_NAMESPACE,
        DemandModel(
            [(NAMESPACE, n) for n in names],
            nodes,
            shift_s=args.demand_shift,
            staggered=args.demand_staggered,
            pinned=dict.fromkeys(pinned, len(nodes) - 1),
        ),
    )
    agents.start()
    phases = tuple(p for p in args.replica_phases.split(",") if p)
    reports = ReplicaReports(
        agents_api["custom"], NAMESPACE, agents.lost, phases=phases, step_s=args.phase_step
    )
    reports.start(watch=False)  # fed by this process's one watch of the Replicas, below
    t_create = time.time()
    for name in names:
        try:
            api["custom"].create_namespaced_custom_object(
                GROUP, VERSION, NAMESPACE, "sharedresources",
                resource_body(name, args.interval, args.horizon),
            )  # fmt: skip
        except ApiException as err:
            if err.status != 409:
                raise
    print(f"created {len(names)} resources in {time.time() - t_create:.0f} s", flush=True)
    watch, current = ReplicaWatch(api, also=reports.seen), StatusWatch(api)
    watch.start()
    current.start()
    env = dict(json.loads(args.env)) if args.env else {}
    env["STATECAST_AGENT_NAMESPACE"] = AGENT_NAMESPACE
    requests_before = api_requests(cluster)
    t0 = time.time()
    (operator,) = system.start_operators(1, env=env, prefix="operator-scale")
    pid = system.pid(operator)
    assert pid is not None
    minimums = dict.fromkeys(names, 2)
    sampler = Sampler(cluster, pid, t0, args.sample_every, args.api_every)
    sampler.start()
    try:
        full_pass_watch = wait_full_pass(current, watch, names, t0)
        # every status write is an event to decode in this process, which also plays
        # the agents and times the Replicas: left running, it made this process the
        # one that lagged (spec changes timed at 19 s that the operator made in 1 s)
        current.stop()
        first_pass_requests = requests_between(requests_before, api_requests(cluster), 1.0)
        cpu_start, rss_start = proc_usage(pid)
        _heap_snapshot(env, pid)
        print(f"full pass {full_pass_watch:.1f} s (watch), rss {rss_start:.0f} MB", flush=True)
        steady = window(cluster, pid, args.steady)
        print(f"steady: {json.dumps(steady)}", flush=True)
        changes, patched, wanted = spec_changes(api, watch, names, args.changes)
        minimums.update(spec_minimums(
            api["custom"].get_namespaced_custom_object(
                GROUP, VERSION, NAMESPACE, "sharedresources", name)
            for name in patched
        ))  # fmt: skip
        late = LateChanges(api, watch, late_candidates(names, pinned, args.changes), args)
        late.start(t0)
        # not before --loss-after (the pinned resources' first copies for the minimum go
        # once the copy at their reader is Ready and the cooldown has passed)
        time.sleep(max(0.0, t0 + args.loss_after - time.time()))
        # between two of the demand's steps: the copies a step adds came before the
        # victim is chosen, and the next step's come after its Lease's expiry
        if not agents.model.staggered:  # staggered: some resource moves at any time
            time.sleep(until_between_steps(time.time() - agents.model.start, args.demand_shift))
        by_node = {n: watch.holders(n) for n in nodes[1:]}
        counts = {r: watch.count(r) for held in by_node.values() for r in held}
        lost_node = node_to_lose(by_node, counts, minimums)
        losses, marked, expiry, at_min, holders = node_loss(agents, watch, lost_node, minimums)
        settle = window(cluster, pid, min(args.steady, 60.0))
        print(f"after the changes: {json.dumps(settle)}", flush=True)
        settled = _settled(cluster, pid, t0, args)
        if args.duration > 0:
            wait = t0 + args.duration - time.time()
            print(f"running on for {max(0.0, wait):.0f} s (--duration)", flush=True)
            time.sleep(max(0.0, wait))
        late.join()
        cpu_end, rss_end = proc_usage(pid)
        sampler.stop()
        sampler.rss.append((round(time.time() - t0, 1), round(rss_end, 1), round(cpu_end, 1)))
        _heap_snapshot(env, pid)
        elapsed = time.time() - t0
    finally:
        sampler.stop()
        watch.stop()
        current.stop()
        reports.stop()
        agents.stop()
        system.stop([operator])
    requests = read_requests(cluster.state_dir / "audit.log")
    writes = timed(requests)
    windows = {"first_placements": steady, "after_changes": settle}
    if settled is not None:
        windows["settled"] = settled
    over_run = split_windows(requests, windows, t0, churn_s=600.0, lost=lost_node)
    judged = "settled" if settled is not None else "first_placements"
    needed, met = needing_a_copy(writes, patched, wanted)  # met: no Replica was due
    served = served_times(
        writes, names, t0, needed, (lost_node, expiry, minimums, holders),
    )  # fmt: skip
    logged = log_times(operator_log(cluster.state_dir / "logs"))
    late_needed, late_met = needing_a_copy(writes, late.patched, late.wanted)
    late_times = spec_times(writes, late_needed, max((w.at for w in writes), default=t0))
    both = served["spec_change"] + served["node_loss"] + late_times
    return {
        "resources": args.resources,
        "nodes": args.nodes,
        "zones": args.zones,
        "interval": args.interval,
        "demand_shift_s": args.demand_shift,
        "demand_staggered": args.demand_staggered,
        "pinned": len(pinned),
        "pinned_node": nodes[-1] if pinned else None,
        "loss_after_s": args.loss_after,
        "duration_s": args.duration,
        "env": env,
        "replica_phases": list(phases),
        "phase_step_s": args.phase_step,
        "replica_status_writes": reports.written,
        "timed_by": "the API server's audit log (when each write was answered)",
        "full_pass_s": _round(served["full_pass"]),
        "full_pass_watch_s": round(full_pass_watch, 1),
        "first_pass_first_write_s": _round(served["first_write"]),
        "first_pass_writes": len(served["pass_latency"]),
        "first_pass_write_latency_p50_s": _round(percentile(served["pass_latency"], 50)),
        "first_pass_write_latency_p99_s": _round(percentile(served["pass_latency"], 99)),
        "first_pass_requests": first_pass_requests,
        "first_pass_requests_per_resource": round(
            sum(first_pass_requests.values()) / len(names), 2
        ),
        "change_to_replicas_p50_s": _round(percentile(both, 50)),
        "change_to_replicas_p99_s": _round(percentile(both, 99)),
        "spec_change_p50_s": _round(percentile(served["spec_change"], 50)),
        "spec_change_p99_s": _round(percentile(served["spec_change"], 99)),
        "spec_change_anatomy": anatomy(writes, logged, needed),
        "spec_changes_met_already": met,
        "late_changes_after_s": args.late_changes_after if args.late_changes else None,
        "late_spec_changes": len(late.patched),
        "late_spec_changes_met_already": late_met,
        "late_spec_change_p50_s": _round(percentile(late_times, 50)),
        "late_spec_change_p99_s": _round(percentile(late_times, 99)),
        "late_spec_change_watch_p99_s": _round(percentile(late.seen, 99)),
        "late_spec_change_times": [round(t, 3) for t in late_times],
        "spec_change_watch_p50_s": _round(percentile(changes, 50)),
        "spec_change_watch_p99_s": _round(percentile(changes, 99)),
        "node_loss_p50_s": _round(percentile(served["node_loss"], 50)),
        "node_loss_p99_s": _round(percentile(served["node_loss"], 99)),
        "node_loss_watch_p50_s": _round(percentile(losses, 50)),
        "node_loss_watch_p99_s": _round(percentile(losses, 99)),
        "node_loss_resources": len(served["short"]),
        "node_loss_resources_watch": len(at_min),
        "node_loss_expiry": round(expiry, 3),
        "node_loss_short_times": served["short"],
        "node_loss_marked_lost_p50_s": _round(percentile(served["marked_lost"], 50)),
        "node_loss_marked_lost_p99_s": _round(percentile(served["marked_lost"], 99)),
        "node_loss_marked_lost_watch_p99_s": _round(percentile(marked, 99)),
        "node_loss_removed_unmarked": served["removed_unmarked"],
        "node_loss_copies": len(holders),
        "spec_changes": len(patched),
        "operator_rss_start_mb": round(rss_start, 1),
        "operator_rss_mb": round(rss_end, 1),
        **rss_figures(sampler.rss, 3600.0),
        "operator_cpu_s": round(cpu_end, 1),
        "operator_cpu_first_pass_s": round(cpu_start, 1),
        "run_s": round(elapsed, 1),
        "history_intervals": int(elapsed // _seconds(args.interval)),
        "api_requests_per_s": windows[judged]["api_requests_per_s"],
        "api_requests_judged_on": judged,
        "api_requests_first_placements_per_s": steady["api_requests_per_s"],
        "api_requests_after_changes_per_s": settle["api_requests_per_s"],
        "cpu_percent": windows[judged]["cpu_percent"],
        "api_requests_blocks": api_blocks(sampler.api, args.settle_after),
        "windows": windows,
        **over_run,
        "load_average": os.getloadavg(),
    }


def copy_answered(writes: list[Write], name: str, since: float) -> tuple[float | None, str]:
    """When the Replica ``name`` was first marked Lost or deleted at or after ``since``
    (answered, successfully), and which (``patch``, ``delete``; None, ``""``: neither)."""
    marks = [
        (at, verb)
        for at, verb in (
            (first_after(writes, since, "patch", "replicas/status", name=name), "patch"),
            (first_after(writes, since, "delete", "replicas", name=name), "delete"),
        )
        if at is not None
    ]
    return min(marks) if marks else (None, "")


def served_times(
    writes: list[Write],
    names: list[str],
    t0: float,
    patched: dict[str, float],
    loss: tuple[str, float, dict[str, int], list[str]],
) -> dict[str, Any]:
    """The run's times from the API server's audit log (see :mod:`bench.apiserver_audit`).

    ``full_pass``: seconds from ``t0`` until every resource had its status written and
    two Replicas created. ``spec_change``: from each spec PATCH's answer to the next
    Replica creation's answer. ``node_loss``: from the Lease's expiry to the
    replacement's creation, for the resources the loss left below their minimum: those
    with a copy on the node and at most their minimum of copies at the expiry, by the
    audit log (``short``: resource -> seconds). They were taken from this process's
    watch when the agent stopped, 30 s before the expiry: the demand's moves added
    copies meanwhile, and resources that needed no replacement counted as never replaced.
    ``marked_lost``: from the expiry to the operator's answer for each copy on the node
    at the expiry (by the audit log; until session 10 the watch's copies when the agent
    stopped, and one removed for cost meanwhile counted as never answered): its status
    PATCH (Lost) or, if sooner, its deletion (:func:`copy_answered`;
    ``removed_unmarked``: how many were deleted first). A missing one counts as the whole
    run's remaining time (never less than it took). Before session 10 a deletion did not
    count: with Ready copies left, a lost copy is removed (``failover``) rather than
    marked, and the copies the operator removed within seconds counted as never marked
    (95.7 s and 158.7 s p99 in session 9's runs: the run's end, docs/scale.md).
    ``first_write``: from ``t0`` to the operator's first write answered (its start-up,
    kopf's listing, the first reconcile); ``pass_latency``: how long the API server took
    to answer each of the operator's writes of the first pass (received to answered).
    """
    end = max((w.at for w in writes), default=t0)
    done = pass_done(writes, names, t0, copies=2)
    own = [
        w for w in writes
        if t0 <= w.at <= (done or end) and w.user.endswith(f":{OPERATOR_ACCOUNT}")
    ]  # fmt: skip
    spec = spec_times(writes, patched, end)
    node, expiry, minimums, _ = loss
    alive = copies_at(writes, expiry)
    short = sorted(
        r for r, held in alive.items()
        if replica_name(r, node) in held and len(held) <= minimums.get(r, 2)
    )  # fmt: skip
    times = {
        r: round((first_after(writes, expiry, "create", "replicas", prefix=f"{r}-") or end)
                 - expiry, 3)
        for r in short
    }  # fmt: skip
    replaced = list(times.values())
    held = sorted(r for r, names in alive.items() if replica_name(r, node) in names)
    answered = [copy_answered(writes, replica_name(r, node), expiry - 5.0) for r in held]
    marked = [(at if at is not None else end) - expiry for at, _ in answered]
    return {
        "full_pass": None if done is None else done - t0,
        "first_write": min((w.at for w in own), default=end) - t0,
        "pass_latency": [w.at - w.received for w in own],
        "spec_change": spec,
        "node_loss": replaced,
        "short": times,
        "marked_lost": marked,
        "removed_unmarked": sum(1 for at, how in answered if how == "delete"),
    }


def _settled(
    cluster: DevCluster, pid: int, t0: float, args: argparse.Namespace
) -> dict[str, Any] | None:
    """The settled window: ``args.settled`` seconds from ``args.settle_after`` after the
    operator's start ``t0`` (None when ``--settled 0``)."""
    if args.settled <= 0:
        return None
    wait = t0 + args.settle_after - time.time()
    print(f"settled window in {max(0.0, wait):.0f} s, {args.settled:.0f} s long", flush=True)
    time.sleep(max(0.0, wait))
    measured = window(cluster, pid, args.settled)
    print(f"settled: {json.dumps(measured)}", flush=True)
    return measured


def _heap_snapshot(env: dict[str, str], pid: int) -> None:
    """Ask a heap-profiled operator (``STATECAST_HEAP_PROFILE`` in ``--env``) for a snapshot."""
    import signal

    if env.get("STATECAST_HEAP_PROFILE"):
        os.kill(pid, signal.SIGUSR2)
        time.sleep(20)  # a snapshot of a large heap takes a while


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _seconds(duration: str) -> float:
    from statecast.api.units import parse_duration

    return parse_duration(duration).total_seconds()


def _copy_logs(cluster: DevCluster, into: Path) -> None:
    """Copy the cluster's process logs (the operator's among them) before they go."""
    import shutil

    logs = cluster.state_dir / "logs"
    if logs.is_dir():
        shutil.copytree(logs, into, dirs_exist_ok=True)
    audit = cluster.state_dir / "audit.log"
    if audit.exists():  # what every time was taken from
        shutil.copy2(audit, into / "audit.log")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (each size on a fresh cluster); print and write the reports.

    ``--json`` gets one report, or ``{"runs": [...]}`` for several ``--resources``.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--resources", default="100", help="resources, or several: 100,300,1000 (one run each)"
    )
    parser.add_argument("--nodes", type=int, default=50)
    parser.add_argument("--zones", type=int, default=3)
    parser.add_argument(
        "--steady", type=float, default=120.0,
        help="seconds of the window right after the pass (the first placements)",
    )  # fmt: skip
    parser.add_argument(
        "--settle-after", type=float, default=600.0,
        help="seconds from the operator's start to the settled window",
    )  # fmt: skip
    parser.add_argument(
        "--settled", type=float, default=240.0,
        help="seconds of the settled window (a multiple of --demand-shift unless"
        " --demand-staggered; 0: none)",
    )  # fmt: skip
    parser.add_argument(
        "--demand-shift", type=float, default=120.0,
        help="seconds between two moves of every resource's hot node (the published runs: 120)",
    )  # fmt: skip
    parser.add_argument(
        "--demand-staggered", action="store_true",
        help="each resource moves at its own time, spread evenly over --demand-shift (the"
        " published runs: all at once)",
    )  # fmt: skip
    parser.add_argument("--changes", type=int, default=20, help="spec changes to time")
    parser.add_argument(
        "--late-changes", type=int, default=0,
        help="spec changes made later on, at --late-changes-after (0: none, as before)",
    )  # fmt: skip
    parser.add_argument(
        "--late-changes-after", type=float, default=2400.0,
        help="seconds from the operator's start to the late spec changes",
    )  # fmt: skip
    parser.add_argument(
        "--pinned", type=int, default=0,
        help="resources read on the last node only, never moving (they keep their minimum"
        " of copies: the node loss, of that node, leaves them short; 0: none, as before"
        " session 12)",
    )  # fmt: skip
    parser.add_argument(
        "--loss-after", type=float, default=0.0,
        help="seconds from the operator's start before the node loss (0: right after the"
        " changes, as before; with --pinned, past the first copies' 5-minute cooldown:"
        " until then a pinned resource has its reader's copy and both first ones)",
    )  # fmt: skip
    parser.add_argument(
        "--duration", type=float, default=0.0,
        help="seconds from the operator's start the run lasts at least (0: until the"
        " settled window ends; 3600: operator_rss_hour_mb)",
    )  # fmt: skip
    parser.add_argument(
        "--sample-every", type=float, default=30.0, help="seconds between two RSS readings"
    )
    parser.add_argument(
        "--api-every", type=float, default=300.0,
        help="seconds between two readings of the API server's counters (api_requests_blocks)",
    )  # fmt: skip
    parser.add_argument("--interval", default="10s", help="the resources' prediction.interval")
    parser.add_argument("--horizon", default="1m", help="the resources' prediction.horizon")
    parser.add_argument(
        "--replica-phases", default="Ready",
        help="the status phases the simulated agents write for each new Replica ('': none,"
        " as before session 9: every copy stays Pending and none is ever removed)",
    )  # fmt: skip
    parser.add_argument(
        "--phase-step",
        type=float,
        default=0.4,
        help="seconds from a Replica's creation to its first phase, and between two",
    )
    parser.add_argument("--env", default="", help="JSON object of operator environment")
    parser.add_argument("--cluster", default=f"scale-bench-{os.getpid()}")
    parser.add_argument("--keep", action="store_true", help="leave the cluster running")
    parser.add_argument(
        "--logs", type=Path, default=None, help="copy the cluster's logs (the operator's) here"
    )
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    reports = []
    for size in [int(n) for n in str(args.resources).split(",")]:
        one = argparse.Namespace(**{**vars(args), "resources": size})
        one.cluster = f"{args.cluster}-{size}"
        cluster = DevCluster(one.cluster)
        try:
            reports.append(run(one))
        finally:
            if args.logs is not None:
                _copy_logs(cluster, args.logs / one.cluster)
            if not args.keep:
                cluster.down(purge=True)
        print(json.dumps(reports[-1], indent=2), flush=True)
    report: dict[str, Any] = reports[0] if len(reports) == 1 else {"runs": reports}
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
