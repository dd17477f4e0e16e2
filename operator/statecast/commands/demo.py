"""``statecast demo``: statecast end to end on the built-in local cluster.

Starts the dev cluster with the whole system (``statecast dev-cluster up --with-agents
--with-operator``: CRDs, RBAC, the operator and one node agent per KWOK node on its
node's loopback address, with tokens of the chart's ServiceAccounts), 6 nodes in 3
zones. Then:

1. compressed days of follow-the-sun demand start on two resources holding the same
   catalog, one placed by ``predictive``, one by ``static`` (:mod:`statecast.demo`),
   read through the client library on every node;
2. meanwhile, on ``feature-flags``: its first replicas seeded from its inline source,
   a write read on another replica and forwarded from a node without one, Hit%, a
   node's heartbeat stopped and its replica replaced, a consumer pod given a copy;
3. the live view of the follow-the-sun days: reads and forecast per zone, where each
   policy holds copies, local hits, the operator's decisions, and each change of the
   busy zone with whether a copy was there first;
4. the summary (local hits, latency, replica-days of both, measured on the same reads),
   ``kubectl statecast status catalog``, and a PNG of demand, forecast band and
   placement over time.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from statecast.devcluster import DevCluster, DevClusterError, build
from statecast.devcluster.components import node_name

if TYPE_CHECKING:
    from statecast.demo.act import SunSettings

ROOT = Path(__file__).resolve().parents[3]
NAMESPACE = "statecast-demo"
#: The operator samples the agents every second: the follow-the-sun resources forecast
#: per second (prediction.interval 1s); reconciles every half second.
OPERATOR_ENV = {"STATECAST_RESYNC_SECONDS": "0.5", "STATECAST_SAMPLE_SECONDS": "1"}
T = TypeVar("T")


def register(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser], name: str, help_text: str
) -> None:
    """Add the ``demo`` command."""
    parser = subparsers.add_parser(name, help=help_text, description=__doc__)
    parser.add_argument("--nodes", type=int, default=6, help="KWOK nodes (default: 6)")
    parser.add_argument("--zones", type=int, default=3, help="zones (default: 3)")
    parser.add_argument(
        "--days", type=float, default=13.0, help="compressed days of demand (default: 13)"
    )
    parser.add_argument(
        "--day-seconds", type=float, default=18.0, help="seconds per compressed day (default: 18)"
    )
    parser.add_argument(
        "--plot",
        type=Path,
        default=Path("out/demo.png"),
        help="the picture (default: out/demo.png)",
    )
    parser.add_argument(
        "--json",
        type=Path,
        default=Path("out/demo.json"),
        help="the numbers (default: out/demo.json)",
    )
    parser.add_argument(
        "--cluster", default="statecast-demo", help="dev cluster name (default: statecast-demo)"
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="leave the cluster (statecast-demo), operator and agents running",
    )
    parser.set_defaults(handler=run)


class Demo:
    """The demo's steps, sharing one cluster."""

    def __init__(self, nodes: int, zones: int, name: str = "statecast-demo") -> None:
        self.cluster = DevCluster(name)
        self.nodes = nodes
        self.zones = zones
        self.agent_urls: dict[str, str] = {}

    def say(self, text: str) -> None:
        """Print a step heading."""
        print(f"\n==> {text}", flush=True)

    def kubectl(self, *args: str, check: bool = True, stdin: str | None = None) -> str:
        """Run the cached kubectl against the demo cluster and return its output."""
        result = subprocess.run(
            [str(build.binary("kubectl")), f"--kubeconfig={self.cluster.kubeconfig}", *args],
            capture_output=True,
            text=True,
            input=stdin,
            check=False,
        )
        if check and result.returncode != 0:
            raise DevClusterError(f"kubectl {' '.join(args)}: {result.stderr.strip()}")
        return result.stdout

    def start_system(self) -> None:
        """Install statecast and run an agent per node and the operator.

        As ``dev-cluster up --with-agents --with-operator`` does: CRDs, RBAC and the
        peering object, processes authenticated with tokens of the chart's accounts.
        """
        system = self.cluster.system()
        system.install()
        self.agent_urls = system.start_agents()
        # the demo's "last decisions" are the operator's Events: the routine moves too
        system.start_operators(1, env={**OPERATOR_ENV, "STATECAST_ROUTINE_EVENTS": "1"})

    def stop_workers(self) -> None:
        """Stop the operator and the agents."""
        self.cluster.system().stop_all()


