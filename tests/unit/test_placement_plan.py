"""Table tests of the planner: each row reads like the sentence that explains it."""

from __future__ import annotations

import pytest

from statecast.core.placement import (
    ActionKind,
    CurrentReplica,
    DemandForecast,
    NodeForecast,
    NodeInfo,
    PlacementError,
    PlacementSpec,
    PlanInput,
    Reason,
    StateProfile,
    plan,
)
from tests.unit._placement_helpers import make_input, old

NODES = "a:z1,b:z1,c:z2,d:z2,e:z3"
HOT, WARM, COLD = 200.0, 50.0, 0.0
#: Demand that anchors the replicas on a and c where a row is about another node.
ANCHOR = {"a": 5 * HOT, "c": 5 * HOT}


def kinds(inputs: PlanInput) -> dict[str, tuple[str, str]]:
    return {a.node: (a.kind.value, a.reason.value) for a in plan(inputs).actions}


ROWS = [
    (
        "a hot node in another zone gets a predicted replica",
        make_input(NODES, mean={"c": HOT}, replicas=(old("a"), old("e"))),
        {"c": ("add", "predicted")},
    ),
    (
        "a cold replica past its cooldown is removed for cost",
        make_input(NODES, mean={"a": HOT, "c": HOT}, replicas=(old("a"), old("c"), old("e"))),
        {"e": ("remove", "cost")},
    ),
    (
        "a cold replica within its cooldown is kept",
        make_input(
            NODES,
            replicas=(old("a"), old("c"), CurrentReplica("e", age_s=10.0, reason=Reason.PREDICTED)),
        ),
        {"e": ("keep", "predicted")},
    ),
    (
        "an uncertain node whose upper bound pays gets a hedge replica",
        make_input(
            NODES,
            mean={"e": WARM},
            upper={"e": 3 * WARM},
            deviation={"e": 1.0},
            replicas=(old("a"), old("c")),
        ),
        {"e": ("add", "hedge")},
    ),
    (
        "a node whose last forecast was right gets no hedge however wide its interval",
        make_input(
            NODES,
            mean={**ANCHOR, "e": WARM},
            upper={"e": 3 * WARM},
            deviation={"e": 0.1},
            replicas=(old("a"), old("c")),
        ),
        {"e": None},
    ),
    (
        "the replica that covers a zone goes on that zone's hot node",
        make_input(NODES, mean={"a": HOT, "c": 5.0, "d": HOT}, replicas=(old("a"),)),
        {"d": ("add", "minimum"), "c": None},
    ),
    (
        "a replica whose demand has left is removed once its cooldown has passed",
        make_input(
            NODES,
            mean={"a": HOT, "c": HOT, "e": 5.0},
            replicas=(old("a"), old("c"), CurrentReplica("e", age_s=900.0)),
            cooldown_s=900.0,
        ),
        {"e": ("remove", "cost")},
    ),
    (
        "the same replica a minute before its cooldown ends is kept",
        make_input(
            NODES,
            mean={"a": HOT, "c": HOT, "e": 5.0},
            replicas=(old("a"), old("c"), CurrentReplica("e", age_s=840.0)),
            cooldown_s=900.0,
        ),
        {"e": ("keep", "predicted")},
    ),
    (
        "a wide interval alone does not keep a replica: its forecast was right last time",
        make_input(
            NODES,
            mean={"a": HOT, "c": HOT, "e": 5.0},
            upper={"e": HOT},
            deviation={"e": 0.1},
            replicas=(old("a"), old("c"), old("e")),
        ),
        {"e": ("remove", "cost")},
    ),
    (
        "an uncertain node's upper bound keeps its replica (hedge)",
        make_input(
            NODES,
            mean={"a": HOT, "c": HOT, "e": 5.0},
            upper={"e": HOT},
            deviation={"e": 1.0},
            replicas=(old("a"), old("c"), old("e")),
        ),
        {"e": ("keep", "hedge")},
    ),
    (
        "a node whose pod uses the resource gets a replica before any demand",
        make_input(NODES, replicas=(old("a"), old("c")), consumers=frozenset({"e"})),
        {"e": ("add", "consumer")},
    ),
    (
        # Issue 11 (generated-31): the old copy, the only up-to-date one, stayed a whole
        # step beside the pod's new copy; reactive's went once that copy was ready, so its
        # cheapest runs held fewer replica-hours than any of predictive's.
        "at min 1, a pod's node gets the copy and the old one goes by a hand-off in the "
        "same plan (the executor removes it once the pod's copy is up to date)",
        make_input(NODES, replicas=(old("a"),), consumers=frozenset({"e"}), min_replicas=1),
        {"e": ("add", "consumer"), "a": ("remove", "cost")},
    ),
    (
        "without the hand-off (session 10's rule) the old copy stays until the next plan",
        make_input(
            NODES,
            replicas=(old("a"),),
            consumers=frozenset({"e"}),
            min_replicas=1,
            hand_off_on_add=False,
        ),
        {"e": ("add", "consumer"), "a": ("keep", "minimum")},
    ),
    (
        "the only up-to-date copy beside a syncing one is not handed off to a pod's copy",
        make_input(
            NODES,
            mean={"c": HOT},
            replicas=(old("a"), old("c", up_to_date=False)),
            consumers=frozenset({"e"}),
            min_replicas=1,
        ),
        {"e": ("add", "consumer"), "a": ("keep", "minimum")},
    ),
    (
        "an old copy the demand still pays for stays beside the pod's copy",
        make_input(
            NODES,
            mean={"a": HOT},
            replicas=(old("a"),),
            consumers=frozenset({"e"}),
            min_replicas=1,
        ),
        {"e": ("add", "consumer"), "a": ("keep", "predicted")},
    ),
    (
        "a replica on a lost node is dropped and the minimum restored elsewhere",
        make_input(NODES, replicas=(old("a"), old("c")), down="c"),
        {"c": ("remove", "failover"), "a": ("keep", "minimum")},
    ),
    (
        "a lost node holding the only up-to-date copy is kept",
        make_input(NODES, replicas=(old("a", up_to_date=False), old("c")), down="c"),
        {"c": ("keep", "failover")},
    ),
    (
        "the minimum lands in distinct zones",
        make_input(NODES, min_replicas=3),
        {"a": ("add", "minimum"), "c": ("add", "minimum"), "e": ("add", "minimum")},
    ),
    (
        "two copies in one zone are spread when another zone is free",
        make_input(NODES, replicas=(old("a"), old("b")), max_replicas=2),
        {"c": ("add", "rebalance"), "a": ("remove", "rebalance"), "b": ("keep", "minimum")},
    ),
    (
        "max caps predicted replicas at the hottest nodes",
        make_input(
            NODES,
            mean={**ANCHOR, "b": HOT, "d": 2 * HOT, "e": 3 * HOT},
            replicas=(old("a"), old("c")),
            max_replicas=3,
        ),
        {"e": ("add", "predicted"), "d": None, "b": None},
    ),
    (
        "the stored-bytes budget caps replicas like max",
        make_input(
            NODES,
            mean={**ANCHOR, "b": HOT, "d": 2 * HOT, "e": 3 * HOT},
            replicas=(old("a"), old("c")),
            budget_bytes_stored=3 * 64 * 2**20,
        ),
        {"e": ("add", "predicted"), "d": None},
    ),
    (
        "demand between the remove and the add gate changes nothing (hysteresis)",
        make_input(NODES, mean={"e": 60.0}, replicas=(old("a"), old("c"), old("e"))),
        {"e": ("keep", "predicted")},
    ),
    (
        "demand between the gates does not add a replica either",
        make_input(NODES, mean={**ANCHOR, "e": 60.0}, replicas=(old("a"), old("c"))),
        {"e": None},
    ),
    (
        "a node that just lost a replica needs a wider margin to get one back",
        make_input(
            NODES, mean={"e": 100.0}, replicas=(old("a"), old("c")), recently_removed={"e": 30.0}
        ),
        {"e": None},
    ),
    (
        "the same node past its cooldown gets it back",
        make_input(
            NODES, mean={"e": 100.0}, replicas=(old("a"), old("c")), recently_removed={"e": 900.0}
        ),
        {"e": ("add", "predicted")},
    ),
    (
        "a replica whose node cooled down moves to where demand went",
        make_input(
            NODES, mean={"c": HOT, "b": 5 * HOT}, replicas=(old("a"), old("c")), max_replicas=2
        ),
        {"a": ("remove", "rebalance"), "b": ("add", "predicted"), "c": ("keep", "predicted")},
    ),
    (
        # Issue 11: at min the planner never relocated a copy when the move did not also
        # pay for a whole horizon of holding; a move holds nothing more, it pays the copy.
        "at min, a copy moves to the node issuing the reads when the latency saved over "
        "the window beats the copy (its holding cost does not change)",
        make_input(NODES, mean={"b": 150.0}, replicas=(old("a"), old("c"))),
        {"a": ("remove", "rebalance"), "b": ("add", "predicted"), "c": ("keep", "minimum")},
    ),
    (
        "the same move is not made when the latency saved does not pay for the copy",
        make_input(NODES, mean={"b": 100.0}, replicas=(old("a"), old("c"))),
        {"a": ("keep", "predicted"), "b": None},
    ),
    (
        "a sole copy moves by a hand-off (removed once its successor is up to date)",
        make_input(NODES, mean={"b": 150.0}, replicas=(old("a"),), min_replicas=1),
        {"a": ("remove", "rebalance"), "b": ("add", "predicted")},
    ),
    (
        "the only up-to-date copy beside a syncing one waits for it before it moves",
        make_input(NODES, mean={"b": 150.0}, replicas=(old("a"), old("c", up_to_date=False))),
        {"a": ("keep", "predicted"), "b": None},
    ),
    (
        # Found on generated scenarios: after a jump of demand the forecast crawled up
        # for an hour inside a narrow interval, and the planner followed it.
        "a node whose last forecast missed by far is judged by the demand just seen too",
        make_input(
            NODES,
            mean={"b": 5.0},
            deviation={"b": 30.0},
            observed={"b": 150.0},
            replicas=(old("a"), old("c")),
        ),
        {"a": ("remove", "rebalance"), "b": ("add", "predicted")},
    ),
    (
        "the demand just seen is not believed where the forecast was right",
        make_input(
            NODES,
            mean={"b": 5.0},
            deviation={"b": 0.1},
            observed={"b": 150.0},
            replicas=(old("a"), old("c")),
        ),
        {"b": None},
    ),
    (
        "a replica within its cooldown does not move",
        make_input(
            NODES,
            mean={"c": HOT, "b": 5 * HOT},
            replicas=(CurrentReplica("a", age_s=60.0), old("c")),
            max_replicas=2,
        ),
        {"a": ("keep", "predicted"), "b": None},
    ),
    (
        "a strong resource whose leader is lost promotes the most advanced replica",
        make_input(
            NODES,
            consistency="strong",
            replicas=(
                old("a", role="leader", progress=10),
                old("c", role="follower", progress=9),
                old("e", role="follower", progress=7),
            ),
            down="a",
        ),
        {"a": ("remove", "failover"), "c": ("promote", "failover")},
    ),
    (
        "a stale replica is never the last copy to go, the up-to-date one stays",
        make_input(NODES, replicas=(old("a"), old("b", up_to_date=False)), min_replicas=1),
        {"a": ("keep", "minimum")},
    ),
    (
        # Found by hypothesis (test_spreads_over_zones_when_it_can): the cheapest copy to
        # drop was the only one in its zone, and at the ceiling the spread could not be
        # restored. The database that found it is not in git, so the row keeps it.
        "above the ceiling a crowded zone gives a copy up, not a zone's only copy",
        make_input(
            NODES,
            mean={"a": HOT, "b": 2 * HOT},
            replicas=(old("a"), old("b"), old("e")),
            max_replicas=2,
        ),
        {"a": ("remove", "cost"), "e": ("keep", "minimum")},
    ),
]


