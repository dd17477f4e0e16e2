"""The operator's own CPU and memory per reconcile, in one process, on simulated time.

Run from the repository root::

    .venv/bin/python -m bench.operator_cpu --resources 100 --nodes 50 [--profile OUT]

:mod:`bench.operator_scale` measures the whole operator on a dev cluster, where the
machine's load decides most wall-clock figures. This one measures what a reconcile
itself costs, without kopf, the API server or HTTP: the operator's
:class:`~statecast.controller.services.Services` on an in-memory gateway, the sampler
fed with the same synthetic demand as the scale benchmark's agents
(:class:`bench.scale_agents.DemandModel`), one reading of every node per ``--sample``
seconds of simulated time, and every resource reconciled (observe, reconcile, apply,
report: what a handler runs) once per ``--every`` seconds of simulated time. Replicas
the reconcile creates appear in the index as Ready at once, deleted ones go.

It reports CPU seconds (``time.process_time``) per reconcile during the first hour of
simulated time and the last, the sampler's cost per reading round, and the process's
RSS. CPU figures do not depend on the machine's load (the bench need not run under the
bench lock); ``--profile OUT`` writes a cProfile of the whole run.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import json
import resource
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

import kopf

from bench.scale_agents import DemandModel
from statecast.api.types import GROUP, VERSION
from statecast.controller.apply import apply, report
from statecast.controller.observe import Indexes, observe
from statecast.controller.services import Services
from statecast.core.demand import AgentSample
from statecast.core.reconcile import reconcile
from statecast.core.reconcile.views import (
    AgentLease,
    NodeView,
    node_view,
    replica_view,
)

NAMESPACE = "scale"
#: Simulated time starts here (a fixed instant: the runs repeat exactly).
EPOCH = dt.datetime(2026, 1, 5, tzinfo=dt.UTC).timestamp()


class Index(dict[Any, list[Any]]):
    """Stands in for a kopf index: keys to stores (lists) of values."""


class MemoryGateway:
    """The operator's gateway in memory: Replicas go straight into the index as Ready."""

    def __init__(self, replicas: Index) -> None:
        self.replicas = replicas
        self.writes = 0
        self.events = 0

    def create_replica(self, body: dict[str, Any]) -> bool:
        view = replica_view({**body, "status": {"phase": "Ready"}})
        store = self.replicas.setdefault((view.namespace, view.resource), [])
        if any(v.name == view.name for v in store):
            return False
        store.append(view)
        self.writes += 1
        return True

    def delete_replica(self, namespace: str, name: str) -> bool:
        for store in self.replicas.values():
            for view in list(store):
                if view.namespace == namespace and view.name == name:
                    store.remove(view)
                    self.writes += 1
                    return True
        return False

    def post_event(self, body: Any, type_: str, reason: str, message: str) -> None:
        self.events += 1

    def agent_leases(self) -> list[AgentLease]:
        return []

    def mark_replica_lost(self, namespace: str, name: str, reason: str, message: str) -> None:
        self.writes += 1

    def set_stand_in(self, namespace: str, name: str, nodes: tuple[str, ...]) -> None:
        self.writes += 1

    def read_history(self, namespace: str, name: str, uid: str) -> bytes | None:
        return None

    def write_history(self, body: dict[str, Any]) -> None:
        self.writes += 1

    def patch_status(self, namespace: str, name: str, status: dict[str, Any]) -> None:
        self.writes += 1


def resource_body(index: int, interval: str, horizon: str) -> dict[str, Any]:
    """Resource ``index`` as the scale benchmark creates it (predictive, min 2)."""
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "SharedResource",
        "metadata": {
            "name": f"r{index:04d}",
            "namespace": NAMESPACE,
            "uid": f"uid-{index}",
            "generation": 1,
        },
        "spec": {
            "replicas": {"min": 2},
            "replication": {"policy": "predictive"},
            "prediction": {"interval": interval, "horizon": horizon},
        },
        "status": {},
    }


def nodes_index(count: int, zones: int) -> Index:
    """``count`` Ready nodes over ``zones`` zones."""
    views: list[NodeView] = [
        node_view(
            {
                "metadata": {
                    "name": f"node-{i + 1}",
                    "labels": {"topology.kubernetes.io/zone": f"zone-{i % zones}"},
                },
                "status": {"conditions": [{"type": "Ready", "status": "True"}]},
            }
        )
        for i in range(count)
    ]
    return Index({v.name: [v] for v in views})


