"""One chaos run: workload, fault, heal, convergence, check, report.

Timeline (seconds since the run began): the workload starts at 0; after ``warmup`` the
scenario injects its fault; ``duration`` later it heals; the workload runs on until
the resource has healed - a copy Ready and none Lost, so a lost copy that comes back has
merged what it held - (or ``settle`` passes), a little longer (``tail``), and stops;
then, once no agent holds a retired copy of the resource any more (a removed replica's
files, which may hold writes no live replica has, handed off in the background), the
final maps are read from every replica once they agree (each wait at most ``settle``)
and checked against the history (:mod:`statecast.chaos.checker`).
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from kubernetes import client

from statecast.api.types import GROUP, VERSION
from statecast.api.units import parse_duration
from statecast.chaos.checker import Partition, check_eventual, percentiles
from statecast.chaos.history import History, Operation
from statecast.chaos.observer import ReplicaObserver
from statecast.chaos.scenarios import Run, Scenario
from statecast.chaos.target import Target, TargetError
from statecast.chaos.timeline import actions_between, lost_after, min_restored_after, read_recovery
from statecast.chaos.workload import Workload, WorkloadSpec
from statecast.client.endpoints import key_path

__all__ = ["RunSettings", "run_scenario"]


@dataclass(frozen=True)
class RunSettings:
    """How long each part of a run lasts, and the workload's size.

    Attributes:
        duration: Seconds from the fault to the heal.
        seed: Random seed.
        warmup: Seconds of workload before the fault.
        settle: Seconds at most to wait for convergence after the heal.
        tail: Seconds of workload after convergence.
        workload: ``WorkloadSpec`` fields to override.
    """

    duration: float
    seed: int = 1
    warmup: float = 3.0
    settle: float = 60.0
    tail: float = 2.0
    workload: dict[str, Any] | None = None


def _resource(api: client.ApiClient, namespace: str, name: str) -> dict[str, Any]:
    try:
        found: Any = client.CustomObjectsApi(api).get_namespaced_custom_object(
            GROUP, VERSION, namespace, "sharedresources", name
        )
        return dict(found)
    except client.ApiException as err:
        if err.status == 404:
            raise TargetError(f"no SharedResource {namespace}/{name}") from err
        raise


def _local_map(url: str, namespace: str, resource: str, prefix: str) -> dict[str, Any] | None:
    """The run's keys as the replica on ``url``'s node holds them (None: not local)."""
    try:
        reply = httpx.get(url + key_path(namespace, resource), timeout=10)
    except httpx.HTTPError:
        return None
    if reply.status_code != 200 or reply.headers.get("statecast-served") != "local":
        return None
    return {k: v for k, v in reply.json().items() if k.startswith(prefix)}


def _retired_copies(target: Target, namespace: str, resource: str) -> dict[str, int | None]:
    """Node -> retired copies of the resource its agent has not handed off yet.

    None when that is not known: the agent does not answer (it may be starting), or it
    has not looked at its data directory since it started (``retiredComplete`` false:
    a copy its earlier run left - a Replica removed just before a restart - is not
    listed yet). Either may hold an acknowledged write that no live replica has.
    """
    held: dict[str, int | None] = {}
    for node, url in sorted(target.agents().items()):
        try:
            reply = httpx.get(url + "/v1/stats", timeout=10)
            stats = reply.json() if reply.status_code == 200 else None
        except (httpx.HTTPError, ValueError):
            stats = None
        if not isinstance(stats, dict) or not stats.get("retiredComplete", True):
            held[node] = None
            continue
        rows = stats.get("retired", [])
        mine = [r for r in rows if (r["namespace"], r["resource"]) == (namespace, resource)]
        if mine:
            held[node] = len(mine)
    return held


def _handed_off(
    target: Target, namespace: str, resource: str, settle: float
) -> tuple[float | None, dict[str, int | None], dict[str, int | None]]:
    """Wait until no agent holds a retired copy of the resource (at most ``settle`` s).

    An agent whose copies are not known (see :func:`_retired_copies`) is waited for too.

    Returns:
        How long it took (None: copies were left), the copies left per node, and the
        copies held per node when the wait began (what it waited for); None: not known.
    """
    started = time.monotonic()
    first: dict[str, int | None] | None = None
    while True:
        held = _retired_copies(target, namespace, resource)
        first = held if first is None else first
        if not held:
            return time.monotonic() - started, held, first
        if time.monotonic() - started > settle:
            return None, held, first
        time.sleep(0.5)


def _final_states(
    target: Target, observer: ReplicaObserver, namespace: str, resource: str, prefix: str,
    settle: float,
) -> tuple[dict[str, dict[str, Any]], float | None]:  # fmt: skip
    """Every replica's map, once all can be read and agree.

    After ``settle`` seconds, whatever could be read; the second value says how long it
    took (None: they never all agreed).
    """
    started = time.monotonic()
    states: dict[str, dict[str, Any]] = {}
    while True:
        agents = target.agents()
        states = {}
        holders = observer.live_nodes()
        for node in sorted(holders):
            if node in agents and (got := _local_map(agents[node], namespace, resource, prefix)):
                states[node] = got
        canonical = {json.dumps(s, sort_keys=True) for s in states.values()}
        if states and set(states) == holders and len(canonical) == 1:
            return states, time.monotonic() - started
        if time.monotonic() - started > settle:
            return states, None
        time.sleep(0.5)


def _interval(spec: dict[str, Any]) -> float:
    """The resource's ``prediction.interval`` in seconds."""
    text = str((spec.get("prediction") or {}).get("interval", "1m"))
    return parse_duration(text).total_seconds()


