"""The default run shaped like reactive's runs, and the dear per-replica line (session 17).

Reactive's sweep runs its rule at k 0 .. 3 and graces of 1 .. 24 steps; predictive's
grid prices bytes and never holds reactive's count, so between the default's budget
and ``min`` reactive's k = 1.5 runs were up to 6 % faster (generated-49, lost within the
margins since session 14). :func:`~statecast.sim.sweeps.shaped` runs the default - its
demand-relative prices and the reactive budget - at reactive's k and graces; and the
per-replica line goes on past x2 toward ``min`` (fresh generated-102). Each test failed
before (neither the field nor the runs existed).
"""

from __future__ import annotations

import numpy as np

from statecast.sim import SimConfig
from statecast.sim.planned import HEAT_WINDOW_S, ForecastCache
from statecast.sim.scenarios import scenario
from statecast.sim.sweeps import (
    DEFAULT,
    PER_REPLICA_DEAR,
    PREDICTIVE,
    SHAPED_GRACE_STEPS,
    SHAPED_K,
    SHAPED_WINDOW_GRACE_STEPS,
    SHAPED_WINDOW_K,
    SHAPED_WINDOW_STEPS,
    pod_release_twins,
    predictive_variant,
    shaped,
    windowed,
    windowed_rest,
)


def test_the_shaped_runs_take_reactive_s_k_and_grace_in_the_trace_s_steps() -> None:
    trace = scenario("drift")
    runs = shaped(trace)
    assert (
        len({s.label for s in runs}) == len(runs) == len(SHAPED_K) * (len(SHAPED_GRACE_STEPS) + 1)
    )
    for setting in runs:
        assert setting.demand_priced and setting.hand_off and setting.warm
        assert setting.sigma in SHAPED_K
        assert setting.cooldown is not None
        assert round(setting.cooldown / trace.step_s) in SHAPED_GRACE_STEPS
    assert {s.cooldown for s in runs if s.from_read} == {24 * trace.step_s}
    assert all(" k=" in s.label for s in runs)


def test_the_hot_threshold_reaches_the_prices_and_the_budget_s_shadow() -> None:
    trace = scenario("drift")
    for setting in (DEFAULT, *shaped(trace)[:3]):
        policy = predictive_variant(trace, ForecastCache(), setting).make()
        policy.start(trace, SimConfig())
        want = 1.0 if setting.sigma is None else setting.sigma
        assert all(c.hot_sigma == want for c in policy._costs)  # type: ignore[attr-defined]
        shadow = policy._shadow  # type: ignore[attr-defined]
        assert shadow is not None and shadow.k_sigma == want
        assert shadow.grace_s == (setting.cooldown or SimConfig().cooldown_s)


def test_the_per_replica_line_goes_on_toward_min() -> None:
    holds = sorted(s.hold for s in PREDICTIVE if s.per_replica and s.copy == 1.0)
    assert holds == [s.hold for s in PER_REPLICA_DEAR] == [4.0, 8.0, 16.0, 32.0, 64.0]
    assert len({s.label for s in PREDICTIVE}) == len(PREDICTIVE)


def test_pod_release_twins_only_where_pods_are_and_the_knob_reaches_the_spec() -> None:
    # Session 18: PlacementSpec.release_pod_copies acts only with the reactive budget
    # and consumer pods; its twins are the default's and the shaped runs', on traces
    # with pods only (elsewhere they would replay the same runs).
    quiet, pods = scenario("drift"), scenario("batch-jobs")
    assert pod_release_twins(quiet, (DEFAULT, *shaped(quiet))) == ()
    twins = pod_release_twins(pods, (DEFAULT, *shaped(pods), *PREDICTIVE))
    assert len(twins) == 1 + len(shaped(pods))  # the grid has no budget: no twins
    assert all(t.pod_release and t.label.endswith(" pod-release on") for t in twins)
    for setting, expected in ((DEFAULT, False), (twins[0], True)):
        policy = predictive_variant(pods, ForecastCache(), setting).make()
        assert policy.spec.release_pod_copies is expected  # type: ignore[attr-defined]


