"""An agent whose TLS Secret it may not read yet keeps waiting for it."""

from __future__ import annotations

import asyncio
from pathlib import Path

from statecast.agent.config import AgentConfig
from statecast.agent.runtime import Agent
from statecast.agent.seeding import SourceError
from statecast.agent.tls_secret import load_once
from statecast.pki.contexts import TlsMaterial


class Refusing:
    """A gateway whose Secret reads are refused, as before the issuer's Role names it."""

    async def get_source_data(self, namespace: str, kind: str, name: str) -> None:
        raise SourceError(f"the agents may not read Secret {name} in namespace {namespace}")


def test_a_secret_not_readable_yet_is_waited_for_not_fatal(tmp_path: Path) -> None:
    agent = Agent(AgentConfig(node="n1", data_dir=tmp_path))
    agent.tls = TlsMaterial()
    assert asyncio.run(load_once(agent, Refusing(), "statecast")) is False  # type: ignore[arg-type]
