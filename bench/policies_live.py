"""Live policies against the simulator: the same demand shift, the same three policies.

Run from the repository root (``make bench-policies-live``)::

    .venv/bin/python -m bench.policies_live                 # 10 days of 18 s, 10 ms
    .venv/bin/python -m bench.policies_live --days 6 --latency-ms 5

Starts its own dev cluster (``statecast-policies``: 6 KWOK nodes in 3 zones, an agent
per node, one operator, as ``statecast dev-cluster up --with-agents --with-operator
--with-network-proxy`` does) and slows every agent-to-agent path between zones by
``--latency-ms`` each way through the Toxiproxy proxies (a read forwarded to another
zone pays it twice). Three resources hold the same catalog, one per policy:
``predictive`` and ``reactive`` (at least 2 copies, at most 3) and ``static`` (3
copies, one per zone). Readers on every node read all three at the same moments
through the client library, with the follow-the-sun schedule of ``statecast demo``
(:class:`statecast.demo.sun.Schedule`: the busy zone moves a -> b -> c each compressed
day). The recording gives each policy's client-observed local hits and latency.

The simulator replays the same schedule (one step per live second, the compressed day
as the simulator's day, the same replica bounds, horizon and cooldown, and the live
operator's reactive window of 900 live seconds) through the same three policies, with
a latency model of the injected latency. The table sets the live ranking beside the
simulated one; ``docs/bench/policies-live.json`` holds both.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from bench.resources import GROUP, PLURAL, VERSION, wait_ready
from statecast.api.units import DAY_S
from statecast.controller.heat import HEAT_WINDOW_S
from statecast.core.demand_series import capacity as demand_capacity
from statecast.core.placement import LatencyModel
from statecast.demo.load import Load
from statecast.demo.outcome import PolicyOutcome, policy_outcome
from statecast.demo.recording import Recording
from statecast.demo.sun import Schedule
from statecast.demo.watch import Watcher
from statecast.devcluster import DevCluster
from statecast.devcluster.netproxy import NetworkProxy
from statecast.sim import SimConfig, Trace, replay
from statecast.sim.planned import Predictive
from statecast.sim.registry import make_policy

OUT = Path("docs/bench")
NAMESPACE = "policies"
KEY = "sku-1"
POLICIES = ("predictive", "reactive", "static")
#: The operator samples the agents every second and resyncs twice a second (as the demo).
OPERATOR_ENV = {"STATECAST_RESYNC_SECONDS": "0.5", "STATECAST_SAMPLE_SECONDS": "1"}
HORIZON_S, COOLDOWN_S = 4.0, 3.0
#: What the live operator prices a read at (it has no setting for the zones' latency).
OPERATOR_VALUATION = LatencyModel()
#: The resources' ``prediction.interval``: one sample a live second.
LIVE_INTERVAL_S = 1.0


def bounds(policy: str) -> tuple[int, int]:
    """``replicas.min`` and ``max`` (0: none) of the policy's resource."""
    return (3, 0) if policy == "static" else (2, 3)


def resource_body(policy: str, day_s: float) -> dict[str, Any]:
    """The SharedResource of one policy."""
    low, high = bounds(policy)
    replicas = {"min": low, **({"max": high} if high else {})}
    return {
        "apiVersion": "statecast.io/v1alpha1",
        "kind": "SharedResource",
        "metadata": {"name": policy},
        "spec": {
            "source": {"inline": {KEY: {"name": "espresso machine", "price": 499}}},
            "replicas": replicas,
            "prediction": {
                "interval": f"{LIVE_INTERVAL_S:g}s",
                "horizon": f"{HORIZON_S:g}s",
                "seasonality": [f"{day_s:g}s"],
            },
            "replication": {
                "policy": policy,
                "cooldown": f"{COOLDOWN_S:g}s",
                "tuning": {"enabled": False},
            },
        },
    }


def latency_model(latency_ms: float) -> LatencyModel:
    """What a read costs through the proxies: a cross-zone forward pays the toxic twice."""
    return LatencyModel(local_ms=0.5, same_zone_ms=1.5, cross_zone_ms=1.5 + 2 * latency_ms)


