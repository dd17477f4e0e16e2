"""A stopping agent (SIGTERM) finishes its hand-offs in flight, or leaves them for its next run.

Defect (session 7, robust c): ``run_edge`` never called ``Retirement.close()``; on a
stop it cancelled its loops (the Lease keeper first among them) and returned while
the hand-off of a just-retired copy was still under way: a drained node whose agent
was stopped for good kept the only copy of writes acknowledged there.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from pathlib import Path

import pytest

from statecast.agent import handoff
from statecast.agent.config import AgentConfig
from statecast.agent.kube import run_edge
from statecast.agent.kube_api import LeaseRecord
from statecast.agent.retired import find_retired
from statecast.agent.runtime import Agent
from statecast.api.lease import ENDPOINT_ANNOTATION, agent_lease_name
from tests.unit._agents import REF, URLS
from tests.unit.test_agent_kube import FakeGateway, record

REAL_HAND_OFF = handoff.hand_off


def _gateway(*holders: str) -> FakeGateway:
    gateway = FakeGateway()
    gateway.specs[REF] = {}
    gateway.replicas = [record(n, owner_uid="uid-1") for n in holders]
    return gateway


def _lease_of(gateway: FakeGateway, node: str) -> None:
    """``node``'s agent renews its Lease (its URL is the in-process agent's)."""
    gateway.leases["statecast-system", agent_lease_name(node)] = LeaseRecord(
        name=agent_lease_name(node),
        holder=node,
        renew_time=dt.datetime.now(dt.UTC),
        duration_seconds=3600,
        annotations={ENDPOINT_ANNOTATION: URLS[node]},
    )


async def _until(check, what: str) -> None:
    for _ in range(1000):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never happened: {what}")


async def _retire_with_a_hand_off_held(monkeypatch, leaving: Agent, staying: Agent):
    """Run ``leaving``'s edge; retire its copy with a late write, the hand-off held at a gate.

    Returns the edge task, the gate and the copy's directory.
    """
    gate, entered = asyncio.Event(), asyncio.Event()

    async def held(*args, **kw):
        entered.set()
        await gate.wait()  # the peer is slow to take it
        return await REAL_HAND_OFF(*args, **kw)

    monkeypatch.setattr(handoff, "hand_off", held)
    gateway = _gateway("a", "b")
    _lease_of(gateway, "b")
    staying.open_replica(staying.specs[REF])
    staying.locations[REF] = ("a", "b")
    edge = asyncio.create_task(run_edge(leaving, gateway, "statecast-system", URLS["a"], 2.0))
    await _until(lambda: REF in leaving.stores and leaving.stores[REF].serving, "a serves")
    leaving.directory.remove("b")  # b does not receive the push of this write
    await leaving.stores[REF].put("late", b'"write"')
    leaving.directory.set("b", URLS["b"])
    gateway.replicas = [record("b", owner_uid="uid-1")]  # the operator removed a's Replica
    staying.locations[REF] = ("b",)
    directory = leaving.config.data_dir / "apps" / "flags"
    leaving.learn_resources()  # the Replica watch wakes the reconciler
    await _until(lambda: REF not in leaving.stores, "a's copy retired")
    await entered.wait()  # its hand-off is under way
    return edge, gate, directory


async def test_a_stop_finishes_the_hand_off_in_flight_before_the_edge_returns(agents, monkeypatch):
    leaving, staying = await agents("a", "b")
    edge, gate, directory = await _retire_with_a_hand_off_held(monkeypatch, leaving, staying)
    edge.cancel()  # SIGTERM: run_agent cancels the edge, then closes the agent
    asyncio.get_running_loop().call_later(0.2, gate.set)
    with pytest.raises(asyncio.CancelledError):
        await edge
    assert staying.stores[REF].get("late") == b'"write"'
    assert not directory.exists()


async def test_a_hand_off_past_the_grace_is_left_for_the_next_run(
    agents, monkeypatch, tmp_path: Path
):
    leaving, staying = await agents("a", "b")
    monkeypatch.setattr(handoff, "STOP_GRACE", 0.2)
    monkeypatch.setattr("statecast.agent.kube.STOP_GRACE", 0.2)
    edge, _, directory = await _retire_with_a_hand_off_held(monkeypatch, leaving, staying)
    edge.cancel()  # the gate never opens: the peer never takes it in time
    with pytest.raises(asyncio.CancelledError):
        await edge
    assert find_retired(REF, directory) is not None  # kept, marked, nothing dropped
    assert staying.stores[REF].get("late") is None
    await leaving.stop()
    # the next run's first sweep hands it off
    monkeypatch.setattr(handoff, "hand_off", REAL_HAND_OFF)
    again = Agent(AgentConfig(node="a", data_dir=leaving.config.data_dir))
    again.specs[REF] = staying.specs[REF]
    again.directory.set("b", URLS["b"])
    retirement = handoff.Retirement(again, _uid)
    retirement.members = {REF: ("b",)}
    await retirement.sweep(time.time())
    assert staying.stores[REF].get("late") == b'"write"'
    assert not directory.exists()


async def _uid(namespace: str, name: str) -> str | None:
    return "uid-1"