@pytest.mark.parametrize(("sentence", "inputs", "expected"), ROWS, ids=[r[0] for r in ROWS])
def test_plan_decision(
    sentence: str, inputs: PlanInput, expected: dict[str, tuple[str, str] | None]
) -> None:
    got = kinds(inputs)
    for node, want in expected.items():
        assert got.get(node) == want, f"{sentence}: {node} -> {got.get(node)}; plan {got}"


def test_every_action_explains_itself() -> None:
    result = plan(make_input(NODES, mean={"c": HOT}, replicas=(old("a"), old("b"))))
    assert result.actions
    for action in result.actions:
        assert action.detail
        assert isinstance(action.reason, Reason)


def test_plan_expects_lower_latency_with_the_hot_node_served_locally() -> None:
    inputs = make_input(NODES, mean={"c": HOT}, replicas=(old("a"), old("b")))
    result = plan(inputs)
    assert "c" in result.nodes
    assert result.expected_latency_ms == pytest.approx(inputs.latency.local_ms)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"min_replicas": 3, "max_replicas": 2}, "below min"),
        ({"min_replicas": -1}, "min replicas"),
    ],
)
def test_inconsistent_spec_is_rejected(spec: dict[str, int], message: str) -> None:
    with pytest.raises(PlacementError, match=message):
        plan(make_input(NODES, **spec))  # type: ignore[arg-type]


