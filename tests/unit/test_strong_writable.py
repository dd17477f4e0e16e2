"""A strong resource's status says whether it takes writes (issue 19, item 6: every copy
Ready 3/3 while every write was refused, and no condition said so)."""

from __future__ import annotations

import pytest

from statecast.core.reconcile import Observed, reconcile
from tests.unit.test_controller_reconcile import NODES, NOW, replica, resource
from tests.unit.test_strong_reconcile import CONFIG, LEADING, _observed, _replica


def _writable(status, replicas, down=frozenset()):
    result = reconcile(_observed(status, replicas, down))
    found = {c["type"]: c for c in result.status["conditions"]}
    return found["Writable"]


FOLLOWERS = [_replica(n, "follower", 3) for n in "bc"]


@pytest.mark.parametrize(
    ("status", "leader", "down", "holds", "reason"),
    [
        ({}, None, frozenset(), "False", "NoLeader"),  # nobody elected yet
        (CONFIG, LEADING, frozenset(), "True", "LeaderServing"),
        (CONFIG, LEADING, frozenset({"a"}), "False", "LeaderLost"),  # its agent is down
        (CONFIG, {**LEADING, "leading": False}, frozenset(), "False", "EpochNotOpen"),
        (CONFIG, {**LEADING, "epoch": 2}, frozenset(), "False", "EpochNotOpen"),  # an old one
        (CONFIG, {**LEADING, "isolated": True}, frozenset(), "False", "NoQuorum"),
    ],
)
def test_the_writable_condition_says_whether_writes_are_taken(status, leader, down, holds, reason):
    role = "leader" if leader is not None else "learner"
    replicas = [_replica("a", role, 3, leader), *FOLLOWERS]
    condition = _writable(status, replicas, down)
    assert (condition["status"], condition["reason"]) == (holds, reason)
    if holds == "False":
        assert "refused" in condition["message"]


def test_an_eventual_resource_has_no_writable_condition() -> None:
    observed = Observed(resource({"replicas": {"min": 1}}), NODES, [replica("node-1")], now=NOW)
    result = reconcile(observed)
    assert "Writable" not in {c["type"] for c in result.status["conditions"]}
