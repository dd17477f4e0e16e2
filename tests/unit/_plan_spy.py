"""A spy on a planner call, shared by the tests that check what the planner is given."""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest

import statecast.sim.planned as planned
from statecast.core.placement import Plan, PlanInput
from statecast.sim import SimConfig
from statecast.sim.policies import Policy
from statecast.sim.trace import Trace


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


def first_plans(
    monkeypatch: pytest.MonkeyPatch, policy: Policy, trace: Trace, steps: int = 2
) -> list[PlanInput]:
    """What the simulator's planner is given in ``policy``'s first ``steps`` steps on ``trace``.

    The policy is started on ``trace`` (default config) and decides steps 1 .. ``steps``
    from no replicas and no reads; the spy is removed before returning.
    """
    policy.start(trace, SimConfig())
    replicas = np.zeros((trace.n_resources, trace.n_nodes), dtype=np.bool_)
    given = spy_on_plans(monkeypatch)
    for t in range(1, steps + 1):
        replicas = policy.decide(t, replicas, replicas, np.zeros(replicas.shape))
    monkeypatch.undo()
    return given
