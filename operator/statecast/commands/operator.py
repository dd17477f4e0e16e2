"""``statecast operator``: run the operator (kopf, peering on)."""

from __future__ import annotations

import argparse


def register(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser], name: str, help_text: str
) -> None:
    """Add the ``operator`` command."""
    parser = subparsers.add_parser(name, help=help_text, description=help_text)
    parser.add_argument(
        "--namespace",
        action="append",
        default=[],
        help="serve only this namespace (repeatable; default: the whole cluster)",
    )
    parser.add_argument(
        "--peering", default="statecast", help="kopf peering object name (default: statecast)"
    )
    parser.add_argument(
        "--standalone", action="store_true", help="run without peering (a single operator)"
    )
    parser.add_argument(
        "--metrics-port", type=int, default=None, help="serve /metrics on this port"
    )
    parser.add_argument(
        "--liveness", default=None, help="liveness endpoint, e.g. http://0.0.0.0:8081/healthz"
    )
    parser.add_argument(
        "--readiness",
        default=None,
        help="readiness endpoint, e.g. http://0.0.0.0:8082/readyz: ready once kopf has its"
        " indexes, or while standing by for a peer",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run until stopped."""
    from statecast.controller.main import run as run_operator

    run_operator(
        namespaces=args.namespace,
        peering=None if args.standalone else args.peering,
        metrics_port=args.metrics_port,
        liveness_endpoint=args.liveness,
        readiness_endpoint=args.readiness,
    )
    return 0
