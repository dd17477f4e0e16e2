"""The chaos runner reads the final state only after removed replicas' copies are handed off.

ch13: disk-full runs under load reported a counter one short: the victim's Replica had
been removed and its copy, holding an acknowledged increment, was still being handed off
when the runner read the live replicas.
"""

from __future__ import annotations

import asyncio
import time

from statecast.agent.config import ResourceSpec
from statecast.agent.kube import ReplicaReconciler
from statecast.agent.persistence import ReplicaFiles
from statecast.agent.store import ReplicaStore
from statecast.chaos.runner import _handed_off
from tests.unit._agents import REF, URLS
from tests.unit.test_agent_kube import record
from tests.unit.test_agent_retired import gateway_with


class Agents:
    """A target that knows only where the agents are."""

    def __init__(self, *nodes: str) -> None:
        self.nodes = nodes

    def agents(self) -> dict[str, str]:
        return {n: URLS[n] for n in self.nodes}


async def test_the_final_read_waits_for_retired_copies_to_be_handed_off(agents):
    holder, live = await agents("a", "b")
    earlier = holder.config.data_dir / "apps" / "flags"
    store = ReplicaStore(ResourceSpec(namespace="apps", name="flags"), "a", ReplicaFiles(earlier))
    store.open()
    await store.increment("hits", 1)  # acknowledged here, never pushed
    store.close()
    gateway = gateway_with("c")
    reconciler = ReplicaReconciler(gateway, holder)
    await reconciler.reconcile()
    await reconciler.retirement.sweep(time.time())
    target = Agents("a", "b")
    after, left, first = await asyncio.to_thread(_handed_off, target, *REF, 0.0)  # type: ignore[arg-type]
    assert (after, left, first) == (None, {"a": 1}, {"a": 1})
    _, others, _ = await asyncio.to_thread(_handed_off, target, "apps", "other", 0.0)  # type: ignore[arg-type]
    assert others == {}  # another resource's copies do not hold this one's check
    live.open_replica(live.specs[REF])
    live.locations[REF] = ("b",)
    gateway.replicas = [record("b", owner_uid="uid-1")]
    await reconciler.reconcile()
    await reconciler.retirement.sweep(time.time())
    after, left, first = await asyncio.to_thread(_handed_off, target, *REF, 0.0)  # type: ignore[arg-type]
    assert left == first == {}
    assert after is not None
    assert live.stores[REF].state.get("hits") == 1
