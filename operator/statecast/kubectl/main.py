"""The ``kubectl-statecast`` command (run as ``kubectl statecast ...``)."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Sequence
from pathlib import Path

from statecast import __version__
from statecast.api.units import parse_duration
from statecast.kubectl import render
from statecast.kubectl.cluster import Cluster, ClusterError, connect
from statecast.kubectl.explain import explain
from statecast.kubectl.forecast_view import forecast_view
from statecast.kubectl.plot import PlotError, plot_timeline
from statecast.kubectl.timeline import resource_timeline
from statecast.kubectl.view import node_zones, spread_label, status_view, summary_view

__all__ = ["build_parser", "main"]

PROG = "kubectl statecast"


def _common(parser: argparse.ArgumentParser, default: object) -> None:
    """The flags kubectl users expect, accepted before or after the subcommand."""
    parser.add_argument("--kubeconfig", default=default, help="path to the kubeconfig file to use")
    parser.add_argument("--context", default=default, help="the kubeconfig context to use")
    parser.add_argument(
        "-n", "--namespace", default=default, help="the namespace (default: the context's)"
    )
    parser.add_argument(
        "-o", "--output", choices=["json", "yaml"], default=default,
        help="print the view as json or yaml instead of text",
    )  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``kubectl statecast``."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Show what statecast's operator sees and did: replicas, forecasts, reasons.",
    )
    parser.add_argument("--version", action="version", version=f"kubectl-statecast {__version__}")
    _common(parser, None)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    status = commands.add_parser(
        "status",
        help="replicas by zone and node, forecast, Hit%%, conditions, recent decisions",
        description="One resource in detail, or a line per resource when no name is given.",
    )
    status.add_argument("resource", nargs="?", help="SharedResource name (default: all)")
    status.add_argument(
        "-A", "--all-namespaces", action="store_true", help="list resources of every namespace"
    )
    status.add_argument("--events", type=int, default=10, help="decisions to show (default: 10)")
    _common(status, argparse.SUPPRESS)
    forecast = commands.add_parser(
        "forecast",
        help="the forecast per node and zone beside the demand sampled; --plot draws it",
    )
    forecast.add_argument("resource", help="SharedResource name")
    forecast.add_argument("--plot", type=Path, metavar="FILE.png", help="write a PNG picture")
    forecast.add_argument(
        "--window", default="1h", help="how far back the picture goes (default: 1h)"
    )
    _common(forecast, argparse.SUPPRESS)
    why = commands.add_parser(
        "explain", help="why each replica is where it is, and why other nodes have none"
    )
    why.add_argument("resource", help="SharedResource name")
    _common(why, argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``kubectl statecast`` and return its exit code."""
    parser = build_parser()
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.command is None:
        parser.print_help()
        return 2
    try:
        api_client, context_namespace = connect(args.kubeconfig, args.context)
        cluster = Cluster(api_client)
        namespace = args.namespace or context_namespace
        now = dt.datetime.now(dt.UTC)
        if args.command == "status":
            text = _status(cluster, args, namespace, now)
        elif args.command == "forecast":
            text = _forecast(cluster, args, namespace, now)
        else:
            text = _explain(cluster, args, namespace, now)
    except (ClusterError, PlotError, ValueError) as err:  # ValueError: a bad --window
        print(f"error: {err}", file=sys.stderr)
        return 1
    sys.stdout.write(text)
    return 0


def _status(cluster: Cluster, args: argparse.Namespace, namespace: str, now: dt.datetime) -> str:
    if args.resource is None:
        scope = None if args.all_namespaces else namespace
        rows = summary_view(cluster.resources(scope))
        if args.output:
            return render.structured(rows, args.output)
        if not rows:
            where = "any namespace" if scope is None else f"{namespace} namespace"
            print(f"No resources found in {where}.", file=sys.stderr)
            return ""
        return render.summary_text(rows, now, namespaces=scope is None)
    resource = cluster.resource(namespace, args.resource)
    view = status_view(
        resource,
        cluster.replicas(namespace, args.resource),
        cluster.events(namespace, resource),
        cluster.nodes(),
        decision_limit=args.events,
    )
    return render.structured(view, args.output) if args.output else render.status_text(view, now)


def _forecast(cluster: Cluster, args: argparse.Namespace, namespace: str, now: dt.datetime) -> str:
    resource = cluster.resource(namespace, args.resource)
    replicas = cluster.replicas(namespace, args.resource)
    nodes = cluster.nodes()
    history = cluster.history(namespace, resource, now)
    view = forecast_view(resource, replicas, nodes, history.snapshot, history.note)
    text = render.structured(view, args.output) if args.output else render.forecast_text(view, now)
    if args.plot is not None:
        window = parse_duration(args.window).total_seconds()
        events = cluster.events(namespace, resource)
        status = status_view(resource, replicas, events, nodes, decision_limit=10_000)
        zones = node_zones(nodes or [], spread_label(resource))
        zones.update({r.node: r.zone for r in status.replicas})
        timeline = resource_timeline(
            resource, status.replicas, status.decisions, zones, history.snapshot, now, window
        )
        plot_timeline(timeline, args.plot)
        print(f"wrote {args.plot}", file=sys.stderr)
    return text


def _explain(cluster: Cluster, args: argparse.Namespace, namespace: str, now: dt.datetime) -> str:
    resource = cluster.resource(namespace, args.resource)
    view = explain(
        resource,
        cluster.replicas(namespace, args.resource),
        cluster.events(namespace, resource),
        cluster.nodes(),
        cluster.pods(namespace),
        now,
        leases=cluster.agent_leases(),
    )
    return (
        render.structured(view, args.output) if args.output else render.explanation_text(view, now)
    )


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
