"""One chaos run: workload, fault, heal, convergence, check, report.

Timeline (seconds since the run began): the workload starts at 0; after ``warmup`` the
scenario injects its fault; ``duration`` later it heals; the workload runs on until
every replica of the resource holds the same state for the run's keys (or ``settle``
passes), a little longer (``tail``), and stops; then the final maps are read from every
replica and checked against the history (:mod:`statecast.chaos.checker`).
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

from statecast.api.units import parse_duration
from statecast.chaos.checker import check_eventual, percentiles
from statecast.chaos.history import History
from statecast.chaos.observer import GROUP, VERSION, ReplicaObserver
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


def _final_states(
    target: Target, observer: ReplicaObserver, namespace: str, resource: str, prefix: str,
    settle: float,
) -> tuple[dict[str, dict[str, Any]], float | None]:  # fmt: skip
    """Every live replica's map, once they agree (or after ``settle``); when they agreed."""
    started = time.monotonic()
    states: dict[str, dict[str, Any]] = {}
    while True:
        agents = target.agents()
        states = {}
        for node in sorted(observer.ready_nodes()):
            if node in agents and (got := _local_map(agents[node], namespace, resource, prefix)):
                states[node] = got
        canonical = {json.dumps(s, sort_keys=True) for s in states.values()}
        if len(states) >= 1 and len(canonical) == 1:
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


