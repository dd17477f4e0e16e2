"""A failover copy's first pull from a holder that has not listed its Replica yet.

Issue 13's agent-kill runs: the surviving holder refused the new copy's first pull (403
``replica_does_not_belong``) until its own once-a-second pass over the Replicas listed
it, and the copy pulled again only at its next anti-entropy round, then became Ready
at its next Replica pass: ~2 s of an 11.7 s failover. Now the refusal makes the holder
list the Replicas at once, and the copy asks again within its first pass.
"""

from __future__ import annotations

import asyncio
import json

from statecast.agent.kube import ReplicaReconciler
from statecast.agent.runtime import Agent
from tests.unit._agents import REF
from tests.unit.test_agent_kube import FakeGateway, record


def _gateway(new: str, holder: str) -> FakeGateway:
    gateway = FakeGateway()
    gateway.specs[REF] = {"merge": "lww", "consistency": "eventual"}
    held = {"phase": "Ready", "versionVector": {holder: 1}}
    gateway.replicas = [record(new), record(holder, status=held)]
    return gateway


async def _holding(holder: Agent) -> None:
    """``holder`` holds one write and lists itself alone (the new Replica not seen)."""
    store = holder.open_replica(holder.specs[REF])
    await store.put("written", json.dumps("before the failover").encode())
    holder.locations[REF] = (holder.node,)


async def test_a_failover_copy_is_ready_in_its_first_pass_though_the_holder_learns_late(
    agents,
):
    x, y = await agents("x", "y")
    await _holding(y)
    passes: list[str] = []

    def holders_pass() -> None:  # the holder's edge: its pass lists the new Replica
        passes.append("asked")
        y.locations[REF] = ("x", "y")
        y.resources_as_of = float("inf")

    y.resources_as_of = 0.0
    y.learn_resources = lambda: asyncio.get_running_loop().call_soon(holders_pass)
    gateway = _gateway("x", "y")
    await ReplicaReconciler(gateway, x).reconcile()  # the new copy's first pass
    assert passes == ["asked"]  # the refusal made the holder look at once
    assert x.stores[REF].get("written") == b'"before the failover"'
    phases = [status["phase"] for name, status in gateway.patches if name == "flags-x"]
    assert phases[-1] == "Ready"  # in the same pass, not a sync round and a pass later


async def test_a_holder_that_never_lists_the_copy_leaves_it_syncing_not_stuck(agents):
    x, y = await agents("x", "y")
    await _holding(y)
    asked: list[str] = []
    y.resources_as_of = 0.0
    y.learn_resources = lambda: asked.append("asked")
    gateway = _gateway("x", "y")
    await ReplicaReconciler(gateway, x).reconcile()  # its first pulls give up
    assert asked == ["asked"]  # once per pass of the holder's, not once per refusal
    assert x.stores[REF].get("written") is None
    phases = [status["phase"] for name, status in gateway.patches if name == "flags-x"]
    assert phases[-1] == "Syncing"
