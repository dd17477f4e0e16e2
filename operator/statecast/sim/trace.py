"""The trace type: demand per (resource, node, step) plus what the replay needs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from statecast.api.units import DAY_S
from statecast.sim.errors import TraceError

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

MIB = 2**20
#: Defaults for resources a RES file does not describe.
DEFAULT_STATE_BYTES = 64 * MIB
DEFAULT_WRITES_PER_MIN = 10.0
DEFAULT_MIN_REPLICAS = 2


@dataclass(frozen=True)
class Trace:
    """Accesses per step of every resource on every node, and the cluster they ran on.

    Attributes:
        name: a label for reports.
        demand: accesses per step, shape (resources, nodes, steps), >= 0.
        resources: resource names.
        nodes: node names.
        zones: zone of each node.
        step_s: seconds per step.
        available: node is up at that step, shape (nodes, steps).
        state_bytes: size of each resource's state, shape (resources,).
        writes_per_min: write rate of each resource, shape (resources,).
        min_replicas: durability floor per resource, shape (resources,).
        max_replicas: ceiling per resource (0 = none), shape (resources,).
        start_s: Unix time of the first step (for plots), 0 when unknown.
        pods: consumer pods of each resource running on each node at each step,
            shape (resources, nodes, steps), or None when the trace does not say.
            A pod scheduled for step ``t`` is visible to the policies deciding ``t``
            (the operator sees a pod when it is bound to a node, before it starts).
    """

    name: str
    demand: FloatArray
    resources: tuple[str, ...]
    nodes: tuple[str, ...]
    zones: tuple[str, ...]
    step_s: float
    available: BoolArray
    state_bytes: FloatArray
    writes_per_min: FloatArray
    min_replicas: IntArray
    max_replicas: IntArray
    start_s: float = 0.0
    pods: IntArray | None = None

    def __post_init__(self) -> None:
        n_res, n_nodes = len(self.resources), len(self.nodes)
        if self.demand.ndim != 3 or self.demand.shape[:2] != (n_res, n_nodes):
            raise TraceError(
                f"demand must have shape ({n_res}, {n_nodes}, steps), got {self.demand.shape}"
            )
        if self.steps < 1:
            raise TraceError("trace has no steps")
        if len(self.zones) != n_nodes:
            raise TraceError("one zone per node is required")
        if self.available.shape != (n_nodes, self.steps):
            raise TraceError("availability must have shape (nodes, steps)")
        for label, values in (
            ("state_bytes", self.state_bytes),
            ("writes_per_min", self.writes_per_min),
            ("min_replicas", self.min_replicas),
            ("max_replicas", self.max_replicas),
        ):
            if values.shape != (n_res,):
                raise TraceError(f"{label} must have one entry per resource")
        if not np.isfinite(self.demand).all() or (self.demand < 0).any():
            raise TraceError("accesses must be finite and >= 0")
        if self.pods is not None:
            if self.pods.shape != self.demand.shape:
                raise TraceError("pods must have the shape of demand (resources, nodes, steps)")
            if (self.pods < 0).any():
                raise TraceError("pod counts must be >= 0")
        if self.step_s <= 0:
            raise TraceError("step must be > 0 seconds")

    @property
    def steps(self) -> int:
        """Number of steps."""
        return int(self.demand.shape[2])

    @property
    def period(self) -> int:
        """Steps per day (at least 2)."""
        return max(2, round(DAY_S / self.step_s))

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return len(self.nodes)

    @property
    def n_resources(self) -> int:
        """Number of resources."""
        return len(self.resources)


def uniform_resources(
    n: int,
    *,
    state_bytes: float = DEFAULT_STATE_BYTES,
    writes_per_min: float = DEFAULT_WRITES_PER_MIN,
    min_replicas: int = DEFAULT_MIN_REPLICAS,
) -> tuple[FloatArray, FloatArray, IntArray, IntArray]:
    """Per-resource arrays with the same values for every resource."""
    return (
        np.full(n, float(state_bytes)),
        np.full(n, float(writes_per_min)),
        np.full(n, min_replicas, dtype=np.int64),
        np.zeros(n, dtype=np.int64),
    )
