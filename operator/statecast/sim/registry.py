"""Policies by name, as the command and the benchmark ask for them."""

from __future__ import annotations

from collections.abc import Callable

from statecast.core.tuning import TunerConfig
from statecast.sim.baselines import FollowTheWorkload, HotCopies
from statecast.sim.errors import PolicyError
from statecast.sim.planned import PerfectForecast, Predictive
from statecast.sim.policies import Full, Policy, Reactive, Static


def _predictive_tuned(refresh_steps: int) -> Policy:
    policy = Predictive(refresh_steps=refresh_steps, tuner=TunerConfig())
    policy.name = "predictive+tune"
    return policy


def _predictive_threshold(refresh_steps: int) -> Policy:
    """The operator's default: tuning on without a target learns the deviation threshold alone.

    A SharedResource's default spec (``replication.tuning.enabled``, no
    ``targetLocalHitRatio``): the cost weight stays 1 and the reactive budget holds, the
    threshold moves with the hedge copies' use each tuning window (1 hour).
    """
    policy = Predictive(refresh_steps=refresh_steps, tuner=TunerConfig(target_local_hit_ratio=None))
    policy.name = "predictive+threshold"
    return policy


#: name -> factory taking the forecast refresh interval in steps.
POLICIES: dict[str, Callable[[int], Policy]] = {
    "static": lambda _refresh: Static(),
    "full": lambda _refresh: Full(),
    "reactive": lambda _refresh: Reactive(),
    "follow-the-workload": lambda _refresh: FollowTheWorkload(),
    "groupcache": lambda _refresh: HotCopies(),
    "predictive": lambda refresh: Predictive(refresh_steps=refresh),
    "predictive+tune": _predictive_tuned,
    "predictive+threshold": _predictive_threshold,
    "perfect-forecast": lambda _refresh: PerfectForecast(),
}
DEFAULT_POLICIES = ("static", "full", "reactive", "predictive", "perfect-forecast")
#: Old names still accepted for one release: old -> new.
ALIASES = {"oracle": "perfect-forecast"}


def deprecation(name: str) -> str | None:
    """A one-line note when ``name`` (or its base before ``@``) is a deprecated alias."""
    base, _, _ = name.partition("@")
    new = ALIASES.get(base)
    if new is None:
        return None
    return (
        f"policy {base!r} is deprecated and will be removed in the next release:"
        f" it is {new!r} (the planner fed the true future; not a bound, see"
        " bound_local_hit_ratio and bound_mean_latency_ms)"
    )


def make_policy(name: str, refresh_steps: int = 1) -> Policy:
    """A fresh policy object by name (deprecated aliases resolved to the new name).

    ``predictive@W`` and ``perfect-forecast@W`` run the planner with every cost multiplied
    by ``W`` (a point on the cost/latency frontier, e.g. to match another policy's
    replica-hours).

    Raises:
        PolicyError: when no policy has that name.
    """
    base, at, weight = name.partition("@")
    base = ALIASES.get(base, base)
    name = base + at + weight
    if weight and base in ("predictive", "perfect-forecast"):
        try:
            value = float(weight)
        except ValueError:
            value = -1.0
        if not value > 0:
            raise PolicyError(f"bad cost weight in policy {name!r}: expected e.g. predictive@2.5")
        policy: Predictive | PerfectForecast
        if base == "predictive":
            policy = Predictive(refresh_steps=refresh_steps, cost_weight=value)
        else:
            policy = PerfectForecast(cost_weight=value)
        policy.name = name
        return policy
    factory = POLICIES.get(name)
    if factory is None:
        raise PolicyError(f"unknown policy {name!r} (known: {', '.join(POLICIES)})")
    return factory(refresh_steps)
