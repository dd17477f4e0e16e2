"""Where the placement planner's latency between zones comes from (``--latency-source``).

``fixed`` (the default): the planner's :class:`~statecast.core.placement.LatencyModel`
as it is (0.1 ms local, 0.5 ms within a zone, 2 ms across zones). ``measured``: the
same, with the figures between zones replaced by what the agents measured
(:func:`statecast.core.latency.measured_latency` on the round-trip times the sampler
read from their ``/v1/stats``). With ``--metrics-source prometheus`` the agents'
``/v1/stats`` are not read, so ``measured`` plans with the fixed figures.
"""

from __future__ import annotations

from collections.abc import Sequence

from statecast.controller.sampling import DemandSampler
from statecast.core.latency import measured_latency
from statecast.core.placement import LatencyModel
from statecast.core.reconcile.views import NodeView

__all__ = ["LATENCY_SOURCES", "LatencySource"]

#: The values of ``--latency-source``.
LATENCY_SOURCES = ("fixed", "measured")


class LatencySource:
    """The latency model a resource's placement is planned with."""

    def __init__(
        self, sampler: DemandSampler, source: str = "fixed", base: LatencyModel | None = None
    ) -> None:
        if source not in LATENCY_SOURCES:
            raise ValueError(
                f"latency source {source!r} is not one of {', '.join(LATENCY_SOURCES)}"
            )
        self.sampler = sampler
        self.source = source
        self.base = base if base is not None else LatencyModel()

    def model(self, nodes: Sequence[NodeView], spread_label: str, now: float) -> LatencyModel:
        """The model for a resource spread by ``spread_label`` over ``nodes``, as of ``now``."""
        if self.source == "fixed":
            return self.base
        zone_of = {n.name: n.labels.get(spread_label, "") for n in nodes}
        return measured_latency(self.sampler.round_trips(now), zone_of, self.base)
