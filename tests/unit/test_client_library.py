"""The client library against real agents served from background threads."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from statecast.agent.config import AgentConfig, PeerSpec, ResourceSpec
from statecast.agent.httpserver import HttpServer
from statecast.agent.launcher import free_port
from statecast.agent.runtime import Agent
from statecast.agent.server import build_server
from statecast.client import (
    AsyncClient,
    Client,
    ConflictError,
    NoAgentError,
    NotFoundError,
    TooLargeError,
    UnavailableError,
    agent_urls,
)

RESOURCES = (ResourceSpec(namespace="default", name="flags"),)


class ThreadedAgent:
    """An agent with its own event loop in a thread, so blocking clients can call it."""

    def __init__(self, config: AgentConfig) -> None:
        self.config = config
        self.url = f"http://{config.listen}"
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server: HttpServer | None = None
        self.agent = Agent(config)
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)

    async def _start(self) -> None:
        self.agent.load_standalone()
        self.server = build_server(self.agent)
        await self.server.start(self.config.host, self.config.port)
        await self.agent.start()

    def stop(self) -> None:
        async def _stop() -> None:
            assert self.server is not None
            await self.server.close()
            await self.agent.stop()

        if self.server is not None:
            asyncio.run_coroutine_threadsafe(_stop(), self.loop).result(10)
            self.server = None
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture
def two_agents(tmp_path: Path) -> Iterator[tuple[ThreadedAgent, ThreadedAgent]]:
    hosts = ["127.0.0.2", "127.0.0.3"]
    listens = [f"{h}:{free_port(h)}" for h in hosts]
    agents = []
    for i, listen in enumerate(listens):
        other = 1 - i
        config = AgentConfig(
            node=f"n{i}",
            listen=listen,
            data_dir=tmp_path / f"n{i}",
            peers=(PeerSpec(node=f"n{other}", url=f"http://{listens[other]}"),),
            resources=RESOURCES,
            sync_interval=0.1,
        )
        agents.append(ThreadedAgent(config))
    yield agents[0], agents[1]
    for agent in agents:
        agent.stop()


@pytest.mark.parametrize(
    ("environ", "urls"),
    [
        ({"STATECAST_AGENT": "http://10.0.0.1:7420/"}, ["http://10.0.0.1:7420"]),
        (
            {"STATECAST_AGENT": "10.0.0.1:7420,10.0.0.2:7420"},
            ["http://10.0.0.1:7420", "http://10.0.0.2:7420"],
        ),
        ({"HOST_IP": "10.1.2.3"}, ["http://10.1.2.3:7420"]),
        ({"HOST_IP": "10.1.2.3", "STATECAST_AGENT_PORT": "9000"}, ["http://10.1.2.3:9000"]),
        ({"HOST_IP": "10.1.2.3", "STATECAST_AGENT": "a:1"}, ["http://a:1"]),
    ],
)
def test_the_local_agent_is_found_from_the_environment(environ, urls):
    assert agent_urls(environ) == urls


def test_no_agent_in_the_environment_is_an_error():
    with pytest.raises(NoAgentError):
        agent_urls({})


def test_sync_client_reads_writes_counts_and_raises_typed_errors(two_agents):
    first, _ = two_agents
    with Client([first.url]) as client:
        assert client.put("default", "flags", "a/b c", {"on": True})["seq"] == 1
        assert client.get("default", "flags", "a/b c") == {"on": True}
        assert client.last_served == "local"
        assert client.increment("default", "flags", "hits", 4) == 4
        assert client.items("default", "flags") == {"a/b c": {"on": True}, "hits": 4}
        client.delete("default", "flags", "a/b c")
        with pytest.raises(NotFoundError):
            client.get("default", "flags", "a/b c")
        client.put("default", "flags", "text", "x")
        with pytest.raises(ConflictError):
            client.increment("default", "flags", "text")
        with pytest.raises(TooLargeError):
            client.put("default", "flags", "big", "x" * (2 << 20))
        with pytest.raises(NotFoundError):
            client.get("default", "unknown", "k")


def test_sync_client_fails_over_to_another_replica_when_its_agent_is_gone(two_agents):
    first, second = two_agents
    with Client([first.url]) as client:
        client.put("default", "flags", "k", 1)
        replica = second.agent.stores[("default", "flags")]
        for _ in range(200):
            if replica.get("k") is not None:
                break
            threading.Event().wait(0.05)
        assert replica.get("k") == b"1"
        first.stop()
        assert client.get("default", "flags", "k") == 1


def wait_until_replicated(agent: ThreadedAgent, key: str) -> None:
    replica = agent.agent.stores[("default", "flags")]
    for _ in range(200):
        if replica.get(key) is not None:
            return
        threading.Event().wait(0.05)
    raise AssertionError(f"{key} never reached {agent.config.node}")


def test_clients_ask_the_next_agent_when_one_answers_503(two_agents):
    first, second = two_agents
    with Client([first.url, second.url], discover_peers=False) as client:
        client.put("default", "flags", "k", 1)
        wait_until_replicated(second, "k")
        # The first agent's replica is catching up and has no other replica to ask.
        first.agent.locations["default", "flags"] = ("n0",)
        first.agent.stores["default", "flags"].serving = False
        assert client.get("default", "flags", "k") == 1
        assert client.last_served == "local"  # answered by the second agent's own replica
        second.agent.locations["default", "flags"] = ("n1",)
        second.agent.stores["default", "flags"].serving = False
        with pytest.raises(UnavailableError, match="catching up"):
            client.get("default", "flags", "k")


async def test_the_async_client_asks_the_next_agent_when_one_answers_503(two_agents):
    first, second = two_agents
    async with AsyncClient([first.url, second.url], discover_peers=False) as client:
        await client.put("default", "flags", "k", 2)
        await asyncio.to_thread(wait_until_replicated, second, "k")
        first.agent.locations["default", "flags"] = ("n0",)
        first.agent.stores["default", "flags"].serving = False
        assert await client.get("default", "flags", "k") == 2


def test_sync_client_with_no_reachable_agent_is_unavailable(tmp_path):
    host = "127.0.0.4"
    with Client([f"http://{host}:{free_port(host)}"]) as client, pytest.raises(UnavailableError):
        client.get("default", "flags", "k")


async def test_async_client_reads_writes_and_fails_over(two_agents):
    first, second = two_agents
    async with AsyncClient([first.url]) as client:
        await client.put("default", "flags", "k", [1, 2])
        assert await client.get("default", "flags", "k") == [1, 2]
        assert await client.increment("default", "flags", "n", 2) == 2
        with pytest.raises(NotFoundError):
            await client.get("default", "flags", "missing")
        for _ in range(200):
            if second.agent.stores[("default", "flags")].get("k") is not None:
                break
            await asyncio.sleep(0.05)
        await asyncio.to_thread(first.stop)
        assert await client.get("default", "flags", "k") == [1, 2]
        assert client.last_served == "local"
