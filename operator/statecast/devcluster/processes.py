"""Start, find and stop the dev cluster's background processes.

Each process runs in its own session (so it outlives the command that started it),
logs to ``<state>/logs/<name>.log`` and is recorded in ``<state>/pids/<name>.pid``.
A recorded pid only counts while ``/proc/<pid>/cmdline`` still mentions a path under
the state directory, so a recycled pid is never signalled.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path


def _marker(state_dir: Path) -> str:
    # With the slash, cluster "a" never claims the processes of cluster "a-test".
    return f"{state_dir}/"


def _pid_file(state_dir: Path, name: str) -> Path:
    return state_dir / "pids" / f"{name}.pid"


def _cmdline(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace")


def _stat_state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return ""


def running_pid(state_dir: Path, name: str) -> int | None:
    """The pid of process ``name`` if it is alive and ours, else None."""
    try:
        pid = int(_pid_file(state_dir, name).read_text().strip())
    except (OSError, ValueError):
        return None
    if _marker(state_dir) not in _cmdline(pid) or _stat_state(pid) in ("Z", "X", ""):
        return None
    return pid


def start(
    state_dir: Path, name: str, argv: Sequence[str], *, env: dict[str, str] | None = None
) -> int:
    """Start ``argv`` detached as process ``name``; return its pid.

    ``argv`` must mention ``state_dir`` (every dev-cluster process has it in a flag),
    which is how :func:`running_pid` recognises it later.
    """
    if _marker(state_dir) not in " ".join(argv):
        raise ValueError(f"{name}: command line must mention a path under {state_dir}")
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
    _pid_file(state_dir, name).write_text(f"{process.pid}\n")
    # Until the child has exec'd, /proc shows the parent's command line.
    deadline = time.monotonic() + 2.0
    while _marker(state_dir) not in _cmdline(process.pid) and time.monotonic() < deadline:
        if process.poll() is not None:
            break
        time.sleep(0.01)
    return process.pid


def stop(state_dir: Path, name: str, *, timeout: float = 15.0) -> bool:
    """Stop process ``name`` (SIGTERM, then SIGKILL after ``timeout``); True if it ran."""
    pid = running_pid(state_dir, name)
    _pid_file(state_dir, name).unlink(missing_ok=True)
    if pid is None:
        return False
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return True
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if _stat_state(pid) in ("Z", "X", ""):
                _reap(pid)
                return True
            time.sleep(0.05)
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
