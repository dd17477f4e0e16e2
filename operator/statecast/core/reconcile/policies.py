"""Placement policies: which nodes a resource wants, and why.

Every policy reads the same :class:`~statecast.core.reconcile.survey.Survey` and the
resource's :class:`~statecast.core.reconcile.observed.DemandView`, and answers a
:class:`PolicyPlan`: the nodes it wants with the reason of each addition and removal,
what it says about the forecast (the ``ForecastReady`` condition) and its notes. The
reconcile then applies the one hand-off rule
(:func:`~statecast.core.replica_set.hand_off`) to whichever policy answered.

- :class:`SpreadPolicy` (``replication.policy: static``): ``replicas.min`` spread over
  zones, plus the consumers' nodes;
- :class:`PredictivePolicy` (``predictive``): the placement planner on the forecast; the
  spread until the history holds enough intervals (or the operator, restarted, has
  caught up with its own sampling), or when the planner refuses;
- :class:`ReactivePolicy` (``reactive``): Anna's hot pairs
  (:mod:`statecast.core.reactive`); the spread until a window of demand is sampled.

Without an informed plan the predictive and reactive policies *hold*: the spread adds
what ``replicas.min`` and the consumers need and removes no copy on an eligible node
(:func:`~statecast.core.replica_set.hold_current`): the spread alone does not know why
those copies are there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from statecast.api.units import parse_duration
from statecast.core.placement import PlacementError
from statecast.core.placement import plan as plan_placement
from statecast.core.reactive import heat_wanted, place_by_heat
from statecast.core.reconcile.observed import DemandView
from statecast.core.reconcile.predictive import placement_input, wanted_from_plan
from statecast.core.reconcile.strong import settled_candidates
from statecast.core.reconcile.survey import Survey, planner_load
from statecast.core.reconcile.tuning import tuner_prices
from statecast.core.replica_set import WantedReplicas, hold_current, spread_wanted

__all__ = [
    "ConditionState",
    "PlacementPolicy",
    "PolicyPlan",
    "PredictivePolicy",
    "ReactivePolicy",
    "SpreadPolicy",
    "policy_for",
]


@dataclass(frozen=True)
class ConditionState:
    """A status condition's value: whether it holds, why (a CamelCase word), and a message.

    A policy says the ``ForecastReady`` one; the status builds the others the same way.
    """

    holds: bool
    reason: str
    message: str


@dataclass(frozen=True)
class PolicyPlan:
    """A policy's answer.

    Attributes:
        wanted: the nodes wanted and the reasons of each addition and removal.
        forecast: the ``ForecastReady`` condition it reports.
        notes: remarks appended to that condition's message (the planner's).
        forecast_status: ``status.forecast`` (None: none to report).
        last_hot: node -> when it was last hot, to pass back as the next
            :class:`~statecast.core.reconcile.observed.DemandView`'s ``last_hot``
            (None: nothing to keep).
    """

    wanted: WantedReplicas
    forecast: ConditionState
    notes: tuple[str, ...] = ()
    forecast_status: Mapping[str, Any] | None = None
    last_hot: Mapping[str, float] | None = field(default=None)


class PlacementPolicy(Protocol):
    """Decides the nodes of one resource from the survey and its demand."""

    def place(self, survey: Survey, demand: DemandView) -> PolicyPlan:
        """The nodes wanted, why, and what to report about the forecast."""


def _spread(survey: Survey, demand: DemandView | None = None) -> WantedReplicas:
    """``replicas.min`` spread over zones plus the consumers' nodes, up to ``replicas.max``.

    For a strong resource (with ``demand``), a node whose copy was removed within the
    cooldown takes no copy back unless the count needs it
    (:func:`~statecast.core.reconcile.strong.settled_candidates`).
    """
    candidates = survey.candidates
    if demand is not None and survey.spec.consistency == "strong":
        candidates = settled_candidates(
            candidates,
            [r.node for r in survey.replicas],
            demand.recently_removed,
            parse_duration(survey.spec.replication.cooldown).total_seconds(),
            survey.count,
        )
    return spread_wanted(
        candidates,
        survey.existing.values(),
        count=survey.count,
        consumers=survey.consumers,
        limit=survey.spec.replicas.max,
        unreachable=survey.unreachable,
    )


def _hold(survey: Survey) -> WantedReplicas:
    """The spread, removing no copy on an eligible node (see :func:`hold_current`)."""
    return hold_current(
        _spread(survey),
        survey.existing,
        {c.name for c in survey.candidates},
        survey.spec.replicas.max,
    )


_HELD = "; copies placed before are kept until it is"


class SpreadPolicy:
    """The plain spread: ``replicas.min`` over zones plus consumers (``policy: static``)."""

    def place(self, survey: Survey, demand: DemandView) -> PolicyPlan:
        """The spread; the forecast is not used."""
        condition = ConditionState(False, "NotPredictive", _NOT_PREDICTIVE)
        return PolicyPlan(_spread(survey, demand), condition)


_NOT_PREDICTIVE = "policy is not predictive"


class PredictivePolicy:
    """The placement planner on the resource's forecast (``policy: predictive``)."""

    def place(self, survey: Survey, demand: DemandView) -> PolicyPlan:
        """The planner's nodes; the spread while there is no forecast or the planner refuses."""
        forecast = demand.forecast
        if forecast is None:
            waiting = ConditionState(
                False, "NotEnoughHistory", f"sampling access counts: no forecast yet{_HELD}"
            )
            return PolicyPlan(_hold(survey), waiting)
        spec = survey.spec
        budget, held, shadow = _reactive_shadow(survey, demand)
        tuned = demand.tuning.state if demand.tuning is not None else None
        try:
            chosen = plan_placement(
                placement_input(
                    spec,
                    survey.nodes,
                    {c.name for c in survey.candidates},
                    survey.replicas,
                    forecast,
                    now=survey.now,
                    consumers=survey.consumers,
                    recently_removed=demand.recently_removed,
                    free_bytes=survey.free,
                    tuned=tuned,
                    latency=demand.latency,
                    heat=demand.heat,
                    reactive_copies=budget,
                    reactive_held=held,
                    load=planner_load(
                        {c.name: c.load for c in survey.candidates},
                        {r.node: r.bytes for r in survey.replicas},
                    ),
                    warm_retention_s=demand.warm_retention_s,
                    lost=demand.lost_removals,
                    consumers_left=demand.consumers_lately,
                    reactive_nodes=shadow or (),
                )
            )
        except PlacementError as err:
            return PolicyPlan(_hold(survey), ConditionState(False, "PlannerError", str(err)))
        models = ", ".join(sorted(set(forecast.models)))
        return PolicyPlan(
            wanted_from_plan(chosen),
            ConditionState(True, "Forecasting", f"placed by forecast ({models})"),
            chosen.notes,
            forecast.status(),
            last_hot=shadow,
        )