def test_a_node_whose_pod_left_lately_is_passed_as_left() -> None:
    # PlanInput.consumers_left: a pod ran there within the reactive window and the
    # cooldown before the step, none runs at it (batch-jobs: 5-minute steps, a 15-minute
    # window and cooldown: 6 steps).
    trace = scenario("batch-jobs")
    assert trace.pods is not None
    policy = predictive_variant(trace, ForecastCache(), DEFAULT).make()
    policy.start(trace, SimConfig())
    running = trace.pods > 0
    ended = running[:, :, :-1] & ~running[:, :, 1:]  # ran at t - 1, not at t
    r, i, t = (int(a[0]) for a in np.nonzero(ended[:, :, 10:]))
    t += 11
    left = policy._consumers_left(t, running[:, :, t])  # type: ignore[attr-defined]
    assert left is not None and left[r, i]
    assert not (left & running[:, :, t]).any()
    idle = ~running[:, :, max(0, t - 6) : t].any(axis=2)
    assert not (left & idle).any()


def test_the_windowed_runs_take_reactive_s_longer_windows_in_the_trace_s_steps() -> None:
    # Session 19: reactive's sweep reads its heat over 1, 3 and 12 steps; the shaped
    # runs over the operator's 15 minutes only. windowed() runs the default at windows
    # of 3 and 12 steps, each at a k and grace of reactive's, all new labels.
    trace = scenario("drift")
    runs = windowed(trace)
    per_window = len(SHAPED_WINDOW_K) * len(SHAPED_WINDOW_GRACE_STEPS)
    assert len({s.label for s in runs}) == len(runs) == len(SHAPED_WINDOW_STEPS) * per_window
    assert not {s.label for s in runs} & {s.label for s in shaped(trace)}
    for setting in runs:
        assert setting.demand_priced and setting.hand_off and setting.warm
        assert setting.window is not None and setting.cooldown is not None
        assert round(setting.window / trace.step_s) in SHAPED_WINDOW_STEPS
        assert round(setting.cooldown / trace.step_s) in SHAPED_WINDOW_GRACE_STEPS
        assert setting.sigma in SHAPED_WINDOW_K
        assert f" w={setting.window:g}s" in setting.label


def test_the_window_reaches_the_budget_s_shadow_the_heat_and_the_departed_pods() -> None:
    trace = scenario("batch-jobs")
    for setting in (DEFAULT, windowed(trace)[-1]):
        policy = predictive_variant(trace, ForecastCache(), setting).make()
        policy.start(trace, SimConfig())
        window = HEAT_WINDOW_S if setting.window is None else setting.window
        shadow = policy._shadow  # type: ignore[attr-defined]
        assert shadow is not None and shadow.window_s == window
        steps = policy._heat_steps  # type: ignore[attr-defined]
        assert steps == max(1, round(window / trace.step_s))
    assert windowed(trace)[-1].window == 12 * trace.step_s != HEAT_WINDOW_S


def test_the_rest_of_the_windowed_runs_complete_reactive_s_grid_at_its_longer_windows() -> None:
    # Session 20: windowed() kept 24 of the 56 runs at windows of 3 and 12 steps;
    # windowed_rest() runs the other 32, new labels, so that both make the whole grid.
    trace = scenario("drift")
    kept, rest = windowed(trace), windowed_rest(trace)
    grid = len(SHAPED_WINDOW_STEPS) * len(SHAPED_K) * len(SHAPED_GRACE_STEPS)
    assert len(kept) + len(rest) == grid == len({s.label for s in (*kept, *rest)})
    assert not {s.label for s in rest} & {s.label for s in (DEFAULT, *shaped(trace), *kept)}
    for setting in rest:
        assert setting.window is not None and setting.cooldown is not None
        assert round(setting.window / trace.step_s) in SHAPED_WINDOW_STEPS
        assert round(setting.cooldown / trace.step_s) in SHAPED_GRACE_STEPS
        assert setting.sigma in SHAPED_K and not setting.reactive_order
        assert setting.label.endswith(f" w={setting.window:g}s")
