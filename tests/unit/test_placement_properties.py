"""Hypothesis properties of the planner: the invariants hold for any input."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from statecast.core.placement import (
    ActionKind,
    CurrentReplica,
    DemandForecast,
    NodeInfo,
    PlacementSpec,
    PlanInput,
    StateProfile,
    plan,
)

HORIZON = 4


@st.composite
def plan_inputs(draw: st.DrawFn, all_ready: bool = False) -> PlanInput:
    n = draw(st.integers(1, 8))
    zones = draw(st.lists(st.sampled_from(["z1", "z2", "z3"]), min_size=n, max_size=n))
    ready = [True] * n if all_ready else draw(st.lists(st.booleans(), min_size=n, max_size=n))
    nodes = tuple(NodeInfo(f"n{i}", zones[i], ready=ready[i]) for i in range(n))
    demand = st.floats(0, 500, allow_nan=False)
    mean = np.array(draw(st.lists(demand, min_size=n * HORIZON, max_size=n * HORIZON)))
    mean = mean.reshape(n, HORIZON)
    spread = np.array(draw(st.lists(demand, min_size=n, max_size=n)))[:, None]
    deviation = np.array(draw(st.lists(st.floats(0, 3), min_size=n, max_size=n)))
    steps = draw(st.sampled_from([None, 0, 1, 6]))
    recent = (
        None
        if steps is None
        else np.array(draw(st.lists(demand, min_size=n * steps, max_size=n * steps))).reshape(
            n, steps
        )
    )
    forecast = DemandForecast(
        tuple(x.name for x in nodes),
        mean,
        np.maximum(mean - spread, 0),
        mean + spread,
        deviation,
        recent=recent,
    )
    holders = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    replicas = tuple(
        CurrentReplica(
            f"n{i}",
            age_s=draw(st.floats(0, 2000)),
            up_to_date=draw(st.booleans()),
            progress=draw(st.integers(0, 5)),
        )
        for i in range(n)
        if holders[i]
    )
    low = draw(st.integers(1, 4))
    high = draw(st.one_of(st.none(), st.integers(low, 6)))
    spec = PlacementSpec(
        min_replicas=low,
        max_replicas=high,
        cost_weight=draw(st.sampled_from([0.1, 1.0, 10.0])),
        cooldown_s=draw(st.sampled_from([0.0, 300.0])),
    )
    return PlanInput(
        spec, StateProfile(bytes=draw(st.integers(1, 2**30))), nodes, forecast, replicas
    )


SETTINGS = settings(
    derandomize=True,
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@SETTINGS
@given(plan_inputs())
def test_never_above_max(inputs: PlanInput) -> None:
    result = plan(inputs)
    if inputs.spec.max_replicas is not None:
        assert len(result.nodes) <= inputs.spec.max_replicas


@SETTINGS
@given(plan_inputs())
def test_never_below_min_when_nodes_allow(inputs: PlanInput) -> None:
    result = plan(inputs)
    available = sum(n.ready for n in inputs.nodes)
    assert len(result.nodes) >= min(inputs.spec.min_replicas, available)


@SETTINGS
@given(plan_inputs(all_ready=True))
def test_spreads_over_zones_when_it_can(inputs: PlanInput) -> None:
    result = plan(inputs)
    zone = {n.name: n.zone for n in inputs.nodes}
    covered = {zone[name] for name in result.nodes}
    assert len(covered) >= min(inputs.spec.min_replicas, len(set(zone.values())))


@SETTINGS
@given(plan_inputs())
def test_never_removes_the_last_up_to_date_copy_without_a_successor(inputs: PlanInput) -> None:
    fresh = {r.node for r in inputs.replicas if r.up_to_date}
    result = plan(inputs)
    if fresh and not fresh & set(result.nodes):
        # A hand-off: the successor is added in the same plan (the executor removes the
        # old copy once the new one is up to date), and nothing else was syncing.
        assert result.of_kind(ActionKind.ADD)
        assert all(r.up_to_date for r in inputs.replicas if r.node in result.nodes)


@SETTINGS
@given(plan_inputs())
def test_the_hand_off_changes_only_plans_that_add_a_copy_beside_no_syncing_one(
    inputs: PlanInput,
) -> None:
    # PlacementSpec.hand_off_on_add lifts the last up-to-date copy's protection only in
    # a plan that adds a copy (its successor) while no copy it keeps is still syncing.
    without = plan(replace(inputs, spec=replace(inputs.spec, hand_off_on_add=False)))
    ready = {n.name for n in inputs.nodes if n.ready}
    kept = set(without.nodes)
    syncing = any(r.node in ready and r.node in kept and not r.up_to_date for r in inputs.replicas)
    if not without.of_kind(ActionKind.ADD) or syncing:
        assert plan(replace(inputs, spec=replace(inputs.spec, hand_off_on_add=True))) == without


@SETTINGS
@given(plan_inputs())
def test_one_action_per_node_and_only_sensible_ones(inputs: PlanInput) -> None:
    result = plan(inputs)
    nodes = [a.node for a in result.actions]
    assert len(nodes) == len(set(nodes))
    existing = {r.node for r in inputs.replicas}
    ready = {n.name for n in inputs.nodes if n.ready}
    for action in result.actions:
        if action.kind is ActionKind.ADD:
            assert action.node in ready
            assert action.node not in existing
        else:
            assert action.node in existing


@SETTINGS
@given(plan_inputs(), st.randoms(use_true_random=False))
def test_deterministic_whatever_the_input_order(inputs: PlanInput, rnd: object) -> None:
    nodes = list(inputs.nodes)
    replicas = list(inputs.replicas)
    rnd.shuffle(nodes)  # type: ignore[attr-defined]
    rnd.shuffle(replicas)  # type: ignore[attr-defined]
    order = [inputs.forecast.nodes.index(n.name) for n in nodes]
    fc = inputs.forecast
    shuffled = PlanInput(
        inputs.spec,
        inputs.state,
        tuple(nodes),
        DemandForecast(
            tuple(fc.nodes[i] for i in order),
            fc.mean[order],
            fc.lower[order],
            fc.upper[order],
            fc.deviation[order],
            recent=None if fc.recent is None else fc.recent[order],
        ),
        tuple(replicas),
    )
    assert plan(inputs) == plan(inputs)
    assert plan(shuffled).actions == plan(inputs).actions


@st.composite
def concentrated_inputs(draw: st.DrawFn) -> tuple[PlanInput, str]:
    """Replicas at min on nodes past their cooldown; one other node issues >= 90 % of reads.

    The busy node's reads over the value window, at the smallest saving a move could
    bring it (same zone to local), are worth at least twice the copy and its margin.
    """
    n = draw(st.integers(2, 10))
    zones = draw(st.lists(st.sampled_from(["z1", "z2", "z3"]), min_size=n, max_size=n))
    nodes = tuple(NodeInfo(f"n{i}", zones[i]) for i in range(n))
    hot = draw(st.integers(0, n - 1))
    others = [i for i in range(n) if i != hot]
    low = draw(st.integers(1, len(others)))
    held = draw(st.permutations(others))[:low]
    high = draw(st.one_of(st.none(), st.integers(low, n)))
    state = StateProfile(bytes=draw(st.integers(2**20, 2**30)), writes_per_min=5.0)
    step_s = draw(st.sampled_from([60.0, 300.0, 3600.0]))
    spec = PlacementSpec(min_replicas=low, max_replicas=high, cooldown_s=900.0)
    window_steps = max(HORIZON * step_s, spec.cooldown_s) / step_s
    copy_ms = state.bytes / 2**30 * 2000.0
    per_step = 2 * 1.2 * copy_ms / (0.4 * window_steps) * draw(st.floats(1.0, 10.0))
    share = draw(st.floats(0.9, 1.0))
    rest = np.array(draw(st.lists(st.floats(0, 1), min_size=n, max_size=n))) + 1e-9
    rates = rest / rest.sum() * per_step * (1 - share) / share
    rates[hot] = per_step
    mean = np.repeat(rates[:, None], HORIZON, axis=1)
    forecast = DemandForecast(tuple(x.name for x in nodes), mean, mean, mean, np.zeros(n))
    replicas = tuple(CurrentReplica(f"n{i}", age_s=3600.0) for i in held)
    inputs = PlanInput(spec, state, nodes, forecast, replicas, step_s=step_s)
    return inputs, f"n{hot}"


@SETTINGS
@given(concentrated_inputs())
def test_a_copy_follows_concentrated_demand_that_pays_for_the_move(
    case: tuple[PlanInput, str],
) -> None:
    inputs, hot = case
    spec = inputs.spec
    result = plan(inputs)
    assert hot in result.nodes
    assert len(result.nodes) >= spec.min_replicas
    assert spec.max_replicas is None or len(result.nodes) <= spec.max_replicas
    zone = {n.name: n.zone for n in inputs.nodes}
    floor = min(spec.min_replicas, len(set(zone.values())))
    assert len({zone[name] for name in result.nodes}) >= floor


@SETTINGS
@given(plan_inputs(all_ready=True))
def test_never_moves_a_copy_that_cannot_pay_for_itself(inputs: PlanInput) -> None:
    """A move saves at most every access's latency gap over the window; below the copy
    (and its margin) no replica is moved."""
    spec = inputs.spec
    steps = inputs.forecast.mean.shape[1]
    window = max(steps * inputs.step_s, spec.cooldown_s) / (steps * inputs.step_s)
    gap = inputs.latency.cross_zone_ms - inputs.latency.local_ms
    best_saving = float(inputs.forecast.mean.sum()) * window * gap
    copy_ms = spec.cost_weight * inputs.state.bytes / 2**30 * inputs.costs.ms_per_gib_moved
    moved = [a for a in plan(inputs).actions if a.detail.startswith("moved")]
    if best_saving <= copy_ms * (1 + spec.hysteresis):
        assert not moved
