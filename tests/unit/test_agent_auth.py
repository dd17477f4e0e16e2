"""Authentication and authorization of the Agent API, over real HTTP on loopback.

The reviews are answered by a table here (the API server's side is exercised by
tests/integration/test_auth.py on the dev cluster's kube-apiserver).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from statecast.agent.auth import Gate, Identity, TokenVerdict
from statecast.agent.config import AgentConfig, ResourceSpec
from statecast.agent.runtime import Agent
from statecast.agent.server import build_server

ALICE = Identity("system:serviceaccount:a:alice", "u1", ("system:serviceaccounts",))
BOB = Identity("system:serviceaccount:a:bob", "u2")


class TableReviewer:
    """Tokens and RBAC decisions from tables; counts the reviews asked."""

    def __init__(self) -> None:
        self.tokens = {"alice-token": ALICE, "bob-token": BOB}
        self.grants = {(ALICE.user, "a", "flags", "get"), (ALICE.user, "a", "flags", "update")}
        self.asked: list[object] = []

    def review_token(self, token: str, audience: str) -> TokenVerdict:
        self.asked.append(("token", token, audience))
        identity = self.tokens.get(token)
        return TokenVerdict(identity, "" if identity else "token not valid")

    def review_access(
        self, identity: Identity, namespace: str, resource: str, verb: str
    ) -> tuple[bool, str]:
        self.asked.append(("access", identity.user, namespace, resource, verb))
        allowed = (identity.user, namespace, resource, verb) in self.grants
        return allowed, "" if allowed else "RBAC: no rule"


@pytest.fixture
async def guarded(
    tmp_path: Path,
) -> AsyncIterator[tuple[Agent, TableReviewer, str, aiohttp.ClientSession]]:
    config = AgentConfig(
        node="n1",
        data_dir=tmp_path,
        auth=True,
        resources=(ResourceSpec(namespace="a", name="flags"),),
    )
    node = Agent(config)
    node.load_standalone()
    reviewer = TableReviewer()
    node.gate = Gate(reviewer, token_ttl=60, access_ttl=60)
    server = build_server(node)
    await server.start("127.0.0.1", 0)
    await node.start()
    async with aiohttp.ClientSession() as session:
        yield node, reviewer, f"http://127.0.0.1:{server.port}/v1/a/flags", session
    await server.close()
    await node.stop()


async def call(session, method, url, token=None, body=None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with session.request(method, url, data=body, headers=headers) as response:
        return response.status, json.loads(await response.read() or b"null")


async def test_no_token_is_401_and_changes_nothing(guarded):
    node, _, base, session = guarded
    status, body = await call(session, "PUT", f"{base}/k", body=b"1")
    assert (status, body["error"]["code"]) == (401, "unauthenticated")
    status, body = await call(session, "PUT", f"{base}/k", token="forged", body=b"1")
    assert (status, body["error"]["code"]) == (401, "unauthenticated")
    assert dict(node.stores["a", "flags"].state.items()) == {}


async def test_rbac_decides_each_verb_with_the_reason(guarded):
    node, _, base, session = guarded
    assert (await call(session, "PUT", f"{base}/k", "alice-token", b"1"))[0] == 200
    assert await call(session, "GET", f"{base}/k", "alice-token") == (200, 1)
    status, body = await call(session, "DELETE", f"{base}/k", "alice-token")
    assert (status, body["error"]["code"]) == (403, "forbidden")
    assert (
        "may not delete sharedresources/data 'flags' in namespace 'a'" in body["error"]["message"]
    )
    assert "RBAC: no rule" in body["error"]["message"]
    status, _ = await call(session, "GET", f"{base}/k", "bob-token")
    assert status == 403
    assert dict(node.stores["a", "flags"].state.items()) == {"k": b"1"}


async def test_verdicts_are_cached_and_concurrent_misses_share_one_review(guarded):
    _, reviewer, base, session = guarded
    answers = await asyncio.gather(
        *(call(session, "GET", f"{base}/missing", "alice-token") for _ in range(20))
    )
    assert {status for status, _ in answers} == {404}
    for _ in range(5):
        assert (await call(session, "GET", f"{base}/missing", "bob-token"))[0] == 403
    assert reviewer.asked == [
        ("token", "alice-token", "statecast"),
        ("access", ALICE.user, "a", "flags", "get"),
        ("token", "bob-token", "statecast"),
        ("access", BOB.user, "a", "flags", "get"),
    ]


async def test_operations_routes_and_peers_are_not_application_requests(guarded):
    _, _, base, session = guarded
    root = base.removesuffix("/v1/a/flags")
    assert (await call(session, "GET", f"{root}/healthz"))[0] == 200
    assert (await call(session, "GET", f"{root}/v1/peer/ping"))[0] == 200
