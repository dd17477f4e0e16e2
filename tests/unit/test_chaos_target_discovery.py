"""Which dev cluster serves a kubeconfig's API server: a stopped cluster's state directory
keeps the ports it last used, and one of them may since have gone to another cluster."""

from __future__ import annotations

import json
import os
from pathlib import Path

from statecast.chaos.target import _dev_cluster_serving

SERVER = "https://127.0.0.1:52981"


def _cluster(home: Path, name: str, apiserver: int, *, running: bool) -> None:
    state = home / name
    (state / "pids").mkdir(parents=True)
    (state / "cluster.json").write_text(json.dumps({"ports": {"apiserver": apiserver}}))
    if running:  # this test's own process stands in for the API server
        started = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19]
        (state / "pids" / "kube-apiserver.pid").write_text(f"{os.getpid()} {started}\n")


def test_a_stopped_cluster_that_once_had_the_port_is_not_the_one_serving(tmp_path: Path) -> None:
    _cluster(tmp_path, "statecast-demo-test-1", 52981, running=False)  # sorts first
    _cluster(tmp_path, "statecast-test-1", 52981, running=True)
    found = _dev_cluster_serving(SERVER, tmp_path)
    assert found is not None and found.name == "statecast-test-1"


def test_no_running_cluster_on_the_port_is_none(tmp_path: Path) -> None:
    _cluster(tmp_path, "a", 52981, running=False)
    _cluster(tmp_path, "b", 40000, running=True)
    (tmp_path / "c").mkdir()  # no cluster.json
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "cluster.json").write_text("[1, 2]")  # not a mapping
    assert _dev_cluster_serving(SERVER, tmp_path) is None
    assert _dev_cluster_serving(None, tmp_path) is None
