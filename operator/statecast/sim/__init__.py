"""Trace-driven simulator: replay per-node demand through placement policies.

A :class:`Trace` holds accesses per (resource, node, step), the nodes' zones and
availability, and the resources' sizes and write rates. :func:`replay` runs one policy
over a trace and reports what users would have felt (local-hit ratio, latency) and
what it cost (replica-hours, bytes moved, actions). Policies: ``static``, ``full``,
``reactive`` (Anna's hot-key rule), ``predictive`` (statecast's forecaster and
planner) and ``perfect-forecast`` (the planner fed the true future; not a bound: the
bounds are in :mod:`.bounds` and :mod:`.latency_bound`).

Modules: :mod:`.trace` (the type and its checks), :mod:`.loaders` (CSV input),
:mod:`.scenarios` (built-in synthetic traces), :mod:`.policies` and
:mod:`.planned` (the policies), :mod:`.replay` (the loop), :mod:`.report` (JSON and
tables), :mod:`.plot` (matplotlib, imported lazily).

Exceptions::

    SimError(Exception)
    ├── TraceError(SimError, ValueError)   bad trace, nodes, latency or resources input
    └── PolicyError(SimError, ValueError)  unknown policy or bad policy option
"""

from statecast.sim.config import SimConfig
from statecast.sim.errors import PolicyError, SimError, TraceError
from statecast.sim.replay import PolicyResult, replay
from statecast.sim.trace import Trace

__all__ = ["PolicyError", "PolicyResult", "SimConfig", "SimError", "Trace", "TraceError", "replay"]
