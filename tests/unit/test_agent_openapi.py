"""The OpenAPI description of the Agent API describes exactly what the router serves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
import yaml

from statecast.agent.config import AgentConfig
from statecast.agent.runtime import Agent
from statecast.agent.server import _PATTERNS, AgentApi

SPEC_PATH = Path(__file__).parents[2] / "docs" / "reference" / "agent-openapi.yaml"
SPEC: dict[str, Any] = yaml.safe_load(SPEC_PATH.read_text())
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
#: The routes that need a token and RBAC when the agent's auth is on.
APPLICATION = {"/v1/{}/{}", "/v1/{}/{}/{}", "/v1/{}/{}/{}/increment"}


def _shape(parts: tuple[str | None, ...]) -> str:
    return "/" + "/".join("{}" if p is None else p for p in parts)


def _spec_shape(path: str) -> str:
    return "/" + "/".join("{}" if p.startswith("{") else p for p in path.strip("/").split("/"))


def _served(tmp_path: Path) -> set[tuple[str, str]]:
    api = AgentApi(Agent(AgentConfig(node="node-a", data_dir=tmp_path)))
    routes = api._routes
    return {
        (_shape(pattern), method.lower()) for pattern, name in _PATTERNS for method in routes[name]
    }


def _described() -> set[tuple[str, str]]:
    return {
        (_spec_shape(path), method)
        for path, item in SPEC["paths"].items()
        for method in METHODS
        if method in item
    }


def _operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, item[method])
        for path, item in SPEC["paths"].items()
        for method in METHODS
        if method in item
    ]


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        found: Any = SPEC
        for part in node["$ref"].removeprefix("#/").split("/"):
            found = found[part]
        node = found
    return node


def test_every_route_the_router_serves_is_described_and_nothing_else(tmp_path: Path) -> None:
    served, described = _served(tmp_path), _described()
    assert served - described == set(), "served but not in docs/reference/agent-openapi.yaml"
    assert described - served == set(), "described but not served by agent/server.py"


@pytest.mark.parametrize(("path", "method", "operation"), _operations())
def test_every_refusal_is_described_as_the_json_error(
    path: str, method: str, operation: dict[str, Any]
) -> None:
    responses = operation["responses"]
    assert any(code.startswith("2") for code in responses)
    for code, response in responses.items():
        if int(code) < 400:
            continue
        schema = _resolve(response)["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/Error"}, (path, method, code)
    if _spec_shape(path) in APPLICATION:  # --auth refusals, what the agent answers
        assert {"400", "401", "403", "404", "503"} <= set(responses), (path, method)
    if "requestBody" in operation:
        assert "413" in responses, (path, method)


def test_the_description_is_valid_openapi() -> None:
    schema = schemathesis.openapi.from_path(SPEC_PATH)
    operations = [op.ok() for op in schema.get_all_operations()]
    assert len(operations) == len(_operations())
