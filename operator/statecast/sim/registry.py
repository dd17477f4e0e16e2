"""Policies by name, as the command and the benchmark ask for them."""

from __future__ import annotations

from collections.abc import Callable

from statecast.core.tuning import TunerConfig
from statecast.sim.errors import PolicyError
from statecast.sim.planned import Oracle, Predictive
from statecast.sim.policies import Full, Policy, Reactive, Static


def _predictive_tuned(refresh_steps: int) -> Policy:
    policy = Predictive(refresh_steps=refresh_steps, tuner=TunerConfig())
    policy.name = "predictive+tune"
    return policy


#: name -> factory taking the forecast refresh interval in steps.
POLICIES: dict[str, Callable[[int], Policy]] = {
    "static": lambda _refresh: Static(),
    "full": lambda _refresh: Full(),
    "reactive": lambda _refresh: Reactive(),
    "predictive": lambda refresh: Predictive(refresh_steps=refresh),
    "predictive+tune": _predictive_tuned,
    "oracle": lambda _refresh: Oracle(),
}
DEFAULT_POLICIES = ("static", "full", "reactive", "predictive", "oracle")


def make_policy(name: str, refresh_steps: int = 1) -> Policy:
    """A fresh policy object by name.

    ``predictive@W`` and ``oracle@W`` run the planner with every cost multiplied by
    ``W`` (a point on the cost/latency frontier, e.g. to match another policy's
    replica-hours).

    Raises:
        PolicyError: when no policy has that name.
    """
    base, _, weight = name.partition("@")
    if weight and base in ("predictive", "oracle"):
        try:
            value = float(weight)
        except ValueError:
            value = -1.0
        if not value > 0:
            raise PolicyError(f"bad cost weight in policy {name!r}: expected e.g. predictive@2.5")
        policy: Predictive | Oracle
        if base == "predictive":
            policy = Predictive(refresh_steps=refresh_steps, cost_weight=value)
        else:
            policy = Oracle(cost_weight=value)
        policy.name = name
        return policy
    factory = POLICIES.get(name)
    if factory is None:
        raise PolicyError(f"unknown policy {name!r} (known: {', '.join(POLICIES)})")
    return factory(refresh_steps)