def simulated(
    schedule: Schedule, zones: dict[str, str], seconds: int, warmup: int, latency_ms: float
) -> dict[str, dict[str, float | int]]:
    """The simulator's outcome of each policy on the live schedule.

    One step per live second; the step's length is stretched so that the compressed day
    is the simulator's day (its forecasters take the season from the day), and every
    duration of the live run (horizon, cooldown, the reactive window) is stretched alike;
    the predictive policy forecasts from as many steps as the operator's demand ring
    holds live intervals (all of a compressed run), not from three stretched days.
    """
    nodes = sorted(zones)
    scale = DAY_S / schedule.day_s
    # The operator forecasts from the intervals its demand ring holds (three days, at
    # most 4,320 intervals: the whole of a compressed run); stretched, three days
    # would be three compressed days.
    history_steps = demand_capacity(LIVE_INTERVAL_S)
    demand = np.array([[schedule.rate(zones[n], t + 0.5) for t in range(seconds)] for n in nodes])[
        None, :, :
    ]
    config = SimConfig(
        latency=latency_model(latency_ms),
        warmup_steps=warmup,
        horizon_s=HORIZON_S * scale,
        cooldown_s=COOLDOWN_S * scale,
    )
    results: dict[str, dict[str, float | int]] = {}
    for policy in POLICIES:
        low, high = bounds(policy)
        trace = Trace(
            name="follow-the-sun",
            demand=demand,
            resources=(policy,),
            nodes=tuple(nodes),
            zones=tuple(zones[n] for n in nodes),
            step_s=scale,
            available=np.ones((len(nodes), seconds), dtype=np.bool_),
            state_bytes=np.array([1024.0]),
            writes_per_min=np.array([0.0]),
            min_replicas=np.array([low]),
            max_replicas=np.array([high]),
        )
        chosen = make_policy(policy)
        if policy == "reactive":  # the live operator's window, in simulated seconds
            chosen = type(chosen)(window_s=HEAT_WINDOW_S * scale)  # type: ignore[call-arg]
        elif policy == "predictive":  # the live operator's history, in simulated days
            # and its prices: the operator values reads with the default latency model
            # (it is not told of the injected latency); the replay measures the true one
            chosen = Predictive(
                history_days=history_steps / trace.period, valuation=OPERATOR_VALUATION
            )
        results[policy] = replay(trace, chosen, config).metrics()
    return results


def live_row(result: PolicyOutcome) -> dict[str, float | int]:
    """The JSON-facing figures of one policy's live outcome."""
    return {
        "reads": result.reads,
        "errors": result.errors,
        "local_hit_ratio": round(result.local_ratio, 4),
        "measured_mean_ms": round(result.measured_mean_ms, 3),
        "measured_p99_ms": round(result.measured_p99_ms, 3),
        "modelled_mean_ms": round(result.modelled_mean_ms, 3),
        "replica_days": round(result.replica_days, 2),
    }


def ranking(rows: dict[str, dict[str, float | int]], key: str, reverse: bool) -> list[str]:
    """Policies best first by ``key``."""
    return sorted(rows, key=lambda p: float(rows[p][key]), reverse=reverse)


def run_live(args: argparse.Namespace) -> tuple[Recording, dict[str, str], float]:
    """Drive the schedule through the real operator and agents; the recording."""
    cluster = DevCluster("statecast-policies")
    cluster.down(purge=True)
    cluster.up(nodes=6, zones=3)
    system = cluster.system()
    try:
        system.install()
        proxy = NetworkProxy(system)
        proxy.start()
        nodes = system.nodes()
        agents = system.start_agents(extra_args=partial(proxy.routes, nodes))
        proxy.set_latency(nodes, args.latency_ms)
        system.start_operators(1, env=OPERATOR_ENV)
        zones = {n.name: n.zone for n in nodes}
        from kubernetes import client, config

        api = config.new_client_from_config(config_file=str(cluster.kubeconfig))
        namespace = client.V1Namespace(metadata=client.V1ObjectMeta(name=NAMESPACE))
        client.CoreV1Api(api).create_namespace(namespace)
        custom = client.CustomObjectsApi(api)
        for policy in POLICIES:
            custom.create_namespaced_custom_object(
                GROUP, VERSION, NAMESPACE, PLURAL,
                resource_body(policy, args.day_seconds),
            )  # fmt: skip
        for policy in POLICIES:
            wait_ready(custom, NAMESPACE, policy, timeout=180.0)
        schedule = Schedule(tuple(sorted(set(zones.values()))), args.day_seconds)
        recording = Recording(schedule, zones, {p: p for p in POLICIES})
        started, wall = time.monotonic(), time.time()
        watcher = Watcher(recording, cluster.kubeconfig, NAMESPACE, list(POLICIES), started, wall)
        load = Load(recording, agents, NAMESPACE, list(POLICIES), KEY, started)
        watcher.start()
        load.start()
        duration = args.days * args.day_seconds
        while time.monotonic() - started < duration:
            time.sleep(1)
            print(f"\rday {(time.monotonic() - started) / args.day_seconds:.1f}", end="")
        load.stop()
        watcher.stop()
        print()
        return recording, zones, duration
    finally:
        if not args.keep:
            cluster.down()


