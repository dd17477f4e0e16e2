"""Reference points reported beside every policy: what any placement could do at its cost.

For each policy's replica-hours: the best local-hit ratio any placement could reach
(:class:`~statecast.sim.bounds.HitBound`, exact under its model), a lower bound on the
mean latency any placement could reach, and the mean latency of an offline placement
that reaches close to it (:class:`~statecast.sim.latency_bound.LatencyBound`; omitted
where the enumeration over zones is not tractable).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from statecast.sim.bounds import HitBound
from statecast.sim.config import SimConfig
from statecast.sim.latency_bound import LatencyBound, tractable
from statecast.sim.replay import PolicyResult
from statecast.sim.trace import Trace


class References:
    """The bounds of one trace, computed once and read at any replica-hours."""

    def __init__(self, trace: Trace, config: SimConfig) -> None:
        self.hits = HitBound(trace, config.warmup_steps)
        self.latency = (
            LatencyBound(trace, config.latency, config.warmup_steps) if tractable(trace) else None
        )

    def at(self, replica_hours: float) -> dict[str, Any]:
        """The JSON fields for a policy that held ``replica_hours``."""
        fields: dict[str, Any] = {"bound_local_hit_ratio": round(self.hits.ratio(replica_hours), 4)}
        if self.latency is not None:
            fields["bound_mean_latency_ms"] = round(self.latency.lower(replica_hours), 4)
            offline = self.latency.offline(replica_hours)
            if offline is not None:
                fields["offline_mean_latency_ms"] = round(offline, 4)
        return fields

    def of(self, results: Sequence[PolicyResult]) -> dict[str, dict[str, Any]]:
        """The fields for every result, by policy name."""
        return {r.policy: self.at(r.replica_hours) for r in results}
