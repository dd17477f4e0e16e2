"""Fixtures of the unit and component tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.unit._agents import MakeAgents, running_agents


@pytest.fixture
async def agents(tmp_path: Path) -> AsyncIterator[MakeAgents]:
    """Start in-process agents over real HTTP that know each other (see ``_agents``)."""
    async for make in running_agents(tmp_path):
        yield make
