"""The clock-skew scenario restarts one holder at a time: the skew is the fault.

It waited for the restarted agent's Replica to say Ready, which it still did from before
the restart, so the second holder was killed a third of a second after the first and no
replica served the resource for seconds (906 ``503 no_replica`` and 4 failed reads in
one run).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from statecast.chaos.scenarios import ClockSkew, Run


class Agents:
    """Two holders whose agents take a few polls to serve again after a start."""

    def __init__(self, polls_to_serve: int) -> None:
        self.polls_to_serve = polls_to_serve
        self.log: list[str] = []
        self.starting: dict[str, int] = {}  # node -> polls left until it serves

    def agents(self) -> dict[str, str]:
        return {n: f"http://{n}" for n in ("node-1", "node-2", "node-3")}

    def kill_agent(self, node: str) -> None:
        self.log.append(f"kill {node}")

    def start_agent(
        self, node: str, *, env: Mapping[str, str] | None = None, data_dir: Path | None = None
    ) -> None:
        self.log.append(f"start {node}")
        self.starting[node] = self.polls_to_serve

    def serves_locally(self, node: str) -> bool:
        left = self.starting.get(node, 0)
        if left:
            self.starting[node] = left - 1
            return False
        self.log.append(f"serves {node}")
        return True


def wait_for(check: Any, timeout: float) -> Any:
    for _ in range(100):
        if value := check():
            return value
    return None


def run_on(agents: Agents, extra: dict[str, Any]) -> Run:
    return Run(
        target=agents,  # type: ignore[arg-type]
        namespace="chaos", resource="state", minimum=2, holders=["node-1", "node-2"],
        choose=lambda options: sorted(options)[0], clock=lambda: 0.0,
        mark=lambda label: None, wait_for=wait_for, patch_resource=lambda patch: None,
        replica_nodes=lambda: {"node-1": "Ready", "node-2": "Ready"},  # stale, as in the API
        serves_locally=agents.serves_locally, extra=extra,
    )  # fmt: skip


def test_the_second_holder_is_restarted_only_once_the_first_serves_again() -> None:
    agents = Agents(polls_to_serve=3)
    extra: dict[str, Any] = {}
    scenario = ClockSkew()
    scenario.inject(run_on(agents, extra))
    assert extra["skewed"] == {"node-1": 5.0, "node-2": -5.0}
    assert agents.log == [
        "kill node-1", "start node-1", "serves node-1",
        "kill node-2", "start node-2", "serves node-2",
    ]  # fmt: skip
    scenario.heal(run_on(agents, extra))
    assert agents.log[6:] == [
        "kill node-1", "start node-1", "serves node-1",
        "kill node-2", "start node-2", "serves node-2",
    ]  # fmt: skip
    assert set(extra["serving_again_after_s"]) == {
        "skewed-node-1", "skewed-node-2", "healed-node-1", "healed-node-2",
    }  # fmt: skip


def test_a_holder_whose_copy_was_failed_over_meanwhile_is_not_waited_for() -> None:
    """A restart slower than the Lease: the copy is Lost, replaced and removed; waiting
    for it to serve again took the whole timeout (60 s per restart in the benchmark)."""
    agents = Agents(polls_to_serve=10_000)
    extra: dict[str, Any] = {}
    run = run_on(agents, extra)
    run.replica_nodes = lambda: {"node-3": "Ready", "node-4": "Ready"}  # both replaced
    ClockSkew().inject(run)
    assert agents.log == ["kill node-1", "start node-1", "kill node-2", "start node-2"]
    assert all(v is not None for v in extra["serving_again_after_s"].values())


def test_an_agent_that_never_serves_again_is_reported_not_waited_for_forever() -> None:
    agents = Agents(polls_to_serve=10_000)
    extra: dict[str, Any] = {}
    ClockSkew().inject(run_on(agents, extra))
    assert extra["serving_again_after_s"] == {"skewed-node-1": None, "skewed-node-2": None}
