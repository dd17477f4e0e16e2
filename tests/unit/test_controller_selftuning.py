"""Self-tuning in the operator: outcomes from windows, windows due, resuming from status,
the knobs fed to the planner, and what the reconcile reports."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pytest

from statecast.api.shared_resource import SharedResourceSpec
from statecast.controller.sampling import DemandSampler
from statecast.controller.selftuning import SelfTuner
from statecast.core.demand import AgentSample
from statecast.core.reconcile import DemandView, Observed, reconcile
from statecast.core.reconcile.predicted import forecast_demand
from statecast.core.reconcile.predictive import placement_input
from statecast.core.reconcile.tuning import (
    TuningDecision,
    WindowObservation,
    next_tuning,
    observe_window,
    outcome_of,
    tuner_config,
    tuning_enabled,
    window_due,
)
from statecast.core.reconcile.views import ReplicaView, node_view, replica_view
from statecast.core.tuning import Outcome, TuningState, tune

NOW = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)
MINUTE = dt.timedelta(minutes=1)
MIB = 2**20
ZONE = "topology.kubernetes.io/zone"


def spec(tuning: dict[str, Any] | None = None, **replication: Any) -> SharedResourceSpec:
    return SharedResourceSpec.model_validate(
        {
            "replicas": {"min": 2},
            "prediction": {"interval": "1m", "horizon": "5m"},
            "replication": {
                "tuning": {"targetLocalHitRatio": 0.8} if tuning is None else tuning,
                **replication,
            },
        }
    )


def stamp(value: dt.datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def saved(started: dt.datetime = NOW - HOUR, **fields: Any) -> dict[str, Any]:
    """A status.tuning as an earlier reconcile (or operator) wrote it."""
    return {
        "costWeight": 1.0,
        "deviationThreshold": 0.5,
        "explanation": "not tuned yet",
        "windowStart": stamp(started),
        "step": 0.25,
        "lastMove": 0,
        "updates": 0,
        "reversals": 0,
        "specDeviationThreshold": 0.5,
        **fields,
    }


def replica(node: str, reason: str = "minimum", age: dt.timedelta = 3 * HOUR) -> ReplicaView:
    return replica_view(
        {
            "metadata": {"name": f"flags-{node}", "namespace": "ns",
                         "creationTimestamp": stamp(NOW - age)},
            "spec": {"resource": "flags", "nodeName": node, "reason": reason},
            "status": {"phase": "Ready", "bytes": MIB},
        }
    )  # fmt: skip


# --- the outcome of a window -------------------------------------------------------------


@pytest.mark.parametrize(
    ("sentence", "observation", "expected"),
    [
        (
            "a window without accesses teaches nothing",
            WindowObservation(3600, None, copies_made=3, state_bytes=MIB),
            None,
        ),
        (
            "copies made count their state's bytes, per hour of window",
            WindowObservation(1800, 0.7, copies_made=2, state_bytes=MIB, replicas=3),
            Outcome(0.7, bytes_moved_per_hour=4 * MIB, replicas=3.0),
        ),
        (
            "every write goes to every replica",
            WindowObservation(3600, 0.9, state_bytes=MIB, writes_per_min=10, replicas=3),
            Outcome(0.9, bytes_moved_per_hour=10 * 60 * 1024 * 3, replicas=3.0),
        ),
        (
            "hedge use is the share of judged hedges whose node read",
            WindowObservation(3600, 0.8, replicas=4, hedges=4, hedges_used=1),
            Outcome(0.8, replicas=4.0, hedge_use=0.25),
        ),
        (
            "without hedges their use is unknown, not zero",
            WindowObservation(3600, 0.8, replicas=2),
            Outcome(0.8, replicas=2.0, hedge_use=None),
        ),
    ],
)
def test_outcome_of_a_window(
    sentence: str, observation: WindowObservation, expected: Outcome | None
) -> None:
    assert outcome_of(observation) == expected, sentence


def test_the_spec_sets_the_learners_target_and_budget() -> None:
    config = tuner_config(spec({"targetLocalHitRatio": 0.9}, budget={"bytesMovedPerHour": "1Gi"}))
    assert config.target_local_hit_ratio == 0.9
    assert config.bytes_moved_budget_per_hour == 2**30
    assert tuner_config(spec({})).target_local_hit_ratio is None


@pytest.mark.parametrize(
    ("sentence", "replication", "enabled"),
    [
        ("predictive resources tune by default", {}, True),
        ("tuning can be turned off", {"tuning": {"enabled": False}}, False),
        ("only the planner has knobs to tune", {"policy": "static"}, False),
    ],
)
def test_tuning_enabled(sentence: str, replication: dict[str, Any], enabled: bool) -> None:
    assert tuning_enabled(SharedResourceSpec.model_validate({"replication": replication})) is (
        enabled
    ), sentence


# --- when a window is due ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sentence", "tuning", "status", "due"),
    [
        ("nothing saved: the first window starts, none ends", None, None, False),
        ("a window of 1h that began 59m ago is not over", None, saved(NOW - 59 * MINUTE), False),
        ("one that began an hour ago is", None, saved(NOW - HOUR), True),
        ("a window of 1m that began 2m ago is over", {"window": "1m"}, saved(NOW - 2 * MINUTE),
         True),
        ("a changed thresholds.deviation starts learning over, no window ends",
         None, saved(NOW - 2 * HOUR, specDeviationThreshold=0.9), False),
        ("an unreadable status starts learning over", None, {"costWeight": "heavy"}, False),
    ],
)  # fmt: skip
def test_window_due(
    sentence: str, tuning: dict[str, Any] | None, status: dict[str, Any] | None, due: bool
) -> None:
    start = window_due(spec(tuning), status, NOW)
    assert (start is not None) is due, sentence
    if due:
        assert status is not None
        assert stamp(start) == status["windowStart"]


# --- resuming and stepping the learner -------------------------------------------------


def test_nothing_saved_starts_with_weight_one_and_the_specs_threshold() -> None:
    decision = next_tuning(spec(), None, None, NOW)
    assert (decision.state.cost_weight, decision.state.deviation_threshold) == (1.0, 0.5)
    assert decision.window_start == NOW and decision.last_tuned_at is None
    assert decision.state.explanation == "not tuned yet"
    assert not decision.changed


def test_too_few_local_hits_lower_the_cost_weight_and_explain_why() -> None:
    decision = next_tuning(spec(), saved(), WindowObservation(3600, 0.61, replicas=2), NOW)
    assert (
        decision.state.explanation == "cost weight 1.00 -> 0.78: local-hit 0.61 below target 0.80"
    )
    assert decision.changed
    assert decision.window_start == NOW and decision.last_tuned_at == NOW
    assert decision.state.updates == 1


def test_the_learner_resumes_where_status_left_it() -> None:
    before = saved(costWeight=0.7788, step=0.25, lastMove=-1, updates=1, reversals=0)
    decision = next_tuning(spec(), before, WindowObservation(3600, 0.6, replicas=2), NOW)
    direct = tune(
        TuningState(cost_weight=0.7788, step=0.25, last_move=-1, updates=1),
        Outcome(0.6, replicas=2.0),
        tuner_config(spec()),
    )
    assert decision.state.cost_weight == pytest.approx(direct.cost_weight, abs=1e-4)
    assert decision.state.step == pytest.approx(0.25 * 1.2)  # the direction held: it grew
    assert decision.state.updates == 2


def test_a_restarted_operator_reads_back_what_it_wrote() -> None:
    first = next_tuning(spec(), saved(), WindowObservation(3600, 0.6, replicas=2), NOW)
    again = next_tuning(spec(), first.status(), None, NOW + MINUTE)
    assert again.state == first.state
    assert (again.window_start, again.last_tuned_at) == (first.window_start, first.last_tuned_at)
    assert not again.changed


def test_until_the_window_ends_nothing_moves() -> None:
    status = saved(NOW - 10 * MINUTE, costWeight=0.5, explanation="earlier")
    decision = next_tuning(spec(), status, None, NOW)
    assert decision.state.cost_weight == 0.5 and decision.state.explanation == "earlier"
    assert decision.window_start == NOW - 10 * MINUTE
    assert not decision.changed


def test_a_window_without_accesses_keeps_the_knobs_and_starts_the_next() -> None:
    status = saved(costWeight=0.5, lastTunedAt=stamp(NOW - 2 * HOUR))
    decision = next_tuning(spec(), status, WindowObservation(3600, None), NOW)
    assert decision.state.cost_weight == 0.5 and decision.state.updates == 0
    assert decision.state.explanation.startswith("no accesses in the last window")
    assert decision.window_start == NOW and decision.last_tuned_at == NOW - 2 * HOUR
    assert not decision.changed


def test_without_a_target_the_weight_is_one_and_only_the_threshold_learns() -> None:
    unused_hedges = WindowObservation(3600, 0.3, replicas=4, hedges=2, hedges_used=0)
    decision = next_tuning(spec({}), saved(), unused_hedges, NOW)
    assert decision.state.cost_weight == 1.0
    assert decision.state.deviation_threshold == pytest.approx(0.625)
    assert "hedge less" in decision.state.explanation
    assert decision.changed


def test_removing_the_target_puts_the_weight_back_to_one() -> None:
    decision = next_tuning(spec({}), saved(NOW - MINUTE, costWeight=0.4), None, NOW)
    assert decision.state.cost_weight == 1.0
    assert decision.changed
    assert "no targetLocalHitRatio" in decision.state.explanation


def test_a_new_deviation_threshold_in_the_spec_starts_learning_over() -> None:
    changed = spec(thresholds={"deviation": 0.9})
    before = saved(deviationThreshold=0.3, costWeight=0.6, lastTunedAt=stamp(NOW - HOUR))
    decision = next_tuning(changed, before, None, NOW)
    assert (decision.state.cost_weight, decision.state.deviation_threshold) == (1.0, 0.9)
    assert decision.window_start == NOW and decision.spec_deviation == 0.9
    assert decision.last_tuned_at == NOW - HOUR
    assert decision.changed


def test_the_knobs_reach_the_planners_spec() -> None:
    history = np.zeros((2, 10))
    demand = forecast_demand(history, ["a", "b"], spec(), generated_at=NOW)
    assert demand is not None
    nodes = [
        node_view({"metadata": {"name": n, "labels": {ZONE: n}},
                   "status": {"conditions": [{"type": "Ready", "status": "True"}]}})
        for n in ("a", "b")
    ]  # fmt: skip
    plain = placement_input(spec(), nodes, {"a", "b"}, [], demand, now=NOW)
    tuned = placement_input(
        spec(), nodes, {"a", "b"}, [], demand, now=NOW,
        tuned=TuningState(cost_weight=0.6, deviation_threshold=1.2),
    )  # fmt: skip
    assert (plain.spec.cost_weight, plain.spec.deviation_threshold) == (1.0, 0.5)
    assert (tuned.spec.cost_weight, tuned.spec.deviation_threshold) == (0.6, 1.2)


# --- observing a window from the demand history ------------------------------------------


def sampler_with(reads: dict[str, tuple[int, int]], writes: int = 0) -> DemandSampler:
    """A history where each node read (local, remote) over the last hour."""
    sampler = DemandSampler(list)
    start = (NOW - HOUR).timestamp()
    for node, (local, remote) in reads.items():
        counts = {("ns", "flags", "local"): local, ("ns", "flags", "remote"): remote}
        sampler.record(AgentSample(node, start, NOW.timestamp(), counts, {("ns", "flags"): writes}))
    return sampler


def test_a_window_is_observed_from_the_history_and_the_replicas() -> None:
    history = sampler_with({"a": (60, 0), "b": (0, 20), "c": (20, 0)}, writes=120)
    replicas = [
        replica("a"),
        replica("c", "hedge", age=2 * HOUR),  # its node read: used
        replica("d", "hedge", age=2 * HOUR),  # its node did not
        replica("e", "hedge", age=MINUTE),  # too young to judge, but a copy made
    ]
    seen = observe_window(history, ("ns", "flags"), replicas, spec(), NOW - HOUR, NOW)
    assert seen.local_hit_ratio == pytest.approx(0.8)
    assert (seen.hedges, seen.hedges_used) == (2, 1)
    assert seen.copies_made == 1 and seen.state_bytes == MIB and seen.replicas == 4
    assert seen.writes_per_min == pytest.approx(3 * 120 / 60)  # every node wrote 120


def test_a_window_longer_than_an_hour_is_judged_by_its_last_hour_of_hits_and_writes() -> None:
    sampler = DemandSampler(list)
    early, late = (NOW - 3 * HOUR).timestamp(), (NOW - HOUR).timestamp()
    local, remote = ("ns", "flags", "local"), ("ns", "flags", "remote")
    sampler.record(AgentSample("a", early, early + 600, {local: 0, remote: 100}))
    sampler.record(AgentSample("b", late, NOW.timestamp(), {local: 80, remote: 20},
                               {("ns", "flags"): 120}))  # fmt: skip
    long = spec({"targetLocalHitRatio": 0.8, "window": "3h"})
    seen = observe_window(sampler, ("ns", "flags"), [], long, NOW - 3 * HOUR, NOW)
    assert seen.seconds == 3 * 3600
    assert seen.local_hit_ratio == pytest.approx(0.8)
    assert seen.writes_per_min == pytest.approx(2.0)


# --- the handlers' tuner --------------------------------------------------------------


def test_a_body_that_lags_the_status_patch_does_not_take_the_step_twice() -> None:
    tuner = SelfTuner(sampler_with({"a": (10, 90)}))
    stale = saved()
    first = tuner.decide(("ns", "flags"), spec(), stale, [replica("a")], NOW)
    second = tuner.decide(("ns", "flags"), spec(), stale, [replica("a")], NOW + MINUTE)
    assert first.changed and first.state.updates == 1
    assert second.state == first.state and not second.changed


def test_a_new_tuner_resumes_from_status_alone() -> None:
    history = sampler_with({"a": (10, 90)})
    written = SelfTuner(history).decide(("ns", "flags"), spec(), saved(), [], NOW).status()
    later = SelfTuner(history).decide(("ns", "flags"), spec(), written, [], NOW + MINUTE)
    assert later.state.cost_weight == written["costWeight"] and later.state.updates == 1


# --- what the reconcile reports -----------------------------------------------------------


def body(status: dict[str, Any], replication: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "metadata": {"name": "flags", "namespace": "ns", "uid": "u", "generation": 1},
        "spec": {"replicas": {"min": 2}, "replication": replication or {}},
        "status": status,
    }


def test_the_reconcile_writes_status_tuning_and_a_tuned_event_when_knobs_move() -> None:
    decision = next_tuning(spec(), saved(), WindowObservation(3600, 0.61, replicas=2), NOW)
    result = reconcile(Observed(body({}), [], [], now=NOW, demand=DemandView(tuning=decision)))
    assert result.status["tuning"]["costWeight"] == 0.7788
    assert ("Normal", "Tuned", decision.state.explanation) in [
        (e.type, e.reason, e.message) for e in result.events
    ]
    quiet = reconcile(
        Observed(
            body({}),
            [],
            [],
            now=NOW,
            demand=DemandView(tuning=TuningDecision(TuningState(), NOW, None, 0.5)),
        )
    )
    assert "Tuned" not in [e.reason for e in quiet.events]


@pytest.mark.parametrize(
    ("sentence", "replication", "removed"),
    [
        ("turning tuning off removes status.tuning", {"tuning": {"enabled": False}}, True),
        ("so does leaving the predictive policy", {"policy": "static"}, True),
        ("no decision this time (no forecast yet) keeps it", {}, False),
    ],
)
def test_status_tuning_goes_only_with_tuning(
    sentence: str, replication: dict[str, Any], removed: bool
) -> None:
    result = reconcile(Observed(body({"tuning": saved()}, replication), [], [], now=NOW))
    assert (result.status.get("tuning", "kept") is None) is removed, sentence
