"""disk-full keeps the disk full until the victim's copy is replaced, and checks that it was.

Before, the filler went after ``--duration`` whatever the operator had done, and a run
passed with ``replicas.min`` never Ready off the full disk (session 5: 3 of 3 runs).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from statecast.chaos.scenarios import DiskFull, Run


def run_with(replicas: Callable[[], dict[str, str]], marks: list[str]) -> Run:
    def wait_for(check: Callable[[], Any], timeout: float) -> Any:
        return check() or check()  # the condition, polled (twice here)

    return Run(
        target=None,  # type: ignore[arg-type]
        namespace="chaos", resource="state", minimum=2, holders=["node-1", "node-2"],
        choose=lambda options: options[0], clock=lambda: 0.0, mark=marks.append,
        wait_for=wait_for, patch_resource=lambda patch: None, replica_nodes=replicas,
    )  # fmt: skip


def full(tmp_path: Path) -> DiskFull:
    scenario = DiskFull()
    scenario.victim = "node-1"
    scenario.filler = tmp_path / "filler"
    scenario.filler.write_bytes(b"\0" * 16)
    return scenario


def test_the_disk_stays_full_until_min_copies_are_ready_off_it(tmp_path: Path) -> None:
    states = iter([
        {"node-1": "Ready", "node-2": "Ready", "node-3": "Syncing"},  # the replacement syncs
        {"node-1": "Ready", "node-2": "Ready", "node-3": "Ready"},
    ])  # fmt: skip
    marks: list[str] = []
    run = run_with(lambda: next(states), marks)
    scenario = full(tmp_path)
    scenario.heal(run)
    assert not scenario.filler.exists()
    assert run.extra["min_ready_elsewhere_before_heal"] is True
    assert marks == ["min-ready-elsewhere"]


def test_a_copy_never_replaced_is_healed_all_the_same_and_fails_the_check(tmp_path: Path) -> None:
    marks: list[str] = []
    run = run_with(lambda: {"node-1": "Ready", "node-2": "Ready"}, marks)
    scenario = full(tmp_path)
    scenario.heal(run)
    assert not scenario.filler.exists()
    assert run.extra["min_ready_elsewhere_before_heal"] is False
    assert scenario.check({"min_restored_s": None}) == {"min_restored": False}
    assert scenario.check({"min_restored_s": 7.5}) == {"min_restored": True}
