"""Soak: steady load on the whole system; the operators' and agents' memory over time.

Run from the repository root (``make soak``)::

    .venv/bin/python -m bench.soak                    # 10 minutes
    .venv/bin/python -m bench.soak --minutes 2

Starts its own dev cluster (``statecast-soak``: 4 KWOK nodes in 2 zones, an agent per
node, two operators in one peering, as ``statecast dev-cluster up --with-agents
--with-operator --operators 2`` does), creates one SharedResource (``replicas.min`` 2,
static placement) and drives the chaos workload (:mod:`statecast.chaos.workload`: on
every node a writer, a reader and an incrementer through the client library, and the
lag probe) for ``--minutes``. Every ``--every`` seconds it reads each process's resident
set (``VmRSS`` in ``/proc/<pid>/status``).

The load and the first sample (the *start*) wait until the resource is Ready and every
operator has logged ``event=warm-up-done`` (:mod:`statecast.controller.warmup`: what an
operator would otherwise build on first use, the core API client's 20 MiB at its first
history save five minutes in, is built once it is ready and its first pass is over).
Growth is reported from the start to the last sample (the Done-when measure: RSS at
start and end), and from the sample after ``--settle`` seconds of load (the first
Replica passes and the clients' connections done) to the last. ``--out``
(``docs/bench``) gets ``soak.json`` with every sample and ``soak.md`` with the table.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import time
from pathlib import Path
from typing import Any

from kubernetes import client, config

from bench.resources import create_static_ready
from statecast.chaos.history import History
from statecast.chaos.workload import Workload, WorkloadSpec
from statecast.devcluster import DevCluster
from statecast.devcluster.system import System

OUT = Path("docs/bench")
NAMESPACE = "soak"


def rss_kib(pid: int) -> int | None:
    """A process's resident set in KiB (None: it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def shared_objects(pid: int | None) -> set[str]:
    """The shared libraries a process has mapped (C extension modules among them)."""
    try:
        lines = Path(f"/proc/{pid}/maps").read_text().splitlines() if pid else []
    except OSError:
        return set()
    return {line.split()[-1] for line in lines if ".so" in line.rsplit("/", 1)[-1]}


def growth(samples: list[tuple[float, int]], since: float) -> dict[str, Any]:
    """First, settled and last RSS and the growth from each to the last."""
    first = samples[0][1]
    settled = next((kib for t, kib in samples if t >= since), samples[-1][1])
    last = samples[-1][1]
    return {
        "first_kib": first,
        "settled_kib": settled,
        "last_kib": last,
        "growth_from_first": round(last / first - 1, 4),
        "growth_from_settled": round(last / settled - 1, 4),
        "max_kib": max(k for _, k in samples),
    }


WARM_UP_LINE = re.compile(r"event=warm-up-done after_s=(\S+) took_s=(\S+) steps=(\S+)")


def warmed_up(system: System, names: list[str], timeout: float = 300.0) -> dict[str, Any]:
    """Wait for each operator's ``event=warm-up-done`` line; what each said (None: not seen).

    The warm-up runs at the latest two minutes after an operator's start.
    """
    found: dict[str, Any] = {}
    deadline = time.monotonic() + timeout
    while True:
        for name in names:
            path = system.state_dir / "logs" / f"{name}.log"
            text = path.read_text(errors="replace") if path.exists() else ""
            if name not in found and (match := WARM_UP_LINE.search(text)):
                after, took, steps = match.groups()
                found[name] = {"after_s": float(after), "took_s": float(took), "steps": steps}
        if len(found) == len(names) or time.monotonic() > deadline:
            return {name: found.get(name) for name in names}
        time.sleep(0.5)


