"""Fault scenarios end to end: every ``statecast chaos`` scenario, full length, three runs.

Run from the repository root (``make e2e-faults``)::

    .venv/bin/python -m bench.faults                      # every scenario x 3
    .venv/bin/python -m bench.faults --only agent-kill --runs 1

Starts its own dev cluster (``statecast-faults``: 4 KWOK nodes in 2 zones, an agent per
node, two operators in one peering, as ``statecast dev-cluster up --with-agents
--with-operator --operators 2`` does; each agent's data directory on a 64 MiB tmpfs of its
own, so that ``disk-full`` fills it while the agent runs - ``--no-agent-disks`` keeps them
on the machine's disk, and disk-full then restarts its victim onto a tmpfs), creates a
fresh SharedResource per run (``replicas.min`` 2, static placement, 5 s prediction
interval) and runs the scenario through :func:`statecast.chaos.runner.run_scenario`, the
code behind ``statecast chaos``. Reports go to
``docs/bench/faults/<scenario>-<run>.json`` and the summary table to
``docs/bench/faults.md``. The machine's load is written beside the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import time
from functools import partial
from pathlib import Path
from typing import Any

from kubernetes import client, config

from bench.resources import GROUP, VERSION, create_static_ready
from statecast.chaos.runner import RunSettings, run_scenario
from statecast.chaos.scenarios import SCENARIOS
from statecast.chaos.target import connect
from statecast.devcluster import DevCluster, processes
from statecast.devcluster.netproxy import NetworkProxy

OUT = Path("docs/bench")
NAMESPACE = "chaos"


def _delete(api: client.ApiClient, name: str) -> None:
    client.CustomObjectsApi(api).delete_namespaced_custom_object(
        GROUP, VERSION, NAMESPACE, "sharedresources", name
    )


ROW = (
    "| {scenario} | {run} | {acked_writes} | {lost_writes} | {converged} | {rec} | "
    "{lost_after_s} | {min_restored_s} | {failed_reads} | {not_found_existing} | {lag} | "
    "{errors} | {extra} |"
)


def _row(report: dict[str, Any], run: int) -> str:
    rec = report["read_recovery_ms"]
    lag = report["replication_lag_ms"]
    extra = ""
    if "after_restart" in report:
        extra = "extra actions " + ", ".join(
            f"{k} {v['extra_actions']}" for k, v in report["after_restart"].items()
        )
    if report["scenario"] == "write-burst":
        extra = (
            f"writes/s target {report.get('write_rate_target_per_s', 0):.0f}, offered"
            f" {report.get('write_rate_offered_per_s', 0):.0f}, acked"
            f" {report['write_rate_acked_per_s']:.0f}"
        )
    if "min_ready_elsewhere_before_heal" in report:
        extra += f"; replaced before heal: {report['min_ready_elsewhere_before_heal']}"
    if not report.get("ok", True):
        extra += "; checks " + ", ".join(f"{k} {v}" for k, v in report["checks"].items())
    if report.get("reordered_writes"):
        extra += f" reordered {report['reordered_writes']}"
    return ROW.format(
        run=run,
        rec=f"{rec['p50']} / {rec['p99']} / {rec['max']}",
        lag=f"{lag['p50']} / {lag['p99']}",
        errors=", ".join(f"{k}: {v}" for k, v in report["client_errors"].items()) or "-",
        extra=extra or "-",
        **{k: report[k] for k in ("scenario", "acked_writes", "lost_writes", "converged",
                                   "lost_after_s", "min_restored_s", "failed_reads",
                                   "not_found_existing")},
    )  # fmt: skip


def main() -> None:
    """Run the scenarios and write the reports and the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", action="append", default=[], help="scenario (repeatable)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="leave the cluster running")
    parser.add_argument("--table", type=Path, default=OUT / "faults.md", help="summary table")
    parser.add_argument("--label", default="", help="suffix of the report files (-LABEL)")
    parser.add_argument(
        "--no-agent-disks",
        dest="agent_disks",
        action="store_false",
        help="agents' data on the machine's disk (disk-full then moves its victim, restarting it)",
    )
    args = parser.parse_args()
    cluster = DevCluster("statecast-faults")
    _unmount_agent_disks(cluster.state_dir / "agents")  # of a run that did not finish
    cluster.down(purge=True)
    cluster.up(nodes=4, zones=2)
    system = cluster.system()
    system.install()
    proxy = NetworkProxy(system)  # zone-partition cuts agent-to-agent paths through it
    proxy.start()
    if args.agent_disks:  # disk-full then fills an agent's disk while it runs
        _mount_agent_disks(system.state_dir / "agents", [n.name for n in system.nodes()])
    system.start_agents(port=None, extra_args=partial(proxy.routes, system.nodes()))
    system.start_operators(2)
    api = config.new_client_from_config(config_file=str(cluster.kubeconfig))
    namespace = client.V1Namespace(metadata=client.V1ObjectMeta(name=NAMESPACE))
    client.CoreV1Api(api).create_namespace(namespace)
    rows, load = [], os.getloadavg()
    try:
        target = connect(cluster.kubeconfig)
        for name in args.only or [n for n, s in SCENARIOS.items() if "eventual" in s.checks]:
            scenario = SCENARIOS[name]
            for run in range(1, args.runs + 1):
                resource = f"{name}-{run}"
                create_static_ready(api, NAMESPACE, resource, timeout=120)
                settings = RunSettings(duration=scenario.default_duration, seed=run)
                before = _cpu(cluster, system)
                try:
                    report = run_scenario(type(scenario)(), target, NAMESPACE, resource, settings)
                    report["cpu_seconds"] = _cpu_spent(before, _cpu(cluster, system))
                    report["load_at_end"] = os.getloadavg()[0]
                except Exception as err:  # noqa: BLE001 - one broken run must not end the rest
                    rows.append(f"| {name} | {run} | run failed: {err!r:.200} |")
                    print(rows[-1], flush=True)
                    _write_table(args.table, rows, load)
                    continue
                (OUT / "faults").mkdir(parents=True, exist_ok=True)
                (OUT / "faults" / f"{name}-{run}{args.label and '-' + args.label}.json").write_text(
                    json.dumps(report, indent=2, default=str) + "\n"
                )
                rows.append(_row(report, run))
                print(rows[-1], flush=True)
                _write_table(
                    args.table, rows, load
                )  # after every run: a crash keeps what was measured
                _delete(api, resource)
    finally:
        if not args.keep:
            cluster.down()
            _unmount_agent_disks(system.state_dir / "agents")


