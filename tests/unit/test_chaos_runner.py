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


async def test_the_final_read_waits_for_an_agent_that_has_not_looked_at_its_disk_yet(agents):
    """CI session 6 (clock-skew, load ~20): a counter one short. node-1's Replica was
    removed while it was back from a skewed restart; the heal killed its agent 0.1 s
    later, in the hand-off of the copy holding an acknowledged increment. The agent
    started again lists its retired copies only at its first sweep of the data directory
    (10 s after its start): its empty list (or its silence while starting) was taken for
    "none left", and the final state was read without that increment."""
    holder, live = await agents("a", "b")
    earlier = holder.config.data_dir / "apps" / "flags"
    store = ReplicaStore(ResourceSpec(namespace="apps", name="flags"), "a", ReplicaFiles(earlier))
    store.open()
    await store.increment("hits", 1)  # acknowledged here, its push cut by the kill
    store.close()
    live.open_replica(live.specs[REF])
    live.locations[REF] = ("b",)
    reconciler = ReplicaReconciler(gateway_with("b"), holder)  # the agent started again
    await reconciler.reconcile()  # its first pass: no Replica here any more
    target = Agents("a", "b")
    after, left, first = await asyncio.to_thread(_handed_off, target, *REF, 0.0)  # type: ignore[arg-type]
    assert (after, left, first) == (None, {"a": None}, {"a": None})  # not known: waited for
    await reconciler.retirement.sweep(time.time())
    after, left, _ = await asyncio.to_thread(_handed_off, target, *REF, 0.0)  # type: ignore[arg-type]
    assert after is not None and left == {}
    assert live.stores[REF].state.get("hits") == 1


async def test_an_agent_that_does_not_answer_is_waited_for():
    """A starting agent's copies are not known: the final read does not take its silence
    for "none left" (it waits, at most the settle time)."""
    URLS["gone"] = "http://127.0.0.1:9"  # nothing listens there
    after, left, _ = await asyncio.to_thread(_handed_off, Agents("gone"), *REF, 0.0)  # type: ignore[arg-type]
    assert (after, left) == (None, {"gone": None})
