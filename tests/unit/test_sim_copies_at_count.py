"""The runs shaped like reactive's with a copy priced dear (session 21).

:func:`~statecast.sim.sweeps.copies_at_count` runs :func:`~statecast.sim.sweeps.shaped`'s k
and graces with ``Setting.copy_weight`` (``PlacementSpec.copy_weight``) at each of
:data:`~statecast.sim.sweeps.COPY_WEIGHTS`: new labels beside every earlier run's, whose
labels and planner knobs are unchanged. Each test failed before (neither the field nor the
runs existed).
"""

from __future__ import annotations

import pytest

from statecast.sim.planned import ForecastCache
from statecast.sim.scenarios import scenario
from statecast.sim.sweeps import (
    COPY_WEIGHTS,
    DEFAULT,
    PREDICTIVE,
    SHAPED_GRACE_STEPS,
    SHAPED_K,
    copies_at_count,
    predictive_variant,
    shaped,
    variants,
)
from tests.unit._plan_spy import first_plans


def test_the_runs_take_the_shaped_runs_k_and_grace_at_each_weight_with_new_labels() -> None:
    trace = scenario("drift")
    runs = copies_at_count(trace)
    per_weight = len(SHAPED_K) * len(SHAPED_GRACE_STEPS)
    assert len({s.label for s in runs}) == len(runs) == len(COPY_WEIGHTS) * per_weight
    everything_else = [
        v.label
        for v in variants(trace, families=["predictive"])
        if not v.label.endswith(tuple(f" copies x{w:g}" for w in COPY_WEIGHTS))
    ]
    assert not {s.label for s in runs} & set(everything_else)
    plain = [s for s in shaped(trace) if not s.from_read]
    for i, setting in enumerate(runs):
        weight = COPY_WEIGHTS[i // per_weight]
        assert setting.copy_weight == weight and setting.planner.copy_weight == weight
        assert setting.demand_priced and not setting.from_read and setting.copy == 1.0
        assert setting.label == f"{plain[i % per_weight].label} copies x{weight:g}"
    # where the runs sit among the others: test_sim_families


def test_every_earlier_run_keeps_its_label_and_its_planner() -> None:
    trace = scenario("drift")
    for setting in (DEFAULT, *shaped(trace), *PREDICTIVE):
        assert setting.copy_weight == 1.0
        assert " copies x" not in setting.label
        assert setting.planner.copy_weight == 1.0


@pytest.mark.parametrize("dear", [False, True])
def test_the_weight_reaches_every_plan_of_its_runs_only(
    monkeypatch: pytest.MonkeyPatch, dear: bool
) -> None:
    trace = scenario("drift")
    setting = copies_at_count(trace)[-1] if dear else shaped(trace)[-2]
    policy = predictive_variant(trace, ForecastCache(), setting).make()
    given = first_plans(monkeypatch, policy, trace)
    assert given
    assert {i.spec.copy_weight for i in given} == {COPY_WEIGHTS[-1] if dear else 1.0}
    assert {i.spec.cost_weight for i in given} == {1.0}
