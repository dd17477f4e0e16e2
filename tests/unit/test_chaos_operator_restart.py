"""operator-restart counts as extra only what the restart caused, not the answers to the run.

CI (session 6) failed the integration test with ``extra_actions`` 1: the copy the
restarted operator added for the raised ``replicas.min`` was removed once the heal set
``min`` back, inside the three intervals after the restart - two spec changes answered
with one action each, counted as an action undone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from statecast.chaos.observer import ReplicaEvent
from statecast.chaos.scenarios import OperatorRestart, Run


class Cluster:
    """The operator and agent processes the scenario kills and starts, on a made-up clock."""

    def __init__(self) -> None:
        self.now = 2.06
        self.done: list[str] = []

    def acting_operator(self) -> str:
        return "operator-0"

    def kill_operator(self, name: str) -> None:
        self.done.append(f"kill {name}")
        self.now += 0.06

    def start_operator(self, name: str) -> None:
        self.done.append(f"start {name}")
        self.now += 1.0  # the restart_after sleep (0 here) as the clock saw it

    def kill_agent(self, node: str) -> None:
        self.done.append(f"kill agent {node}")
        self.now += 0.9

    def start_agent(self, node: str) -> None:
        self.done.append(f"start agent {node}")

    returned = False
    """Whether the restarted agent has renewed its Lease."""

    def agent_renewed(self, node: str) -> dt.datetime:
        return dt.datetime(2026, 12, 5, 6, 0, 5 if self.returned else 0, tzinfo=dt.UTC)


def run_on(cluster: Cluster, marks: dict[str, float], patches: list[dict[str, Any]]) -> Run:
    def wait_for(check: Callable[[], Any], timeout: float) -> Any:
        return check()

    return Run(
        target=cluster,  # type: ignore[arg-type]
        namespace="chaos", resource="state", minimum=2, holders=["node-1", "node-4"],
        choose=lambda options: options[0], clock=lambda: cluster.now,
        mark=lambda label: marks.__setitem__(label, cluster.now),
        wait_for=wait_for, patch_resource=patches.append,
        replica_nodes=lambda: {"node-1": "Ready", "node-3": "Ready", "node-4": "Ready"},
        interval=5.0,
    )  # fmt: skip


def restart_run(events: list[ReplicaEvent], returned_at: float | None = None) -> dict[str, Any]:
    """The scenario on made-up moments; the victim's Lease renewed at ``returned_at``."""
    cluster, marks, patches = Cluster(), dict[str, float](), list[dict[str, Any]]()
    run = run_on(cluster, marks, patches)
    scenario = OperatorRestart()
    scenario.restart_after = scenario.failover_pending = 0.0
    scenario.return_poll, scenario.return_within = 0.001, 0.0 if returned_at is None else 30.0
    scenario.inject(run)
    cluster.now = 8.0
    scenario.heal(run)
    if returned_at is not None:
        cluster.now, cluster.returned = returned_at, True
        assert scenario._returning is not None
        scenario._returning.join(timeout=30)
    assert patches == [{"replicas": {"min": 3}}, {"replicas": {"min": 2}}]
    assert cluster.done == [
        "kill operator-0", "start operator-0", "kill agent node-1",
        "kill operator-0", "start operator-0", "start agent node-1",
    ]  # fmt: skip
    assert marks["operator-restarted-reconcile"] == 3.12
    scenario.summarize(run, events, marks)
    return run.extra


def test_the_copy_for_the_raised_min_removed_once_min_is_restored_is_no_extra_action() -> None:
    extra = restart_run([
        ReplicaEvent(3.5, "added", "state-node-3", "node-3", "rebalance", "Pending"),
        ReplicaEvent(9.0, "removed", "state-node-3", "node-3", "rebalance", ""),
    ])  # fmt: skip
    assert extra["after_restart"]["reconcile"] == {
        "actions": {"added:rebalance": 1, "removed:rebalance": 1},
        "extra_actions": 0,
    }
    assert extra["inputs"] == {
        "min-raised": 2.06, "agent-killed": 3.12, "agent-started": 8.0, "min-restored": 8.0,
    }  # fmt: skip


def test_a_copy_the_restarted_operator_adds_and_takes_back_on_its_own_is_extra() -> None:
    extra = restart_run([
        ReplicaEvent(3.5, "added", "state-node-3", "node-3", "rebalance", "Pending"),
        ReplicaEvent(9.0, "added", "state-node-2", "node-2", "rebalance", "Pending"),
        ReplicaEvent(9.5, "removed", "state-node-2", "node-2", "rebalance", ""),
    ])  # fmt: skip
    assert extra["after_restart"]["reconcile"]["extra_actions"] == 1
    assert extra["after_restart"]["failover"]["extra_actions"] == 1


def test_a_failover_copy_removed_once_the_victim_is_back_answers_its_return() -> None:
    """Failed over late (after the agent was started, before its Lease was renewed), the
    copy is removed once the victim's Lease is renewed: two changes, one action each."""
    events = [
        ReplicaEvent(8.5, "added", "state-node-2", "node-2", "failover", "Pending"),
        ReplicaEvent(9.5, "removed", "state-node-2", "node-2", "failover", ""),
    ]
    extra = restart_run(events, returned_at=9.2)
    assert extra["inputs"]["agent-returned"] == 9.2
    assert extra["after_restart"]["failover"]["extra_actions"] == 0
    # without the return noted, the same two actions counted as one undone
    assert restart_run(events)["after_restart"]["failover"]["extra_actions"] == 1


def test_a_copy_added_after_the_victim_is_back_and_removed_again_is_still_extra() -> None:
    extra = restart_run([
        ReplicaEvent(9.4, "added", "state-node-2", "node-2", "failover", "Pending"),
        ReplicaEvent(9.8, "removed", "state-node-2", "node-2", "failover", ""),
    ], returned_at=9.2)  # fmt: skip
    assert extra["after_restart"]["failover"]["extra_actions"] == 1
