"""``statecast dev-cluster``: build, start, inspect and stop the local control plane."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from functools import partial

from statecast.devcluster import DevCluster, DevClusterError, build
from statecast.devcluster.netproxy import NetworkProxy
from statecast.devcluster.system import (
    AGENT_ACCOUNT,
    AGENT_PORT,
    PEERING_NAME,
    System,
    tls_agent_args,
)


def register(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser], name: str, help_text: str
) -> None:
    """Add the ``dev-cluster`` command and its actions."""
    parser = subparsers.add_parser(name, help=help_text, description=help_text)
    parser.add_argument("--name", default="statecast", help="cluster name (default: statecast)")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    build_parser = actions.add_parser(
        "build", help="build the binaries (or find them in the cache)"
    )
    build_parser.add_argument("--force", action="store_true", help="rebuild even when cached")
    build_parser.set_defaults(handler=_build)

    up = actions.add_parser(
        "up", help="start the cluster and create KWOK nodes (and statecast itself, if asked)"
    )
    up.add_argument("--nodes", type=int, default=3, help="number of nodes (default: 3)")
    up.add_argument("--zones", type=int, default=2, help="number of zones (default: 2)")
    up.add_argument("--timeout", type=float, default=180.0, help="seconds to wait (default: 180)")
    _add_system_arguments(up)
    up.set_defaults(handler=_up)

    down = actions.add_parser("down", help="stop every process the cluster started")
    down.add_argument(
        "--purge",
        action="store_true",
        help="also delete the cluster's state (file systems a chaos run left mounted in it"
        " are unmounted first)",
    )
    down.set_defaults(handler=_down)

    actions.add_parser("status", help="tell what runs").set_defaults(handler=_status)
    actions.add_parser("kubeconfig", help="print the kubeconfig's path").set_defaults(
        handler=_kubeconfig
    )

    node = actions.add_parser("node", help="stop or restart one node's heartbeat")
    node.add_argument("heartbeat", choices=["stop", "start"], help="what to do")
    node.add_argument("node", help="node name, e.g. node-2")
    node.set_defaults(handler=_node)

    kubectl = actions.add_parser("kubectl", help="run the cached kubectl against the cluster")
    kubectl.add_argument("args", nargs=argparse.REMAINDER, help="kubectl arguments")
    kubectl.set_defaults(handler=_kubectl)


def _add_system_arguments(up: argparse.ArgumentParser) -> None:
    """The options of ``up`` that start statecast itself beside the cluster."""
    up.add_argument(
        "--with-agents",
        action="store_true",
        help="install the CRDs and RBAC and run one agent per node on its node's address",
    )
    up.add_argument(
        "--with-operator",
        action="store_true",
        help="install the CRDs and RBAC and run the operator",
    )
    up.add_argument(
        "--with-network-proxy",
        action="store_true",
        help="route every agent-to-agent path through Toxiproxy (built on first use), so "
        "`statecast chaos` can partition zones and add cross-zone latency",
    )
    up.add_argument(
        "--tls",
        action="store_true",
        help="as the chart installs: agents and the operator speak mutual TLS (each agent"
        " asks the operator for a certificate with a token bound to a Pod on its node)",
    )
    up.add_argument(
        "--auth",
        action="store_true",
        help="as the chart installs: the agents require a ServiceAccount token of audience"
        " statecast, allowed by RBAC on sharedresources/data (TokenReview, SAR)",
    )
    up.add_argument(
        "--operators",
        type=int,
        default=1,
        help="operator processes in one kopf peering (default: 1; the chart runs 2)",
    )
    up.add_argument(
        "--agent-port",
        type=int,
        default=AGENT_PORT,
        help=f"agents' port on their node's address (default: {AGENT_PORT}; a free one if taken)",
    )


def _fail(err: Exception) -> int:
    print(f"statecast dev-cluster: {err}", file=sys.stderr)
    return 1


def _build(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    started = time.monotonic()
    try:
        for module in build.MODULES:
            cached = build.is_built(module) and not args.force
            directory = build.build(module, force=args.force)
            state = "cached" if cached else "built"
            print(f"{module.directory} {module.version()}: {state} in {directory}")
    except DevClusterError as err:
        return _fail(err)
    print(f"ready in {time.monotonic() - started:.1f}s")
    return 0


def _up(args: argparse.Namespace) -> int:
    cluster = DevCluster(args.name)
    started = time.monotonic()
    if args.operators < 1:
        return _fail(ValueError("--operators must be at least 1"))
    if args.tls and args.with_network_proxy:
        return _fail(ValueError("--tls and --with-network-proxy: the proxy routes plain HTTP"))
    try:
        cluster.up(nodes=args.nodes, zones=args.zones, timeout=args.timeout)
        if args.with_agents or args.with_operator:
            system = cluster.system()
            system.install()
            if args.with_agents:
                _start_agents(system, args)
            if args.with_operator:
                more = ["--tls"] if args.tls else []
                names = system.start_operators(args.operators, args=more)
                print(f"operator: {', '.join(names)} (peering {PEERING_NAME})")
    except DevClusterError as err:
        return _fail(err)
    print(f"dev cluster {args.name!r} up in {time.monotonic() - started:.1f}s")
    print(f"export KUBECONFIG={cluster.kubeconfig}")
    return 0


def _start_agents(system: System, args: argparse.Namespace) -> None:
    """An agent per node, with the network proxy, mutual TLS and auth as asked."""
    routes: Callable[[dict[str, str]], Mapping[str, Sequence[str]]] | None = None
    if args.with_network_proxy:
        proxy = NetworkProxy(system)
        proxy.start()
        routes = partial(proxy.routes, system.nodes())

    def extra(urls: dict[str, str]) -> dict[str, list[str]]:
        found = {node: list(more) for node, more in (routes(urls) if routes else {}).items()}
        secure = tls_agent_args(urls) if args.tls else {}
        for node in urls:
            found.setdefault(node, []).extend(
                [*secure.get(node, ()), *(["--auth"] if args.auth else [])]
            )
        return found

    # with TLS each agent's token is bound to a Pod on its node, as a DaemonSet's are:
    # the operator signs an agent's certificate for that node only
    tokens = (
        system.node_token_kubeconfigs(AGENT_ACCOUNT, [n.name for n in system.nodes()])
        if args.tls
        else None
    )
    for node, url in system.start_agents(
        port=args.agent_port, kubeconfig=tokens, extra_args=extra
    ).items():
        print(f"agent {node}: {url}")


def _down(args: argparse.Namespace) -> int:
    stopped = DevCluster(args.name).down(purge=args.purge)
    print(f"stopped: {', '.join(stopped) if stopped else 'nothing was running'}")
    return 0


def _status(args: argparse.Namespace) -> int:
    status = DevCluster(args.name).status()
    print(f"cluster     {status.name}")
    print(f"kubeconfig  {status.kubeconfig}")
    print(f"apiserver   {status.server or '-'} ({'healthy' if status.healthy else 'not healthy'})")
    print(f"  {'PROCESS':<24} {'PID':>8}  {'ROLE':<15} DETAIL")
    for proc in status.processes:
        pid = str(proc.pid) if proc.pid else "stopped"
        print(f"  {proc.name:<24} {pid:>8}  {proc.role or '-':<15} {proc.detail}".rstrip())
    for node in status.nodes:
        heartbeat = "" if node.heartbeat else " (heartbeat stopped)"
        print(f"  node {node.name:<12} zone={node.zone:<8} Ready={node.ready}{heartbeat}")
    return 0 if status.healthy else 3


def _kubeconfig(args: argparse.Namespace) -> int:
    print(DevCluster(args.name).kubeconfig)
    return 0


def _node(args: argparse.Namespace) -> int:
    try:
        DevCluster(args.name).set_heartbeat(args.node, running=args.heartbeat == "start")
    except DevClusterError as err:
        return _fail(err)
    print(f"node {args.node}: heartbeat {'restarted' if args.heartbeat == 'start' else 'stopped'}")
    return 0


def _kubectl(args: argparse.Namespace) -> int:
    kubectl = build.binary("kubectl")
    if not kubectl.exists():
        return _fail(RuntimeError("kubectl is not built yet: run `statecast dev-cluster build`"))
    cluster = DevCluster(args.name)
    extra = args.args[1:] if args.args[:1] == ["--"] else args.args
    argv = [str(kubectl), f"--kubeconfig={cluster.kubeconfig}", *extra]
    os.execv(argv[0], argv)
