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
set (``VmRSS`` in ``/proc/<pid>/status``). Growth is reported from the first sample
(load just started) and from the sample after ``--settle`` seconds (imports, caches
and the first Replica passes done) to the last. ``docs/bench/soak.json`` holds every
sample, ``docs/bench/soak.md`` the table.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

from kubernetes import client, config

from statecast.chaos.history import History
from statecast.chaos.workload import Workload, WorkloadSpec
from statecast.devcluster import DevCluster

OUT = Path("docs/bench")
NAMESPACE = "soak"
GROUP, VERSION = "statecast.io", "v1alpha1"


def rss_kib(pid: int) -> int | None:
    """A process's resident set in KiB (None: it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


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


def _resource(api: client.ApiClient, name: str) -> None:
    custom = client.CustomObjectsApi(api)
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "SharedResource",
        "metadata": {"name": name},
        "spec": {
            "replicas": {"min": 2},
            "prediction": {"interval": "5s", "horizon": "15s"},
            "replication": {"policy": "static"},
            "source": {"inline": {"seeded": True}},
        },
    }
    custom.create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, "sharedresources", body)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        obj: Any = custom.get_namespaced_custom_object(
            GROUP, VERSION, NAMESPACE, "sharedresources", name
        )
        if (obj.get("status") or {}).get("phase") == "Ready":
            return
        time.sleep(0.5)
    raise RuntimeError(f"{name} not Ready")


def main() -> None:
    """Run the soak and write the samples and the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--every", type=float, default=15.0, help="seconds between samples")
    parser.add_argument("--settle", type=float, default=60.0, help="seconds before 'settled'")
    parser.add_argument("--keep", action="store_true", help="leave the cluster running")
    args = parser.parse_args()
    load_start = os.getloadavg()[0]
    cluster = DevCluster("statecast-soak")
    cluster.down(purge=True)
    cluster.up(nodes=4, zones=2)
    system = cluster.system()
    try:
        system.install()
        agents = system.start_agents(port=None)
        system.start_operators(2)
        api = config.new_client_from_config(config_file=str(cluster.kubeconfig))
        namespace = client.V1Namespace(metadata=client.V1ObjectMeta(name=NAMESPACE))
        client.CoreV1Api(api).create_namespace(namespace)
        _resource(api, "steady")
        pids = {w.name: w.pid for w in system.workers() if w.role in ("agent", "operator")}
        history = History()
        began = time.monotonic()
        spec = WorkloadSpec(NAMESPACE, "steady", "soak")
        workload = Workload(spec, dict(agents), history, lambda: time.monotonic() - began)
        workload.start(probe_node=sorted(agents)[0])
        samples: dict[str, list[tuple[float, int]]] = {name: [] for name in pids}
        duration = args.minutes * 60
        while True:
            now = time.monotonic() - began
            for name, pid in pids.items():
                kib = rss_kib(pid) if pid else None
                if kib is not None:
                    samples[name].append((round(now, 1), kib))
            print(f"{now:6.0f}s " + " ".join(f"{n}={s[-1][1]}" for n, s in samples.items() if s))
            if now >= duration:
                break
            time.sleep(min(args.every, duration - now + 0.01))
        workload.stop()
        ops = history.snapshot()
    finally:
        if not args.keep:
            cluster.down()
    report = {
        "minutes": args.minutes,
        "load_average_at_start": load_start,
        "load_average_at_end": os.getloadavg()[0],
        "operations": len(ops),
        "operations_per_s": round(len(ops) / duration, 1),
        "client_errors": history.errors,
        "lag_ms_p50": _p([s * 1e3 for s in workload.lag_samples], 0.5),
        "lag_ms_p99": _p([s * 1e3 for s in workload.lag_samples], 0.99),
        "processes": {n: growth(s, args.settle) for n, s in samples.items() if s},
        "samples": samples,
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "soak.json").write_text(json.dumps(report, indent=2) + "\n")
    rows = [
        f"Soak of {args.minutes:g} min, {report['operations_per_s']} client operations/s, "
        f"load average {load_start:.1f} at start on 2 cores; client errors "
        f"{history.errors or 'none'}.",
        "",
        "| process | RSS first MiB | after settle MiB | last MiB | max MiB | growth from first "
        "| growth from settled |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, g in report["processes"].items():
        rows.append(
            f"| {name} | {g['first_kib'] / 1024:.1f} | {g['settled_kib'] / 1024:.1f} | "
            f"{g['last_kib'] / 1024:.1f} | {g['max_kib'] / 1024:.1f} | "
            f"{g['growth_from_first']:+.1%} | {g['growth_from_settled']:+.1%} |"
        )
    (OUT / "soak.md").write_text("\n".join(rows) + "\n")
    print("\n".join(rows))


def _p(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


if __name__ == "__main__":
    main()
