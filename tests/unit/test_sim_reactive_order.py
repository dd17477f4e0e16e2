"""The runs shaped like reactive's, trimmed in the reactive rule's order (session 20).

:func:`~statecast.sim.sweeps.reactive_ordered` runs :func:`~statecast.sim.sweeps.shaped`'s
k and graces with ``Setting.reactive_order`` (``PlacementSpec.trim_in_reactive_order``):
new labels beside every earlier run's, and the budget's shadow gives the plan the nodes
it holds (``PlanInput.reactive_nodes``) only for them. Each test failed before (neither
the field nor the runs existed).
"""

from __future__ import annotations

import numpy as np
import pytest

from statecast.sim.planned import ForecastCache
from statecast.sim.scenarios import scenario
from statecast.sim.sweeps import (
    DEFAULT,
    SHAPED_GRACE_STEPS,
    SHAPED_K,
    predictive_variant,
    reactive_ordered,
    shaped,
    variants,
    windowed,
)
from tests.unit._plan_spy import first_plans


def test_the_runs_take_the_shaped_runs_k_and_grace_with_new_labels() -> None:
    trace = scenario("drift")
    runs = reactive_ordered(trace)
    assert len({s.label for s in runs}) == len(runs) == len(SHAPED_K) * len(SHAPED_GRACE_STEPS)
    earlier = {s.label for s in (DEFAULT, *shaped(trace), *windowed(trace))}
    assert not {s.label for s in runs} & earlier
    for setting in runs:
        assert setting.reactive_order and setting.demand_priced and not setting.from_read
        assert setting.planner.trim_in_reactive_order
        assert setting.cooldown is not None
        assert round(setting.cooldown / trace.step_s) in SHAPED_GRACE_STEPS
        assert setting.sigma in SHAPED_K
        assert setting.label.endswith(" trim-in-reactive-order")
    assert not DEFAULT.planner.trim_in_reactive_order
    labels = [v.label for v in variants(trace, families=["predictive"], predictive=())]
    # (copies_at_window's runs trimmed in that order, session 22, end with their copy price)
    ordered = [label for label in labels if label.endswith(" trim-in-reactive-order")]
    assert [s.label for s in runs] == ordered


@pytest.mark.parametrize("ordered", [False, True])
def test_the_shadows_nodes_reach_the_plan_only_for_the_ordered_runs(
    monkeypatch: pytest.MonkeyPatch, ordered: bool
) -> None:
    trace = scenario("drift")
    setting = reactive_ordered(trace)[0] if ordered else shaped(trace)[0]
    policy = predictive_variant(trace, ForecastCache(), setting).make()
    given = first_plans(monkeypatch, policy, trace, steps=3)
    copies = policy._copies  # type: ignore[attr-defined]
    last = given[-trace.n_resources :]
    for r, inputs in enumerate(last):
        held = frozenset(trace.nodes[i] for i in np.flatnonzero(copies[r]))
        assert inputs.reactive_copies == len(held)
        assert inputs.reactive_nodes == (held if ordered else frozenset())
    assert not ordered or any(i.reactive_nodes for i in last)
