"""The whole-system launcher's pieces that need no cluster: which operator acts, worker
records, restart after a kill."""

from __future__ import annotations

import json
import signal
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from statecast.devcluster import ClusterError, processes
from statecast.devcluster.system import System, acting_peer, not_established

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def _seen(seconds_ago: float) -> str:
    return (NOW - timedelta(seconds=seconds_ago)).isoformat()


@pytest.mark.parametrize(
    ("peers", "acting"),
    [
        ({}, None),
        ({"operator-1": {"priority": -10, "lastseen": _seen(5), "lifetime": 60}}, "operator-1"),
        (  # the oldest (highest priority) of two fresh peers acts
            {
                "operator-1": {"priority": -10, "lastseen": _seen(5), "lifetime": 60},
                "operator-2": {"priority": -20, "lastseen": _seen(1), "lifetime": 60},
            },
            "operator-1",
        ),
        (  # an expired peer no longer counts: the other acts
            {
                "operator-1": {"priority": -10, "lastseen": _seen(61), "lifetime": 60},
                "operator-2": {"priority": -20, "lastseen": _seen(1), "lifetime": 60},
            },
            "operator-2",
        ),
        (  # two peers of one priority: kopf pauses both
            {
                "a": {"priority": 0, "lastseen": _seen(1), "lifetime": 60},
                "b": {"priority": 0, "lastseen": _seen(1), "lifetime": 60},
            },
            None,
        ),
        ({"garbled": "x", "no-time": {"priority": 1}}, None),
    ],
)
def test_the_fresh_peer_of_highest_priority_acts(peers: dict[str, object], acting: str) -> None:
    assert acting_peer(peers, NOW) == acting


def test_a_killed_worker_is_started_again_as_it_was(tmp_path: Path) -> None:
    system = System(tmp_path, tmp_path / "no-kubeconfig")
    argv = [sys.executable, "-c", "import time; time.sleep(60)"]
    first = system.start_process("proxy", "proxy", argv)
    try:
        (worker,) = system.workers()
        assert (worker.name, worker.role, worker.pid) == ("proxy", "proxy", first)
        assert system.kill("proxy", signal.SIGKILL)
        assert system.pid("proxy") is None
        assert not system.kill("proxy")
        second = system.restart("proxy")
        assert second != first and system.pid("proxy") == second
        assert system.stop_all() == ["proxy"]
        assert processes.recorded(tmp_path) == []
    finally:
        system.stop_all()
    with pytest.raises(ClusterError, match="no worker"):
        system.restart("never-started")


def test_dev_cluster_up_with_tls_and_auth_starts_the_agents_as_the_chart_does(tmp_path: Path):
    """``dev-cluster up --with-agents --tls --auth``: each agent gets a token bound to a
    Pod on its node (its certificate request names that node) and the TLS and auth
    arguments."""
    import argparse

    from statecast.commands.dev_cluster import _start_agents
    from statecast.devcluster.system import NodeAddress

    started: dict[str, object] = {}

    class FakeSystem:
        def nodes(self) -> list[NodeAddress]:
            return [
                NodeAddress("node-1", "127.0.0.1", "a"),
                NodeAddress("node-2", "127.0.0.1", "b"),
            ]

        def node_token_kubeconfigs(self, account: str, nodes: list[str]) -> dict[str, Path]:
            return {n: tmp_path / f"{account}-{n}" for n in nodes}

        def start_agents(self, *, port, kubeconfig, extra_args):
            urls = {"node-1": "http://127.0.0.1:7420", "node-2": "http://127.0.0.1:7421"}
            started.update(kubeconfig=kubeconfig, args=extra_args(urls))
            return urls

    args = argparse.Namespace(with_network_proxy=False, tls=True, auth=True, agent_port=7420)
    _start_agents(FakeSystem(), args)  # type: ignore[arg-type]
    assert started["kubeconfig"] == {
        "node-1": tmp_path / "statecast-agent-node-1",
        "node-2": tmp_path / "statecast-agent-node-2",
    }
    for node, more in started["args"].items():  # type: ignore[attr-defined]
        assert more[0] == "--tls" and more[-1] == "--auth", node
        assert "--peer-listen" in more and "--peer-advertise" in more
    args = argparse.Namespace(with_network_proxy=False, tls=False, auth=False, agent_port=7420)
    _start_agents(FakeSystem(), args)  # type: ignore[arg-type]
    assert started["kubeconfig"] is None and started["args"] == {"node-1": [], "node-2": []}


def _crd(name: str, conditions: object) -> dict[str, object]:
    return {"metadata": {"name": name}, "status": {"conditions": conditions}}


_ESTABLISHED = [{"type": "Established", "status": "True"}]


@pytest.mark.parametrize(
    ("listing", "pending"),
    [
        ("", ["a", "b"]),  # kubectl answered nothing (the CRDs are not there yet)
        ("not json", ["a", "b"]),
        (json.dumps({"items": []}), ["a", "b"]),
        # the case `kubectl wait` failed on at once: conditions not written yet (null)
        (json.dumps({"items": [_crd("a", None), _crd("b", _ESTABLISHED)]}), ["a"]),
        (
            json.dumps({"items": [_crd("a", [{"type": "Established", "status": "False"}])]}),
            ["a", "b"],
        ),
        (json.dumps({"items": [_crd("a", _ESTABLISHED), _crd("b", _ESTABLISHED)]}), []),
        (json.dumps(_crd("a", _ESTABLISHED)), ["b"]),  # a single object, not a List
    ],
)
def test_crds_count_as_established_only_with_their_condition_true(
    listing: str, pending: list[str]
) -> None:
    assert not_established(listing, ["a", "b"]) == pending
