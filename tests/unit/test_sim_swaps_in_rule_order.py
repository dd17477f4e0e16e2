"""Reactive's every run, its placement held by the planner (session 26).

:func:`~statecast.sim.sweeps.swaps_in_rule_order` runs the default at each of reactive's
runs' window, k and grace (:func:`~statecast.sim.sweeps._reactive_grid`), filled and trimmed in
the rule's order with copies x1024 like ``copies_in_rule_order``, and with
``PlacementSpec.swap_in_reactive_order`` (``Setting.rule_swaps``): the plan's copies off the
reactive shadow's nodes move to its nodes, the adds go there first, and the forecast's moves
leave the rule's copies where they are. Within an unchanged count the rule swaps a copy whose
grace ended for a node that turned hot; filling and trimming in its order alone do not follow
that (found on seen generated-09). New labels after every earlier run's, whose labels and
knobs are unchanged; not in ``test_sim_generator``'s property. Each test failed before (the
knob and the family did not exist).
"""

from __future__ import annotations

import pytest

from statecast.core.placement import (
    NodeInfo,
    PlanInput,
    plan,
)
from statecast.sim import SimConfig
from statecast.sim.planned import ForecastCache
from statecast.sim.policies import Reactive
from statecast.sim.scenarios import scenario
from statecast.sim.sweeps import (
    RULE_ORDER_COPY_WEIGHT,
    predictive_variant,
    run_sweep,
    swaps_in_rule_order,
    variants,
)
from tests.unit._placement_helpers import (
    ONE_ZONE_NODES,
    rule_order_input,
)
from tests.unit._plan_spy import first_plans

NODES = ONE_ZONE_NODES
SUFFIX = " trim-in-reactive-order copies x1024 fill-in-reactive-order swap-in-reactive-order"


@pytest.mark.parametrize("row", ["drift", "follow-the-sun"])
def test_one_run_for_each_of_reactives_runs_in_its_order(row: str) -> None:
    trace = scenario(row)
    rule = [v.make() for v in variants(trace, ["reactive"])]
    runs = swaps_in_rule_order(trace)
    assert len({s.label for s in runs}) == len(runs) == len(rule)
    for setting, policy in zip(runs, rule, strict=True):
        assert isinstance(policy, Reactive)
        assert (setting.window, setting.sigma, setting.cooldown) == (
            policy.window_s,
            policy.k_sigma,
            policy.grace_s,
        )
        assert setting.rule_swaps and setting.reactive_order and setting.reactive_fill
        assert setting.copy_weight == RULE_ORDER_COPY_WEIGHT and not setting.local
        assert setting.demand_priced and setting.copy == 1.0 and setting.hold == 1.0
        spec = setting.planner
        assert spec.swap_in_reactive_order and spec.fill_in_reactive_order
        assert spec.trim_in_reactive_order and spec.hold_grace_slots
        assert setting.label.endswith(SUFFIX)


def test_the_knob_and_the_rules_nodes_reach_the_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    trace = scenario("drift")
    setting = swaps_in_rule_order(trace)[0]
    policy = predictive_variant(trace, ForecastCache(), setting).make()
    given = first_plans(monkeypatch, policy, trace, steps=3)
    assert given
    assert {i.spec.swap_in_reactive_order for i in given} == {True}
    assert all(i.reactive_copies is not None for i in given)
    assert any(i.reactive_nodes for i in given)


def test_the_twin_replays_the_rules_run_on_drift() -> None:
    trace = scenario("drift")
    config = SimConfig(warmup_steps=trace.period, warm_retention_s=0.0)
    cache = ForecastCache()
    rule = variants(trace, ["reactive"], cache=cache)
    twins = swaps_in_rule_order(trace)
    for i in (0, 10):
        theirs = run_sweep(trace, config, [rule[i]])[0]
        ours = run_sweep(trace, config, [predictive_variant(trace, cache, twins[i])])[0]
        assert (ours.replica_hours, ours.local_hit_ratio, ours.mean_latency_ms) == (
            theirs.replica_hours,
            theirs.local_hit_ratio,
            theirs.mean_latency_ms,
        )
        assert ours.bytes_moved == theirs.bytes_moved


def _input(
    held: tuple[str, ...],
    rule: frozenset[str],
    reads: dict[str, float],
    *,
    swap: bool,
    copy_weight: float = RULE_ORDER_COPY_WEIGHT,
    nodes: tuple[NodeInfo, ...] = NODES,
    min_replicas: int = 1,
) -> PlanInput:
    """The rule's count of ``len(rule)`` copies on ``rule``; the plan holds ``held``."""
    return rule_order_input(
        held,
        rule,
        reads,
        copy_weight=copy_weight,
        swap=swap,
        min_replicas=min_replicas,
        nodes=nodes,
    )


#: The rule swapped y (cold) for z (hot) within its count of three.
SWAP = (("w", "x", "y"), frozenset({"w", "x", "z"}), {"w": 20.0, "x": 300.0, "y": 0.0, "z": 200.0})


@pytest.mark.parametrize(
    ("swap", "nodes"),
    [
        (True, ("w", "x", "z")),  # the family's run: y's copy goes where the rule holds it
        (False, ("w", "x", "y")),  # copies_in_rule_order's: at x1024 no move pays
    ],
)
def test_within_the_count_the_copy_follows_the_rules_swap(
    swap: bool, nodes: tuple[str, ...]
) -> None:
    held, rule, reads = SWAP
    assert plan(_input(held, rule, reads, swap=swap)).nodes == nodes


def test_the_only_copy_swaps_within_its_zone() -> None:
    # min 1, one zone: the only copy's removal alone would uncover the zone (generated-15);
    # y and z read alike, so the forecast has no move to make
    reads = {"w": 0.0, "x": 0.0, "y": 5.0, "z": 5.0}
    assert plan(_input(("y",), frozenset({"z"}), reads, swap=True)).nodes == ("z",)
    assert plan(_input(("y",), frozenset({"z"}), reads, swap=False)).nodes == ("y",)


def test_no_swap_uncovers_the_zone_floor() -> None:
    nodes = (NodeInfo("a", "z1"), NodeInfo("b", "z1"), NodeInfo("c", "z2"))
    reads = {"a": 100.0, "b": 300.0, "c": 0.0}
    # the rule holds a and b (zone z1 only); the plan's copy on c keeps the floor of 2 zones
    planned = plan(
        _input(("a", "c"), frozenset({"a", "b"}), reads, swap=True, nodes=nodes, min_replicas=2)
    )
    assert planned.nodes == ("a", "c")


def test_the_floors_copy_goes_to_the_rules_node() -> None:
    # no copy left (its node was lost): min's copy goes where the rule holds one, not
    # where the forecast gains most
    reads = {"w": 900.0, "x": 0.0, "y": 0.0, "z": 10.0}
    assert plan(_input((), frozenset({"z"}), reads, swap=True)).nodes == ("z",)
    assert plan(_input((), frozenset({"z"}), reads, swap=False)).nodes == ("w",)


def test_the_forecasts_moves_leave_the_rules_copies() -> None:
    # at the copy's price a move from x to z pays; the rule holds w and x
    reads = {"w": 300.0, "x": 1.0, "y": 0.0, "z": 900.0}
    rule = frozenset({"w", "x"})
    assert plan(_input(("w", "x"), rule, reads, swap=True, copy_weight=1.0)).nodes == ("w", "x")
    assert plan(_input(("w", "x"), rule, reads, swap=False, copy_weight=1.0)).nodes == ("w", "z")
