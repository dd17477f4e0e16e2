"""The predictive policy's two translations: into the planner, and out of it.

- :func:`placement_input` turns the resource's spec, the nodes, its replicas and its
  forecast into the planner's :class:`~statecast.core.placement.PlanInput`;
- :func:`wanted_from_plan` turns the plan into the nodes wanted and the reasons of each
  addition and removal, for the hand-off every policy shares
  (:func:`~statecast.core.replica_set.hand_off`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Mapping
from dataclasses import replace

from statecast.api.shared_resource import SharedResourceSpec
from statecast.api.units import parse_duration, parse_quantity, parse_quantity_fraction
from statecast.core.placement import (
    ActionKind,
    CostModel,
    DemandForecast,
    LatencyModel,
    NodeInfo,
    PlacementSpec,
    Plan,
    PlanInput,
    StateProfile,
)
from statecast.core.reactive import ObservedHeat
from statecast.core.reconcile.predicted import PredictedDemand
from statecast.core.reconcile.views import NodeView, ReplicaView
from statecast.core.replica_set import WantedReplicas
from statecast.core.strong.election import voter_count
from statecast.core.tuning import TuningState
from statecast.core.warm import warm_prices

__all__ = [
    "placement_costs",
    "placement_input",
    "placement_latency",
    "placement_spec",
    "wanted_from_plan",
]


def placement_spec(spec: SharedResourceSpec, tuned: TuningState | None = None) -> PlacementSpec:
    """The planner's view of a resource's spec.

    Args:
        spec: the resource's spec.
        tuned: the self-tuner's knobs: its cost weight multiplies
            ``replication.planner.costWeight`` and its deviation threshold replaces
            ``replication.thresholds.deviation`` (None: not tuned).

    ``replication.planner``'s knobs go to the fields of the same names (a duration
    ``x`` to ``x_s``, in seconds); its prices go to :func:`placement_costs`.
    """
    budget, knobs = spec.replication.budget, spec.replication.planner
    minimum = spec.replicas.min
    if spec.consistency == "strong":  # an odd number of voters (see core.strong.election)
        minimum = voter_count(spec.replicas.min, spec.replicas.max)
    return PlacementSpec(
        min_replicas=minimum,
        max_replicas=spec.replicas.max,
        spread_across=spec.placement.spread_across,
        deviation_threshold=(
            tuned.deviation_threshold
            if tuned is not None
            else spec.replication.thresholds.deviation
        ),
        confidence_threshold=spec.replication.thresholds.confidence,
        cooldown_s=parse_duration(spec.replication.cooldown).total_seconds(),
        budget_bytes_stored=(
            parse_quantity(budget.bytes_stored) if budget.bytes_stored is not None else None
        ),
        budget_bytes_moved_per_hour=(
            parse_quantity(budget.bytes_moved_per_hour)
            if budget.bytes_moved_per_hour is not None
            else None
        ),
        consistency=spec.consistency,
        cost_weight=(tuned.cost_weight if tuned is not None else 1.0) * knobs.cost_weight,
        copy_weight=knobs.copy_weight,
        trim_in_reactive_order=knobs.trim_in_reactive_order,
        fill_in_reactive_order=knobs.fill_in_reactive_order,
        release_pod_copies=knobs.release_pod_copies,
        cooldown_from_read=knobs.cooldown_from_read,
        everywhere_copy_days=knobs.everywhere_copy_days,
        floor_in_zone_order=knobs.floor_in_zone_order,
        hold_grace_slots=knobs.hold_grace_slots,
        everywhere_min_bytes=knobs.everywhere_min_bytes,
        swap_in_reactive_order=knobs.swap_in_reactive_order,
        background_reads_per_hour=knobs.background_reads_per_hour,
        move_residence_s=_seconds(knobs.move_residence),
        hand_off_on_add=knobs.hand_off_on_add,
        change_steps=knobs.change_steps,
        move_persistence_s=parse_duration(knobs.move_persistence).total_seconds(),
        floor_window_s=parse_duration(knobs.floor_window).total_seconds(),
        floor_observed_only=knobs.floor_observed_only,
        move_ratio=knobs.move_ratio,
        copy_floor=knobs.copy_floor,
        zone_floor=knobs.zone_floor,
    )


def _seconds(duration: str | None) -> float | None:
    return None if duration is None else parse_duration(duration).total_seconds()


def placement_costs(
    spec: SharedResourceSpec, k_sigma: float | None, state_bytes: int = 0
) -> CostModel:
    """The planner's prices for a resource.

    Args:
        spec: the resource's spec: ``replication.planner``'s ``holdWeight`` multiplies
            the price of a GiB-hour, divided by its ``costWeight``, which
            :func:`placement_spec` makes the cost weight that multiplies every price (so
            holding is priced ``holdWeight`` times, everything else ``costWeight`` times,
            as the simulator's ``hold x`` and ``copy x``); ``holdPerReplica`` prices a
            GiB-hour of this resource's replica as that many bytes' over its own size (a
            replica-hour alike whatever the size); ``bytePricesOnly`` drops the holding
            floor at the hot threshold.
        k_sigma: the observed heat's ``k`` (``ObservedHeat.k_sigma``), the holding
            floor's hot threshold in deviations (None: no heat observed, the default's).
        state_bytes: the size of one replica (``StateProfile.bytes``; read with
            ``holdPerReplica`` only).
    """
    knobs, default = spec.replication.planner, CostModel()
    hot_sigma = default.hot_sigma if k_sigma is None else k_sigma
    hour = default.ms_per_gib_hour * (knobs.hold_weight / knobs.cost_weight)
    if knobs.hold_per_replica is not None:
        hour *= parse_quantity_fraction(knobs.hold_per_replica) / max(float(state_bytes), 1.0)
    return CostModel(ms_per_gib_hour=hour, hot_sigma=None if knobs.byte_prices_only else hot_sigma)


def placement_latency(spec: SharedResourceSpec, latency: LatencyModel | None) -> LatencyModel:
    """The latency the planner values reads at.

    ``latency`` (None: the planner's default model); with
    ``replication.planner.valueLocalHits`` a read served by another node of its zone at the
    cross-zone latency (only a local copy counts).
    """
    model = latency if latency is not None else LatencyModel()
    if spec.replication.planner.value_local_hits:
        return replace(model, same_zone_ms=model.cross_zone_ms)
    return model


def placement_input(
    spec: SharedResourceSpec,
    nodes: Iterable[NodeView],
    eligible: set[str],
    replicas: Iterable[ReplicaView],
    demand: PredictedDemand,
    *,
    now: dt.datetime,
    consumers: Iterable[str] = (),
    recently_removed: Mapping[str, float] | None = None,
    free_bytes: Mapping[str, int] | None = None,
    tuned: TuningState | None = None,
    latency: LatencyModel | None = None,
    heat: ObservedHeat | None = None,
    reactive_copies: int | None = None,
    reactive_held: int | None = None,
    load: Mapping[str, float] | None = None,
    warm_retention_s: float = 0.0,
    lost: Collection[str] = (),
    consumers_left: Collection[str] = (),
    reactive_nodes: Collection[str] = (),
) -> PlanInput:
    """The planner's input for one resource.

    Args:
        spec: the resource's spec.
        nodes: every node (ineligible ones enter as not ready, so copies there move).
        eligible: the nodes that may hold a replica (ready, usable, matching placement).
        replicas: the resource's Replica objects.
        demand: its forecast.
        now: the current time (replica ages).
        consumers: nodes running a consumer pod.
        recently_removed: node -> seconds since a replica of this resource was removed.
        free_bytes: node -> bytes it can still take (``placement.maxBytesPerNode``
            minus what it holds for other resources); None: no limit.
        tuned: the self-tuner's knobs (see :func:`placement_spec`; None: not tuned).
        latency: the latency between zones (None: the planner's default model).
        heat: the resource's observed heat: its cluster-wide statistics become
            ``PlanInput.cluster_heat`` (None: the planner takes its own nodes').
        reactive_copies: the copies the reactive rule holds on the same demand
            (``PlanInput.reactive_copies``; None: no such budget).
        reactive_held: of those, the copies the rule holds for demand, not only through
            their grace (``PlanInput.reactive_held``; None: not said).
        load: node -> its load in [0, 1] (:func:`~statecast.core.reconcile.survey.planner_load`):
            the planner's tie-break between equally good nodes (None: every node at 0,
            and ties go to the name that sorts first).
        warm_retention_s: how long the agents keep a removed copy's files
            (``STATECAST_AGENT_WARM_RETENTION``): a copy back on a node of ``recently_removed``
            within it is priced at the writes it missed (:func:`warm_copies`; 0: every
            copy priced in full), and the break-even rule prices a copy it removes
            back so (``PlanInput.warm_retention_s``).
        lost: the nodes of ``recently_removed`` whose copy was lost with the node
            (not handed off: its files may be gone): a copy back there is priced in
            full.
        consumers_left: nodes a consumer pod ran on lately and none runs on now
            (``PlanInput.consumers_left``, read with ``replication.planner.releasePodCopies``).
        reactive_nodes: the nodes the reactive rule's shadow holds a copy on
            (``PlanInput.reactive_nodes``, read with
            ``replication.planner.trimInReactiveOrder`` and ``fillInReactiveOrder``).
    """
    label = spec.placement.spread_across
    infos = tuple(
        NodeInfo(
            n.name,
            n.labels.get(label, ""),
            ready=n.name in eligible,
            free_bytes=None if free_bytes is None else max(free_bytes.get(n.name, 0), 0),
            load=0.0 if load is None else load.get(n.name, 0.0),
        )
        for n in nodes
    )
    known = {n.name for n in infos}
    replica_list = [r for r in replicas if r.node in known]
    current = tuple(r.current(now) for r in replica_list)
    forecast = demand.forecast
    rows = [i for i, n in enumerate(forecast.nodes) if n in known]
    state = StateProfile(max((r.bytes for r in replica_list), default=0), demand.writes_per_min)
    return PlanInput(
        spec=placement_spec(spec, tuned),
        state=state,
        nodes=infos,
        forecast=DemandForecast(
            tuple(forecast.nodes[i] for i in rows),
            forecast.mean[rows],
            forecast.lower[rows],
            forecast.upper[rows],
            forecast.deviation[rows],
            None if forecast.observed is None else forecast.observed[rows],
            None if forecast.recent is None else forecast.recent[rows],
        ),
        replicas=current,
        step_s=demand.interval_s,
        latency=placement_latency(spec, latency),
        costs=placement_costs(spec, None if heat is None else heat.k_sigma, state.bytes),
        consumer_nodes=frozenset(consumers) & frozenset(eligible),
        recently_removed=dict(recently_removed or {}),
        cluster_heat=None if heat is None else (heat.stats.mean, heat.stats.sigma),
        reactive_copies=reactive_copies,
        reactive_held=reactive_held,
        copy_bytes=warm_copies(
            state,
            {n: ago for n, ago in (recently_removed or {}).items() if n not in lost},
            warm_retention_s,
        ),
        warm_retention_s=max(warm_retention_s, 0.0),
        consumers_left=frozenset(consumers_left) - frozenset(consumers),
        reactive_nodes=frozenset(reactive_nodes),
    )


def warm_copies(
    state: StateProfile, removed: Mapping[str, float], retention_s: float
) -> dict[str, float]:
    """Node -> bytes a copy back there moves, for the nodes whose copy is still warm.

    A node that lost a copy of the resource less than ``retention_s`` ago keeps its
    files (the agent's warm retention) and catches up on the writes it missed:
    :func:`statecast.core.warm.warm_prices` at the resource's write rate, the bound the
    simulator charges too. ``removed`` holds handed-off removals only: a copy lost with
    its node left no files to reopen (the caller leaves those out, :func:`placement_input`).
    """
    rate = state.writes_per_min / 60.0 * state.bytes_per_write
    return warm_prices(float(state.bytes), removed, rate, retention_s)


def wanted_from_plan(plan: Plan) -> WantedReplicas:
    """The nodes the plan keeps or adds, with the planner's reason for each add and remove."""
    return WantedReplicas(
        nodes=tuple(sorted(plan.nodes)),
        add_reasons={a.node: str(a.reason) for a in plan.of_kind(ActionKind.ADD)},
        removals={a.node: str(a.reason) for a in plan.of_kind(ActionKind.REMOVE)},
    )
