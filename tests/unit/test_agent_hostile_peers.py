"""Peer messages a fuzzer sent that answered 500: now each gets its documented 4xx."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from statecast.agent.config import AgentConfig, PeerSpec, ResourceSpec
from statecast.agent.runtime import Agent
from statecast.agent.server import build_server

LEDGER = "/v1/peer/strong/append/default/ledger"


@pytest.fixture
async def leader(tmp_path: Path) -> AsyncIterator[tuple[str, aiohttp.ClientSession]]:
    config = AgentConfig(
        node="n1",
        data_dir=tmp_path,
        peers=(PeerSpec(node="n2", url="http://127.0.0.1:9"),),
        resources=(
            ResourceSpec(namespace="default", name="ledger", consistency="strong", leader="n1"),
        ),
    )
    node = Agent(config)
    node.load_standalone()
    server = build_server(node)
    await server.start("127.0.0.1", 0)
    await node.start()
    async with aiohttp.ClientSession() as session:
        yield f"http://127.0.0.1:{server.port}", session
    await server.close()
    await node.stop()


def _append(sender: str) -> bytes:
    body = {
        "sender": sender,
        "epoch": 1,
        "leader": sender,
        "prev": {"epoch": 0, "index": 0},
        "entries": [],
        "commit": 0,
    }
    return json.dumps(body).encode()


async def _post(session: aiohttp.ClientSession, url: str, body: bytes) -> tuple[int, str]:
    async with session.post(url, data=body) as response:
        payload = await response.json()
        return response.status, payload["error"]["code"]


async def test_an_append_from_an_unknown_peer_is_refused(leader) -> None:
    base, session = leader
    assert await _post(session, base + LEDGER, _append("stranger")) == (403, "unknown_peer")


async def test_a_second_leader_of_the_epoch_is_a_conflict_not_a_server_error(leader) -> None:
    # n1 leads epoch 1; a peer claiming to lead it too used to answer 500 "protocol"
    base, session = leader
    assert await _post(session, base + LEDGER, _append("n2")) == (409, "protocol")