def _workload_spec(
    namespace: str, name: str, run_id: str, seed: int, nodes: int, overrides: dict[str, Any]
) -> WorkloadSpec:
    fields = dict(overrides)
    total = fields.pop("total_write_rate", None)
    spec = WorkloadSpec(namespace, name, run_id, seed=seed, **fields)
    if total:
        per_writer = float(total) / max(1, spec.writers_per_node * nodes)
        spec = WorkloadSpec(
            namespace, name, run_id, seed=seed, **{**fields, "write_rate": per_writer}
        )
    return spec


def _write_rates(writes: list[Operation], spec: WorkloadSpec, nodes: int) -> dict[str, Any]:
    """Writes per second acknowledged, offered (sent) and asked, and how they were sent."""
    span = max((w.end for w in writes), default=0.0) - min((w.start for w in writes), default=0.0)
    acked = sum(1 for w in writes if w.outcome == "ok")
    return {
        "write_rate_acked_per_s": round(acked / max(span, 1e-9), 1),
        "write_rate_offered_per_s": round(len(writes) / max(span, 1e-9), 1),
        "write_rate_target_per_s": round(spec.write_rate * spec.writers_per_node * nodes, 1),
        "writers": {
            "per_node": spec.writers_per_node,
            "processes": spec.writer_processes,
            "pipeline": spec.writer_pipeline,
        },
    }


def _ms(samples: Any) -> dict[str, float | None]:
    return {
        k: (round(v * 1000, 1) if v is not None else None) for k, v in percentiles(samples).items()
    }


def _preflight(scenario: Scenario, target: Target, namespace: str, name: str) -> dict[str, Any]:
    """The resource's spec, once the scenario and the resource are known to fit."""
    why = scenario.supported_by(target)
    if why:
        raise TargetError(why)
    spec: dict[str, Any] = _resource(target.api, namespace, name).get("spec") or {}
    if spec.get("consistency") == "strong":
        raise TargetError(
            "the eventual check needs an eventual resource (strong: --check linearizability)"
        )
    return spec


