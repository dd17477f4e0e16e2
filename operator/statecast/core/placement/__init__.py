"""The placement planner: forecasts, nodes and replicas in, a :class:`Plan` out.

The planner is pure (no I/O, no clock, no randomness): the same :class:`PlanInput`
always yields the same :class:`Plan`. The operator fills the frozen input types from
Kubernetes objects; the simulator fills them from traces.

Modules, one concern each:

- :mod:`.types`: the input and output types (``PlanInput``, ``Plan``, ``ReplicaAction``).
- :mod:`.costs`: the latency model as a matrix, latency saved, storage and sync cost.
- :mod:`.hedging`: forecast confidence and deviation; which nodes are uncertain.
- :mod:`.hysteresis`: the add and remove gates (margin, cooldown).
- :mod:`.planner`: :func:`plan`, the greedy objective with the invariants.

Exceptions::

    PlacementError(ValueError)   an input the planner cannot plan for
                                 (inconsistent shapes, duplicate nodes, min > max)
"""

from statecast.core.placement.costs import copy_outlasts_stream
from statecast.core.placement.hedging import forecast_confidence, forecast_deviation
from statecast.core.placement.planner import plan
from statecast.core.placement.types import (
    ActionKind,
    CostModel,
    CurrentReplica,
    DemandForecast,
    LatencyModel,
    NodeForecast,
    NodeInfo,
    PlacementError,
    PlacementSpec,
    Plan,
    PlanInput,
    Reason,
    ReplicaAction,
    StateProfile,
    SyncMode,
)

__all__ = [
    "ActionKind",
    "CostModel",
    "CurrentReplica",
    "DemandForecast",
    "LatencyModel",
    "NodeForecast",
    "NodeInfo",
    "PlacementError",
    "PlacementSpec",
    "Plan",
    "PlanInput",
    "Reason",
    "ReplicaAction",
    "StateProfile",
    "SyncMode",
    "copy_outlasts_stream",
    "forecast_confidence",
    "forecast_deviation",
    "plan",
]
