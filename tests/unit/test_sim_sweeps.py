"""The benchmark's sweeps: how densely predictive's prices are sampled, what a resumed
benchmark takes from an earlier run."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from bench.sim import Study, reused_runs

from statecast.sim import SimConfig, Trace, replay
from statecast.sim.baselines import HotCopies
from statecast.sim.frontier import Point
from statecast.sim.planned import ForecastCache
from statecast.sim.scenarios import scenario
from statecast.sim.sweeps import (
    DEFAULT,
    FLOOR,
    HOLDING_COOLDOWNS,
    NEAR_FREE,
    PREDICTIVE,
    REACTIVE_GRACE,
    Setting,
    family_settings,
    hand_off_twins,
    pod_release_twins,
    predictive_variant,
    shaped,
    variants,
)


def test_holding_prices_step_by_at_most_twice_through_the_rivals_budgets() -> None:
    # A 32x step (local-first x8 then x1/4) left predictive's frontier a chord 3-8 points
    # under the runs in between on weekly, flash-crowd, drift and node-loss.
    # Latency-valued runs dearer than x2 hold about `min`.
    for local, cheap, dear in ((False, 1 / 8, 2.0), (True, 1 / 4, 8.0)):
        holds = sorted(
            {Setting().hold} | {s.hold for s in PREDICTIVE if s.local == local and s.copy == 1.0}
        )
        inside = [h for h in holds if cheap <= h <= dear]
        assert inside[0] == cheap and inside[-1] == dear
        assert max(np.diff(np.log2(inside))) <= 1.0, inside


def test_local_first_near_free_runs_step_by_twice_down_to_the_cheapest() -> None:
    # Local-first prices a replica-hour alike whatever the resource's size (as the frontier
    # counts it); with near-free copies it stopped at x1/4, and on generated-12 (6.7-235
    # MiB) reactive's k = 0 runs at 952-1,469 rh were 2.4-3.6 points above its frontier.
    holds = sorted({s.hold for s in PREDICTIVE if s.local and s.copy == NEAR_FREE} - {NEAR_FREE})
    cheapest = min(
        s.hold for s in PREDICTIVE if s.copy == 1.0 and s.cooldown is None and s.hold > NEAR_FREE
    )
    assert holds[0] <= cheapest
    inside = [h for h in holds if h <= 1 / 4]
    assert max(np.diff(np.log2(inside))) <= 1.0, inside


def test_the_near_free_corner_is_swept_in_both_valuations() -> None:
    corner = [s for s in PREDICTIVE if s.hold == s.copy == NEAR_FREE and s.cooldown is None]
    assert sorted(s.local for s in corner) == [False, True]


def test_predictive_cooldown_is_swept_over_reactive_grace_periods() -> None:
    # Fair both ways: reactive's grace (how long a cold copy stays) is swept 5 min - 1 h,
    # so predictive's cooldown is too, in both valuations where copies are at their price.
    cooldowns = {s.cooldown or 900.0 for s in PREDICTIVE}
    assert cooldowns == set(REACTIVE_GRACE) | set(HOLDING_COOLDOWNS)
    long = [s for s in PREDICTIVE if s.cooldown == max(REACTIVE_GRACE) and s.copy == 1.0]
    assert {s.local for s in long} == {False, True}
    assert len({s.label for s in PREDICTIVE}) == len(PREDICTIVE)


def test_the_floor_is_swept_at_reactive_s_shortest_grace_too() -> None:
    # Reactive's cheapest runs (k=2) drop a cold copy after 5 minutes; predictive's
    # cheapest (min only) kept one a 15-minute cooldown, so its frontier started above
    # reactive's (generated-18: 466.6 vs 461.1 replica-hours).
    floor = [s for s in PREDICTIVE if s.hold == FLOOR and s.cooldown == min(REACTIVE_GRACE)]
    assert {s.copy for s in floor} >= {1.0, 1 / 16}


def _returning_reads() -> Trace:
    """Three days of 5-minute steps: a trickle on node a; bursts on b every 6 hours and on
    c every 8 (pods that come back), each zone its own."""
    steps = 3 * 288
    t = np.arange(steps)
    demand = np.zeros((1, 3, steps))
    demand[0, 0, :] = 1.0
    demand[0, 1, (t % 72) < 3] = 40.0
    demand[0, 2, (t % 96) < 2] = 30.0
    return Trace(
        name="returning",
        demand=demand,
        resources=("r",),
        nodes=("a", "b", "c"),
        zones=("x", "y", "z"),
        step_s=300.0,
        available=np.ones((3, steps), dtype=np.bool_),
        state_bytes=np.full(1, 16.0 * 2**20),
        writes_per_min=np.full(1, 1.0),
        min_replicas=np.full(1, 1, dtype=np.int64),
        max_replicas=np.zeros(1, dtype=np.int64),
    )


def test_the_near_free_corner_keeps_copies_as_long_as_groupcache_does() -> None:
    # groupcache never evicts a hot copy while its node has room; the sweep's cooldowns
    # stopped at an hour, so copies of nodes whose pods came back hours later had gone
    # (generated-02: 700 rh at 90 % local against groupcache's 1,568 rh at 99 %). Here the
    # near-free runs at the old cooldowns reach 74 % local, groupcache 100 %.
    trace, config, cache = _returning_reads(), SimConfig(warmup_steps=288), ForecastCache()
    theirs = replay(trace, HotCopies(), config)
    corner = [s for s in PREDICTIVE if s.hold == s.copy == NEAR_FREE]
    best = max(
        replay(trace, predictive_variant(trace, cache, s).make(), config).local_hit_ratio
        for s in corner
    )
    assert best >= theirs.local_hit_ratio - 0.02, (best, theirs.local_hit_ratio)


def test_the_belief_thresholds_are_swept_at_the_floor_and_reach_the_planner() -> None:
    # At `min` the belief alone decides where copies are: one miss in a row makes moved
    # demand (generated-15, hourly steps), a miss must double the forecast to count
    # (generated-08, 1-3 reads a step).
    floor = [s for s in PREDICTIVE if s.hold == FLOOR]
    assert {s.changes for s in floor} >= {None, 1}
    assert {s.deviation for s in floor} >= {None, 1.0}
    assert {s.local for s in floor if s.changes == 1} == {False, True}
    assert all(s.hold == FLOOR for s in PREDICTIVE if s.changes or s.deviation)
    assert len({s.label for s in PREDICTIVE}) == len(PREDICTIVE)
    trace, config = _returning_reads(), SimConfig()
    for setting, want in (
        (Setting(FLOOR), (0.5, 3)),
        (Setting(FLOOR, deviation=1.0, changes=1), (1.0, 1)),
    ):
        policy = predictive_variant(trace, ForecastCache(), setting).make()
        policy.start(trace, config)
        spec = policy._spec(0)  # type: ignore[attr-defined]
        assert (spec.deviation_threshold, spec.change_steps) == want


def test_the_grid_keeps_the_window_gate_and_the_default_prices_the_stay() -> None:
    # Session 10 prices a move over the demand's stay (PlacementSpec.move_residence_s);
    # the published sweeps ran the window gate, so the grid keeps it (residence 0) and its
    # labels: every landed point stays valid, a setting with a stay only adds points.
    assert all(s.residence == 0.0 for s in PREDICTIVE)
    assert DEFAULT.residence is None and DEFAULT.label == "predictive"
    assert Setting(8.0).label == "predictive hold x8 copy x1"
    assert Setting(8.0, residence=None).label == "predictive hold x8 copy x1 stay=day"
    assert Setting(8.0, residence=7200.0).label == "predictive hold x8 copy x1 stay=7200s"
    trace = scenario("drift")
    for setting, expected in (
        (Setting(8.0), 0.0),
        (DEFAULT, None),
        (Setting(residence=60.0), 60.0),
    ):
        policy = predictive_variant(trace, ForecastCache(), setting).make()
        assert policy.spec.move_residence_s == expected


def test_the_grid_keeps_its_rule_and_traces_with_pods_or_node_loss_add_hand_off_twins() -> None:
    # Session 11 hands the only up-to-date copy off in a plan that adds a copy
    # (PlacementSpec.hand_off_on_add): the published grid ran without it, so the grid
    # keeps it off and its labels; the twins only add points, where the rule can act.
    assert not any(s.hand_off for s in PREDICTIVE)
    assert DEFAULT.hand_off and DEFAULT.label == "predictive"
    assert Setting(8.0, hand_off=True).label == "predictive hold x8 copy x1 hand-off"
    quiet, pods, loss = scenario("drift"), scenario("batch-jobs"), scenario("node-loss")
    assert hand_off_twins(quiet, PREDICTIVE) == ()
    for trace in (pods, loss):
        twins = hand_off_twins(trace, PREDICTIVE)
        assert [replace(s, hand_off=False) for s in twins] == list(PREDICTIVE)
        labels = [v.label for v in variants(trace, ("predictive",))]
        # predictive's families (sweeps.FAMILIES: their order and labels are
        # test_sim_families'), then the grid and its hand-off twins
        released = pod_release_twins(trace, (DEFAULT, *shaped(trace)))
        assert len(released) == (1 + len(shaped(trace)) if trace is pods else 0)
        count = len(family_settings(trace)) + 2 * len(PREDICTIVE)
        assert len(labels) == len(set(labels)) == count
    families = len(family_settings(quiet))
    assert len(variants(quiet, ("predictive",))) == families + len(PREDICTIVE)
    for setting, expected in ((Setting(8.0), False), (DEFAULT, True), (twins[0], True)):
        policy = predictive_variant(pods, ForecastCache(), setting).make()
        assert policy.spec.hand_off_on_add is expected  # type: ignore[attr-defined]


def _point(family: str, label: str, hours: float) -> Point:
    return Point(family, label, hours, 0.5, 1.0, 0.0)


def test_a_rerun_family_is_replayed_and_the_others_are_taken_renamed() -> None:
    trace = scenario("drift")
    chosen = variants(trace, ("reactive", "predictive"), (Setting(8.0),), ForecastCache())
    reactive = [i for i, v in enumerate(chosen) if v.family == "reactive"]
    # An older run named every reactive run "reactive"; it also holds a refinement run.
    old = [_point("reactive", "reactive", float(i)) for i in range(len(reactive))]
    old += [_point("predictive", "predictive", 1.0), _point("predictive", Setting(8.0).label, 2.0)]
    old.append(_point("predictive", Setting(0.3).label, 3.0))
    kept = Study("drift", "", old)

    taken = reused_runs(chosen, kept, frozenset({"predictive"}), warm_retention_s=0.0)
    assert sorted(taken) == reactive
    assert [taken[i].label for i in reactive] == [chosen[i].label for i in reactive]
    assert [taken[i].replica_hours for i in reactive] == [float(i) for i in range(len(reactive))]

    taken = reused_runs(chosen, kept, frozenset({"reactive"}), warm_retention_s=0.0)
    assert sorted(p.replica_hours for p in taken.values()) == [1.0, 2.0]  # refinement dropped


def test_runs_charged_under_another_warm_retention_are_replayed() -> None:
    # Studies saved before session 11 charged every copy in full (retention 0): reusing
    # their runs beside runs charged with warm copies would compare two accountings.
    trace = scenario("drift")
    chosen = variants(trace, ("reactive",))
    old = Study("drift", "", [_point("reactive", "reactive", float(i)) for i in range(len(chosen))])
    assert reused_runs(chosen, old, frozenset(), warm_retention_s=3600.0) == {}
    assert len(reused_runs(chosen, old, frozenset(), warm_retention_s=0.0)) == len(chosen)
    warm = replace(old, warm_retention_s=3600.0)
    assert len(reused_runs(chosen, warm, frozenset())) == len(chosen)


def test_a_family_whose_sweep_changed_is_replayed() -> None:
    trace = scenario("drift")
    chosen = variants(trace, ("groupcache",))
    kept = Study("drift", "", [_point("groupcache", "groupcache", 1.0)] * 3)
    assert reused_runs(chosen, kept, frozenset()) == {}


def test_the_copy_price_steps_by_at_most_4x_between_its_corners() -> None:
    # Bytes are compared at the rival's service: at the floor the price jumped from x1 (a
    # move at every shift of demand) to x64 (none), and with near-free holding only
    # near-free copies were swept local-first (a copy dropped at every lull and copied
    # back): the runs that serve a rival's latency with few moves were missing.
    for hold, local in ((FLOOR, False), (NEAR_FREE, True), (NEAR_FREE, False)):
        copies = sorted({s.copy for s in PREDICTIVE if s.hold == hold and s.local == local})
        low = [c for c in copies if c <= 64.0]
        assert low[0] <= 1 / 16 and low[-1] >= 1.0, (hold, local, copies)
        gaps = np.diff(np.log2([c for c in low if c >= 1 / 16]))
        assert max(gaps) <= 2.0, (hold, local, copies)
    # ... and dear copies (x4, x16) through the rivals' budgets, not only at the floor.
    for hold in (1 / 4, 1.0, 4.0):
        copies = {s.copy for s in PREDICTIVE if s.hold == hold and not s.local and not s.cooldown}
        assert {4.0, 16.0} <= copies, (hold, copies)
