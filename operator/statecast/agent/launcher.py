"""Start standalone agents as local processes on loopback addresses (tests, benchmarks).

Agent ``i`` listens on ``127.0.0.<i+2>`` with a free port, keeps its data under
``<root>/<node>``, and lists every other agent as a static peer. With ``tls`` the agents
speak mutual TLS to each other on a second port, with certificates of a CA made here
(``<root>/tls/<node>``: ``tls.crt``, ``tls.key``, ``ca.crt``; :meth:`LocalAgents.issue`
writes new ones, which the agents load without a restart).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
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

from statecast.core.pki import agent_name
from statecast.pki.certs import KeyPair, issue, new_authority

__all__ = ["LocalAgent", "LocalAgents", "free_port"]

_PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)


def _die_with_parent() -> None:
    """In the child before ``exec``: ask Linux to SIGKILL it when its parent exits.

    A test runner killed mid-run (a CI timeout, a ``kill -9`` of pytest) would otherwise
    leave its agents running, bound to their ports, for ever. Only a system call runs
    here, so it is safe in ``preexec_fn``.
    """
    _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


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
    peer_port: int | None = None
    """The mutual-TLS listener's port (with TLS)."""

    @property
    def url(self) -> str:
        """Base URL."""
        return f"http://{self.host}:{self.port}"

    @property
    def peer_url(self) -> str:
        """Where the other agents reach it (the TLS listener, when there is one)."""
        if self.peer_port is None:
            return self.url
        return f"https://{self.host}:{self.peer_port}"


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
        ready_timeout: Seconds :meth:`start_all` waits for each agent's ``/readyz`` (a
            loaded machine can take tens of seconds just to start Python).
        tls: The agents speak mutual TLS to each other (a CA and certificates made here).
    """

    root: Path
    count: int
    resources: list[dict[str, Any]]
    extra: dict[str, Any] = field(default_factory=dict)
    wrapper: list[str] = field(default_factory=list)
    ready_timeout: float = 90.0
    tls: bool = False
    agents: list[LocalAgent] = field(default_factory=list)
    authority: KeyPair | None = None
    """The CA that signs the agents' certificates (with TLS)."""

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
                    peer_port=free_port(host) if self.tls else None,
                )
            )
        if self.tls:
            self.authority = new_authority(time.time(), 86400.0)
            for agent in self.agents:
                self.issue(agent)
        for agent in self.agents:
            self.write_config(agent)

    def tls_dir(self, agent: LocalAgent) -> Path:
        """Where ``agent``'s certificate, key and trust bundle are."""
        return self.root / "tls" / agent.node

    def issue(
        self, agent: LocalAgent, authority: KeyPair | None = None, bundle: bytes | None = None
    ) -> None:
        """Write ``agent`` a new certificate (by ``authority``, default the CA made here).

        Args:
            agent: whose.
            authority: the signer (default: :attr:`authority`).
            bundle: the trust bundle written beside it (default: the signer's certificate).
        """
        signer = authority or self.authority
        assert signer is not None, "the agents run without TLS"
        pair = issue(signer, agent_name(agent.node), time.time(), 3600.0)
        directory = self.tls_dir(agent)
        directory.mkdir(parents=True, exist_ok=True)
        for name, data in (
            ("ca.crt", bundle or signer.cert),
            ("tls.key", pair.key),
            ("tls.crt", pair.cert),
        ):
            part = directory / f".{name}.new"
            part.write_bytes(data)
            part.chmod(0o600)
            part.replace(directory / name)

    def write_config(self, agent: LocalAgent) -> None:
        """(Re)write one agent's YAML."""
        config = {
            "node": agent.node,
            "listen": f"{agent.host}:{agent.port}",
            "dataDir": str(self.root / agent.node),
            "peers": [{"node": a.node, "url": a.peer_url} for a in self.agents if a is not agent],
            "resources": self.resources,
            **self.extra,
        }
        if agent.peer_port is not None:
            config["tls"] = True
            config["peerListen"] = f"{agent.host}:{agent.peer_port}"
            config["tlsDir"] = str(self.tls_dir(agent))
            config.setdefault("tlsReloadSeconds", 1.0)
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
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,  # noqa: PLW1509
        )
        log.close()

    def wait_ready(self, agent: LocalAgent, timeout: float | None = None) -> None:
        """Block until the agent answers ``/readyz`` (``timeout`` defaults to ``ready_timeout``).

        Raises:
            TimeoutError: It did not become ready in time (its log is in the message).
        """
        deadline = time.monotonic() + (self.ready_timeout if timeout is None else timeout)
        while time.monotonic() < deadline:
            if agent.process is not None and agent.process.poll() is not None:
                break
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{agent.url}/readyz", timeout=1).status_code == 200:
                    return
            time.sleep(0.05)
        raise TimeoutError(f"{agent.node} not ready:\n{agent.log_path.read_text()[-3000:]}")

    def start_all(self) -> None:
        """Start every agent and wait until all are ready.

        If one never becomes ready, every agent started here is stopped before the error
        propagates: a failed start leaves no process behind.
        """
        try:
            for agent in self.agents:
                self.start(agent)
            for agent in self.agents:
                self.wait_ready(agent)
        except BaseException:
            self.stop_all()
            raise

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
