"""``statecast dev-cluster``: build, start, inspect and stop the local control plane."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from functools import partial

from statecast.devcluster import DevCluster, DevClusterError, build
from statecast.devcluster.netproxy import NetworkProxy
from statecast.devcluster.system import AGENT_PORT, PEERING_NAME


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
    try:
        cluster.up(nodes=args.nodes, zones=args.zones, timeout=args.timeout)
        if args.with_agents or args.with_operator:
            system = cluster.system()
            system.install()
            if args.with_agents:
                routes = None
                if args.with_network_proxy:
                    proxy = NetworkProxy(system)
                    proxy.start()
                    nodes = system.nodes()
                    routes = partial(proxy.routes, nodes)
                for node, url in system.start_agents(
                    port=args.agent_port, extra_args=routes
                ).items():
                    print(f"agent {node}: {url}")
            if args.with_operator:
                names = system.start_operators(args.operators)
                print(f"operator: {', '.join(names)} (peering {PEERING_NAME})")
    except DevClusterError as err:
        return _fail(err)
    print(f"dev cluster {args.name!r} up in {time.monotonic() - started:.1f}s")
    print(f"export KUBECONFIG={cluster.kubeconfig}")
    return 0


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