def _wait(check: Callable[[], T | None], timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    raise DevClusterError(f"timed out waiting for {what}")


def _processes(demo: Demo) -> str:
    """The processes of the system, as ``statecast dev-cluster status`` lists them."""
    lines = []
    for worker in demo.cluster.system().workers():
        where = " ".join(x for x in (worker.node, worker.url, worker.detail) if x)
        lines.append(f"  {worker.name:<16} pid {worker.pid or '-':<8} {worker.role:<9} {where}")
    return "\n".join(lines)


def _status(demo: Demo, name: str) -> dict[str, Any]:
    import json

    out = demo.kubectl("get", "sr", name, "-n", NAMESPACE, "-o", "json", check=False)
    status: dict[str, Any] = json.loads(out).get("status", {}) if out else {}
    return status


def _replaced(status: dict[str, Any], lost: str) -> bool:
    """Whether the resource is Ready again with no replica left on ``lost``."""
    nodes = {r["node"] for r in status.get("replicas", [])}
    return status.get("phase") == "Ready" and lost not in nodes


def _ready(url: str) -> bool:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=1) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _read_and_write(demo: Demo, holders: list[str]) -> None:
    """Write on one replica, read it back on the other, and from a node without one."""
    from statecast.client import Client, NotFoundError

    def replicated(client: Client) -> bool | None:
        try:
            return client.get(NAMESPACE, "feature-flags", "banner") == "spring sale" or None
        except NotFoundError:
            return None

    writer, reader = holders[0], holders[1]
    elsewhere = next(node_name(i) for i in range(1, demo.nodes + 1) if node_name(i) not in holders)
    demo.say(f"writing banner on {writer}'s agent; reading it on {reader} and on {elsewhere}")
    with Client([demo.agent_urls[writer]], discover_peers=False) as client:
        client.put(NAMESPACE, "feature-flags", "banner", "spring sale")
    with Client([demo.agent_urls[reader]], discover_peers=False) as client:
        _wait(lambda: replicated(client), 30, f"the write to reach {reader}")
        print(f"{reader}: banner = 'spring sale' (served {client.last_served})")
    with Client([demo.agent_urls[elsewhere]], discover_peers=False) as client:
        remote = client.get(NAMESPACE, "feature-flags", "banner")
        print(f"{elsewhere}: banner = {remote!r} (served {client.last_served}: no local replica)")
        if remote != "spring sale" or client.last_served != "remote":
            raise DevClusterError(f"{elsewhere} should forward the read to a replica")


def _seeded_map(client: Any) -> dict[str, Any] | None:
    items: dict[str, Any] = client.items(NAMESPACE, "feature-flags")
    return items or None


def _seeded(demo: Demo, holders: list[str]) -> None:
    """Every first replica holds the values of the resource's inline source."""
    from statecast.client import Client

    demo.say("the initial flags from spec.source.inline are on every replica")
    for node in holders:
        with Client([demo.agent_urls[node]], discover_peers=False) as client:
            value = _wait(partial(_seeded_map, client), 30, f"the seeded map on {node}")
            print(f"{node}: {value} (served {client.last_served})")
            if value.get("checkout-v2") is not True:
                raise DevClusterError(f"{node} should hold the seeded flags")


def _consumer(demo: Demo, avoid: list[str]) -> str:
    """Bind a storefront pod to a node without a replica: one is made there for it."""
    node = next(node_name(i) for i in range(1, demo.nodes + 1) if node_name(i) not in avoid)
    demo.say(f"a storefront pod (consumers.selector app=storefront) is bound to {node}")
    demo.kubectl("apply", "-n", NAMESPACE, "-f", "-", stdin=_CONSUMER_POD.format(node=node))
    _wait(
        lambda: any(
            r["node"] == node and r["reason"] == "consumer" and r["phase"] == "Ready"
            for r in _status(demo, "feature-flags").get("replicas", [])
        ),
        60,
        f"a Ready replica on {node} for the consumer",
    )
    print(_flags(demo))
    return node


_CONSUMER_POD = """
apiVersion: v1
kind: Pod
metadata:
  name: storefront
  labels: {{app: storefront}}
spec:
  nodeName: {node}
  containers:
  - name: web
    image: registry.invalid/storefront:1
"""


def run(args: argparse.Namespace) -> int:
    """Run the demo; exit 0 when every step did what it should."""
    from statecast.demo.act import SunSettings

    demo = Demo(args.nodes, args.zones, args.cluster)
    settings = SunSettings(days=args.days, day_s=args.day_seconds)
    started = time.monotonic()
    try:
        _run(demo, settings, args.plot, args.json)
    except DevClusterError as err:
        print(f"statecast demo: {err}", file=sys.stderr)
        return 1
    finally:
        if not args.keep:
            demo.stop_workers()
            demo.cluster.down()
    print(f"\ndemo took {time.monotonic() - started:.0f} s", flush=True)
    return 0