class ChaosRun:
    """One run of a scenario against a resource (see :func:`run_scenario`)."""

    def __init__(
        self, scenario: Scenario, target: Target, namespace: str, name: str,
        settings: RunSettings, log: Callable[[str], None],
    ) -> None:  # fmt: skip
        spec = _preflight(scenario, target, namespace, name)
        self.scenario, self.target, self.settings, self.log = scenario, target, settings, log
        self.namespace, self.name = namespace, name
        self.began = time.monotonic()
        self.rng = random.Random(settings.seed)
        self.marks: dict[str, float] = {}
        self.observer = ReplicaObserver(target.api, namespace, name, self.clock)
        self.observer.start()
        self.initial = dict(self.observer.current)
        self.holders = sorted(i["node"] for i in self.initial.values() if i["phase"] == "Ready")
        self.agents = target.agents()
        if not self.holders:
            self.observer.stop()
            raise TargetError(f"{namespace}/{name} has no Ready replica")
        if missing := [n for n in self.holders if n not in self.agents]:
            self.observer.stop()
            raise TargetError(f"no agent Lease for the replica nodes {missing}")
        self.run_id = f"chaos-{uuid.uuid4().hex[:6]}"
        overrides = {**scenario.workload(), **(settings.workload or {})}
        self.spec = _workload_spec(
            namespace, name, self.run_id, settings.seed, len(self.agents), overrides
        )
        self.history = History()
        self.workload = Workload(self.spec, dict(self.agents), self.history, self.clock)
        self.context = Run(
            target=target, namespace=namespace, resource=name,
            minimum=int((spec.get("replicas") or {}).get("min", 2)), holders=self.holders,
            choose=lambda options: self.rng.choice(sorted(options)), clock=self.clock,
            mark=lambda label: self.marks.__setitem__(label, self.clock()),
            wait_for=self.wait_for, patch_resource=self.patch, replica_nodes=self.replica_nodes,
            interval=_interval(spec), serves_locally=self.serves_locally,
        )  # fmt: skip

    def clock(self) -> float:
        """Seconds since the run began."""
        return round(time.monotonic() - self.began, 4)

    def wait_for(self, check: Callable[[], Any], timeout: float) -> Any:
        """Poll ``check`` until it is truthy or ``timeout`` passes; return its last value."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if value := check():
                return value
            time.sleep(0.2)
        return None

    def _healed(self) -> bool:
        """A copy is Ready and none is Lost.

        A lost copy that comes back (its agent slow to restart on a busy machine) merges
        what it alone held; reading the others before that would miss its writes.
        """
        phases = self.replica_nodes().values()
        return "Ready" in phases and "Lost" not in phases

    def serves_locally(self, node: str) -> bool:
        """``node``'s agent answers a read of the resource from its own replica now."""
        url = self.target.agents().get(node)
        return url is not None and _local_map(url, self.namespace, self.name, "") is not None

    def replica_nodes(self) -> dict[str, str]:
        """The resource's Replicas now: node -> phase."""
        return {i["node"]: i["phase"] for i in self.observer.replicas().values()}

    def patch(self, spec_patch: dict[str, Any]) -> None:
        """Merge-patch the resource's spec."""
        client.CustomObjectsApi(self.target.api).patch_namespaced_custom_object(
            GROUP, VERSION, self.namespace, "sharedresources", self.name, {"spec": spec_patch}
        )

    def drive(self) -> tuple[float, float, set[str]]:
        """Workload, fault, heal, settle.

        Returns:
            When the fault came, when it was healed, and the nodes it hit.
        """
        name, settings = self.scenario.name, self.settings
        self.log(f"chaos {name}: {self.namespace}/{self.name} on {self.holders}")
        self.workload.start(probe_node=self.holders[0])
        try:
            time.sleep(settings.warmup)
            fault_at = self.clock()
            self.log(f"chaos {name}: injecting at {fault_at:.1f}s")
            try:
                faulted = self.scenario.inject(self.context)
                time.sleep(max(0.0, settings.duration - (self.clock() - fault_at)))
            finally:  # a fault that went wrong half-way is healed all the same
                heal_at = self.clock()
                self.log(f"chaos {name}: healing at {heal_at:.1f}s")
                self.scenario.heal(self.context)
            time.sleep(2.0)
            self.wait_for(self._healed, settings.settle)
            time.sleep(settings.tail)
        finally:
            self.workload.stop()
        return fault_at, heal_at, faulted

    def report(self, fault_at: float, heal_at: float, faulted: set[str]) -> dict[str, Any]:
        """Read the final state, check, and build the report."""
        stopped_at = self.clock()
        handed_off_after, retired_left, retired_at_stop = _handed_off(
            self.target, self.namespace, self.name, self.settings.settle
        )
        states, converged_after = _final_states(
            self.target, self.observer, self.namespace, self.name, self.run_id,
            self.settings.settle,
        )  # fmt: skip
        self.observer.stop()
        self.scenario.finish(self.context)
        events = self.observer.snapshot()
        self.scenario.summarize(self.context, events, self.marks)
        operations = self.history.snapshot()
        written = {o.key for o in operations if o.kind == "write"}
        incremented = {o.key for o in operations if o.kind == "increment"}
        verdict = check_eventual(
            operations, states,
            keys={self.spec.key(i) for i in range(self.spec.keys)} & written,
            counter_keys={self.spec.counter(i) for i in range(self.spec.counters)} & incremented,
            partition=(
                Partition(fault_at, heal_at, frozenset(faulted))
                if self.scenario.cuts_network else None
            ),
        )  # fmt: skip
        if converged_after is None:  # a replica that could not be read is not converged
            verdict.converged = False
        reads = [o for o in operations if o.kind == "read"]
        writes = [o for o in operations if o.kind == "write"]
        minimum = self.context.minimum
        report = {
            "scenario": self.scenario.name, "resource": f"{self.namespace}/{self.name}",
            "seed": self.settings.seed, "target": type(self.target).__name__,
            "duration_s": self.settings.duration, "fault_at_s": fault_at, "healed_at_s": heal_at,
            "stopped_at_s": stopped_at, "faulted_nodes": sorted(faulted),
            "replicas_min": minimum, "holders": self.holders,
            "acked_writes": verdict.acked_writes, "attempted_writes": verdict.attempted_writes,
            "indeterminate_writes": verdict.indeterminate_writes,
            "lost_writes": verdict.lost_writes, "lost_examples": verdict.lost_examples[:10],
            "phantom_keys": verdict.phantom_keys[:10], "reordered_writes": verdict.reordered_writes,
            **_write_rates(writes, self.spec, len(self.agents)),
            "counters": verdict.counters, "reads": verdict.reads,
            "failed_reads": verdict.failed_reads, "not_found_existing": verdict.not_found_existing,
            "not_found_examples": verdict.not_found_examples,
            "read_recovery_ms": _ms(
                read_recovery(reads, self.history.error_times, fault_at, heal_at)
            ),
            "read_latency_ms": _ms(o.end - o.start for o in reads if o.outcome == "ok"),
            "lost_after_s": lost_after(events, fault_at, faulted),
            "min_restored_s": min_restored_after(self.initial, events, fault_at, minimum, faulted),
            "client_errors": dict(sorted(self.history.errors.items())),
            "replication_lag_ms": _ms(self.workload.lag_samples),
            "converged": verdict.converged,
            "converged_after_stop_s": (
                None if converged_after is None else round(converged_after, 3)
            ),
            "divergent_keys": verdict.divergent_keys[:10], "replicas_checked": sorted(states),
            "retired_handed_off_after_stop_s": (
                None if handed_off_after is None else round(handed_off_after, 3)
            ),
            "retired_copies_at_stop": retired_at_stop, "retired_copies_left": retired_left,
            "actions": actions_between(events, fault_at, stopped_at), "marks": self.marks,
            "replica_events": [e.__dict__ for e in events],
            **self.context.extra,
            "replicas_unread": sorted(self.observer.live_nodes() - set(states)),
            "checks": {"eventual": verdict.ok}, "ok": verdict.ok,
        }  # fmt: skip
        report["checks"].update(self.scenario.check(report))  # the scenario's own
        report["ok"] = all(report["checks"].values())
        return report


def run_scenario(
    scenario: Scenario, target: Target, namespace: str, name: str, settings: RunSettings,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:  # fmt: skip
    """Run ``scenario`` against resource ``namespace/name`` and return the report.

    Raises:
        TargetError: The resource or the cluster cannot run it (bad input).
    """
    run = ChaosRun(scenario, target, namespace, name, settings, log)
    try:
        driven = run.drive()
    except BaseException:  # the fault went wrong: clean up what it left (a mount, a process)
        run.observer.stop()
        scenario.finish(run.context)
        raise
    return run.report(*driven)
