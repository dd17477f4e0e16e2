"""The replay loop on hand-made traces whose numbers can be worked out by hand."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from statecast.core.placement import LatencyModel
from statecast.sim import SimConfig, Trace, replay
from statecast.sim.planned import PerfectForecast, Predictive
from statecast.sim.policies import Full, Reactive, Static
from statecast.sim.scenarios import SCENARIOS, concentrated, scenario

MIB = 2**20


def small_trace(
    demand: np.ndarray, zones: tuple[str, ...], min_replicas: int = 1, **kw: object
) -> Trace:
    n_res, n_nodes, steps = demand.shape
    return Trace(
        name="small",
        demand=demand.astype(float),
        resources=tuple(f"r{i}" for i in range(n_res)),
        nodes=tuple(f"n{i}" for i in range(n_nodes)),
        zones=zones,
        step_s=60.0,
        available=kw.pop("available", np.ones((n_nodes, steps), dtype=bool)),  # type: ignore[arg-type]
        state_bytes=np.full(n_res, 60.0 * MIB),
        writes_per_min=np.zeros(n_res),
        min_replicas=np.full(n_res, min_replicas, dtype=np.int64),
        max_replicas=np.zeros(n_res, dtype=np.int64),
        pods=kw.pop("pods", None),  # type: ignore[arg-type]
    )


FAST = SimConfig(bandwidth_bytes_per_s=1e12)


def test_static_serves_a_far_node_cross_zone() -> None:
    demand = np.zeros((1, 2, 10))
    demand[0, 1] = 100  # all demand on n1 (zone b); static picks n0 (zone a first)
    result = replay(small_trace(demand, ("a", "b")), Static(), FAST)
    assert result.local_hit_ratio == 0.0
    assert result.mean_latency_ms == pytest.approx(2.0)
    assert result.p99_latency_ms == pytest.approx(2.0)
    assert result.replica_hours == pytest.approx(10 / 60)
    assert result.actions == 1


def test_full_serves_everything_locally_and_pays_for_it() -> None:
    demand = np.ones((1, 3, 6))
    result = replay(small_trace(demand, ("a", "a", "b")), Full(), FAST)
    assert result.local_hit_ratio == pytest.approx(1.0)
    assert result.mean_latency_ms == pytest.approx(0.1)
    assert result.replica_hours == pytest.approx(3 * 6 / 60)
    assert result.bytes_moved == pytest.approx(3 * 60 * MIB)


def test_a_copy_that_takes_most_of_a_step_misses_that_part_of_the_step() -> None:
    demand = np.zeros((1, 2, 1))
    demand[0, :, 0] = 100
    config = SimConfig(bandwidth_bytes_per_s=4 / 3 * MIB)  # 60 MiB in 45 s of a 60 s step
    result = replay(small_trace(demand, ("a", "a")), Full(), config)
    assert result.local_hit_ratio == pytest.approx(0.25)
    # Nothing is ready anywhere during the copy: the rest goes to the source of truth.
    assert result.mean_latency_ms == pytest.approx(0.25 * 0.1 + 0.75 * 50.0)


def test_a_lost_node_loses_its_replica_and_min_is_restored() -> None:
    demand = np.ones((1, 3, 6))
    available = np.ones((3, 6), dtype=bool)
    available[0, 3:] = False
    trace = small_trace(demand, ("a", "b", "c"), available=available)
    result = replay(trace, Static(), FAST)
    placement = result.timeline.placement
    assert placement[0, :3].all()
    assert not placement[0, 3:].any()
    assert placement[:, 3:].sum(axis=0).tolist() == [1, 1, 1]


def test_reactive_follows_heat_after_its_window_and_drops_it_after_grace() -> None:
    demand = np.full((1, 4, 40), 1.0)
    demand[0, 0] = 2.0  # the busiest node when nothing is hot: it holds the minimum
    demand[0, 3, 10:20] = 500.0
    trace = small_trace(demand, ("a", "a", "b", "b"))
    result = replay(trace, Reactive(window_s=60.0, grace_s=300.0), FAST)
    row = result.timeline.placement[3]
    assert not row[:10].any()
    assert row[11:20].all()  # one step late: it saw the heat at step 10
    assert not row[30:].any()  # cold for the 5-step grace period, then gone


def test_perfect_forecast_beats_static_and_predictive_records_its_band() -> None:
    trace = scenario("follow-the-sun")
    short = Trace(
        name="short",
        demand=trace.demand[:1, :6, : trace.period + 96],
        resources=trace.resources[:1],
        nodes=trace.nodes[:6],
        zones=trace.zones[:6],
        step_s=trace.step_s,
        available=trace.available[:6, : trace.period + 96],
        state_bytes=trace.state_bytes[:1],
        writes_per_min=trace.writes_per_min[:1],
        min_replicas=trace.min_replicas[:1],
        max_replicas=trace.max_replicas[:1],
    )
    config = SimConfig(warmup_steps=short.period)
    static = replay(short, Static(), config)
    perfect = replay(short, PerfectForecast(), config)
    predictive = Predictive(refresh_steps=12)
    forecast = replay(short, predictive, config)
    assert perfect.local_hit_ratio > static.local_hit_ratio
    assert perfect.mean_latency_ms < static.mean_latency_ms
    assert forecast.local_hit_ratio > static.local_hit_ratio
    assert predictive.band.shape == (3, 6, short.steps)
    assert np.isfinite(predictive.band[:, :, 1:]).all()
    assert (predictive.band[1] <= predictive.band[0] + 1e-9).all()


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenarios_are_deterministic_and_well_formed(name: str) -> None:
    first, second = scenario(name), scenario(name)
    assert np.array_equal(first.demand, second.demand)
    assert first.demand.shape[:2] == (3, first.n_nodes)
    assert first.steps >= 2 * first.period
    assert (first.demand[:, ~first.available] == 0).all()


def test_latency_overrides_apply_between_zones() -> None:
    demand = np.zeros((1, 2, 4))
    demand[0, 1] = 10
    config = SimConfig(latency=LatencyModel(zone_ms=(("a", "b", 7.0),)), bandwidth_bytes_per_s=1e12)
    result = replay(small_trace(demand, ("a", "b")), Static(), config)
    assert result.mean_latency_ms == pytest.approx(7.0)


def test_predictive_forecasts_follow_the_data_between_refits() -> None:
    demand = np.full((1, 2, 400), 10.0)
    demand[0, 0, 300:] = 1000.0  # a level shift after the refit at step 256
    trace = small_trace(demand, ("a", "b"))
    policy = Predictive(refresh_steps=10**6)
    replay(trace, policy, FAST)
    # Refits only while the history doubles (2 is the first fit): 4, 8, ..., 256.
    assert policy.refits == 7
    assert policy.band[0, 0, 299] < 100.0
    assert policy.band[0, 0, 310] > 500.0  # updated with each sample, no refit since 256


def _job_trace() -> Trace:
    """Four nodes; n0 is busy all along; a job pod reads 500 times a step on n3, steps 30-39."""
    demand = np.full((1, 4, 80), 1.0)
    demand[0, 0] = 300.0
    pods = np.zeros((1, 4, 80), dtype=np.int64)
    demand[0, 3, 30:40] = 500.0
    pods[0, 3, 30:40] = 1
    return small_trace(demand, ("a", "a", "b", "b"), min_replicas=1, pods=pods)


@pytest.mark.parametrize("policy", [Predictive, PerfectForecast])
def test_a_pod_gets_its_replica_when_it_is_scheduled_and_loses_it_after(
    policy: type[Predictive] | type[PerfectForecast],
) -> None:
    trace = _job_trace()
    # The default pricing: nobody writes this state, so a copy back within the retention
    # is free; a free swap after the job makes n3's copy the young one, and the trim to
    # reactive's count no longer protects a warm copy by its youth over n0's busy one.
    result = replay(trace, policy(), FAST)
    row = result.timeline.placement[3]
    if policy is Predictive:  # the true future shows the job coming; a forecast cannot
        assert not row[:30].any()
    assert row[30:40].all()  # from the job's first step: the pod watch saw it bound
    # After the job the reactive rule still holds two copies while n3's 15-minute rate is
    # hot and for its grace (to step 61): the default budget keeps predictive at that
    # count (the copy stays on n3, or moves where the true future says it saves more),
    # and lets the copy go with it (replica-hours: reactive's, but for the share of a
    # step a sole copy that moves serves until its successor's copy is done).
    assert not row[62:].any()
    copy_h = float(trace.state_bytes.max()) / FAST.bandwidth_bytes_per_s / 3600.0
    handoffs = result.actions * copy_h
    assert result.replica_hours <= replay(trace, Reactive(), FAST).replica_hours + handoffs


def test_without_pods_the_planner_is_as_late_as_the_heat() -> None:
    trace = _job_trace()
    blind = Trace(**{**trace.__dict__, "pods": None})
    row = replay(blind, Predictive(), FAST).timeline.placement[3]
    assert not row[30]  # nothing said a job was coming
    assert row[31:40].all()


def test_reactive_sees_pods_as_the_operator_does() -> None:
    # The operator's reactive mode gives a consumer pod's node a copy when the pod is
    # bound; the simulator's reactive is the same rule (statecast.core.reactive).
    row = replay(_job_trace(), Reactive(window_s=60.0, grace_s=300.0), FAST).timeline.placement[3]
    assert not row[:30].any()
    assert row[30:40].all()  # from the job's first step, before any heat is seen
    assert not row[46:].any()  # hot until step 40, then the 5-step grace period


def test_issue_11_concentrated_demand_is_served_where_it_is() -> None:
    """A week of the built-in ``concentrated`` scenario: the spread puts no copy on the
    node issuing 93 % of the reads; the planner must move one there (issue 11: it took
    no action in three months and served 2 % locally)."""
    trace = concentrated(days=7)
    config = SimConfig(warmup_steps=trace.period)
    static = replay(trace, Static(), config)
    predictive = replay(trace, Predictive(refresh_steps=trace.period), config)
    assert static.local_hit_ratio < 0.05
    assert predictive.local_hit_ratio > 0.9
    assert predictive.replica_hours <= static.replica_hours * 1.01


def test_at_hourly_steps_the_forecast_keeps_a_daily_season_as_the_operator_does() -> None:
    # Six days of hourly steps; n1 is busy from 08:00 to 16:00 every day. The history the
    # operator keeps at hourly intervals (core.demand_series.history_steps) lets the
    # forecaster offer the daily season; three days of 24 steps did not (72 < 2 x 24 +
    # horizon + 24 origins), and a persistence forecast misses every 08:00.
    hours = np.arange(6 * 24)
    demand = np.zeros((1, 2, len(hours)))
    demand[0, 0] = 10.0
    demand[0, 1] = np.where((hours % 24 >= 8) & (hours % 24 < 16), 100.0, 1.0)
    trace = Trace(**{**small_trace(demand, ("a", "b")).__dict__, "step_s": 3600.0})
    policy = Predictive(refresh_steps=24)
    replay(trace, policy, FAST)
    mornings = [day * 24 + 8 for day in (4, 5)]
    assert (policy.band[0, 1, mornings] > 50.0).all()


@pytest.mark.parametrize("cooldown_s", [900.0, 3600.0])
def test_a_planner_run_keeps_a_copy_its_own_cooldown_not_the_replays(cooldown_s: float) -> None:
    # Two busy nodes of one zone for ten minutes, then silence for seventy: the second
    # copy stays its cooldown (swept as reactive's grace is), then goes for cost. Priced
    # by bytes, as the sweeps are (the default prices' hot threshold would hold no copy
    # for two equally busy nodes: tests/unit/test_placement_demand_price.py).
    demand = np.zeros((1, 3, 80))
    demand[0, 1:, :10] = 1000.0
    trace = small_trace(demand, ("a", "a", "a"))
    result = replay(trace, PerfectForecast(cooldown_s=cooldown_s, demand_priced=False), FAST)
    extra_steps = result.replica_hours * 60 - 80  # beyond the one copy `min` keeps
    assert cooldown_s / 60 - 2 <= extra_steps <= cooldown_s / 60 + 5


def _away_and_back(retention_s: float, back_at: int, lose_node: bool = False) -> float:
    """Bytes moved when r0's only copy moves n0 -> n1 at step 2 and back at ``back_at``."""
    steps = back_at + 3
    demand = np.zeros((1, 2, steps))
    demand[0, 0, :2] = 100
    demand[0, 1, 2:back_at] = 100
    demand[0, 0, back_at:] = 100
    available = np.ones((2, steps), dtype=bool)
    if lose_node:
        available[0, 2] = False  # n0 goes down holding the copy: lost, not handed off
    trace = small_trace(demand, ("a", "b"), available=available)
    trace = replace(trace, writes_per_min=np.array([6.0]))  # 6 KiB a minute
    config = replace(FAST, warm_retention_s=retention_s, bytes_per_write=1024)
    result = replay(trace, _Follow(), config)
    return result.bytes_moved


