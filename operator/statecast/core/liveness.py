"""Heartbeats judged on the observer's own clock.

An agent's Lease carries ``renewTime`` written by the agent's clock. Comparing it with the
observer's clock makes a holder whose clock runs behind look dead while it renews (and
one whose clock runs ahead look alive for a while after it died). The Kubernetes node
controller does not compare clocks: it notes *when it observed* a node's heartbeat
change, on its own clock, and judges the node by how long it has seen no change.
:class:`RenewalWatch` does the same for any Lease: the holder's ``renewTime`` is only a
marker that changes at each renewal.

A holder seen for the first time counts as renewed when it is first seen: an observer
that starts (an operator restarted, an agent started) gives every Lease one full
duration (less the trust below) before it judges it, as the node controller gives a
node its grace period.

Judged from when the observer *saw* each renewal, a lapse is seen as late as the
renewal was: its write to the API server and the watch's delivery (2.5 s at 1,000
resources on a loaded machine, session 8, more than #16's whole 2 s budget for a
node loss). :func:`renewed_at` takes the renewal as made when the holder wrote it, as
long as that is within a trusted span before it was seen (:data:`TRUST_SHARE` of the
Lease) and not after: a holder whose clock runs behind by more counts as renewed that
span before it was seen, one whose clock runs ahead when it was seen. So skew never
makes a live holder look dead sooner than that share of its Lease.

A Lease read from a watch and from lists can come out of order: a watch that lags
delivers a renewal older than the one a list just showed. :func:`newer` orders two
reads of one Lease by their ``resourceVersion`` (numbers, comparable for
objects of one resource since Kubernetes 1.35, KEP-5504); an older read is not a renewal.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable
from dataclasses import dataclass, field

__all__ = ["TRUST_SHARE", "RenewalWatch", "newer", "renewed_at"]

#: The share of a Lease's duration by which a renewal's own ``renewTime`` may precede
#: when the observer saw it and still be taken as when it was made. The agents renew
#: three times a Lease (``--lease-seconds``, the Lease lasting three): a sixth of it
#: leaves a live agent half a period to spare on top of any delivery delay seen before.
TRUST_SHARE = 1 / 6


def renewed_at(written: float, seen: float, duration: float) -> float:
    """When a renewal is taken as made, on the observer's clock (seconds).

    Args:
        written: the holder's ``renewTime`` (its clock).
        seen: when the observer first saw that renewal (its own clock).
        duration: the Lease's duration; ``TRUST_SHARE`` of it is the span trusted.
    """
    return min(seen, max(written, seen - TRUST_SHARE * duration))


def newer(held: str, seen: str) -> bool:
    """Whether a Lease read at resourceVersion ``seen`` is not older than one at ``held``.

    Versions are compared as numbers; where either is empty or not a number (a fake,
    an API server whose versions are not comparable) no order is known and the read
    counts as newer, as every read did before.
    """
    if not (held.isdigit() and seen.isdigit()):
        return True
    return int(seen) >= int(held)


@dataclass
class RenewalWatch:
    """When each holder's Lease was last seen to change, on the observer's clock.

    Use one per observer, fed with every Lease it lists, with a monotonic ``now``.
    """

    _seen: dict[str, tuple[Hashable, float]] = field(default_factory=dict)

    def observe(self, holder: str, renewal: Hashable, now: float) -> float:
        """Note ``holder``'s renewal marker (its ``renewTime``) as listed at ``now``.

        Returns:
            When the marker was last seen to change (``now`` if it just did, or if the
            holder is new to this observer).
        """
        last = self._seen.get(holder)
        if last is None or last[0] != renewal:
            self._seen[holder] = (renewal, now)
            return now
        return last[1]

    def silent_for(self, holder: str, renewal: Hashable, now: float) -> float:
        """Seconds since ``holder`` was last seen renewing, after observing ``renewal``."""
        return now - self.observe(holder, renewal, now)

    def forget_others(self, holders: Collection[str]) -> None:
        """Drop what is known of holders not in ``holders`` (their Lease is gone)."""
        for holder in [h for h in self._seen if h not in holders]:
            del self._seen[holder]
