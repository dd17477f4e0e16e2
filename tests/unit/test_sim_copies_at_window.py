"""Reactive's runs at its longer windows with a copy dear, both valuations (session 22).

:func:`~statecast.sim.sweeps.copies_at_window` runs the k, graces and windows of
:func:`~statecast.sim.sweeps.windowed` and :func:`~statecast.sim.sweeps.windowed_rest` with
``Setting.copy_weight`` at :data:`~statecast.sim.sweeps.WINDOW_COPY_WEIGHT`, valued by latency
and then by local hits: new labels beside every earlier run's, whose labels and planner knobs
are unchanged. Each test failed before (the runs did not exist).
"""

from __future__ import annotations

import numpy as np
import pytest

from statecast.sim import SimConfig
from statecast.sim.planned import LOCAL_FIRST, ForecastCache
from statecast.sim.scenarios import scenario
from statecast.sim.sweeps import (
    COPY_WEIGHTS,
    DEFAULT,
    PREDICTIVE,
    SHAPED_GRACE_STEPS,
    SHAPED_K,
    SHAPED_WINDOW_STEPS,
    WINDOW_COPY_WEIGHT,
    copies_at_count,
    copies_at_window,
    predictive_variant,
    shaped,
    variants,
    windowed,
    windowed_rest,
)
from tests.unit._plan_spy import spy_on_plans


def test_the_runs_take_reactives_windows_k_and_grace_at_both_valuations_with_new_labels() -> None:
    trace = scenario("drift")
    runs = copies_at_window(trace)
    per_valuation = len(SHAPED_WINDOW_STEPS) * len(SHAPED_K) * len(SHAPED_GRACE_STEPS)
    assert len({s.label for s in runs}) == len(runs) == 2 * per_valuation == 112
    at_windows = sorted([*windowed(trace), *windowed_rest(trace)], key=lambda s: s.label)
    plain = [s for s in runs if not s.local]
    assert sorted(s.label for s in plain) == sorted(
        f"{s.label} copies x{WINDOW_COPY_WEIGHT:g}" for s in at_windows
    )
    for i, setting in enumerate(runs):
        assert setting.local is (i >= per_valuation)
        assert setting.copy_weight == WINDOW_COPY_WEIGHT == COPY_WEIGHTS[-1]
        assert setting.planner.copy_weight == WINDOW_COPY_WEIGHT
        assert setting.window is not None and setting.window / trace.step_s in SHAPED_WINDOW_STEPS
        assert setting.demand_priced and not setting.from_read and setting.copy == 1.0
    assert [s.label for s in runs[per_valuation:]] == [
        s.label.replace(" copy x1 ", " copy x1 local-first ", 1) for s in plain
    ]
    others = [
        v.label
        for v in variants(trace, families=["predictive"])
        if v.label not in {s.label for s in runs}
    ]
    assert len(others) == len(variants(trace, families=["predictive"])) - len(runs)
    assert not {s.label for s in copies_at_count(trace)} & {s.label for s in runs}
    labels = [v.label for v in variants(trace, families=["predictive"], predictive=())]
    assert labels[-len(runs) :] == [s.label for s in runs]


def test_every_earlier_run_keeps_its_label_and_its_planner() -> None:
    trace = scenario("drift")
    earlier = (DEFAULT, *shaped(trace), *windowed(trace), *windowed_rest(trace), *PREDICTIVE)
    for setting in earlier:
        assert setting.copy_weight == 1.0 and setting.planner.copy_weight == 1.0
        assert " copies x" not in setting.label


@pytest.mark.parametrize("local", [False, True])
def test_the_weight_and_the_valuation_reach_the_run(
    monkeypatch: pytest.MonkeyPatch, local: bool
) -> None:
    trace = scenario("drift")
    setting = copies_at_window(trace)[-1 if local else 0]
    policy = predictive_variant(trace, ForecastCache(), setting).make()
    assert (policy.valuation is LOCAL_FIRST) is local  # type: ignore[attr-defined]
    assert policy.heat_window_s == setting.window  # type: ignore[attr-defined]
    policy.start(trace, SimConfig())
    replicas = np.zeros((trace.n_resources, trace.n_nodes), dtype=np.bool_)
    given = spy_on_plans(monkeypatch)
    for t in range(1, 3):
        replicas = policy.decide(t, replicas, replicas, np.zeros(replicas.shape))
    monkeypatch.undo()
    assert given
    assert {i.spec.copy_weight for i in given} == {WINDOW_COPY_WEIGHT}
    assert {i.spec.cost_weight for i in given} == {1.0}
