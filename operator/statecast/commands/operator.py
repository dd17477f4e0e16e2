"""``statecast operator``: run the operator (kopf, peering on)."""

from __future__ import annotations

import argparse
import os
import sys

#: Where ``/metrics`` is served unless told: this host only, Prometheus's usual port.
DEFAULT_METRICS_ADDRESS = "127.0.0.1:9090"


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
        "--metrics-address",
        default=os.environ.get("STATECAST_METRICS_ADDRESS", DEFAULT_METRICS_ADDRESS),
        help="HOST:PORT to serve /metrics on, or 'off' (the chart binds the pod's IP)"
        f" [$STATECAST_METRICS_ADDRESS, {DEFAULT_METRICS_ADDRESS}: this host only]",
    )
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        help="serve /metrics on this port of --metrics-address's host (older spelling)",
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


def metrics_address(address: str, port: int | None = None) -> tuple[str, int] | None:
    """``(host, port)`` to serve ``/metrics`` on from ``HOST:PORT`` (None: ``off``).

    Raises:
        ValueError: ``address`` is not ``HOST:PORT`` or ``off``.
    """
    if address.strip().lower() in ("off", "none", ""):
        return None
    host, sep, text = address.rpartition(":")
    if not sep or not host or not text.isdigit():
        raise ValueError(f"--metrics-address takes HOST:PORT or off, not {address!r}")
    return host.strip("[]"), port if port is not None else int(text)


def run(args: argparse.Namespace) -> int:
    """Run until stopped."""
    from statecast.controller.main import run as run_operator

    try:
        metrics = metrics_address(args.metrics_address, args.metrics_port)
    except ValueError as err:
        print(f"statecast operator: {err}", file=sys.stderr)
        return 2
    run_operator(
        namespaces=args.namespace,
        peering=None if args.standalone else args.peering,
        metrics_address=metrics,
        liveness_endpoint=args.liveness,
        readiness_endpoint=args.readiness,
    )
    return 0
