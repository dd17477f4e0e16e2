"""What each policy achieved in a recording (pure).

- **local hits**: reads the client library got answered by its own node's agent
  (``Statecast-Served: local``), measured;
- **latency**: measured at the client (loopback, so it shows the extra hop of a
  forwarded read, not a network), and modelled with the planner's latency model
  (local 0.1 ms, same zone 0.5 ms, another zone 2 ms) from where each read was served
  and the zones holding a Ready copy at that second;
- **replica-days**: copies (any phase but Lost) integrated over the ticks, in days;
- **zone changes**: for each change of the busy zone, whether a Ready copy was already
  in the new zone (and for how long), or how long after the change one became Ready;
  with whether the forecast then had a seasonal member (the operator had learned the
  day) - a copy that happened to be there before it had is luck, not prediction.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass

from statecast.core.placement.types import LatencyModel
from statecast.demo.recording import Recording, Tick
from statecast.demo.sun import ZoneChange

__all__ = ["Lead", "Outcome", "PolicyOutcome", "leads", "learned", "outcome", "policy_outcome"]

#: Substrings of a fast-path model name that mean it uses the season.
SEASONAL = ("seasonal", "profile")


@dataclass(frozen=True)
class PolicyOutcome:
    """One resource's reads and copies over a window."""

    resource: str
    policy: str
    reads: int
    local: int
    errors: int
    measured_mean_ms: float
    measured_p99_ms: float
    modelled_mean_ms: float
    replica_days: float

    @property
    def local_ratio(self) -> float:
        """Share of the reads answered on the reader's node."""
        return self.local / self.reads if self.reads else math.nan


@dataclass(frozen=True)
class Lead:
    """A change of the busy zone and the copy that was, or was not, there for it.

    Attributes:
        change: when demand moved, and where.
        ahead: a Ready copy was in the zone when demand arrived.
        seconds: how long it had been there (ahead), or how long after the change one
            became Ready (not ahead); NaN when none did within the recording.
        learned: the forecast had a seasonal member at the change.
        reason: why that copy was placed (``predicted``, ``minimum``, ...).
        shift: seconds the previous zone was busy: a copy there for longer was kept
            from before, not placed for this change.
        requested: for a late copy, when its Replica first appeared (any phase): before
            the change means the operator decided ahead and the copy was still syncing.
    """

    change: ZoneChange
    ahead: bool
    seconds: float
    learned: bool
    reason: str
    shift: float = math.inf
    requested: float | None = None

    @property
    def requested_ahead(self) -> bool:
        """A late copy whose Replica existed before the change (it was still syncing)."""
        return self.requested is not None and self.requested < self.change.time

    @property
    def kind(self) -> str:
        """How the change went: ``placed``, ``held``, ``late`` or ``none``.

        ``placed``: Ready in the zone within the previous shift (put there for this
        change); ``held``: there for longer (kept from before); ``late``: Ready after.
        """
        if self.ahead:
            return "placed" if self.seconds <= self.shift else "held"
        return "none" if math.isnan(self.seconds) else "late"


@dataclass(frozen=True)
class Outcome:
    """Every policy's outcome over ``[start, end)`` seconds, and the zone changes in it."""

    start: float
    end: float
    policies: tuple[PolicyOutcome, ...]
    leads: tuple[Lead, ...]


def learned(model: str) -> bool:
    """Whether a forecast model name (``status.forecast.model``) uses the season."""
    return any(word in model for word in SEASONAL)


def _p99(values: Sequence[float]) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.99 * len(ordered)) - 1)]


def _replica_days(
    ticks: Sequence[Tick], resource: str, start: float, end: float, day: float
) -> float:
    total = 0.0
    for tick, following in zip(ticks, [*ticks[1:], None], strict=True):
        lo = max(tick.time, start)
        hi = min(following.time if following is not None else end, end)
        if hi > lo:
            held = sum(1 for c in tick.copies.get(resource, ()) if c.phase != "Lost")
            total += held * (hi - lo)
    return total / day


