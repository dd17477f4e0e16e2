"""The disk-full scenario moves the agent with its files, onto the tmpfs and back.

An agent started on an empty directory under its old replica id loses what it had
acknowledged but not pushed yet: its counter slot, rebuilt from its peers, shadows the
increments left behind (the join takes each slot's maximum). The scenario reported
counters one or two short under load that way.
"""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from statecast.chaos.scenarios import SCENARIOS, DiskFull, Run

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")


class Machine:
    """One agent's process and data directory, as the scenario drives them."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.running: Path | None = home
        #: Each start: the directory, and the files it held then.
        self.starts: list[tuple[Path, dict[str, bytes]]] = []

    def agent_data_dir(self, node: str) -> Path:
        return self.home

    def kill_agent(self, node: str) -> None:
        self.running = None

    def start_agent(
        self, node: str, *, env: Mapping[str, str] | None = None, data_dir: Path | None = None
    ) -> None:
        self.running = data_dir or self.home
        self.starts.append((self.running, files(self.running)))


def files(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file() and p.name != "filler"
    }


def run_on(machine: Machine) -> Run:
    return Run(
        target=machine,  # type: ignore[arg-type]
        namespace="chaos", resource="state", minimum=2, holders=["node-1"],
        choose=lambda options: options[0], clock=lambda: 0.0, mark=lambda label: None,
        wait_for=lambda check, timeout: check(), patch_resource=lambda patch: None,
        replica_nodes=dict,
    )  # fmt: skip


def test_the_agent_takes_its_files_onto_the_full_disk_and_back(tmp_path: Path) -> None:
    home = tmp_path / "node-1"
    (home / "chaos" / "state").mkdir(parents=True)
    (home / "chaos" / "state" / "log-1.bin").write_bytes(b"acknowledged, not pushed yet")
    machine, scenario = Machine(home), DiskFull()
    scenario.before_filling = 0.0
    run = run_on(machine)
    try:
        assert scenario.inject(run) == {"node-1"}
        on_tmpfs, held = machine.starts[0]
        assert on_tmpfs != home
        assert held == {"chaos/state/log-1.bin": b"acknowledged, not pushed yet"}
        with pytest.raises(OSError, match="No space left"):  # full
            (on_tmpfs / "chaos" / "state" / "log-2.bin").write_bytes(b"x" * (1 << 20))
        scenario.heal(run)
        (on_tmpfs / "chaos" / "state" / "log-2.bin").write_bytes(b"acknowledged on the tmpfs")
    finally:
        scenario.finish(run)
    back, held = machine.starts[-1]
    assert back == home
    assert held == {
        "chaos/state/log-1.bin": b"acknowledged, not pushed yet",
        "chaos/state/log-2.bin": b"acknowledged on the tmpfs",
    }
    assert files(home) == held
    mounted = subprocess.run(["findmnt", str(on_tmpfs)], capture_output=True, check=False)
    assert mounted.returncode != 0
    assert not on_tmpfs.exists()


def test_disk_full_is_the_registered_scenario() -> None:
    assert isinstance(SCENARIOS["disk-full"], DiskFull)


def test_a_disk_that_is_full_before_the_filler_opens_is_full_not_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CI: the agent's own writes had filled the tmpfs, and the filler's ``open`` (or its
    close, flushing) raised ENOSPC: the run failed and left the tmpfs mounted under the
    cluster's directory, which then could not be removed."""
    home = tmp_path / "node-1"
    (home / "chaos" / "state").mkdir(parents=True)
    opened = Path.open

    def full_disk(path: Path, *args: Any, **kwargs: Any) -> Any:
        if path.name == "filler":
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return opened(path, *args, **kwargs)

    monkeypatch.setattr(Path, "open", full_disk)
    machine, scenario = Machine(home), DiskFull()
    scenario.before_filling = 0.0
    run = run_on(machine)
    try:
        assert scenario.inject(run) == {"node-1"}
        scenario.heal(run)
    finally:
        scenario.finish(run)
    on_tmpfs = machine.starts[0][0]
    assert machine.starts[-1][0] == home
    mounted = subprocess.run(["findmnt", str(on_tmpfs)], capture_output=True, check=False)
    assert mounted.returncode != 0


def test_finish_after_a_fault_that_never_mounted_does_nothing(tmp_path: Path) -> None:
    machine = Machine(tmp_path / "node-1")
    DiskFull().finish(run_on(machine))
    assert machine.starts == [] and machine.running == tmp_path / "node-1"


def test_an_agent_on_a_disk_of_its_own_is_filled_where_it_runs_without_a_restart(
    tmp_path: Path,
) -> None:
    """Moving the agent onto a tmpfs restarts it, and a restart slower than the Lease
    (4.6-15 s at load, 6 s Leases) had it marked Lost before its disk was ever full."""
    home = tmp_path / "node-1"
    home.mkdir()
    DiskFull().mount(home, 4 << 20)
    try:
        (home / "chaos" / "state").mkdir(parents=True)
        (home / "chaos" / "state" / "log-1.bin").write_bytes(b"held")
        machine, scenario = Machine(home), DiskFull()
        run = run_on(machine)
        try:
            assert scenario.inject(run) == {"node-1"}
            assert run.extra["disk_full_in_place"] is True
            assert machine.starts == [] and machine.running == home  # never restarted
            with pytest.raises(OSError, match="No space left"):
                (home / "chaos" / "state" / "log-2.bin").write_bytes(b"x" * (1 << 20))
            scenario.heal(run)
            (home / "chaos" / "state" / "log-2.bin").write_bytes(b"room again")
        finally:
            scenario.finish(run)
        assert machine.starts == []
        assert files(home) == {
            "chaos/state/log-1.bin": b"held",
            "chaos/state/log-2.bin": b"room again",
        }
    finally:
        DiskFull().unmount(home)