def run_scenario(
    scenario: Scenario, target: Target, namespace: str, name: str, settings: RunSettings,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:  # fmt: skip
    """Run ``scenario`` against resource ``namespace/name`` and return the report.

    Raises:
        TargetError: The resource or the cluster cannot run it (bad input).
    """
    why = scenario.supported_by(target)
    if why:
        raise TargetError(why)
    body = _resource(target.api, namespace, name)
    spec = body.get("spec") or {}
    if spec.get("consistency") == "strong":
        raise TargetError(
            "the eventual check needs an eventual resource (strong: --check linearizability)"
        )
    minimum = int((spec.get("replicas") or {}).get("min", 2))
    began = time.monotonic()

    def clock() -> float:
        return round(time.monotonic() - began, 4)

    rng = random.Random(settings.seed)
    observer = ReplicaObserver(target.api, namespace, name, clock)
    observer.start()
    initial = dict(observer.current)
    holders = sorted(i["node"] for i in initial.values() if i["phase"] == "Ready")
    agents = target.agents()
    if not holders:
        raise TargetError(f"{namespace}/{name} has no Ready replica")
    missing = [n for n in holders if n not in agents]
    if missing:
        raise TargetError(f"no agent Lease for the replica nodes {missing}")
    run_id = f"chaos-{uuid.uuid4().hex[:6]}"
    overrides = {**scenario.workload(), **(settings.workload or {})}
    wspec = _workload_spec(namespace, name, run_id, settings.seed, len(agents), overrides)
    history = History()
    workload = Workload(wspec, dict(agents), history, clock)
    marks: dict[str, float] = {}

    def wait_for(check: Callable[[], Any], timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if value := check():
                return value
            time.sleep(0.2)
        return None

    def replica_nodes() -> dict[str, str]:
        return {i["node"]: i["phase"] for i in observer.replicas().values()}

    def patch(spec_patch: dict[str, Any]) -> None:
        client.CustomObjectsApi(target.api).patch_namespaced_custom_object(
            GROUP, VERSION, namespace, "sharedresources", name, {"spec": spec_patch}
        )

    context = Run(
        target=target, namespace=namespace, resource=name, minimum=minimum, holders=holders,
        choose=lambda options: rng.choice(sorted(options)), clock=clock,
        mark=lambda label: marks.__setitem__(label, clock()), wait_for=wait_for,
        patch_resource=patch, replica_nodes=replica_nodes,
        interval=_interval(spec),
    )  # fmt: skip
    log(f"chaos {scenario.name}: {namespace}/{name} on {holders}, agents {sorted(agents)}")
    workload.start(probe_node=holders[0])
    converged_after: float | None = None
    try:
        time.sleep(settings.warmup)
        fault_at = clock()
        log(f"chaos {scenario.name}: injecting at {fault_at:.1f}s")
        faulted = scenario.inject(context)
        time.sleep(max(0.0, settings.duration - (clock() - fault_at)))
        heal_at = clock()
        log(f"chaos {scenario.name}: healing at {heal_at:.1f}s")
        scenario.heal(context)
        time.sleep(2.0)
        wait_for(observer.ready_nodes, settings.settle)
        time.sleep(settings.tail)
    finally:
        workload.stop()
    stopped_at = clock()
    states, converged_after = _final_states(
        target, observer, namespace, name, run_id, settings.settle
    )
    observer.stop()
    scenario.finish(context)
    events = observer.snapshot()
    scenario.summarize(context, events, marks)
    operations = history.snapshot()
    keys = {wspec.key(i) for i in range(wspec.keys)}
    counters = {wspec.counter(i) for i in range(wspec.counters)}
    verdict = check_eventual(
        operations, states,
        keys={k for k in keys if any(o.key == k and o.kind == "write" for o in operations)},
        counter_keys={k for k in counters if any(o.key == k for o in operations)},
    )  # fmt: skip
    reads = [o for o in operations if o.kind == "read"]
    writes = [o for o in operations if o.kind == "write"]
    recovery = read_recovery(reads, history.error_times, fault_at, heal_at)
    acked = [w for w in writes if w.outcome == "ok"]
    write_window = max(
        1e-9, (max((w.end for w in writes), default=0) - min((w.start for w in writes), default=0))
    )
    report: dict[str, Any] = {
        "scenario": scenario.name,
        "resource": f"{namespace}/{name}",
        "seed": settings.seed,
        "target": type(target).__name__,
        "duration_s": settings.duration,
        "fault_at_s": fault_at,
        "healed_at_s": heal_at,
        "stopped_at_s": stopped_at,
        "faulted_nodes": sorted(faulted),
        "replicas_min": minimum,
        "holders": holders,
        "acked_writes": verdict.acked_writes,
        "attempted_writes": verdict.attempted_writes,
        "indeterminate_writes": verdict.indeterminate_writes,
        "lost_writes": verdict.lost_writes,
        "lost_examples": verdict.lost_examples[:10],
        "phantom_keys": verdict.phantom_keys[:10],
        "reordered_writes": verdict.reordered_writes,
        "write_rate_acked_per_s": round(len(acked) / write_window, 1),
        "counters": verdict.counters,
        "reads": verdict.reads,
        "failed_reads": verdict.failed_reads,
        "not_found_existing": verdict.not_found_existing,
        "read_recovery_ms": {
            k: (v * 1000 if v is not None else None) for k, v in percentiles(recovery).items()
        },
        "read_latency_ms": {
            k: (v * 1000 if v is not None else None)
            for k, v in percentiles(o.end - o.start for o in reads if o.outcome == "ok").items()
        },
        "lost_after_s": lost_after(events, fault_at, faulted),
        "min_restored_s": min_restored_after(initial, events, fault_at, minimum, faulted),
        "client_errors": dict(sorted(history.errors.items())),
        "replication_lag_ms": {
            k: (v * 1000 if v is not None else None)
            for k, v in percentiles(workload.lag_samples).items()
        },
        "converged": verdict.converged,
        "converged_after_stop_s": round(converged_after, 3)
        if converged_after is not None
        else None,
        "divergent_keys": verdict.divergent_keys[:10],
        "replicas_checked": sorted(states),
        "actions": actions_between(events, fault_at, stopped_at),
        "marks": marks,
        "replica_events": [e.__dict__ for e in events],
        **context.extra,
    }
    report["checks"] = {"eventual": verdict.ok}
    report["ok"] = verdict.ok
    return report