def _reactive_shadow(
    survey: Survey, demand: DemandView
) -> tuple[int | None, int | None, Mapping[str, float] | None]:
    """The copies the reactive rule holds on this demand, those for demand, its state.

    How many copies it holds, how many of them for demand (not only through their
    grace: ``PlanInput.reactive_held``), and the state to keep. The default operating
    point of a predictive resource: no more copies than ``policy: reactive`` would hold
    on the same observed heat (the planner's ``reactive_copies``), the forecast
    choosing where. A shadow of that rule on its own copies (the nodes kept from its
    last decision, with when each was last hot): hot pairs, the grace of the cooldown,
    ``replicas.min`` and ``max``, the zone floor and the consumers (kept in memory like
    a reactive resource's, by the heat tracker). None while no window of demand is
    sampled, when the self-tuner sets the cost weight (a local-hit target is a
    budget of its own) and with ``replication.planner.bytePricesOnly``: tuning on
    without ``targetLocalHitRatio`` (the spec's default) learns the deviation threshold
    alone, at cost weight 1, and keeps the budget.
    """
    heat = demand.heat
    if (
        heat is None
        or tuner_prices(survey.spec)
        or survey.spec.replication.planner.byte_prices_only
    ):
        return None, None, None
    spec = survey.spec
    now = survey.now.timestamp()
    # a shadow started (or the operator restarted) takes the resource's copies as its
    # own, as a restarted reactive operator gives each a fresh grace
    held = list(demand.last_hot) or [r.node for r in survey.replicas]
    placed = place_by_heat(
        survey.candidates,
        heat,
        held,
        last_hot=demand.last_hot,
        now=now,
        grace_s=parse_duration(spec.replication.cooldown).total_seconds(),
        min_replicas=spec.replicas.min,
        max_replicas=spec.replicas.max,
        consumers=survey.consumers,
    )
    for_demand = sum(1 for n in placed.nodes if placed.why.get(n) != "grace")
    shadow = {n: placed.last_hot.get(n, now) for n in placed.nodes}
    return len(placed.nodes), for_demand, shadow


class ReactivePolicy:
    """Anna's selective replication of hot pairs (``policy: reactive``)."""

    def place(self, survey: Survey, demand: DemandView) -> PolicyPlan:
        """The hot nodes, those within their cooldown, and a refill to ``replicas.min``."""
        heat = demand.heat
        if heat is None:
            message = (
                "policy reactive: the plain spread until a window of demand is sampled"
                "; copies placed before are kept until it is"
            )
            return PolicyPlan(_hold(survey), ConditionState(False, "NotPredictive", message))
        spec = survey.spec
        placed = place_by_heat(
            survey.candidates,
            heat,
            [r.node for r in survey.replicas],
            last_hot=demand.last_hot,
            now=survey.now.timestamp(),
            grace_s=parse_duration(spec.replication.cooldown).total_seconds(),
            min_replicas=spec.replicas.min,
            max_replicas=spec.replicas.max,
            consumers=survey.consumers,
        )
        wanted = heat_wanted(
            survey.candidates,
            survey.existing.values(),
            placed,
            unreachable=survey.unreachable,
        )
        message = (
            f"policy reactive: {len(heat.hot())} hot nodes above "
            f"{heat.stats.threshold(heat.k_sigma):.3g} accesses/s "
            f"over the last {heat.window_s:.0f}s"
        )
        state = ConditionState(False, "NotPredictive", message)
        return PolicyPlan(wanted, state, last_hot=placed.last_hot)


_POLICIES: Mapping[str, PlacementPolicy] = {
    "predictive": PredictivePolicy(),
    "reactive": ReactivePolicy(),
}


def policy_for(name: str) -> PlacementPolicy:
    """The policy of ``replication.policy`` (``static`` and any other: the spread)."""
    return _POLICIES.get(name, SpreadPolicy())
