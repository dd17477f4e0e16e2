"""The agents' Leases, watched: :class:`LeaseWatch` feeds the operator's ``AgentLiveness``.

Listed once a second, a Lease's renewal was seen up to a second (plus the LIST's own
time on a loaded API server) after it was made, and its lapse as late. A watch of the
agent namespace (which holds only the agents' Leases) delivers each renewal as it is
made; the operator then looks at the Leases exactly when the next one would lapse
(:mod:`statecast.controller.woken`), and confirms a lapse with a list before acting
(``AgentLiveness.down_confirmed``: a watch can stall without an error).

The thread lists, watches from the list's version until the server ends the watch
(``timeout`` seconds) or it fails, and starts over; while it is down the liveness
lists on demand as before.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from statecast.controller.daemon import WatchLoop
from statecast.core.reconcile.views import AgentLease

__all__ = ["LeaseFeed", "LeaseSource", "LeaseWatch"]


class LeaseSource(Protocol):
    """Where the agents' Leases are listed and watched (:class:`KubeGateway`)."""

    def agent_leases_at(self) -> tuple[list[AgentLease], str]:
        """The Leases and the list's resource version."""

    def watch_agent_leases(
        self, resource_version: str, timeout: int = 300
    ) -> Iterator[tuple[str, AgentLease]]:
        """The Lease events after ``resource_version``."""


class LeaseFeed(Protocol):
    """What a watch feeds (:class:`~statecast.controller.services.AgentLiveness`)."""

    def listed(self, leases: list[AgentLease]) -> None:
        """The whole set, from a list."""

    def changed(self, kind: str, lease: AgentLease) -> None:
        """One event."""

    def unwatched(self) -> None:
        """The watch stopped."""


class LeaseWatch(WatchLoop):
    """Keeps ``liveness`` fed from a watch of the agents' Leases, in a daemon thread.

    Args:
        source: where the Leases are listed and watched.
        liveness: what is fed.
        timeout: seconds a watch lasts before it is started over.
        retry: seconds before a failed list or watch is tried again.
    """

    def __init__(
        self, source: LeaseSource, liveness: LeaseFeed, timeout: int = 300, retry: float = 1.0
    ) -> None:
        super().__init__("lease-watch", retry)
        self.source, self.liveness = source, liveness
        self.timeout = timeout

    def stop(self) -> None:
        """Stop feeding (the thread ends with its current watch, a daemon)."""
        super().stop()
        self.liveness.unwatched()

    def watch_once(self) -> None:
        """List the Leases into the liveness, then feed it the watch's events until it ends."""
        leases, version = self.source.agent_leases_at()
        self.liveness.listed(leases)
        for kind, lease in self.source.watch_agent_leases(version, self.timeout):
            if self.stopping:
                return
            self.liveness.changed(kind, lease)

    def restarted(self) -> None:
        """A list or watch failed: the liveness lists on demand until the next list."""
        self.liveness.unwatched()
