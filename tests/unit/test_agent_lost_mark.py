"""An agent that runs again overwrites the operator's ``Lost`` mark on its Replica.

The operator marks a copy ``Lost`` when its agent's Lease lapses, and now keeps it where
no other node can take a copy (:func:`statecast.core.replica_set.keep_unreplaced`). An
agent frozen past its Lease (starved of CPU, or stopped) and running again is not a
restarted one: it still holds its last status write, equal to what it reports now, and
wrote nothing - its Replica stayed ``Lost`` for good (seen live with a SIGSTOPped agent,
tests/integration/test_live_replicas.py). It now writes what it observes at once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from statecast.agent.config import AgentConfig
from statecast.agent.kube import ReplicaReconciler
from statecast.agent.runtime import Agent
from tests.unit.test_agent_kube import FakeGateway, record


@pytest.fixture
async def agent(tmp_path: Path) -> AsyncIterator[Agent]:
    node = Agent(AgentConfig(node="n1", data_dir=tmp_path))
    yield node
    await node.stop()


def _phases(gateway: FakeGateway) -> list[str]:
    return [status["phase"] for name, status in gateway.patches if name == "flags-n1"]


MARK = {"phase": "Lost", "conditions": [{"type": "Ready", "reason": "AgentLost"}]}


async def _ready(gateway: FakeGateway, agent: Agent) -> ReplicaReconciler:
    gateway.specs["apps", "flags"] = {"merge": "lww", "consistency": "eventual"}
    gateway.replicas = [record("n1")]
    reconciler = ReplicaReconciler(gateway, agent)  # status_every 5 s
    await reconciler.reconcile()
    await reconciler.reconcile()
    assert _phases(gateway) == ["Pending", "Syncing", "Ready"], "nothing new: nothing written"
    return reconciler


def _time_passes(reconciler: ReplicaReconciler, seconds: float) -> None:
    """As if the last status write was ``seconds`` earlier."""
    reconciler.held["apps", "flags"].written_at -= seconds


async def test_a_lost_mark_is_overwritten_by_the_agent_that_runs_again(agent: Agent) -> None:
    gateway = FakeGateway()
    reconciler = await _ready(gateway, agent)
    _time_passes(reconciler, 8.0)  # frozen past its 6 s Lease
    gateway.replicas = [replace(record("n1"), status=MARK)]  # the operator's, as watched
    await reconciler.reconcile()
    assert _phases(gateway) == ["Pending", "Syncing", "Ready", "Ready"]
    gateway.replicas = [replace(record("n1"), status=gateway.patches[-1][1])]  # its own, seen
    _time_passes(reconciler, 8.0)
    await reconciler.reconcile()
    assert len(_phases(gateway)) == 4, "once the mark is gone, nothing new: nothing written"


async def test_a_mark_made_again_at_once_is_overwritten_once_a_status_period(agent: Agent) -> None:
    """An agent whose replicas report while its Lease does not renew: the operator marks
    its copies again after each overwrite; the two do not write in turn without pause."""
    gateway = FakeGateway()
    reconciler = await _ready(gateway, agent)
    gateway.replicas = [replace(record("n1"), status=MARK)]
    for _ in range(3):
        await reconciler.reconcile()
    assert _phases(gateway) == ["Pending", "Syncing", "Ready"], "written less than 5 s ago"
    _time_passes(reconciler, 5.0)
    for _ in range(3):
        await reconciler.reconcile()
    assert _phases(gateway) == ["Pending", "Syncing", "Ready", "Ready"]