class Counters:
    """Every node's cumulative access counters under a :class:`DemandModel`, on sim time."""

    def __init__(self, model: DemandModel) -> None:
        self.model = model
        self.counts: dict[int, dict[int, float]] = {}
        self.last = model.start

    def read(self, now: float) -> list[AgentSample]:
        """Every node's reading at ``now``."""
        samples = []
        for i, node in enumerate(self.model.nodes):
            counts = self.counts.setdefault(i, {})
            for r, rate in self.model.rates(i, now).items():
                counts[r] = counts.get(r, 0.0) + rate * (now - self.last)
            rows = {
                (NAMESPACE, self.model.resources[r][1], "local"): int(c) for r, c in counts.items()
            }
            samples.append(AgentSample(node, self.model.start, now, rows))
        self.last = now
        return samples


def reconcile_one(services: Services, body: kopf.Body, *, indexes: Indexes, now: float) -> None:
    """What a handler runs for one resource (``handlers._reconcile_body`` at ``now``)."""
    at = dt.datetime.fromtimestamp(now, dt.UTC)
    observed = observe(services, body, indexes, at)
    result = reconcile(observed)
    apply(services, body, result, observed.now)
    patch = kopf.Patch()
    report(services, body, patch, result)
    status = patch.get("status")
    if status:
        body["status"].update(dict(status))


def rss_mb() -> float:
    """This process's resident set now, MB."""
    with open("/proc/self/statm", encoding="ascii") as f:
        pages = int(f.read().split()[1])
    return pages * resource.getpagesize() / 1e6


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Simulate ``args.hours`` of the operator; return the figures."""
    refs = [(NAMESPACE, f"r{i:04d}") for i in range(args.resources)]
    nodes = nodes_index(args.nodes, args.zones)
    replicas = Index()
    indexes = Indexes(nodes, replicas, Index())  # type: ignore[arg-type]
    gateway = MemoryGateway(replicas)
    services = Services.build(gateway, acting_window=1e9)
    model = DemandModel(refs, sorted(nodes), start=EPOCH)
    counters = Counters(model)
    bodies = [
        kopf.Body(resource_body(i, args.interval, args.horizon))  # type: ignore[arg-type]
        for i in range(args.resources)
    ]
    rss_start = rss_mb()
    pool = ThreadPoolExecutor(args.threads) if args.threads > 1 else None
    sample_cpu, reconcile_cpu, reconciles = 0.0, [], 0
    end = EPOCH + args.hours * 3600
    now, next_reconcile = EPOCH, EPOCH
    while now <= end:
        started = time.process_time()
        for sample in counters.read(now):
            services.sampler.record(sample)
        sample_cpu += time.process_time() - started
        if now >= next_reconcile:
            started = time.process_time()
            if pool is None:
                for body in bodies:
                    reconcile_one(services, body, indexes=indexes, now=now)
            else:  # as kopf's worker threads run them
                list(pool.map(partial(reconcile_one, services, indexes=indexes, now=now), bodies))
            reconcile_cpu.append((now - EPOCH, time.process_time() - started))
            reconciles += len(bodies)
            next_reconcile += args.every
        now += args.sample
    first = reconcile_cpu[0][1]
    hour = [cpu for at, cpu in reconcile_cpu[1:] if at < 3600]
    last = [cpu for at, cpu in reconcile_cpu[1:] if at >= end - EPOCH - 3600]
    per = args.resources
    return {
        "resources": args.resources,
        "nodes": args.nodes,
        "threads": args.threads,
        "interval": args.interval,
        "simulated_hours": args.hours,
        "reconcile_every_s": args.every,
        "reconciles": reconciles,
        "cpu_per_reconcile_ms_first_pass": round(1000 * first / per, 2),
        "cpu_per_reconcile_ms_first_hour": round(1000 * sum(hour) / (len(hour) * per), 2),
        "cpu_per_reconcile_ms_last_hour": round(1000 * sum(last) / (len(last) * per), 2),
        "cpu_per_sample_round_ms": round(1000 * sample_cpu / (args.hours * 3600 / args.sample), 2),
        "rss_start_mb": round(rss_start, 1),
        "rss_end_mb": round(rss_mb(), 1),
        "api_writes": gateway.writes,
        "events": gateway.events,
    }


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, run, print (and write) the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resources", type=int, default=100)
    parser.add_argument("--nodes", type=int, default=50)
    parser.add_argument("--zones", type=int, default=3)
    parser.add_argument("--interval", default="10s", help="the resources' prediction.interval")
    parser.add_argument("--horizon", default="1m")
    parser.add_argument("--hours", type=float, default=1.0, help="simulated hours")
    parser.add_argument("--sample", type=float, default=10.0, help="sim seconds between readings")
    parser.add_argument("--every", type=float, default=10.0, help="sim seconds between passes")
    parser.add_argument("--threads", type=int, default=1, help="reconcile in this many threads")
    parser.add_argument("--profile", type=Path, help="write a cProfile of the run here")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args(argv)
    profiler = cProfile.Profile(time.process_time) if args.profile else None
    if profiler is not None:
        profiler.enable()
    figures = run(args)
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(str(args.profile))
    text = json.dumps(figures, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
