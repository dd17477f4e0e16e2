"""A spy on the simulator's planner, shared by the sim tests that check what it is given."""

from __future__ import annotations

import pytest

import statecast.sim.planned as planned
from statecast.core.placement import Plan, PlanInput


def spy_on_plans(monkeypatch: pytest.MonkeyPatch) -> list[PlanInput]:
    """Every input the simulator's planner is given from now on, in order (it still plans).

    The list fills as the replay plans; ``monkeypatch.undo()`` (or the test's end) stops it.
    """
    given: list[PlanInput] = []
    real = planned.plan

    def spy(inputs: PlanInput) -> Plan:
        given.append(inputs)
        return real(inputs)

    monkeypatch.setattr(planned, "plan", spy)
    return given