def main() -> None:
    """Run the soak and write the samples and the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--every", type=float, default=15.0, help="seconds between samples")
    parser.add_argument("--settle", type=float, default=60.0, help="seconds before 'settled'")
    parser.add_argument("--keep", action="store_true", help="leave the cluster running")
    parser.add_argument("--out", type=Path, default=OUT, help="where soak.{json,md} go")
    args = parser.parse_args()
    load_start = os.getloadavg()
    cluster = DevCluster("statecast-soak")
    cluster.down(purge=True)
    cluster.up(nodes=4, zones=2)
    system = cluster.system()
    try:
        report = _run(cluster.kubeconfig, system, args)
    finally:
        if not args.keep:
            cluster.down()
    report = {"load_average_at_start": load_start, "load_average_at_end": os.getloadavg()} | report
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "soak.json").write_text(json.dumps(report, indent=2) + "\n")
    rows = _table(report, args)
    (args.out / "soak.md").write_text("\n".join(rows) + "\n")
    print("\n".join(rows))


def _run(kubeconfig: Path, system: System, args: argparse.Namespace) -> dict[str, Any]:
    """Start the system, wait for its warm-up, drive the load and sample every process."""
    system.install()
    agents = system.start_agents(port=None)
    started = time.monotonic()
    operators = system.start_operators(2)
    api = config.new_client_from_config(config_file=str(kubeconfig))
    namespace = client.V1Namespace(metadata=client.V1ObjectMeta(name=NAMESPACE))
    client.CoreV1Api(api).create_namespace(namespace)
    create_static_ready(api, NAMESPACE, "steady", timeout=180)
    ready_s = time.monotonic() - started
    warm_up = warmed_up(system, operators)
    warmed_s = time.monotonic() - started
    print(f"resource Ready {ready_s:.1f} s after the operators' start; warm-up {warm_up}")
    pids = {w.name: w.pid for w in system.workers() if w.role in ("agent", "operator")}
    history = History()
    began = time.monotonic()
    spec = WorkloadSpec(NAMESPACE, "steady", "soak")
    workload = Workload(spec, dict(agents), history, lambda: time.monotonic() - began)
    workload.start(probe_node=sorted(agents)[0])
    mapped = {name: shared_objects(pid) for name, pid in pids.items()}
    samples = _sample(pids, began, args.minutes * 60, args.every)
    workload.stop()
    # a library mapped during the load: a module imported on first use (a step in RSS)
    loaded_later = {
        name: sorted(Path(so).name for so in shared_objects(pid) - mapped[name])
        for name, pid in pids.items()
    }
    ops = history.snapshot()
    duration = args.minutes * 60
    return {
        "minutes": args.minutes,
        "resource_ready_after_operators_start_s": round(ready_s, 1),
        "warm_up": warm_up,
        "load_started_after_operators_start_s": round(warmed_s, 1),
        "start_sample": "the first: when the load starts, after the resource is Ready and "
        "every operator logged event=warm-up-done",
        "settle_s": args.settle,
        "operations": len(ops),
        "operations_per_s": round(len(ops) / duration, 1),
        "client_errors": history.errors,
        "lag_ms_p50": _p([s * 1e3 for s in workload.lag_samples], 0.5),
        "lag_ms_p99": _p([s * 1e3 for s in workload.lag_samples], 0.99),
        "processes": {n: growth(s, args.settle) for n, s in samples.items() if s},
        "shared_objects_mapped_during_load": loaded_later,
        "samples": samples,
    }


def _sample(
    pids: dict[str, int | None], began: float, duration: float, every: float
) -> dict[str, list[tuple[float, int]]]:
    """Every process's RSS every ``every`` seconds from ``began`` for ``duration``."""
    samples: dict[str, list[tuple[float, int]]] = {name: [] for name in pids}
    while True:
        now = time.monotonic() - began
        for name, pid in pids.items():
            kib = rss_kib(pid) if pid else None
            if kib is not None:
                samples[name].append((round(now, 1), kib))
        print(f"{now:6.0f}s " + " ".join(f"{n}={s[-1][1]}" for n, s in samples.items() if s))
        if now >= duration:
            return samples
        time.sleep(min(every, duration - now + 0.01))


def _table(report: dict[str, Any], args: argparse.Namespace) -> list[str]:
    load_start, load_end = report["load_average_at_start"], report["load_average_at_end"]
    warm = ", ".join(
        f"{name} {w['after_s']:.1f} s after its start ({w['steps']})" if w else f"{name} NOT SEEN"
        for name, w in report["warm_up"].items()
    )
    rows = [
        f"Soak of {args.minutes:g} min, {report['operations_per_s']} client operations/s, "
        f"load average {'/'.join(f'{x:.1f}' for x in load_start)} (1/5/15 min) at start and "
        f"{'/'.join(f'{x:.1f}' for x in load_end)} at the end, on 2 cores; client errors "
        f"{report['client_errors'] or 'none'}.",
        "",
        f"Start = the first sample, when the load starts: after the resource was Ready "
        f"({report['resource_ready_after_operators_start_s']} s after the operators' start) "
        f"and every operator had logged its warm-up done (warm-up: {warm}); the load "
        f"started {report['load_started_after_operators_start_s']} s after the operators' "
        f"start. Settled = the first sample {args.settle:g} s or more into the load. "
        "Growth = last / that sample - 1.",
        "",
        "| process | RSS start MiB | after settle MiB | last MiB | max MiB | growth from start "
        "| growth from settled |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, g in report["processes"].items():
        rows.append(
            f"| {name} | {g['first_kib'] / 1024:.1f} | {g['settled_kib'] / 1024:.1f} | "
            f"{g['last_kib'] / 1024:.1f} | {g['max_kib'] / 1024:.1f} | "
            f"{g['growth_from_first']:+.1%} | {g['growth_from_settled']:+.1%} |"
        )
    later = {n: so for n, so in report["shared_objects_mapped_during_load"].items() if so}
    rows += ["", f"Shared libraries mapped during the load: {later or 'none'}."]
    return rows


def _p(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


if __name__ == "__main__":
    main()
