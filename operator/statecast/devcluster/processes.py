"""Start, find and stop the dev cluster's background processes.

Each process runs in its own session (so it outlives the command that started it),
logs to ``<state>/logs/<name>.log`` and is recorded in ``<state>/pids/<name>.pid``.
The pid file holds the pid and the process's start time (``/proc/<pid>/stat``), and a
recorded pid only counts while both still match, so a recycled pid is never signalled.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path


def _pid_file(state_dir: Path, name: str) -> Path:
    return state_dir / "pids" / f"{name}.pid"


def _stat(pid: int) -> list[str]:
    """Fields of ``/proc/<pid>/stat`` after the command name (state is [0], start time [19])."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def _alive(pid: int, started: str) -> bool:
    fields = _stat(pid)
    return len(fields) > 19 and fields[19] == started and fields[0] not in ("Z", "X")


def running_pid(state_dir: Path, name: str) -> int | None:
    """The pid of process ``name`` if it is alive and ours, else None."""
    try:
        pid_text, started = _pid_file(state_dir, name).read_text().split()
        pid = int(pid_text)
    except (OSError, ValueError):
        return None
    return pid if _alive(pid, started) else None


def start(
    state_dir: Path, name: str, argv: Sequence[str], *, env: dict[str, str] | None = None
) -> int:
    """Start ``argv`` detached as process ``name``; return its pid."""
    (state_dir / "logs").mkdir(parents=True, exist_ok=True)
    (state_dir / "pids").mkdir(parents=True, exist_ok=True)
    with open(state_dir / "logs" / f"{name}.log", "ab") as log:
        process = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **(env or {})},
            close_fds=True,
        )
    fields = _stat(process.pid)
    started = fields[19] if len(fields) > 19 else "0"
    _pid_file(state_dir, name).write_text(f"{process.pid} {started}\n")
    return process.pid


def stop(state_dir: Path, name: str, *, timeout: float = 15.0) -> bool:
    """Stop process ``name`` (SIGTERM, then SIGKILL after ``timeout``); True if it ran."""
    pid = running_pid(state_dir, name)
    if pid is None:
        _pid_file(state_dir, name).unlink(missing_ok=True)
        return False
    fields = _stat(pid)
    started = fields[19] if len(fields) > 19 else ""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and _alive(pid, started):
            _reap(pid)
            time.sleep(0.05)
        if not _alive(pid, started):
            break
    _reap(pid)
    _pid_file(state_dir, name).unlink(missing_ok=True)
    return True


def signal_process(state_dir: Path, name: str, sig: int, *, timeout: float = 5.0) -> bool:
    """Send ``sig`` to process ``name``'s group; True if it ran.

    After SIGKILL, wait (up to ``timeout``) until it is gone and forget its pid.
    """
    pid = running_pid(state_dir, name)
    if pid is None:
        return False
    fields = _stat(pid)
    started = fields[19] if len(fields) > 19 else ""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)
    if sig == signal.SIGKILL:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _alive(pid, started):
            _reap(pid)
            time.sleep(0.01)
        _reap(pid)
        _pid_file(state_dir, name).unlink(missing_ok=True)
    return True


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def recorded(state_dir: Path) -> list[str]:
    """Names of the processes with a pid file, alive or not."""
    pids = state_dir / "pids"
    return sorted(p.stem for p in pids.glob("*.pid")) if pids.is_dir() else []


def log_tail(state_dir: Path, name: str, lines: int = 20) -> str:
    """The last ``lines`` lines of process ``name``'s log."""
    try:
        text = (state_dir / "logs" / f"{name}.log").read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
