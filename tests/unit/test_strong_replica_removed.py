"""A strong replica whose Replica is removed while its agent lives is closed.

Found by the ``leader-partition-lapsed`` chaos scenario (session 9): the leader's agent,
frozen until the operator marked its Replica Lost and took it out of the voters, ran
again and never let go of its strong replica. The retirement of removed copies handled
eventual copies only, so the agent logged ``replica_closed`` every second and kept the
replica open; that replica heard from no leader any more, so the agent answered every
strong request of its node's clients ``503 no_leader`` (434 in one run, and three
writes left without an answer after a minute) instead of forwarding it to the new
leader. A live voter that a membership step removes met the same.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from statecast.agent.config import AgentConfig
from statecast.agent.kube import ReplicaReconciler
from statecast.agent.kube_api import ReplicaRecord
from statecast.agent.runtime import Agent
from statecast.core.strong.log import Operation
from tests.unit.test_agent_kube import FakeGateway, record


def ledger(node: str, epoch: int, voters: tuple[str, ...], role: str = "follower") -> ReplicaRecord:
    """The Replica of the strong resource ``ledger`` on ``node``."""
    return replace(
        record(node, name=f"ledger-{node}"),
        resource="ledger",
        role=role,
        epoch=epoch,
        voters=voters,
    )


async def test_a_removed_strong_replica_is_closed_and_the_leader_is_asked(tmp_path: Path) -> None:
    agent = Agent(AgentConfig(node="n1", data_dir=tmp_path / "data"))
    gateway = FakeGateway()
    gateway.specs["apps", "ledger"] = {"consistency": "strong"}
    gateway.replicas = [ledger("n1", 1, ("n1",), "leader")]
    reconciler = ReplicaReconciler(gateway, agent)
    try:
        await reconciler.reconcile()
        held = agent.strong["apps", "ledger"]
        await held.fence(1)
        await reconciler.reconcile()  # leads epoch 1
        await held.propose(Operation("put", "k", b"1"))
        # it slept through its replacement: n2 leads epoch 2, n1's Replica is gone
        gateway.replicas = [ledger("n2", 2, ("n2",), "leader")]
        await reconciler.reconcile()
        assert ("apps", "ledger") not in agent.strong  # before: held open for ever
        assert agent.leaders["apps", "ledger"] == "n2"  # its requests go there now
        gateway.replicas = [ledger("n2", 2, ("n2",), "leader"), ledger("n1", 3, ("n2", "n1"))]
        await reconciler.reconcile()  # placed here again: opened from its files
        again = agent.strong["apps", "ledger"]
        assert again is not held  # its log as it was: the write is in it
        assert [e.operation.key for e in again.core.entries if e.operation.kind == "put"] == ["k"]
    finally:
        await agent.stop()