def sim_only(args: argparse.Namespace) -> dict[str, dict[str, dict[str, float | int]]]:
    """The simulator's outcomes per window for the bench's schedule, without a live run.

    The nodes and zones are the dev cluster's (``node-1`` .. ``node-6``, two a zone).
    """
    zones = {f"node-{i}": f"zone-{'abc'[(i - 1) // 2]}" for i in range(1, 7)}
    schedule = Schedule(tuple(sorted(set(zones.values()))), args.day_seconds)
    seconds = int(args.days * args.day_seconds)
    starts = {
        "all days": 0,
        f"from day {args.learn_days:g}": int(args.learn_days * args.day_seconds),
    }
    return {
        title: simulated(schedule, zones, seconds, start, args.latency_ms)
        for title, start in starts.items()
    }


def main() -> None:
    """Run live, replay in the simulator, write the table and the JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=float, default=10.0)
    parser.add_argument("--day-seconds", type=float, default=18.0)
    parser.add_argument("--latency-ms", type=int, default=10, help="cross-zone, each way")
    parser.add_argument("--learn-days", type=float, default=5.0, help="second window starts")
    parser.add_argument("--keep", action="store_true", help="leave the cluster running")
    parser.add_argument(
        "--sim-only",
        action="store_true",
        help="no cluster: print the simulator's side of the table for the schedule",
    )
    args = parser.parse_args()
    if args.sim_only:
        print(json.dumps(sim_only(args), indent=2))
        return
    load = os.getloadavg()
    recording, zones, duration = run_live(args)
    model = latency_model(args.latency_ms)
    seconds = int(duration)
    windows = {
        "all days": 0,
        f"from day {args.learn_days:g}": int(args.learn_days * args.day_seconds),
    }
    data: dict[str, Any] = {"settings": vars(args), "load_at_start": load[0], "windows": {}}
    lines = [
        "| window | policy | live local hits | live mean / p99 ms | live modelled ms "
        "| live replica-days | sim local hits | sim mean ms | sim replica-days |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for title, start in windows.items():
        live = {
            p: live_row(policy_outcome(recording, p, float(start), float(seconds), model))
            for p in POLICIES
        }
        sim = simulated(recording.schedule, zones, seconds, start, args.latency_ms)
        for p in POLICIES:
            lines.append(
                f"| {title} | {p} | {live[p]['local_hit_ratio']:.1%} | "
                f"{live[p]['measured_mean_ms']:.1f} / {live[p]['measured_p99_ms']:.1f} | "
                f"{live[p]['modelled_mean_ms']:.2f} | {live[p]['replica_days']:.1f} | "
                f"{float(sim[p]['local_hit_ratio']):.1%} | "
                f"{float(sim[p]['mean_latency_ms']):.2f} | "
                f"{float(sim[p]['replica_hours']) / 24:.1f} |"
            )
        data["windows"][title] = {
            "live": live,
            "sim": sim,
            "live_ranking_local_hits": ranking(live, "local_hit_ratio", True),
            "sim_ranking_local_hits": ranking(sim, "local_hit_ratio", True),
            "live_ranking_latency": ranking(live, "measured_mean_ms", False),
            "sim_ranking_latency": ranking(sim, "mean_latency_ms", False),
        }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "policies-live.json").write_text(json.dumps(data, indent=2, default=str) + "\n")
    text = "\n".join(lines)
    for title, w in data["windows"].items():
        text += (
            f"\n{title}: local hits live {' > '.join(w['live_ranking_local_hits'])}, "
            f"sim {' > '.join(w['sim_ranking_local_hits'])}; latency live "
            f"{' < '.join(w['live_ranking_latency'])}, sim {' < '.join(w['sim_ranking_latency'])}"
        )
    (OUT / "policies-live.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