def _cpu(cluster: DevCluster, system: Any) -> dict[str, float]:
    """CPU seconds so far: each process of the cluster and the system, and this one's
    children (the writer processes, once stopped) and itself (the run's clients)."""
    tick = os.sysconf("SC_CLK_TCK")
    found: dict[str, float] = {}
    for state_dir in (cluster.state_dir, system.state_dir):
        for name in processes.recorded(state_dir):
            pid = processes.running_pid(state_dir, name)
            if pid is None:
                continue
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            found[name] = (int(fields[11]) + int(fields[12])) / tick
    mine = os.times()
    found["bench (the run's clients and checks)"] = mine.user + mine.system
    found["bench children (writer processes)"] = mine.children_user + mine.children_system
    return found


def _cpu_spent(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """CPU seconds each process spent between two :func:`_cpu` readings."""
    return {
        name: round(after[name] - before.get(name, 0.0), 2)
        for name in sorted(after)
        if after[name] - before.get(name, 0.0) > 0.005
    }


#: Size of each agent's own tmpfs (``--agent-disks``): ample for the runs' resources.
AGENT_DISK = "64m"


def _mount_agent_disks(root: Path, nodes: list[str]) -> None:
    """A tmpfs of its own for each agent's data directory (root only)."""
    for node in nodes:
        path = root / node
        path.mkdir(parents=True, exist_ok=True)
        if not path.is_mount():
            subprocess.run(
                ["mount", "-t", "tmpfs", "-o", f"size={AGENT_DISK}", "tmpfs", str(path)],
                check=True,
            )


def _unmount_agent_disks(root: Path) -> None:
    """Unmount what :func:`_mount_agent_disks` mounted under ``root``."""
    if root.is_dir():
        for path in root.iterdir():
            if path.is_mount():
                subprocess.run(["umount", "-l", str(path)], check=False)


def _write_table(path: Path, rows: list[str], load: tuple[float, float, float]) -> None:
    header = [
        "# Fault scenarios",
        "",
        f"`make e2e-faults` ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load "
        f"average at start {load[0]:.1f} on 2 cores). Times in ms unless said; read recovery "
        "p50 / p99 / max over the reading clients; lag p50 / p99 from the probe.",
        "",
        "| scenario | run | acked writes | lost | converged | read recovery ms | Lost after s "
        "| min Ready after s | failed reads | 404 on written keys | lag ms | client errors "
        "(attempts) | notes |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    path.write_text("\n".join(header + rows) + "\n")


if __name__ == "__main__":
    main()
