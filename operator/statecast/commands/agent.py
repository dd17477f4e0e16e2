"""``statecast agent``: run the node agent (standalone from a YAML file, or in a cluster)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

from statecast.core.storage import MIN_FREE_BYTES

if TYPE_CHECKING:
    from statecast.agent.main import Sidecar
    from statecast.agent.runtime import Agent

__all__ = ["register", "run"]


def register(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser], name: str, help_text: str
) -> None:
    """Add the ``agent`` subcommand."""
    parser = subparsers.add_parser(name, help=help_text, description=help_text)
    parser.add_argument(
        "--standalone", action="store_true", help="no Kubernetes: resources and peers from --config"
    )
    parser.add_argument("--config", type=Path, help="agent YAML (required with --standalone)")
    parser.add_argument(
        "--node", default=os.environ.get("NODE_NAME"), help="node name [$NODE_NAME]"
    )
    parser.add_argument(
        "--listen",
        default=os.environ.get("STATECAST_LISTEN", "0.0.0.0:7420"),
        help="HOST:PORT to serve the Agent API on [$STATECAST_LISTEN]",
    )
    parser.add_argument(
        "--advertise",
        default=os.environ.get("STATECAST_ADVERTISE_URL"),
        help="URL peers reach this agent at [$STATECAST_ADVERTISE_URL, else http://$HOST_IP:PORT]",
    )
    parser.add_argument(
        "--zone",
        default=os.environ.get("STATECAST_ZONE", ""),
        help="topology zone [$STATECAST_ZONE]",
    )
    _add_storage_arguments(parser)
    parser.add_argument(
        "--lease-namespace",
        default=os.environ.get("POD_NAMESPACE", "statecast-system"),
        help="namespace of the agent Leases [$POD_NAMESPACE]",
    )
    parser.add_argument(
        "--lease-seconds",
        type=float,
        default=2.0,
        help="seconds between renewals of the node's agent Lease (it lasts three periods)",
    )
    parser.add_argument(
        "--auth",
        action=argparse.BooleanOptionalAction,
        default=os.environ.get("STATECAST_AUTH", "") in ("1", "true"),
        help="application requests need a ServiceAccount token (audience statecast) and "
        "RBAC on sharedresources/data (TokenReview, SubjectAccessReview) [$STATECAST_AUTH]",
    )
    _add_tls_arguments(parser)
    parser.add_argument(
        "--kubeconfig",
        default=os.environ.get("KUBECONFIG"),
        help="kubeconfig file [$KUBECONFIG; in a pod: its service account]",
    )
    parser.add_argument(
        "--fsync",
        choices=["always", "interval", "never"],
        default=None,
        help="when the write-ahead log is fsynced (default: interval; docs/agent.md)",
    )
    parser.add_argument(
        "--retired-retention",
        default=os.environ.get("STATECAST_RETIRED_RETENTION", "24h"),
        help="how long the files of a removed replica of a resource that no longer exists"
        " (or was made anew) are kept; those of a resource that exists are kept until a live"
        " replica has merged them [$STATECAST_RETIRED_RETENTION, 24h]",
    )
    _warm_arguments(parser)
    parser.add_argument(
        "--peer-route",
        action="append",
        default=[],
        metavar="NODE=URL",
        help="reach the agent of NODE at URL instead of the URL it advertises (repeatable; "
        "e.g. through a proxy that `statecast chaos` cuts or slows)",
    )
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING")
    parser.set_defaults(handler=run)


def _add_storage_arguments(parser: argparse.ArgumentParser) -> None:
    """Where the replicas' files go, and the room kept free there."""
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(os.environ.get("STATECAST_DATA_DIR", "/var/lib/statecast")),
        help="write-ahead log and snapshots [$STATECAST_DATA_DIR]",
    )
    parser.add_argument(
        "--min-free-bytes",
        type=int,
        default=int(os.environ.get("STATECAST_MIN_FREE_BYTES", MIN_FREE_BYTES)),
        help="bytes the data directory's file system keeps free beyond a copy's next "
        "snapshot; a copy with less says its files cannot be written, and is moved "
        "(0: off) [$STATECAST_MIN_FREE_BYTES]",
    )


def _add_tls_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of mutual TLS with the other agents and the operator."""
    parser.add_argument(
        "--tls",
        action=argparse.BooleanOptionalAction,
        default=os.environ.get("STATECAST_TLS", "") in ("1", "true"),
        help="agents and the operator speak mutual TLS on --peer-listen, with a key the"
        " agent makes and a certificate for its node the operator signs on request (or"
        " the files of --tls-dir); the peer routes are served there only [$STATECAST_TLS]",
    )
    parser.add_argument(
        "--peer-listen",
        default=os.environ.get("STATECAST_PEER_LISTEN", "0.0.0.0:7421"),
        help="HOST:PORT of the mutual-TLS listener (with --tls) [$STATECAST_PEER_LISTEN]",
    )
    parser.add_argument(
        "--peer-advertise",
        default=os.environ.get("STATECAST_PEER_ADVERTISE_URL"),
        help="URL peers and the operator reach the mutual-TLS listener at"
        " [$STATECAST_PEER_ADVERTISE_URL, else https://$HOST_IP:PORT]",
    )
    parser.add_argument(
        "--tls-dir",
        type=Path,
        default=os.environ.get("STATECAST_TLS_DIR") or None,
        help="read tls.crt, tls.key and ca.crt from this directory (e.g. a cert-manager"
        " Secret mounted) instead of the operator's Secret [$STATECAST_TLS_DIR]",
    )
    parser.add_argument(
        "--tls-reload-seconds",
        type=float,
        default=15.0,
        help="seconds between two reads of the trust bundle (or the TLS files); keep it"
        " well under the operator's --tls-propagation (default 15)",
    )


def _serve(main: Coroutine[Any, Any, None]) -> None:
    """Run the agent on uvloop when it is installed (about 10% less per request)."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
        return
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main)