def test_two_replicas_on_one_node_are_rejected() -> None:
    with pytest.raises(PlacementError, match="two replicas"):
        plan(make_input(NODES, replicas=(old("a"), old("a"))))


def test_promotion_is_a_kind_of_keep() -> None:
    inputs = make_input(
        NODES,
        consistency="strong",
        replicas=(old("a", role="leader"), old("c", role="follower", progress=3)),
        down="a",
    )
    result = plan(inputs)
    assert result.leader == "c"
    assert "c" in result.nodes
    assert result.of_kind(ActionKind.PROMOTE)[0].reason is Reason.FAILOVER


def test_issue_11_hourly_concentrated_demand_moves_a_copy_to_the_busy_node() -> None:
    """Eight nodes in three zones, hourly steps, 20 MB, 5 writes/min, default prices: the
    node issuing 93 % of the reads (2.3 a minute) gets the copy its zone-mate held."""
    zones = ("za", "zb", "zc") * 3
    nodes = tuple(NodeInfo(f"n{i}", zones[i]) for i in range(8))
    mean = {f"n{i}": 1.5 for i in range(8)} | {"n4": 140.0}
    inputs = PlanInput(
        spec=PlacementSpec(min_replicas=2, cooldown_s=900.0),
        state=StateProfile(bytes=20_000_000, writes_per_min=5.0),
        nodes=nodes,
        forecast=DemandForecast.from_nodes(
            NodeForecast(n, (m,), (m,), (m,)) for n, m in mean.items()
        ),
        replicas=(old("n0"), old("n1")),
        step_s=3600.0,
    )
    assert set(plan(inputs).nodes) == {"n0", "n4"}


def test_alternating_node_lists_plan_as_each_alone() -> None:
    # The planner remembers the last node list it derived (by identity); a plan on
    # another list in between must not leak into the next plan on the first.
    up = make_input(NODES, mean={"c": HOT}, replicas=(old("a"), old("e")))
    down = make_input(NODES, mean={"c": HOT}, replicas=(old("a"), old("e")), down="c")
    alone = {"up": plan(up), "down": plan(down)}
    for name in ("up", "down", "up", "up", "down", "down", "up"):
        assert plan(up if name == "up" else down) == alone[name]
    assert "c" in alone["up"].nodes and "c" not in alone["down"].nodes