class _Follow(Static):
    """One copy, on the node with the most demand now (a policy that sees the future)."""

    name = "follow"

    def decide(self, t, replicas, ready, age):  # type: ignore[no-untyped-def]
        want = np.zeros_like(replicas)
        want[0, int(self.trace.demand[0, :, t].argmax())] = True
        return want

    def start(self, trace, config):  # type: ignore[no-untyped-def]
        super().start(trace, config)
        self.trace = trace


def test_a_copy_back_within_the_warm_retention_costs_the_writes_it_missed() -> None:
    sync = 6 * 1024.0  # a minute's writes to the one copy held, per step
    back_at = 12  # n0's copy left at step 2 and comes back at step 12: 10 minutes away
    full = 60 * MIB
    steps = back_at + 3
    # first copy on n0, a full one on n1, then n0 again: 10 minutes of writes missed
    warm = _away_and_back(3600.0, back_at)
    assert warm == pytest.approx(full + full + 10 * 6 * 1024.0 + steps * sync)
    # retention 0 is the accounting before: three full copies
    assert _away_and_back(0.0, back_at) == pytest.approx(3 * full + steps * sync)
    # a retention shorter than the time away: full again
    assert _away_and_back(300.0, back_at) == pytest.approx(3 * full + steps * sync)
    # a copy lost with its node was never handed off: nothing kept warm, a full copy
    assert _away_and_back(3600.0, back_at, lose_node=True) == pytest.approx(3 * full + steps * sync)


def test_every_replay_also_counts_its_bytes_with_every_copy_full() -> None:
    # one sweep gives both accountings (the published tables show both)
    trace = scenario("drift")
    warm = replay(trace, Reactive(), SimConfig())
    full = replay(trace, Reactive(), SimConfig(warm_retention_s=0.0))
    assert warm.bytes_full_copies == full.bytes_moved == full.bytes_full_copies
    assert warm.bytes_moved < full.bytes_moved
    assert warm.metrics()["bytes_full_copies"] == int(full.bytes_moved)
