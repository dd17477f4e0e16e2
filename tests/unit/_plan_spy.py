"""A spy on a planner call, shared by the tests that check what the planner is given."""

from __future__ import annotations

from types import ModuleType

import pytest

import statecast.sim.planned as planned
from statecast.core.placement import Plan, PlanInput


def spy_on_plans(
    monkeypatch: pytest.MonkeyPatch, module: ModuleType = planned, name: str = "plan"
) -> list[PlanInput]:
    """Every input ``module.name`` (the simulator's planner by default) is given from now on.

    The calls still plan; the list fills in their order; ``monkeypatch.undo()`` (or the
    test's end) stops it.
    """
    given: list[PlanInput] = []
    real = getattr(module, name)

    def spy(inputs: PlanInput) -> Plan:
        given.append(inputs)
        result: Plan = real(inputs)
        return result

    monkeypatch.setattr(module, name, spy)
    return given