def _warm_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of the copies kept warm after their hand-off (docs/agent.md)."""
    parser.add_argument(
        "--warm-retention",
        default=os.environ.get("STATECAST_WARM_RETENTION", "1h"),
        help="how long the files of a removed replica are kept once a live replica has merged"
        " them: a Replica of the same resource back on this node meanwhile catches up by a"
        " delta of what it missed, not a full copy; 0s deletes them at once"
        " [$STATECAST_WARM_RETENTION, 1h]",
    )
    parser.add_argument(
        "--warm-budget",
        default=os.environ.get("STATECAST_WARM_BUDGET", ""),
        help="bytes (e.g. 2Gi) the files kept warm may take, and must leave free on the data"
        " directory's filesystem; the oldest go first [$STATECAST_WARM_BUDGET, a tenth of"
        " the filesystem]",
    )


def _cluster_edge(args: argparse.Namespace, advertise: str, peer_advertise: str) -> Sidecar:
    """The agent's Kubernetes edge on the real API server, to run beside the agent."""
    from statecast.agent.kube import run_edge
    from statecast.agent.kube_gateway import KubernetesGateway
    from statecast.api.units import parse_duration, parse_quantity

    retention = parse_duration(args.retired_retention).total_seconds()
    warm = parse_duration(args.warm_retention).total_seconds()
    budget = float(parse_quantity(args.warm_budget)) if args.warm_budget else None

    async def edge(agent: Agent) -> None:
        # Off the event loop: building the client imports much of kubernetes.client.
        gateway = await asyncio.to_thread(KubernetesGateway, args.kubeconfig)
        if args.auth:
            from statecast.agent.auth import Gate
            from statecast.agent.auth_kube import KubernetesReviewer

            agent.gate = Gate(await asyncio.to_thread(KubernetesReviewer, gateway.api))
        await run_edge(
            agent,
            gateway,
            args.lease_namespace,
            advertise,
            args.lease_seconds,
            gateway,
            retention,
            peer_advertise=peer_advertise,
            requests=gateway if args.tls_dir is None else None,
            warm_retention=warm,
            warm_budget=budget,
        )

    return edge


def _fail(message: str) -> int:
    print(f"statecast agent: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    """Run the agent until it is signalled to stop."""
    from statecast.agent import clock_skew
    from statecast.agent.config import AgentConfig, load_config
    from statecast.agent.errors import AgentError
    from statecast.agent.main import run_agent

    logging.basicConfig(
        level=args.log_level.upper(),
        format="time=%(asctime)s level=%(levelname)s logger=%(name)s %(message)s",
    )
    try:
        skew = clock_skew.apply_from_environment()
        if skew:
            logging.getLogger(__name__).warning(
                "event=clock_skewed seconds=%g (test-only: %s)", skew, clock_skew.ENVIRONMENT
            )
        if args.standalone:
            if args.config is None:
                return _fail("--standalone needs --config FILE")
            config = load_config(args.config)
            if args.fsync:
                config = config.model_copy(update={"fsync": args.fsync})
            _serve(run_agent(config))
            return 0
        if not args.node:
            return _fail("the node name is unknown: set NODE_NAME or pass --node")
        routes = dict(route.partition("=")[::2] for route in args.peer_route)
        if any(not node or not url for node, url in routes.items()):
            return _fail("--peer-route takes NODE=URL")
        config = AgentConfig(
            node=args.node,
            listen=args.listen,
            data_dir=args.data_dir,
            min_free_bytes=args.min_free_bytes,
            zone=args.zone,
            fsync=args.fsync or "interval",
            peer_routes=routes,
            auth=args.auth,
            tls=args.tls,
            peer_listen=args.peer_listen if args.tls else None,
            tls_dir=args.tls_dir,
            tls_reload_seconds=args.tls_reload_seconds,
        )
        host_ip = os.environ.get("HOST_IP", "127.0.0.1")
        advertise = args.advertise or f"http://{host_ip}:{config.port}"
        peer_address = config.peer_address
        peer_advertise = args.peer_advertise or (
            f"https://{host_ip}:{peer_address[1]}" if peer_address else ""
        )
        _serve(run_agent(config, _cluster_edge(args, advertise, peer_advertise)))
        return 0
    except AgentError as err:
        return _fail(str(err))
    except ValueError as err:  # pydantic validation of command-line values
        return _fail(str(err).splitlines()[0])
    except OSError as err:
        return _fail(f"cannot start: {err}")
    except KeyboardInterrupt:
        return 0
