"""``replicas.max`` is a bound during a hand-off too (issue 19, item 7): a move off an
eligible node at the limit removes first while a Ready copy stays, and only a sole copy
moves add-first. A copy leaving a node that takes none (lost, storage-failed, cordoned)
does not count: it goes only once its replacement is Ready (session 16)."""

from __future__ import annotations

import pytest

from statecast.core.placement.types import CurrentReplica
from statecast.core.reconcile import Observed, reconcile
from statecast.core.replica_set import ReplicaChange, ReplicaSetPlan, within_max
from tests.unit.test_controller_reconcile import NOW, node, replica, resource


def copies(*specs: str) -> dict[str, CurrentReplica]:
    """``a`` Ready, ``a?`` not Ready."""
    return {s.rstrip("?"): CurrentReplica(s.rstrip("?"), up_to_date=not s.endswith("?"))
            for s in specs}  # fmt: skip


@pytest.mark.parametrize(
    ("wanted", "existing", "changes", "limit", "leaving", "expected"),
    [
        # room for the add: unchanged
        (("a", "b", "d"), copies("a", "b", "c"), ("+d",), 4, (), ("+d",)),
        # at the limit: the copy that goes is removed first, then the add
        (("a", "b", "d"), copies("a", "b", "c"), ("+d",), 3, (), ("-c", "+d")),
        # two moves at once, limit 3
        (("a", "d", "e"), copies("a", "b", "c"), ("+d", "+e"), 3, (), ("-b", "-c", "+d", "+e")),
        # a copy leaving a node that takes none (lost, cordoned) does not count
        (("a", "b", "d"), copies("a", "b", "c"), ("+d",), 3, ("c",), ("+d",)),
        # nothing wanted is Ready yet: a sole copy moves add-first (the one exception)
        (("d",), copies("c"), ("+d",), 1, (), ("+d",)),
        (("a", "d"), copies("a?", "c"), ("+d",), 2, (), ("+d",)),
    ],
)
def test_a_move_at_the_limit_never_holds_more_than_max(
    wanted, existing, changes, limit, leaving, expected
):
    plan = ReplicaSetPlan(
        wanted,
        tuple(ReplicaChange("add" if c[0] == "+" else "remove", c[1:], "rebalance")
              for c in changes),
    )  # fmt: skip
    bounded = within_max(plan, existing, limit, leaving)
    assert tuple(("+" if c.action == "add" else "-") + c.node for c in bounded.changes) == expected


def test_a_cordoned_copy_at_max_goes_only_once_its_replacement_is_ready() -> None:
    """Issue 19 removed it first; it served, and the resource held ``max - 1`` meanwhile."""
    nodes = [
        node("node-1", "zone-a"),
        node("node-2", "zone-b"),
        node("node-3", "zone-a", taints=[{"key": "x", "effect": "NoSchedule"}]),
        node("node-4", "zone-b"),
    ]
    spec = {"replicas": {"min": 3, "max": 3}, "replication": {"policy": "static"}}
    replicas = [replica("node-1"), replica("node-2"), replica("node-3")]
    result = reconcile(Observed(resource(spec), nodes, replicas, now=NOW))
    assert [(c.action, c.node) for c in result.changes] == [("add", "node-4")]
    replicas.append(replica("node-4"))
    handed_off = reconcile(Observed(resource(spec), nodes, replicas, now=NOW))
    assert [(c.action, c.node) for c in handed_off.changes] == [("remove", "node-3")]
