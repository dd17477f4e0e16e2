"""Writers in processes of their own report every write into the run's history."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from statecast.agent.launcher import LocalAgents
from statecast.chaos.history import History
from statecast.chaos.workload import Workload, WorkloadSpec
from statecast.client import Client

STATE = {"namespace": "default", "name": "state"}

pytestmark = pytest.mark.slow


@pytest.fixture
def agents(tmp_path: Path) -> Iterator[LocalAgents]:
    cluster = LocalAgents(tmp_path, 2, [STATE], {"syncInterval": 0.2, "rttInterval": 0.5})
    cluster.start_all()
    yield cluster
    cluster.stop_all()


def test_writes_of_writer_processes_land_in_the_history_with_their_versions(agents):
    nodes = {f"node-{i}": a.url for i, a in enumerate(agents.agents)}
    spec = WorkloadSpec(
        "default", "state", "run", keys=5, write_rate=20.0, read_rate=5.0,
        increment_rate=1.0, writers_per_node=2, writer_processes=2,
    )  # fmt: skip
    history = History()
    began = time.monotonic()
    workload = Workload(spec, nodes, history, lambda: time.monotonic() - began)
    workload.start()
    deadline = time.monotonic() + 60  # generous: processes start slowly on a busy machine
    while time.monotonic() < deadline and not any(
        o.kind == "read" and o.outcome == "ok" for o in history.snapshot()
    ):
        time.sleep(0.2)
    time.sleep(0.5)
    workload.stop()
    ops = history.snapshot()
    writes = [o for o in ops if o.kind == "write" and o.outcome == "ok"]
    assert {o.client for o in writes} == {f"{n}/writer-{i}" for n in nodes for i in (0, 1)}
    assert all(o.version and 0 <= o.start <= o.end <= time.monotonic() - began for o in writes)
    assert [p.process.returncode for p in workload._processes] == [0, 0]  # two processes wrote
    assert any(o.kind == "read" and o.outcome == "ok" for o in ops)  # readers saw their keys
    last = {}
    for o in sorted(writes, key=lambda o: o.end):
        last[o.key] = o
    key = max(last, key=lambda k: last[k].end)  # the key written last
    of_key = [o for o in writes if o.key == key]
    # Last-writer-wins: the value kept is one of the writes no other write of the key
    # began after (writes that overlap in time may win either way, whichever ended last).
    maximal = [o.value for o in of_key if not any(p.start > o.end for p in of_key)]
    with Client([nodes["node-0"]]) as client:
        deadline = time.monotonic() + 10
        value = client.get("default", "state", key)
        while value not in maximal and time.monotonic() < deadline:  # still replicating
            time.sleep(0.2)
            value = client.get("default", "state", key)
        assert value in maximal, (value, maximal)
