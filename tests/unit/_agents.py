"""Agents in one process, each with its own HTTP server on loopback; what the agent tests share.

The ``agents`` fixture of ``conftest.py`` runs them, for tests of what agents say to
each other. :data:`FAST` and :func:`eventually` serve the tests of agent processes too.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from statecast.agent.config import AgentConfig, ResourceSpec
from statecast.agent.httpserver import HttpServer
from statecast.agent.runtime import Agent
from statecast.agent.server import build_server

#: The resource the agents know.
REF = ("apps", "flags")
#: Node -> the URL of its agent.
URLS: dict[str, str] = {}

MakeAgents = Callable[..., Awaitable[list[Agent]]]
#: A resource spec's sync and round-trip intervals short enough for a test (seconds).
FAST = {"syncInterval": 0.2, "rttInterval": 0.5}


def eventually(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    """Wait until ``check()`` holds, polled every 50 ms; fail naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"never happened: {what}")


async def running_agents(tmp_path: Path) -> AsyncIterator[MakeAgents]:
    """Start agents that know each other (and know ``REF``); stop them afterwards."""
    running: list[tuple[Agent, HttpServer]] = []

    async def make(*nodes: str, consistency: str = "eventual") -> list[Agent]:
        made = []
        for node in nodes:
            agent = Agent(AgentConfig(node=node, data_dir=tmp_path / node))
            server = build_server(agent)
            await server.start("127.0.0.1", 0)
            running.append((agent, server))
            URLS[node] = f"http://127.0.0.1:{server.port}"
            made.append(agent)
        spec = ResourceSpec(namespace="apps", name="flags", consistency=consistency)
        for agent in made:
            agent.specs[REF] = spec
            for other in made:
                if other is not agent:
                    agent.directory.set(other.node, URLS[other.node])
        return made

    yield make
    for agent, server in running:
        await server.close()
        await agent.stop()


def url(agent: Agent, key: str) -> str:
    """The Agent API URL of ``key`` of ``REF`` at ``agent``."""
    return f"{URLS[agent.node]}/v1/apps/flags/{key}"
