"""A daemon thread that runs one thing every few seconds: :class:`Periodic`.

The demand sampler and the history keeper each run one; an exception in a round is
logged and the next round comes all the same.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

__all__ = ["Periodic"]

log = logging.getLogger(__name__)


class Periodic:
    """Runs ``action`` every ``period`` seconds in a daemon thread until :meth:`stop`.

    Args:
        name: the thread's name.
        period: seconds between two rounds.
        action: one round.
        failed_event: the log event of a round that raised.
        wait_first: wait a period before the first round (else the first is at once).
        join_timeout: seconds :meth:`stop` waits for the round in progress.
    """

    def __init__(
        self,
        name: str,
        period: float,
        action: Callable[[], object],
        *,
        failed_event: str,
        wait_first: bool = False,
        join_timeout: float = 30.0,
    ) -> None:
        self.name, self.period, self.action = name, period, action
        self.failed_event, self.wait_first, self.join_timeout = (
            failed_event,
            wait_first,
            join_timeout,
        )
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread (once; a second start does nothing)."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread, waiting for the round in progress."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.join_timeout)
            self._thread = None

    def _run(self) -> None:
        if self.wait_first and self._stop.wait(self.period):
            return
        while not self._stop.is_set():
            try:
                self.action()
            except Exception as err:  # noqa: BLE001 - keep the thread through surprises
                log.warning("event=%s error=%s", self.failed_event, err)
            if self._stop.wait(self.period):
                return