def policy_outcome(
    recording: Recording,
    resource: str,
    start: float,
    end: float,
    latency: LatencyModel | None = None,
) -> PolicyOutcome:
    """One resource's outcome over ``[start, end)`` seconds.

    Args:
        recording: what the demo saw.
        resource: the resource.
        start: first second counted.
        end: end of the window.
        latency: the latency model (default: the planner's).
    """
    model = latency or LatencyModel()
    reads, latencies = recording.snapshot()
    ticks = list(recording.ticks)
    times = [t.time for t in ticks]
    total = local = errors = 0
    modelled = 0.0
    for (res, node, second), bucket in reads.items():
        if res != resource or not start <= second < end:
            continue
        total += bucket.local + bucket.remote
        local += bucket.local
        errors += bucket.errors
        i = bisect.bisect_right(times, second + 0.5)
        zone = recording.zones.get(node, "")
        near = i > 0 and zone in ticks[i - 1].ready_zones(resource)
        remote_ms = model.same_zone_ms if near else model.cross_zone_ms
        modelled += bucket.local * model.local_ms + bucket.remote * remote_ms
    samples = [ms for t, ms in latencies.get(resource, []) if start <= t < end]
    return PolicyOutcome(
        resource=resource,
        policy=recording.resources.get(resource, ""),
        reads=total,
        local=local,
        errors=errors,
        measured_mean_ms=sum(samples) / len(samples) if samples else math.nan,
        measured_p99_ms=_p99(samples),
        modelled_mean_ms=modelled / total if total else math.nan,
        replica_days=_replica_days(ticks, resource, start, end, recording.schedule.day_s),
    )


def leads(recording: Recording, resource: str, end: float) -> tuple[Lead, ...]:
    """For each change of the busy zone before ``end``: was a copy of ``resource`` there?"""
    out = []
    ticks = list(recording.ticks)
    shift = recording.schedule.day_s / len(recording.schedule.zones)
    for change in recording.schedule.changes(end):
        before = [t for t in ticks if t.time <= change.time]
        after = [t for t in ticks if t.time > change.time]
        model = before[-1].model.get(resource, "") if before else ""
        if before and change.zone in before[-1].ready_zones(resource):
            since = change.time
            for tick in reversed(before):
                if change.zone not in tick.ready_zones(resource):
                    break
                since = tick.time
            reason = _reason_in(before[-1], resource, change.zone)
            out.append(Lead(change, True, change.time - since, learned(model), reason, shift))
            continue
        first = next((t for t in after if change.zone in t.ready_zones(resource)), None)
        out.append(
            Lead(
                change,
                False,
                first.time - change.time if first is not None else math.nan,
                learned(model),
                _reason_in(first, resource, change.zone) if first is not None else "",
                shift,
                _requested(ticks, resource, change.zone, first) if first is not None else None,
            )
        )
    return tuple(out)


def _requested(ticks: Sequence[Tick], resource: str, zone: str, ready: Tick) -> float:
    """When the copy that became Ready at ``ready`` first appeared (any phase)."""
    since = ready.time
    for tick in reversed([t for t in ticks if t.time <= ready.time]):
        if zone not in {c.zone for c in tick.copies.get(resource, ()) if c.phase != "Lost"}:
            break
        since = tick.time
    return since


def _reason_in(tick: Tick, resource: str, zone: str) -> str:
    return next(
        (c.reason for c in tick.copies.get(resource, ()) if c.zone == zone and c.phase == "Ready"),
        "",
    )


def outcome(recording: Recording, start: float = 0.0, end: float | None = None) -> Outcome:
    """Every resource's outcome over ``[start, end)``; zone changes of the predictive one."""
    stop = float(recording.seconds()) if end is None else end
    policies = tuple(
        policy_outcome(recording, resource, start, stop)
        for resource in sorted(recording.resources, key=lambda r: recording.resources[r])
    )
    predictive = [r for r, p in recording.resources.items() if p == "predictive"]
    changes = leads(recording, predictive[0], stop) if predictive else ()
    return Outcome(
        start, stop, policies, tuple(c for c in changes if start <= c.change.time < stop)
    )
