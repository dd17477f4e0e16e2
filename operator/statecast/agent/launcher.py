"""Start standalone agents as local processes on loopback addresses (tests, benchmarks).

Agent ``i`` listens on ``127.0.0.<i+2>`` with a free port, keeps its data under
``<root>/<node>``, and lists every other agent as a static peer.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

__all__ = ["LocalAgent", "LocalAgents", "free_port"]


def free_port(host: str) -> int:
    """A TCP port free on ``host`` right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass
class LocalAgent:
    """One agent process."""

    node: str
    host: str
    port: int
    config_path: Path
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Base URL."""
        return f"http://{self.host}:{self.port}"


@dataclass
class LocalAgents:
    """A set of standalone agents that all replicate the same resources.

    Args:
        root: Directory for configurations, data and logs.
        count: Number of agents.
        resources: Resource entries of the YAML (namespace, name, merge, consistency,
            optionally replicas).
        extra: More configuration keys for every agent (fsync, syncInterval, ...).
        wrapper: A command the agent runs under (``["taskset", "-c", "1"]``, say).
    """

    root: Path
    count: int
    resources: list[dict[str, Any]]
    extra: dict[str, Any] = field(default_factory=dict)
    wrapper: list[str] = field(default_factory=list)
    agents: list[LocalAgent] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        for i in range(self.count):
            host = f"127.0.0.{i + 2}"
            node = f"node-{i}"
            self.agents.append(
                LocalAgent(
                    node,
                    host,
                    free_port(host),
                    self.root / f"{node}.yaml",
                    self.root / f"{node}.log",
                )
            )
        for agent in self.agents:
            self.write_config(agent)

    def write_config(self, agent: LocalAgent) -> None:
        """(Re)write one agent's YAML."""
        config = {
            "node": agent.node,
            "listen": f"{agent.host}:{agent.port}",
            "dataDir": str(self.root / agent.node),
            "peers": [{"node": a.node, "url": a.url} for a in self.agents if a is not agent],
            "resources": self.resources,
            **self.extra,
        }
        agent.config_path.write_text(yaml.safe_dump(config))

    def start(self, agent: LocalAgent) -> None:
        """Start one agent process (its output goes to its log file)."""
        log = agent.log_path.open("ab")
        agent.process = subprocess.Popen(
            [
                *self.wrapper,
                sys.executable,
                "-m",
                "statecast.cli",
                "agent",
                "--standalone",
                "--config",
                str(agent.config_path),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        log.close()

    def wait_ready(self, agent: LocalAgent, timeout: float = 30.0) -> None:
        """Block until the agent answers ``/readyz``.

        Raises:
            TimeoutError: It did not become ready in time (its log is in the message).
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if agent.process is not None and agent.process.poll() is not None:
                break
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{agent.url}/readyz", timeout=1).status_code == 200:
                    return
            time.sleep(0.05)
        raise TimeoutError(f"{agent.node} not ready:\n{agent.log_path.read_text()[-3000:]}")

    def start_all(self) -> None:
        """Start every agent and wait until all are ready."""
        for agent in self.agents:
            self.start(agent)
        for agent in self.agents:
            self.wait_ready(agent)

    def kill(self, agent: LocalAgent) -> None:
        """``kill -9`` one agent."""
        if agent.process is not None and agent.process.poll() is None:
            os.kill(agent.process.pid, signal.SIGKILL)
            agent.process.wait()

    def stop(self, agent: LocalAgent) -> None:
        """Stop one agent gracefully (SIGTERM)."""
        if agent.process is not None and agent.process.poll() is None:
            agent.process.terminate()
            try:
                agent.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill(agent)

    def stop_all(self) -> None:
        """Stop every agent."""
        for agent in self.agents:
            self.stop(agent)
