"""The Agent API's authentication and authorization against the real kube-apiserver.

An agent with auth on, reviewing with the install manifests' agent ServiceAccount
(so the chart's ClusterRole must allow TokenReview and SubjectAccessReview), serves a
resource in one namespace; applications call it with projected-style ServiceAccount
tokens (TokenRequest, audience ``statecast``). The chart's ``statecast-data-writer``
ClusterRole, bound by a RoleBinding in the resource's namespace, is what grants access.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import aiohttp
import pytest
from kubernetes import client, config

from statecast.agent.auth import Gate
from statecast.agent.auth_kube import KubernetesReviewer
from statecast.agent.config import AgentConfig, ResourceSpec
from statecast.agent.runtime import Agent
from statecast.agent.server import build_server

pytestmark = pytest.mark.integration


def _token(core: client.CoreV1Api, namespace: str, account: str, audience: str) -> str:
    core.create_namespaced_service_account(namespace, {"metadata": {"name": account}})
    request = {"spec": {"audiences": [audience], "expirationSeconds": 3600}}
    answer = core.create_namespaced_service_account_token(account, namespace, request)
    return str(answer.status.token)


@pytest.fixture
def other_namespace(api_client: client.ApiClient) -> Iterator[str]:
    name = f"t-auth-other-{uuid.uuid4().hex[:6]}"
    core = client.CoreV1Api(api_client)
    core.create_namespace({"metadata": {"name": name, "labels": {"statecast.io/test": "true"}}})
    yield name
    core.delete_namespace(name)


@pytest.fixture
def tokens(
    api_client: client.ApiClient, namespace: str, other_namespace: str, install_rbac: None
) -> dict[str, str]:
    """Tokens: bound (writer in the namespace), unbound, another namespace's (bound
    there), and the bound account's token for another audience."""
    core = client.CoreV1Api(api_client)
    found = {
        "bound": _token(core, namespace, "bound", "statecast"),
        "unbound": _token(core, namespace, "unbound", "statecast"),
        "elsewhere": _token(core, other_namespace, "elsewhere", "statecast"),
    }
    request = {"spec": {"audiences": ["not-statecast"], "expirationSeconds": 3600}}
    answer = core.create_namespaced_service_account_token("bound", namespace, request)
    found["other-audience"] = str(answer.status.token)
    rbac = client.RbacAuthorizationV1Api(api_client)
    for ns, account in ((namespace, "bound"), (other_namespace, "elsewhere")):
        rbac.create_namespaced_role_binding(
            ns,
            {
                "metadata": {"name": f"{account}-writes"},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": "statecast-data-writer",
                },
                "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": ns}],
            },
        )
    return found


@pytest.fixture
async def agent_url(
    namespace: str, tmp_path: Path, service_account_kubeconfig: Callable[[str], Path]
) -> AsyncIterator[str]:
    agent_api = config.new_client_from_config(
        config_file=str(service_account_kubeconfig("statecast-agent"))
    )
    node = Agent(
        AgentConfig(
            node="n1",
            data_dir=tmp_path,
            auth=True,
            resources=(ResourceSpec(namespace=namespace, name="flags"),),
        )
    )
    node.load_standalone()
    node.gate = Gate(KubernetesReviewer(agent_api), token_ttl=30, access_ttl=5)
    server = build_server(node)
    await server.start("127.0.0.1", 0)
    await node.start()
    yield f"http://127.0.0.1:{server.port}/v1/{namespace}/flags/k"
    await server.close()
    await node.stop()


async def _put(session: aiohttp.ClientSession, url: str, token: str | None) -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with session.put(url, data=b'"v"', headers=headers) as response:
        body = json.loads(await response.read())
        return response.status, body["error"]["code"] if "error" in body else ""


async def test_only_a_bound_service_account_of_the_namespace_reaches_the_state(
    agent_url: str, tokens: dict[str, str]
) -> None:
    async with aiohttp.ClientSession() as session:
        assert await _put(session, agent_url, None) == (401, "unauthenticated")
        assert await _put(session, agent_url, "not-a-token") == (401, "unauthenticated")
        assert await _put(session, agent_url, tokens["other-audience"]) == (
            401,
            "unauthenticated",
        )
        assert await _put(session, agent_url, tokens["unbound"]) == (403, "forbidden")
        assert await _put(session, agent_url, tokens["elsewhere"]) == (403, "forbidden")
        assert (await _put(session, agent_url, tokens["bound"]))[0] == 200
        headers = {"Authorization": f"Bearer {tokens['bound']}"}
        async with session.get(agent_url, headers=headers) as response:
            assert (response.status, await response.read()) == (200, b'"v"')
