"""Knobs of a replay that are not part of the trace."""

from __future__ import annotations

from dataclasses import dataclass, field

from statecast.core.placement import CostModel, LatencyModel
from statecast.core.warm import WARM_RETENTION_S
from statecast.sim.trace import MIB, Trace


@dataclass(frozen=True)
class SimConfig:
    """How the simulated cluster behaves and what is measured.

    Attributes:
        latency: access latency (local, same zone, cross zone, no replica).
        costs: prices of bytes in latency, for the planner-based policies.
        bandwidth_bytes_per_s: copy speed of a new replica (copy time = bytes / this).
        bytes_per_write: size of a write on the wire (sync bytes = writes x this x replicas).
        warm_retention_s: how long a node keeps a removed copy's files (the agent's
            ``--warm-retention``): a copy added back within it costs the writes it
            missed, not a full copy (:func:`statecast.core.warm.copy_bytes`); 0 charges
            every copy in full (the accounting before session 11).
        warmup_steps: steps replayed but not measured (forecasters need history).
        horizon_s: look-ahead of the planner-based policies.
        cooldown_s: the planner's cooldown; the reactive policy's grace period.
        focus: index of the resource whose placement the timeline records
            (None: the busiest).
    """

    latency: LatencyModel = field(default_factory=LatencyModel)
    costs: CostModel = field(default_factory=CostModel)
    bandwidth_bytes_per_s: float = 25.0 * MIB
    bytes_per_write: int = 1024
    warm_retention_s: float = WARM_RETENTION_S
    warmup_steps: int = 0
    horizon_s: float = 900.0
    cooldown_s: float = 900.0
    focus: int | None = None


def focus_index(trace: Trace, config: SimConfig) -> int:
    """The resource whose timeline is recorded: the configured one, else the busiest."""
    if config.focus is not None:
        return config.focus
    return int(trace.demand.sum(axis=(1, 2)).argmax())
