"""The operator's background threads: :class:`Daemon` and the list-and-watch :class:`WatchLoop`.

Each runs in one daemon thread started once (:meth:`Daemon.start`) and asked to end with
:meth:`Daemon.stop`: a thread blocked in a watch ends with that watch (the server closes
it after its timeout), and the process never waits for it. A :class:`WatchLoop` lists and
watches (:meth:`WatchLoop.watch_once`) until stopped; when a watch ends it starts over
at once, and when one fails (a 410 Gone, a dropped connection) it logs
``event=<name>-restart``, calls :meth:`WatchLoop.restarted` and waits ``retry`` seconds.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod

__all__ = ["Daemon", "WatchLoop"]

log = logging.getLogger(__name__)


class Daemon(ABC):
    """One daemon thread named ``name`` running :meth:`run` (started once)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread (once: a second call does nothing)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self.run, name=self.name, daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Ask the thread to end (it is a daemon: nothing waits for it)."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        """Whether :meth:`stop` was called."""
        return self._stop.is_set()

    def wait_stopping(self, seconds: float) -> bool:
        """Wait up to ``seconds`` (less if stopped meanwhile); whether it is stopping."""
        return self._stop.wait(seconds)

    @abstractmethod
    def run(self) -> None:
        """The thread's body: returns soon after :attr:`stopping` turns true."""


class WatchLoop(Daemon):
    """Lists and watches (:meth:`watch_once`) until stopped, starting over after each end.

    Args:
        name: the thread's name, and the log's ``event=<name>-restart``.
        retry: seconds before a failed list or watch is tried again.
    """

    def __init__(self, name: str, retry: float = 1.0) -> None:
        super().__init__(name)
        self.retry = retry

    @abstractmethod
    def watch_once(self) -> None:
        """List if need be, then watch until the server ends the watch or it fails."""

    def restarted(self) -> None:
        """A list or watch failed: what to forget before the next (nothing by default)."""

    def run(self) -> None:
        """The loop: :meth:`watch_once` again and again, a failure logged and waited out."""
        while not self.stopping:
            try:
                self.watch_once()
            except Exception as err:  # noqa: BLE001 - a 410, a dropped connection: list again
                log.info("event=%s-restart error=%s", self.name, err)
                self.restarted()
                self.wait_stopping(self.retry)
