"""The network between the agents, through Toxiproxy, so faults can cut and slow it.

Loopback has no ``tc netem`` here, so each path an agent uses to reach another goes
through a proxy of its own: one Toxiproxy server (built from its Go module like the
cluster binaries, :data:`statecast.devcluster.build.TOXIPROXY`) holds, for every pair of
agents ``i`` and ``j``, a proxy ``<i>--<j>`` whose upstream is ``j``'s address. Agent
``i`` reaches ``j`` through ``<i>--<j>`` (``statecast agent --peer-route j=URL``), for
its peer sync and for the requests it forwards; clients on a node learn the same routes
from their agent's ``/v1/agents``. Then:

- :meth:`NetworkProxy.partition` cuts every path between two sets of zones, and
  :meth:`NetworkProxy.isolate` every path between some agents and the rest: a
  ``timeout`` toxic of 0 on both directions, so data stops and connections hang until
  the cut is healed, as over a real partition (no quick refusal);
- :meth:`NetworkProxy.set_latency` adds latency to every path between different zones.

The operator and the chaos clients' own first hop stay direct, as the operator's API
traffic and a pod's node-local call would be.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from statecast.devcluster import build
from statecast.devcluster.errors import ClusterError
from statecast.devcluster.system import NodeAddress, System, free_port

__all__ = ["NetworkProxy"]

PROCESS = "toxiproxy"


def proxy_name(source: str, node: str) -> str:
    """The proxy that carries traffic from ``source``'s agent to ``node``'s agent."""
    return f"{source}--{node}"


@dataclass
class NetworkProxy:
    """The Toxiproxy server of a system and its proxies.

    Args:
        system: The system whose worker records and logs it joins.
    """

    system: System

    @property
    def api_url(self) -> str:
        """The Toxiproxy API (its port kept in the state directory)."""
        port = (self.system.state_dir / "toxiproxy.port").read_text().strip()
        return f"http://127.0.0.1:{port}"

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.api_url + path, data=data, method=method,
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=5) as reply:
                text = reply.read()
        except urllib.error.HTTPError as err:
            if method == "DELETE" and err.code == 404:
                return None
            raise ClusterError(
                f"toxiproxy {method} {path}: {err.code} {err.read()[:200]!r}"
            ) from err
        return json.loads(text) if text else None

    def start(self, timeout: float = 20.0) -> None:
        """Build (once) and start the Toxiproxy server, unless it runs."""
        build.build(build.TOXIPROXY)
        if self.system.pid(PROCESS) is None:
            port = free_port("127.0.0.1")
            (self.system.state_dir / "toxiproxy.port").write_text(f"{port}\n")
            argv = [str(build.binary("toxiproxy-server")), "-host", "127.0.0.1", "-port", str(port)]
            self.system.start_process(PROCESS, "proxy", argv)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self._call("GET", "/version")
                return
            except (ClusterError, OSError):
                time.sleep(0.1)
        raise ClusterError("toxiproxy did not come up")

    def routes(self, nodes: Iterable[NodeAddress], urls: Mapping[str, str]) -> dict[str, list[str]]:
        """Create the proxies for agents at ``urls``; return each agent's ``--peer-route``s."""
        nodes = list(nodes)
        existing = self._call("GET", "/proxies") or {}
        listen: dict[tuple[str, str], str] = {}
        for source, node in self._paths(nodes):
            name = proxy_name(source.name, node.name)
            upstream = urls[node.name].removeprefix("http://")
            if name in existing:  # keep where it listens: running agents route there
                if existing[name]["upstream"] != upstream:
                    self._call("POST", f"/proxies/{name}", {"upstream": upstream})
                listen[(source.name, node.name)] = existing[name]["listen"]
                continue
            address = f"127.0.0.1:{free_port('127.0.0.1')}"
            self._call("POST", "/proxies", {"name": name, "listen": address,
                                            "upstream": upstream, "enabled": True})  # fmt: skip
            listen[(source.name, node.name)] = address
        return {
            source.name: [
                f"--peer-route={target.name}=http://{listen[(source.name, target.name)]}"
                for target in nodes
                if target.name != source.name
            ]
            for source in nodes
        }

    def _paths(self, nodes: Iterable[NodeAddress]) -> list[tuple[NodeAddress, NodeAddress]]:
        nodes = list(nodes)
        return [(source, node) for source in nodes for node in nodes if source != node]

    def _toxic(self, proxy: str, name: str, kind: str, attributes: dict[str, int]) -> None:
        for stream in ("upstream", "downstream"):
            toxic = f"{name}-{stream}"
            self._call("DELETE", f"/proxies/{proxy}/toxics/{toxic}")
            self._call("POST", f"/proxies/{proxy}/toxics",
                       {"name": toxic, "type": kind, "stream": stream,
                        "attributes": attributes})  # fmt: skip

    def _clear(self, proxy: str, name: str) -> None:
        for stream in ("upstream", "downstream"):
            self._call("DELETE", f"/proxies/{proxy}/toxics/{name}-{stream}")

    def partition(self, nodes: Iterable[NodeAddress], side: set[str], *, cut: bool) -> int:
        """Cut (or heal) every path between the zones in ``side`` and the others.

        Returns:
            The number of proxies cut or healed.
        """
        nodes = list(nodes)
        return self._cut(nodes, {n.name for n in nodes if n.zone in side}, cut)

    def isolate(self, nodes: Iterable[NodeAddress], side: set[str], *, cut: bool) -> int:
        """Cut (or heal) every path between the agents of the nodes in ``side`` and the rest.

        Returns:
            The number of proxies cut or healed.
        """
        return self._cut(list(nodes), side, cut)

    def _cut(self, nodes: list[NodeAddress], side: set[str], cut: bool) -> int:
        count = 0
        for source, node in self._paths(nodes):
            if (source.name in side) != (node.name in side):
                name = proxy_name(source.name, node.name)
                if cut:
                    self._toxic(name, "partition", "timeout", {"timeout": 0})
                else:
                    self._clear(name, "partition")
                count += 1
        return count

    def set_latency(self, nodes: Iterable[NodeAddress], milliseconds: int, jitter: int = 0) -> None:
        """Every path between different zones slowed by ``milliseconds`` each way (0: none)."""
        for source, node in self._paths(nodes):
            if source.zone == node.zone:
                continue
            proxy = proxy_name(source.name, node.name)
            if milliseconds > 0:
                self._toxic(
                    proxy, "latency", "latency", {"latency": milliseconds, "jitter": jitter}
                )
            else:
                self._clear(proxy, "latency")
