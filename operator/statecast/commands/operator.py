"""``statecast operator``: run the operator (kopf, peering on)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from statecast.controller.sampling import CounterReader
    from statecast.core.pki import PkiSettings

#: Where the agents' access counters can be read (``--metrics-source``).
METRICS_SOURCES = ("agents", "prometheus")
#: Where predictive placement's latency between zones comes from (``--latency-source``;
#: :mod:`statecast.controller.latency_source`).
LATENCY_SOURCES = ("fixed", "measured")
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
        "--peering-priority",
        type=int,
        default=None,
        help="this operator's priority in the peering: the highest acts, the others stand by"
        " (default: by start time, the earliest first; any value >= 0 outranks those)",
    )
    parser.add_argument(
        "--peering-lifetime",
        type=int,
        default=10,
        help="seconds a peer's record lives unrenewed: the longest a standby waits after the"
        " acting operator died (kopf's default is 60; renewals every 1-5 s at 10)",
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
    _add_demand_arguments(parser)
    parser.add_argument(
        "--liveness", default=None, help="liveness endpoint, e.g. http://0.0.0.0:8081/healthz"
    )
    parser.add_argument(
        "--readiness",
        default=None,
        help="readiness endpoint, e.g. http://0.0.0.0:8082/readyz: ready once kopf has its"
        " indexes, or while standing by for a peer",
    )
    _add_tls_arguments(parser)
    parser.set_defaults(handler=run)


def _add_demand_arguments(parser: argparse.ArgumentParser) -> None:
    """Where the demand and the latency between zones come from."""
    parser.add_argument(
        "--metrics-source",
        choices=METRICS_SOURCES,
        default="agents",
        help="where the agents' access counters (the demand) are read: 'agents' asks each"
        " agent's /v1/stats, 'prometheus' queries the Prometheus at --prometheus-url that"
        " scrapes the agents' /metrics (default: agents)",
    )
    parser.add_argument(
        "--prometheus-url",
        default=None,
        help="the Prometheus server to read the agents' counters from, e.g."
        " http://prometheus.monitoring:9090 (required with --metrics-source prometheus)",
    )
    parser.add_argument(
        "--prometheus-selector",
        default="",
        help="label matchers that pick the agents' series in that Prometheus, e.g."
        " 'job=\"statecast-agent\"' (default: every statecast_agent_* series)",
    )
    parser.add_argument(
        "--latency-source",
        choices=LATENCY_SOURCES,
        default="fixed",
        help="the latency between zones that predictive placement prices reads with:"
        " 'fixed' (0.1 ms local, 0.5 ms within a zone, 2 ms across), 'measured' (the"
        " same, with the round-trip times the agents measure to each other replacing the"
        " figures within and between zones; needs --metrics-source agents)"
        " (default: fixed)",
    )


def _add_tls_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of the certificate issuer (``--tls``)."""
    parser.add_argument(
        "--tls",
        action=argparse.BooleanOptionalAction,
        default=os.environ.get("STATECAST_TLS", "") in ("1", "true"),
        help="keep a CA (Secret statecast-ca, bundle in ConfigMap statecast-ca-bundle in"
        " the agents' namespace), sign each agent's certificate request for its own node"
        " only, and call the agents over mutual TLS at their peer endpoint [$STATECAST_TLS]",
    )
    parser.add_argument(
        "--tls-certificate-lifetime",
        default=os.environ.get("STATECAST_TLS_CERTIFICATE_LIFETIME", "24h"),
        help="how long an agent's (and the operator's) certificate is valid; renewed after"
        " 2/3 of it [$STATECAST_TLS_CERTIFICATE_LIFETIME, 24h]",
    )
    parser.add_argument(
        "--tls-authority-lifetime",
        default=os.environ.get("STATECAST_TLS_AUTHORITY_LIFETIME", "8760h"),
        help="how long a CA is valid; a new one is published after 2/3 of it"
        " [$STATECAST_TLS_AUTHORITY_LIFETIME, 8760h]",
    )
    parser.add_argument(
        "--tls-propagation",
        default=os.environ.get("STATECAST_TLS_PROPAGATION", "60s"),
        help="how long every agent takes to load a changed Secret: a new CA signs, and an"
        " old one leaves the bundle, only that long after [$STATECAST_TLS_PROPAGATION, 60s]",
    )


def pki_settings(args: argparse.Namespace) -> PkiSettings | None:
    """The certificates' lifetimes of ``--tls`` (None without TLS).

    Raises:
        ValueError: a duration that does not parse or is not positive.
    """
    if not args.tls:
        return None
    from statecast.api.units import parse_duration
    from statecast.core.pki import PkiSettings

    def seconds(option: str, text: str) -> float:
        try:
            value = parse_duration(text).total_seconds()
        except ValueError as err:
            raise ValueError(f"{option}: {err}") from err
        if value <= 0:
            raise ValueError(f"{option} must be positive, not {text!r}")
        return value

    return PkiSettings(
        authority_lifetime=seconds("--tls-authority-lifetime", args.tls_authority_lifetime),
        leaf_lifetime=seconds("--tls-certificate-lifetime", args.tls_certificate_lifetime),
        propagation=seconds("--tls-propagation", args.tls_propagation),
    )


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


def counter_reader(source: str, url: str | None, selector: str = "") -> CounterReader | None:
    """The reader of the agents' counters for ``--metrics-source`` (None: the default).

    Raises:
        ValueError: ``prometheus`` without a URL, or a URL that is not http(s).
    """
    if source != "prometheus":
        return None
    if not url or not url.startswith(("http://", "https://")):
        raise ValueError(
            f"--metrics-source prometheus needs --prometheus-url http(s)://HOST:PORT, not {url!r}"
        )
    from statecast.controller.prometheus_source import PrometheusReader

    return PrometheusReader(url, selector)


def run(args: argparse.Namespace) -> int:
    """Run until stopped."""
    from statecast.controller.main import run as run_operator

    try:
        metrics = metrics_address(args.metrics_address, args.metrics_port)
        reader = counter_reader(args.metrics_source, args.prometheus_url, args.prometheus_selector)
        tls = pki_settings(args)
    except ValueError as err:
        print(f"statecast operator: {err}", file=sys.stderr)
        return 2
    run_operator(
        namespaces=args.namespace,
        peering=None if args.standalone else args.peering,
        metrics_address=metrics,
        liveness_endpoint=args.liveness,
        readiness_endpoint=args.readiness,
        counter_reader=reader,
        peering_lifetime=args.peering_lifetime,
        priority=args.peering_priority,
        tls=tls,
        latency_source=args.latency_source,
    )
    return 0
