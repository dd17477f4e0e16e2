"""Plain spread and the replica-set reconcile: table tests and properties."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from statecast.core.placement.types import CurrentReplica
from statecast.core.replica_set import reconcile_replicas
from statecast.core.spread import Candidate, eligible, spread


def nodes(*specs: str) -> list[Candidate]:
    """``"node-1:a"`` -> node-1 in zone a."""
    out = []
    for spec in specs:
        name, zone = spec.split(":")
        out.append(Candidate(name=name, domain=zone, labels={"zone": zone}))
    return out


FOUR = nodes("n1:a", "n2:b", "n3:a", "n4:b")


@pytest.mark.parametrize(
    ("sentence", "candidates", "count", "current", "expected"),
    [
        ("two replicas on four nodes in two zones go one per zone", FOUR, 2, [], ["n1", "n2"]),
        ("three replicas use both zones, two in the first", FOUR, 3, [], ["n1", "n2", "n3"]),
        ("existing replicas stay where they are", FOUR, 2, ["n3", "n4"], ["n3", "n4"]),
        (
            "an existing replica that unbalances zones is not kept",
            FOUR,
            2,
            ["n1", "n3"],
            ["n1", "n2"],
        ),
        ("more replicas than nodes gives every node one", FOUR[:2], 5, [], ["n1", "n2"]),
        ("a replica on a node that is gone is replaced", FOUR, 2, ["n9", "n2"], ["n1", "n2"]),
        ("nodes without the label form one domain", nodes("x:", "y:"), 1, [], ["x"]),
        (
            "kept replicas make room so that no zone with nodes is left short",
            nodes("a:z1", "b:z3", "c:z3", "d:z1", "e:z2"),
            4,
            ["a", "b", "c", "d"],
            ["a", "b", "d", "e"],
        ),
    ],
)
def test_spread(
    sentence: str, candidates: list[Candidate], count: int, current: list[str], expected: list[str]
) -> None:
    assert spread(candidates, count, current) == expected, sentence


def test_eligible_filters_by_selector_and_readiness() -> None:
    cands = [
        Candidate("a", "z1", {"tier": "api"}),
        Candidate("b", "z1", {"tier": "web"}),
        Candidate("c", "z2", {"tier": "api"}, ready=False),
    ]
    assert [c.name for c in eligible(cands, {"tier": "api"})] == ["a"]


@pytest.mark.parametrize(
    ("sentence", "current", "count", "adds", "removes"),
    [
        (
            "a new resource gets min replicas for reason minimum",
            [],
            2,
            [("n1", "minimum"), ("n2", "minimum")],
            [],
        ),
        (
            "a replica on a lost node is replaced first (failover) and not removed yet",
            [CurrentReplica("n9", up_to_date=True), CurrentReplica("n2", up_to_date=True)],
            2,
            [("n1", "failover")],
            [],
        ),
        (
            "once the replacement is Ready the lost copy is removed",
            [
                CurrentReplica("n9", up_to_date=True),
                CurrentReplica("n1", up_to_date=True),
                CurrentReplica("n2", up_to_date=True),
            ],
            2,
            [],
            [("n9", "failover")],
        ),
        (
            "scaling down removes extras only when the kept ones are Ready",
            [
                CurrentReplica("n1", up_to_date=True),
                CurrentReplica("n2", up_to_date=False),
                CurrentReplica("n3", up_to_date=True),
            ],
            2,
            [],
            [],
        ),
        (
            "scaling down with everyone Ready removes the extra (rebalance)",
            [
                CurrentReplica("n1", up_to_date=True),
                CurrentReplica("n2", up_to_date=True),
                CurrentReplica("n3", up_to_date=True),
            ],
            2,
            [],
            [("n3", "rebalance")],
        ),
        (
            "scaling up adds on the emptier zone (rebalance)",
            [CurrentReplica("n1", up_to_date=True)],
            2,
            [("n2", "rebalance")],
            [],
        ),
    ],
)
def test_reconcile_replicas(
    sentence: str,
    current: list[CurrentReplica],
    count: int,
    adds: list[tuple[str, str]],
    removes: list[tuple[str, str]],
) -> None:
    plan = reconcile_replicas(FOUR, current, count=count)
    assert [(c.node, c.reason) for c in plan.adds] == adds, sentence
    assert [(c.node, c.reason) for c in plan.removes] == removes, sentence


def test_no_eligible_node_never_removes_the_last_copies() -> None:
    plan = reconcile_replicas([], [CurrentReplica("n1", up_to_date=True)], count=2)
    assert plan.changes == ()


candidate_lists = st.lists(
    st.tuples(st.sampled_from("abcdefgh"), st.sampled_from(["z1", "z2", "z3"])),
    min_size=0,
    max_size=8,
    unique_by=lambda t: t[0],
).map(lambda pairs: [Candidate(n, z, {}) for n, z in pairs])


@given(candidate_lists, st.integers(0, 10), st.lists(st.sampled_from("abcdefghxy"), max_size=6))
def test_spread_properties(cands: list[Candidate], count: int, current: list[str]) -> None:
    chosen = spread(cands, count, current)
    assert len(chosen) == min(count, len(cands))
    assert len(set(chosen)) == len(chosen)
    assert set(chosen) <= {c.name for c in cands}
    assert chosen == spread(list(reversed(cands)), count, list(reversed(current)))  # deterministic
    zones = Counter(c.domain for c in cands if c.name in chosen)
    available = Counter(c.domain for c in cands)
    # balanced: a zone is short of the fullest by more than one only when it has no more nodes
    if zones:
        top = max(zones.values())
        for zone, have in available.items():
            assert zones[zone] >= min(have, top - 1)


@given(
    candidate_lists,
    st.integers(1, 6),
    st.lists(st.sampled_from("abcdefghxy"), max_size=6, unique=True),
    st.data(),
)
def test_reconcile_never_leaves_fewer_copies(
    cands: list[Candidate], count: int, current_nodes: list[str], data: st.DataObject
) -> None:
    phases = data.draw(
        st.lists(
            st.sampled_from(["Pending", "Syncing", "Ready", "Stale"]),
            min_size=len(current_nodes),
            max_size=len(current_nodes),
        )
    )
    current = [
        CurrentReplica(n, up_to_date=p == "Ready")
        for n, p in zip(current_nodes, phases, strict=True)
    ]
    plan = reconcile_replicas(cands, current, count=count)
    after = {r.node for r in current} | {c.node for c in plan.adds}
    after -= {c.node for c in plan.removes}
    assert len(after) >= min(len(current), count) or len(after) >= min(count, len(cands))
    ready_before = {r.node for r in current if r.up_to_date}
    if ready_before:
        # never removes the last up-to-date copy
        assert ready_before - {c.node for c in plan.removes}


@pytest.mark.parametrize(
    ("sentence", "current", "consumers", "limit", "wanted", "adds"),
    [
        (
            "a consumer's node gets a copy beyond the spread, reason consumer",
            [CurrentReplica("n1", up_to_date=True), CurrentReplica("n2", up_to_date=True)],
            ["n4"],
            None,
            ["n1", "n2", "n4"],
            [("n4", "consumer")],
        ),
        (
            "a consumer's node is preferred for the spread copies of a new resource",
            [],
            ["n3"],
            None,
            ["n2", "n3"],
            [("n2", "minimum"), ("n3", "consumer")],
        ),
        (
            "replicas.max caps the consumers' copies, first by name",
            [CurrentReplica("n1", up_to_date=True), CurrentReplica("n2", up_to_date=True)],
            ["n4", "n3"],
            3,
            ["n1", "n2", "n3"],
            [("n3", "consumer")],
        ),
        (
            "a consumer on an ineligible node is ignored",
            [CurrentReplica("n1", up_to_date=True), CurrentReplica("n2", up_to_date=True)],
            ["n9"],
            None,
            ["n1", "n2"],
            [],
        ),
    ],
)
def test_consumers_get_a_local_copy(
    sentence: str,
    current: list[CurrentReplica],
    consumers: list[str],
    limit: int | None,
    wanted: list[str],
    adds: list[tuple[str, str]],
) -> None:
    plan = reconcile_replicas(FOUR, current, count=2, consumers=consumers, limit=limit)
    assert list(plan.wanted) == wanted, sentence
    assert [(c.node, c.reason) for c in plan.adds] == adds, sentence


def test_a_consumer_copy_goes_once_the_consumer_has_left_and_the_rest_is_ready() -> None:
    current = [CurrentReplica(n, up_to_date=True) for n in ("n1", "n2", "n4")]
    plan = reconcile_replicas(FOUR, current, count=2, consumers=[])
    assert [(c.action, c.node, c.reason) for c in plan.changes] == [("remove", "n4", "rebalance")]


def test_a_consumer_copy_on_a_less_loaded_node_goes_and_the_older_copy_stays() -> None:
    """With loads, the spread picks the least loaded held node: it must not keep the copy
    made for a consumer that has left and retire the one that was there before it (with
    the hold rule of a policy without a plan, both then stayed for ever: CI, full suite)."""
    nodes = [
        Candidate("home", "z1", {}, load=(5.0,)),
        Candidate("elsewhere", "z1", {}, load=(0.0,)),
    ]
    current = [
        CurrentReplica("home", up_to_date=True, reason="minimum"),
        CurrentReplica("elsewhere", up_to_date=True, reason="consumer"),
    ]
    plan = reconcile_replicas(nodes, current, count=1, consumers=[])
    assert [(c.action, c.node) for c in plan.changes] == [("remove", "elsewhere")]