def _run(demo: Demo, settings: SunSettings, plot: Path, summary_json: Path) -> None:
    from statecast.demo.act import PREDICTIVE, SunAct

    demo.say(f"starting a fresh dev cluster ({demo.nodes} KWOK nodes in {demo.zones} zones)")
    started = time.monotonic()
    demo.cluster.down(purge=True)
    demo.cluster.up(nodes=demo.nodes, zones=demo.zones)
    print(f"up in {time.monotonic() - started:.1f}s; KUBECONFIG={demo.cluster.kubeconfig}")
    print(demo.kubectl("get", "nodes", "-L", "topology.kubernetes.io/zone"))

    demo.say(
        "installing the CRDs, RBAC and peering; one agent per node and the operator "
        "(as `statecast dev-cluster up --with-agents --with-operator`)"
    )
    demo.start_system()
    for url in demo.agent_urls.values():
        _wait(partial(_ready, url), 60, f"the agent at {url}")
    print(_processes(demo))

    demo.kubectl("create", "namespace", NAMESPACE, check=False)
    zones = {n.name: n.zone for n in demo.cluster.system().nodes()}
    sun = SunAct(demo.kubectl, demo.cluster.kubeconfig, NAMESPACE, demo.agent_urls, zones, settings)
    demo.say(
        f"follow-the-sun: {settings.days:g} days of {settings.day_s:g} s; readers on every node "
        f"read {PREDICTIVE} (policy predictive, 2-3 copies) and {PREDICTIVE}-static (policy "
        "static, 3 copies); their office hours move zone-a -> zone-b -> zone-c each day. "
        "It runs in the background while feature-flags shows the basics."
    )
    sun.declare()
    sun.start()
    try:
        _basics(demo)
        demo.say(
            f"the follow-the-sun days (day {sun.now() / settings.day_s:.1f} now; the forecast "
            "learns the day once its history holds enough of it, about day 4)"
        )
        sun.follow()
    finally:
        sun.stop()
    demo.say("summary")
    print(sun.report(plot, summary_json), flush=True)
    demo.say(f"kubectl statecast status {PREDICTIVE} -n {NAMESPACE}")
    from statecast.kubectl.main import main as kubectl_statecast

    kubectl_statecast(
        ["status", PREDICTIVE, "-n", NAMESPACE, "--kubeconfig", str(demo.cluster.kubeconfig)]
    )
    demo.say("done")


def _flags(demo: Demo) -> str:
    """``kubectl get`` of feature-flags and its replicas."""
    resource = demo.kubectl("get", "sr", "feature-flags", "-n", NAMESPACE, "-o", "wide")
    replicas = demo.kubectl(
        "get",
        "replicas",
        "-n",
        NAMESPACE,
        "-l",
        "statecast.io/resource=feature-flags",
        "-o",
        "wide",
    )
    return resource + replicas


def _basics(demo: Demo) -> None:
    """The first acts on feature-flags: seeding, reads and writes, Hit%, failover, consumer."""
    demo.say("declaring SharedResource feature-flags (replicas.min=2, spread across zones)")
    demo.kubectl(
        "apply",
        "--server-side",
        "-n",
        NAMESPACE,
        "-f",
        str(ROOT / "manifests/samples/feature-flags.yaml"),
    )
    _wait(lambda: _status(demo, "feature-flags").get("phase") == "Ready", 90, "feature-flags Ready")
    print(_flags(demo))

    status = _status(demo, "feature-flags")
    holders = [r["node"] for r in status["replicas"]]
    _seeded(demo, holders)
    _read_and_write(demo, holders)
    demo.say("the operator samples the agents' counters: Hit% is the share of reads served locally")
    _wait(lambda: _status(demo, "feature-flags").get("hitPercent") is not None, 30, "Hit%")
    print(demo.kubectl("get", "sr", "feature-flags", "-n", NAMESPACE))
    lost = holders[0]
    demo.say(f"stopping {lost}'s heartbeat: the operator replaces the replica it held")
    demo.cluster.set_heartbeat(lost, running=False)
    try:
        _wait(
            lambda: _replaced(_status(demo, "feature-flags"), lost),
            120,
            f"a replacement for the replica on {lost}",
        )
        print(_flags(demo))
        now_held = [r["node"] for r in _status(demo, "feature-flags")["replicas"]]
        _consumer(demo, [*now_held, lost])
        print(demo.kubectl("get", "events", "-n", NAMESPACE, "--sort-by=.lastTimestamp",
                           "--field-selector=involvedObject.name=feature-flags"))  # fmt: skip
    finally:
        demo.cluster.set_heartbeat(lost, running=True)
