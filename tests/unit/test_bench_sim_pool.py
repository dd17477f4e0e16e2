"""bench.sim's worker processes end when the benchmark does (a killed run stops all its work)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: A benchmark in miniature: one worker busy for ten minutes, then the parent killed
#: outright (SIGKILL: no handler of the parent's can run).
SCRIPT = """
import os, signal, time
from bench.sim import pool
with pool(1) as executor:
    print(executor.submit(os.getpid).result(), flush=True)
    executor.submit(time.sleep, 600)
    time.sleep(0.5)
    os.kill(os.getpid(), signal.SIGKILL)
"""


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")  # a zombie nobody reaped yet has ended


def test_a_killed_benchmark_leaves_no_worker_running() -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    assert parent.stdout is not None
    worker = int(parent.stdout.readline())
    assert parent.wait(timeout=120) == -signal.SIGKILL
    deadline = time.monotonic() + 60  # a deadline for the event, not a measured time
    while not _gone(worker) and time.monotonic() < deadline:
        time.sleep(0.1)
    try:
        assert _gone(worker), f"worker {worker} still runs after its benchmark was killed"
    finally:
        if not _gone(worker):
            os.kill(worker, signal.SIGKILL)
