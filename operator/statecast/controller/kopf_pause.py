"""Whether kopf has paused this operator (a peering peer of higher priority acts).

The woken reconciles and the safety resyncs run in threads of their own, outside kopf's
handlers, so they must stop when kopf pauses. kopf tells nobody but its log: its
peering logs ``Pausing operations in favour of ...`` (or ``Pausing all operators,
including self``) when it pauses and ``Resuming operations after the pause`` when it
resumes. :class:`KopfPause` listens to those two lines on kopf's peering logger; an
operator in a peering starts paused, as kopf does, until kopf says it resumes.

Before, the woken reconciles counted kopf as acting while it had delivered an event or
run a handler within two safety resyncs: a per-resource kopf timer kept that signal
alive, and it cost every resource a finalizer PATCH (kopf puts one on every object
with a timer) - and let a paused operator act for up to two minutes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

__all__ = ["PEERING_LOGGER", "STANDBY_SETTLE_S", "KopfPause"]

#: The logger kopf's peering announces its pauses on.
PEERING_LOGGER = "kopf._core.engines.peering"
_PAUSING = ("Pausing operations in favour of", "Pausing all operators")
_RESUMING = "Resuming operations after the pause"
#: Seconds paused since the start after which an operator counts as a standby: kopf says
#: nothing when an operator starts paused and stays so (a peer of higher priority acts),
#: and an operator that acts is resumed at kopf's first look at the peers.
STANDBY_SETTLE_S = 30.0


class KopfPause(logging.Handler):
    """kopf's pause, as its peering logs it (see the module docstring).

    Args:
        paused: the state before kopf said anything (True in a peering: kopf starts
            paused there until its first look at the peers).
        settle: seconds paused since the start after which the operator counts as
            standing by though kopf said nothing.
        clock: monotonic seconds (a test seam).
    """

    def __init__(
        self,
        paused: bool,
        settle: float = STANDBY_SETTLE_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(level=logging.INFO)
        self.settle, self.clock = settle, clock
        self._paused = threading.Event()
        self._heard = threading.Event()  # kopf has said it pauses or resumes
        self._started = clock()
        if paused:
            self._paused.set()

    @property
    def paused(self) -> bool:
        """Whether kopf has paused the operator."""
        return self._paused.is_set()

    @property
    def standing_by(self) -> bool:
        """Whether the operator stands by: paused, as kopf said, or since the start for long.

        The pause at the start alone is not enough for ``settle`` seconds: kopf resumes
        an operator that acts at its first look at the peers.
        """
        if not self._paused.is_set():
            return False
        return self._heard.is_set() or self.clock() - self._started >= self.settle

    def acting(self) -> bool:
        """Whether kopf lets the operator act (not paused)."""
        return not self._paused.is_set()

    def emit(self, record: logging.LogRecord) -> None:
        """Follow kopf's pause and resume lines."""
        message = record.getMessage()
        if message.startswith(_PAUSING):
            self._paused.set()
            self._heard.set()
        elif message.startswith(_RESUMING):
            self._paused.clear()
            self._heard.set()

    def install(self) -> KopfPause:
        """Listen on kopf's peering logger (its INFO lines included); returns self."""
        logger = logging.getLogger(PEERING_LOGGER)
        if logger.getEffectiveLevel() > logging.INFO:
            logger.setLevel(logging.INFO)
        logger.addHandler(self)
        return self

    def uninstall(self) -> None:
        """Stop listening."""
        logging.getLogger(PEERING_LOGGER).removeHandler(self)
