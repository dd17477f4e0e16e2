"""The latency between zones as the agents measure it, for the placement planner.

The planner prices a read served by another node's replica with a
:class:`~statecast.core.placement.LatencyModel`: local, same zone, across zones. By
default those are fixed figures (0.1, 0.5 and 2 ms), right for one region's zones and
wrong wherever the network is not (zones in two regions, a congested link, a test
cluster with injected delay). Every agent measures its round-trip time to each peer
(``rttSeconds`` in ``/v1/stats``, smoothed); :func:`measured_latency` turns the latest
of those into a model: per pair of zones, the median over the pairs of nodes measured
between them, added to the local latency (a forwarded read is a local read plus one
round trip to the replica's agent). A pair of zones with too few measurements keeps
the base model's figure, so a cluster whose agents have not measured yet plans as
before.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from statistics import median

from statecast.core.placement import LatencyModel

__all__ = ["RoundTrip", "measured_latency"]

#: Measurements (pairs of nodes) a pair of zones needs before its figure replaces the base.
MIN_PAIRS = 2


@dataclass(frozen=True)
class RoundTrip:
    """One agent's smoothed round-trip time to a peer.

    Attributes:
        source: the measuring agent's node.
        target: the peer's node.
        seconds: the round-trip time.
    """

    source: str
    target: str
    seconds: float


def measured_latency(
    trips: Iterable[RoundTrip],
    zone_of: Mapping[str, str],
    base: LatencyModel,
    min_pairs: int = MIN_PAIRS,
) -> LatencyModel:
    """The base model with the zones' measured latency where there are enough measurements.

    Args:
        trips: the agents' latest round-trip times (nodes of unknown zone, a node
            measuring itself and non-finite or negative times are ignored).
        zone_of: node -> zone.
        base: the figures to keep where nothing (or too little) was measured; its
            local and no-replica latencies are kept as they are.
        min_pairs: distinct node pairs a zone pair needs (both directions of one pair
            of nodes count once, as their mean).

    Returns:
        ``base`` with ``same_zone_ms`` from the same-zone pairs measured and a
        ``zone_ms`` entry for every pair of zones measured enough (the base's other
        entries kept); where no pair of zones measured enough, ``cross_zone_ms``
        stays; otherwise it is the largest
        measured cross-zone figure, for the pairs of zones not measured (the
        conservative choice: an unmeasured remote zone is not assumed close).
    """
    by_nodes: dict[tuple[str, str], list[float]] = {}
    for trip in trips:
        if trip.source == trip.target or not 0.0 <= trip.seconds < float("inf"):
            continue
        if trip.source not in zone_of or trip.target not in zone_of:
            continue
        key = (min(trip.source, trip.target), max(trip.source, trip.target))
        by_nodes.setdefault(key, []).append(trip.seconds)
    by_zones: dict[tuple[str, str], list[float]] = {}
    for (a, b), seconds in by_nodes.items():
        za, zb = sorted((zone_of[a], zone_of[b]))
        by_zones.setdefault((za, zb), []).append(sum(seconds) / len(seconds))
    model = base
    same = [s for (za, zb), values in by_zones.items() if za == zb for s in values]
    if len(same) >= min_pairs:
        model = replace(model, same_zone_ms=_remote_ms(base, median(same)))
    measured = {
        (za, zb): _remote_ms(base, median(values))
        for (za, zb), values in sorted(by_zones.items())
        if za != zb and len(values) >= min_pairs
    }
    if measured:
        kept = {(min(a, b), max(a, b)): ms for a, b, ms in base.zone_ms}
        merged = {**kept, **measured}
        entries = tuple((a, b, ms) for (a, b), ms in sorted(merged.items()))
        model = replace(model, zone_ms=entries, cross_zone_ms=max(measured.values()))
    return model


def _remote_ms(base: LatencyModel, rtt_seconds: float) -> float:
    """A forwarded read: the local read plus one round trip, in milliseconds."""
    return base.local_ms + rtt_seconds * 1000.0
