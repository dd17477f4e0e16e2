"""Run one piece of work in a forked child process: a snapshot written beside the event loop.

A snapshot at a million keys is a few hundred milliseconds of work (the live records
found, ~150 MB copied, checksummed and written). Done by a thread of the agent's own
process, that work holds the interpreter lock: each time the event loop gave the lock
up for a system call it waited up to the switch interval (5 ms) to get it back, and a
loop turn of several system calls was late by 20-30 ms. A forked child has an
interpreter of its own: the event loop pays only the ``fork(2)`` (copying the page
tables: a few milliseconds at a million keys) and, afterwards, a copy of each page it
writes while the child still shares it (copy-on-write), spread over its writes.

The child sees the parent's memory as it was at the fork, so the work reads a
consistent state without a frozen copy; it must not touch the event loop, other
threads' locks or any file descriptor but its own, and it leaves with ``os._exit``
(nothing of the parent's shutdown runs twice). It dies with the process that forked it
(``PR_SET_PDEATHSIG``): an agent killed with ``kill -9`` leaves no child behind to
rename an old snapshot over the next agent's files. A child forked from a process
with threads may find a lock held for ever (another thread held it at the fork: the
work must take none the threads take), so it has a deadline and is killed past it.

The child stays in the agent's session, at its niceness: it shares the agent's CPU
(a core, a container's quota) with the event loop, like the thread it replaced.
Tried and undone: a child in a session of its own (``setsid``; on this machine
``sched_autogroup`` then schedules it as a group of its own) left the loop up to 12-15
ms late where a thread left it 46-68 ms (one process, load 18-20), but while the agent
was saturated with writes that child got almost no CPU (runnable, 0-2 ticks in 14 s):
no snapshot finished during a 29 s rewrite of 1M keys, and ``kill -9`` recovery replayed
all 1,000,000 records (8.3-12 s, target 3 s), with or without ``nice`` 10 on top.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import gc
import os
import select
import signal
import time
from collections.abc import Callable
from typing import NoReturn

from statecast.agent.errors import PersistenceError

__all__ = ["ChildHungError", "available", "run_in_child"]

_PR_SET_PDEATHSIG = 1
_OK = b"ok "


class ChildHungError(PersistenceError):
    """The child did not finish within its deadline and was killed."""


def available() -> bool:
    """True where a child can be forked (Linux and other POSIX systems)."""
    return hasattr(os, "fork") and hasattr(os, "waitpid")


def _libc() -> ctypes.CDLL | None:
    try:  # (find_library runs ldconfig: once, in the parent, not in every child)
        return ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
    except OSError:
        return None


_LIBC = _libc()


def _die_with_parent(parent: int) -> None:
    """In the child: SIGKILL when the parent exits; leave now if it already has."""
    with contextlib.suppress(AttributeError):
        if _LIBC is not None:
            _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(1)


def _child(work: Callable[[], int], report: int, parent: int) -> NoReturn:
    """The child's whole life: do ``work``, write what it returned (or the error), leave."""
    status = 1
    try:
        _die_with_parent(parent)
        gc.disable()  # a collection would walk (and copy) the parent's objects for nothing
        with contextlib.suppress(ValueError):  # the signals the loop set up are not ours
            signal.set_wakeup_fd(-1)
        for number in (signal.SIGINT, signal.SIGTERM):
            signal.signal(number, signal.SIG_DFL)
        result = work()
        os.write(report, _OK + b"%d" % result)
        status = 0
    except BaseException as err:  # noqa: BLE001 - everything is reported, then the exit
        with contextlib.suppress(BaseException):
            os.write(report, repr(err).encode("utf-8", "replace")[:2000])
    finally:
        os._exit(status)


def _reap(pid: int, report: int, deadline: float) -> int:
    """Wait for the child (in a worker thread); its result, or a PersistenceError.

    A child that has not finished ``deadline`` seconds after it started is killed
    (:class:`ChildHungError`): forked from a process with threads, it can wait for ever
    on a lock another thread held at the fork.
    """
    chunks: list[bytes] = []
    until = time.monotonic() + deadline
    try:
        while True:
            left = until - time.monotonic()
            if left <= 0 or not select.select([report], [], [], left)[0]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                raise ChildHungError(
                    f"snapshot writer process {pid} did not finish in {deadline:.0f} s: killed"
                )
            chunk = os.read(report, 4096)
            if not chunk:
                break
            chunks.append(chunk)
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(report)
    said = b"".join(chunks)
    if os.waitstatus_to_exitcode(status) == 0 and said.startswith(_OK):
        return int(said[len(_OK) :])
    raise PersistenceError(
        f"snapshot writer process {pid} failed (exit {os.waitstatus_to_exitcode(status)}): "
        f"{said.decode('utf-8', 'replace') or 'no word'}"
    )


def run_in_child(work: Callable[[], int], deadline: float) -> asyncio.Future[int]:
    """Fork; the child runs ``work`` and exits. A future of what ``work`` returned.

    A child still running ``deadline`` seconds after the fork is killed, and the future
    fails with :class:`ChildHungError`.

    Call it from the event loop between callbacks (the child then sees no half-done
    change). The future is done when the child has exited; cancelling what awaits it
    does not stop the child (wrap it in :func:`asyncio.shield` and wait again before
    starting work that must come after it).

    Raises:
        PersistenceError: The fork failed (the future then fails the same way when the
            child could not do its work).
    """
    read_fd, write_fd = os.pipe()
    parent = os.getpid()
    try:
        pid = os.fork()
    except OSError as err:
        os.close(read_fd)
        os.close(write_fd)
        raise PersistenceError(f"cannot fork a snapshot writer: {err}") from err
    if pid == 0:
        os.close(read_fd)
        _child(work, write_fd, parent)
    os.close(write_fd)
    return asyncio.ensure_future(asyncio.to_thread(_reap, pid, read_fd, deadline))
