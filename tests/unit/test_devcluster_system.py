"""The whole-system launcher's pieces that need no cluster: which operator acts, worker
records, restart after a kill."""

from __future__ import annotations

import signal
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from statecast.devcluster import ClusterError, processes
from statecast.devcluster.system import System, acting_peer

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
