"""Writers in processes of their own: a write rate one Python process cannot reach.

One process holds the global interpreter lock for all its client threads, so the
in-process writers of :class:`~statecast.chaos.workload.Workload` top out at a few
hundred writes a second however many there are. With ``WorkloadSpec.writer_processes``
the writers run in processes of their own, ``python -m statecast.chaos.workload
CONFIG`` (:func:`statecast.chaos.workload.main`): the same writer loop, client library,
values and pacing, each operation sent back as a JSON line on stdout and read into the
run's :class:`~statecast.chaos.history.History` as it comes. A process stops when its
stdin closes. Times are on the run's clock: ``CLOCK_MONOTONIC`` is one clock for every
process of the machine, so the parent passes where its run began on it.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import IO, Any

from statecast.chaos.history import History, Operation

__all__ = ["StreamedHistory", "WriterProcess"]


class StreamedHistory(History):
    """A history that sends every record to ``out`` as a JSON line and keeps nothing."""

    def __init__(self, out: IO[str]) -> None:
        super().__init__()
        self._out = out

    def add(self, operation: Operation) -> None:
        """Send one operation."""
        self._send({"op": dataclasses.asdict(operation)})

    def error(self, at: float, client: str, code: str) -> None:
        """Send one failed attempt."""
        self._send({"error": [at, client, code]})

    def ready(self) -> None:
        """Say the writers run (a process starts slowly on a busy machine)."""
        self._send({"ready": True})

    def _send(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, separators=(",", ":")) + "\n"
        with self._lock:
            self._out.write(line)
            self._out.flush()


class WriterProcess:
    """One writer process of a run, its records read into the run's history.

    Args:
        config: What the process runs (see :func:`main`).
        history: The run's history.
        written: Called with the key of each acknowledged write.
    """

    def __init__(
        self, config: dict[str, Any], history: History, written: Callable[[str], None]
    ) -> None:
        self.history = history
        self.written = written
        self.ready = threading.Event()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "statecast.chaos.workload", json.dumps(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            record = json.loads(line)
            if "ready" in record:
                self.ready.set()
                continue
            if "error" in record:
                at, client, code = record["error"]
                self.history.error(at, client, code)
                continue
            operation = Operation(**record["op"])
            if operation.outcome == "ok":
                self.written(operation.key)
            self.history.add(operation)

    def stop(self, timeout: float) -> None:
        """Close its stdin (it stops), wait for it and for its last records."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._thread.join(timeout=timeout)
