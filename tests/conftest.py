"""Shared pytest configuration: tests under tests/integration/ are marked ``integration``.

Hypothesis runs without its per-example deadline: the suite runs on shared machines and
in CI beside clusters and benchmarks, where one example of a property test can take longer
than the 200 ms default for reasons outside the code (a starved CPU). A deadline is a
timing assertion; speed belongs in ``bench/``. Tests that set their own ``deadline`` keep it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import settings

settings.register_profile("statecast", deadline=None)
settings.load_profile("statecast")

ROOT = Path(__file__).resolve().parent.parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark integration tests and run them after the unit tests."""
    for item in items:
        if "integration" in item.path.parts:
            item.add_marker(pytest.mark.integration)
    items.sort(key=lambda item: "integration" in item.path.parts)
