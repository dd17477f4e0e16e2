"""A lapse's burst of Replica creations, so many in flight at once: when is the last answered?

Run from the repository root (a timing benchmark: under the bench lock)::

    .venv/bin/python -m bench.wave_writes --creations 30 60 --in-flight 8 16 32 64 --json OUT

An agent's lapse leaves some resources short, and the operator sends their replacements
at once, ``STATECAST_WAVE_WRITES`` (16) in flight: a wave of 30 takes two rounds of API
round trips (docs/scale-history.md, session 8). This measures what more in flight buys on the
built-in dev cluster's API server: for each (creations, in flight), in rounds, each
round's pairs in a shuffled order, it creates one Replica per SharedResource with the
operator's own gateway (:class:`~statecast.controller.gateway.KubeGateway`, its
connection pool as large as the most in flight; ``--warm`` connections opened before
each burst, as the operator's steady traffic keeps them) and reports the time from the
first request sent to the last answered, each request's own time, and what another
client saw meanwhile: a probe GETs a Lease every 50 ms on a connection of its own (the
agents' renewals and the other writes share the API server with a burst).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import random
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.operator_scale import clients
from statecast.api.replica import NODE_LABEL
from statecast.api.types import GROUP, VERSION
from statecast.controller.builders import build_replica
from statecast.controller.gateway import KubeGateway
from statecast.devcluster.cluster import DevCluster

NAMESPACE = "wave-writes"


def _resource(name: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "SharedResource",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {"replicas": {"min": 2}},
    }


def _list_one(custom: Any) -> Any:
    return custom.list_namespaced_custom_object(GROUP, VERSION, NAMESPACE, "replicas", limit=1)


class Probe:
    """GETs a Lease every ``period`` seconds on its own client; each request's time."""

    def __init__(self, api: dict[str, Any], period: float = 0.05) -> None:
        self.api, self.period = api, period
        self.times: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        from kubernetes.client.exceptions import ApiException

        while not self._stop.wait(self.period):
            start = time.perf_counter()
            with contextlib.suppress(ApiException):
                self.api["coordination"].read_namespaced_lease("probe", NAMESPACE)
            self.times.append((start, time.perf_counter() - start))

    def __enter__(self) -> Probe:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def during(self, start: float, end: float) -> list[float]:
        """The probe's request times that began within [start, end]."""
        return [took for at, took in self.times if start <= at <= end]


def burst(
    gateway: KubeGateway, bodies: list[dict[str, Any]], in_flight: int, probe: Probe
) -> dict[str, Any]:
    """Create ``bodies`` with ``in_flight`` threads; the burst's times."""
    answers: list[tuple[float, float]] = []
    lock = threading.Lock()

    def create(body: dict[str, Any]) -> None:
        start = time.perf_counter()
        gateway.create_replica(body)
        end = time.perf_counter()
        with lock:
            answers.append((start, end))

    with ThreadPoolExecutor(in_flight) as pool:
        first = time.perf_counter()
        list(pool.map(create, bodies))
    last = max(end for _, end in answers)
    took = [end - start for start, end in answers]
    during = probe.during(first, last)
    return {
        "last_answered_s": round(last - first, 4),
        "request_p50_s": round(statistics.median(took), 4),
        "request_max_s": round(max(took), 4),
        "probe_requests": len(during),
        "probe_p50_s": round(statistics.median(during), 4) if during else None,
        "probe_max_s": round(max(during), 4) if during else None,
    }


def setup(cluster: DevCluster, resources: int) -> list[dict[str, Any]]:
    """The cluster, CRDs, namespace, the probe's Lease and ``resources`` SharedResources."""
    from kubernetes.client.exceptions import ApiException

    cluster.up(nodes=1, zones=1, timeout=300)
    cluster.system().install_crds()
    api = clients(cluster.kubeconfig)
    try:
        api["core"].create_namespace({"metadata": {"name": NAMESPACE}})
    except ApiException as err:
        if err.status != 409:
            raise
    lease = {"metadata": {"name": "probe", "namespace": NAMESPACE}, "spec": {}}
    try:
        api["coordination"].create_namespaced_lease(NAMESPACE, lease)
    except ApiException as err:
        if err.status != 409:
            raise
    made = []
    for i in range(resources):
        name = f"res-{i:03d}"
        try:
            made.append(api["custom"].create_namespaced_custom_object(
                GROUP, VERSION, NAMESPACE, "sharedresources", _resource(name)
            ))  # fmt: skip
        except ApiException as err:
            if err.status != 409:
                raise
            made.append(api["custom"].get_namespaced_custom_object(
                GROUP, VERSION, NAMESPACE, "sharedresources", name
            ))  # fmt: skip
    return made


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Every (creations, in flight) pair ``args.rounds`` times; the report."""
    from kubernetes import client, config

    cluster = DevCluster(args.cluster)
    resources = setup(cluster, max(args.creations))
    api_client = config.new_client_from_config(config_file=str(cluster.kubeconfig))
    api_client.rest_client.pool_manager.connection_pool_kw["maxsize"] = max(args.in_flight) + 4
    gateway = KubeGateway(api_client=api_client)
    custom = client.CustomObjectsApi(api_client)
    pairs = list(itertools.product(args.creations, args.in_flight))
    results: dict[str, list[dict[str, Any]]] = {f"{n}x{p}": [] for n, p in pairs}
    load = [os.getloadavg()[0]]
    serial = itertools.count()
    with Probe(clients(cluster.kubeconfig)) as probe:
        for _ in range(args.rounds):
            random.shuffle(pairs)
            for creations, in_flight in pairs:
                node = f"burst-{next(serial)}"
                bodies = [build_replica(r, node, reason="failover") for r in resources[:creations]]
                with ThreadPoolExecutor(args.warm) as pool:  # the steady traffic's connections
                    list(pool.map(lambda _: _list_one(custom), range(args.warm)))
                time.sleep(args.pause)
                figures = burst(gateway, bodies, in_flight, probe)
                figures["load"] = round(os.getloadavg()[0], 1)
                results[f"{creations}x{in_flight}"].append(figures)
                print(creations, in_flight, json.dumps(figures), flush=True)
                custom.delete_collection_namespaced_custom_object(
                    GROUP, VERSION, NAMESPACE, "replicas", label_selector=f"{NODE_LABEL}={node}"
                )
                time.sleep(args.pause)
    load.append(os.getloadavg()[0])
    summary = {
        key: {
            "last_answered_s": [r["last_answered_s"] for r in runs],
            "last_answered_median_s": statistics.median(r["last_answered_s"] for r in runs),
            "request_max_s_max": max(r["request_max_s"] for r in runs),
            "probe_max_s_max": max((r["probe_max_s"] or 0.0) for r in runs),
        }
        for key, runs in results.items()
    }
    return {"load_start_end": load, "summary": summary, "runs": results, "args": vars(args)}


def main() -> None:
    """Command line (see the module doc)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--creations", type=int, nargs="+", default=[30, 60])
    parser.add_argument("--in-flight", type=int, nargs="+", default=[8, 16, 32, 64])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warm", type=int, default=16, help="connections opened before a burst")
    parser.add_argument("--pause", type=float, default=1.0, help="seconds around each burst")
    parser.add_argument("--cluster", default="wave-writes")
    parser.add_argument("--keep", action="store_true", help="leave the dev cluster running")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    try:
        report = run(args)
    finally:
        if not args.keep:
            DevCluster(args.cluster).down(purge=True)
    text = json.dumps(report, indent=1, default=str)
    if args.json:
        args.json.write_text(text)
    print(json.dumps(report["summary"], indent=1))


if __name__ == "__main__":
    main()
