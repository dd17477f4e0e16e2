"""Local agents leave nothing behind: a failed start or a dead parent stops them."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from statecast.agent.launcher import LocalAgents

pytestmark = pytest.mark.slow

FLAGS = {"namespace": "default", "name": "flags"}


def alive(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.1)
    return False


def test_a_start_that_never_becomes_ready_stops_every_agent_it_started(tmp_path: Path) -> None:
    never_ready = [sys.executable, "-c", "import time; time.sleep(600)"]
    agents = LocalAgents(tmp_path, 2, [FLAGS], wrapper=never_ready, ready_timeout=1.0)
    with pytest.raises(TimeoutError, match="node-0 not ready"):
        agents.start_all()
    for agent in agents.agents:
        assert agent.process is not None
        assert agent.process.poll() is not None, f"{agent.node} still running"


@pytest.mark.skipif(sys.platform != "linux", reason="parent-death signal is Linux's")
def test_agents_die_with_the_process_that_started_them(tmp_path: Path) -> None:
    parent = textwrap.dedent(
        f"""
        import os, sys
        from pathlib import Path
        from statecast.agent.launcher import LocalAgents
        sleeper = [sys.executable, "-c", "import time; time.sleep(600)"]
        agents = LocalAgents(Path({str(tmp_path)!r}), 1, [{FLAGS!r}], wrapper=sleeper)
        agents.start(agents.agents[0])
        print(agents.agents[0].process.pid, flush=True)
        os._exit(0)  # no clean-up runs: as if killed
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", parent], capture_output=True, text=True, timeout=120, check=True
    )
    pid = int(out.stdout.split()[0])
    try:
        assert gone_within(pid, 30), "the agent outlived its parent"
    finally:
        if alive(pid):
            os.kill(pid, 9)
