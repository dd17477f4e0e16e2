"""``statecast chaos``: a game day against the cluster of the current kubeconfig.

Drives reads, writes and increments through the client library from clients on every
node with an agent, injects one fault, heals it, checks that every replica converged and
that nothing acknowledged was lost, and writes a JSON report. Exit status: 0 when
nothing was lost, 1 when the check failed, 2 on bad input (unknown scenario, no such
resource, a scenario this cluster cannot run).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

__all__ = ["register", "run"]


def register(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser], name: str, help_text: str
) -> None:
    """Add the ``chaos`` command."""
    from statecast.chaos.scenarios import SCENARIOS

    described = "; ".join(f"{s.name}: {s.description}" for s in SCENARIOS.values())
    parser = subparsers.add_parser(name, help=help_text, description=f"{__doc__}\n{described}")
    parser.add_argument("--scenario", required=True, help=f"one of: {', '.join(SCENARIOS)}")
    parser.add_argument("--resource", required=True, help="NAMESPACE/NAME of a SharedResource")
    parser.add_argument(
        "--duration", type=float, default=None, help="seconds from the fault to the heal"
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed (default: 1)")
    parser.add_argument("--json", type=Path, required=True, help="where to write the report")
    parser.add_argument(
        "--check",
        default="eventual",
        choices=("eventual", "linearizability"),
        help="the check: eventual (convergence, nothing acknowledged lost) or "
        "linearizability (a strong resource's history through Porcupine; default: eventual)",
    )
    parser.add_argument(
        "--html-dir",
        type=Path,
        default=None,
        help="where Porcupine's visualisation of a failing history goes (default: beside --json)",
    )
    parser.add_argument("--kubeconfig", type=Path, default=None, help="default: $KUBECONFIG")
    parser.add_argument(
        "--rate",
        type=float,
        default=None,
        help="writes per second per writer (the scenario's default otherwise)",
    )
    parser.set_defaults(handler=run)


def _bad(message: str) -> int:
    print(f"statecast chaos: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    """Run one scenario; 0 nothing lost, 1 check failed, 2 bad input."""
    from statecast.chaos.runner import RunSettings, run_scenario
    from statecast.chaos.scenarios import SCENARIOS
    from statecast.chaos.target import TargetError, connect

    scenario = SCENARIOS.get(args.scenario)
    if scenario is None:
        return _bad(f"unknown scenario {args.scenario!r} (one of: {', '.join(SCENARIOS)})")
    if args.check not in scenario.checks:
        return _bad(f"scenario {scenario.name} has no {args.check!r} check")
    namespace, _, name = args.resource.partition("/")
    if not namespace or not name or "/" in name:
        return _bad(f"--resource takes NAMESPACE/NAME, not {args.resource!r}")
    if args.duration is not None and args.duration <= 0:
        return _bad("--duration must be positive")
    settings = RunSettings(
        duration=args.duration if args.duration is not None else scenario.default_duration,
        seed=args.seed,
        workload={"write_rate": args.rate} if args.rate else None,
    )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    try:
        target = connect(args.kubeconfig)
        if args.check == "linearizability":
            report = _linearizable(args, scenario, target, namespace, name)
        else:
            report = run_scenario(type(scenario)(), target, namespace, name, settings)
    except TargetError as err:
        return _bad(str(err))
    args.json.write_text(json.dumps(report, indent=2, default=str) + "\n")
    shown: tuple[str, ...] = ("scenario", "acked_writes", "lost_writes", "converged",
                              "read_recovery_ms", "lost_after_s", "min_restored_s")  # fmt: skip
    if args.check == "linearizability":
        shown = ("scenario", "linearizable", "acked_writes", "lost_writes", "failover_s")
    summary = {k: report[k] for k in shown}
    print(json.dumps(summary))
    return 0 if report["ok"] else 1


def _linearizable(
    args: argparse.Namespace, scenario: Any, target: Any, namespace: str, name: str
) -> dict[str, Any]:
    from statecast.chaos.linearizable import LinearizableSettings, run_linearizable

    settings = LinearizableSettings(
        duration=args.duration if args.duration is not None else scenario.default_duration,
        seed=args.seed,
        rate=args.rate or 10.0,
        html_dir=args.html_dir or args.json.parent,
    )
    return run_linearizable(type(scenario)(), target, namespace, name, settings)
