"""Policies that call statecast's planner: ``predictive`` and ``perfect-forecast``.

Both build one :class:`PlanInput` per resource and step and apply :func:`plan`, so the
only difference between them is what they believe demand will be: the predictive
policy asks :class:`statecast.core.forecast.ForecastEngine` (updated every step for
every series at once, refitted every ``refresh_steps`` steps), ``perfect-forecast``
reads the trace's future. ``perfect-forecast`` is *not* a bound on what placement
could do (the planner is greedy and prices latency, not local hits, and a wide forecast
band can place a useful hedge the point forecast does not): the bounds are in
:mod:`statecast.sim.bounds` and :mod:`statecast.sim.latency_bound`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from statecast.core.demand_series import history_steps
from statecast.core.forecast.pods import Band as PodBand
from statecast.core.forecast.pods import recombine, split_by_pods
from statecast.core.placement import (
    ActionKind,
    CurrentReplica,
    DemandForecast,
    LatencyModel,
    NodeInfo,
    PlacementSpec,
    Plan,
    PlanInput,
    Reason,
    StateProfile,
    forecast_deviation,
    plan,
)
from statecast.core.reactive import HeatStats, Why
from statecast.core.tuning import Outcome, TunerConfig, TuningState, tune
from statecast.core.warm import warm_prices
from statecast.sim.config import SimConfig, focus_index
from statecast.sim.policies import Reactive
from statecast.sim.trace import Trace

if TYPE_CHECKING:
    from statecast.core.forecast import ForecastEngine

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
Band = tuple[FloatArray, FloatArray, FloatArray, FloatArray]


#: A valuation that prices every remote access like a cross-zone one: the planner then
#: seeks local hits rather than the lowest mean latency, and holding is priced per
#: replica-hour (a replica of any resource at the price of one of the mean size), the
#: budget local hits are compared at.
LOCAL_FIRST = LatencyModel(same_zone_ms=LatencyModel().cross_zone_ms)


#: The reactive rule's window (the operator's heat tracker and the simulator's reactive
#: policy default to 15 minutes): the default prices' hot threshold is taken over it.
HEAT_WINDOW_S = 900.0


#: The spec's fields a planner policy sets for each resource itself: the trace's replica
#: bounds, its cooldown (``cooldown_s``, else the replay's) and its cost weight
#: (``cost_weight``, or the self-tuner's). Every other field of its ``spec`` reaches the
#: planner as given.
PER_RESOURCE = ("min_replicas", "max_replicas", "cooldown_s", "cost_weight")


def _planner_knobs(spec: PlacementSpec | None) -> PlacementSpec:
    """``spec`` (None: the defaults), refused where it sets a field of :data:`PER_RESOURCE`.

    Raises:
        ValueError: ``spec`` sets a field the policy would overwrite (silently ignored
            otherwise).
    """
    defaults = PlacementSpec()
    if spec is None:
        return defaults
    overwritten = [f for f in PER_RESOURCE if getattr(spec, f) != getattr(defaults, f)]
    if overwritten:
        raise ValueError(f"a planner policy sets {', '.join(overwritten)} itself, not its spec")
    return spec


class PlannerPolicy:
    """Shared machinery: per-resource specs, node inventory, replicas, the plan call.

    Args:
        tuner: self-tuning settings, or None for fixed thresholds.
        tune_every_s: how often the self-tuner learns.
        cost_weight: multiplies the planner's costs (1 = the default prices).
        valuation: the latency model the planner prices accesses with (None: the
            replay's own); :data:`LOCAL_FIRST` makes it value local hits.
        storage_weight: multiplies the price of a GiB-hour held, copies' price unchanged
            (the sweeps' knob: it trades replica-hours without pricing moves out).
        cooldown_s: the planner's cooldown (None: the replay's ``SimConfig.cooldown_s``);
            swept as reactive's grace period is.
        demand_priced: keep the prices' demand-relative holding floor
            (``CostModel.hot_sigma``, the default prices); False: bytes only (the
            sweeps' price grid).
        warm_copies: price a copy back on a node that still keeps a removed copy's files
            at what the replay charges for it, the writes it missed within
            ``SimConfig.warm_retention_s`` (the default: what the operator installed by
            the chart does, its agents keeping copies warm for ``agent.warmRetention``);
            False: every copy priced in full (the sweep grid's planner). With a retention
            of 0 both are the same run.
        spec: the planner's knobs, the one place they are set: each resource's
            :class:`PlacementSpec` is this one with the fields of :data:`PER_RESOURCE`
            filled in (None: every knob at its default, the operator's).
    """

    name = "planner"
    #: Holding priced per replica-hour (a replica of any resource at the price of one of
    #: the trace's mean size) rather than per GiB-hour: None prices per replica-hour when
    #: the valuation is :data:`LOCAL_FIRST` only (every run before session 12); True does
    #: so for a latency valuation too - the budget the frontiers compare at is
    #: replica-hours, which a GiB-hour price spends on the small resources (the sweeps'
    #: ``Setting.per_replica``).
    holding_per_replica: bool | None = None
    #: The demand-relative prices' hot threshold in deviations (``CostModel.hot_sigma``)
    #: and the reactive budget's shadow's ``k`` alike: None keeps the replay's (1). The
    #: sweeps' ``Setting.sigma``: the default run shaped like reactive's run at that k.
    hot_sigma: float | None = None
    #: The window the reactive budget's shadow, the cluster's heat and the departed pods
    #: are read over, seconds: None keeps the operator's (:data:`HEAT_WINDOW_S`). The
    #: sweeps' ``Setting.window``: with ``hot_sigma`` and the cooldown, the default run
    #: shaped like reactive's run at that window, k and grace.
    heat_window_s: float | None = None
    #: Replicas held beyond each resource's ``min`` (the planner's ``min_replicas`` raised
    #: by this many, within ``max`` and the nodes; the zone floor kept at the trace's
    #: ``min``, ``PlacementSpec.zone_floor``), as follow-the-workload's ``extra`` holds
    #: them: the sweeps' ``Setting.extra``. 0: the trace's ``min`` (every earlier run).
    extra_replicas: int = 0

    def __init__(
        self,
        tuner: TunerConfig | None = None,
        tune_every_s: float = 3600.0,
        cost_weight: float = 1.0,
        valuation: LatencyModel | None = None,
        storage_weight: float = 1.0,
        cooldown_s: float | None = None,
        demand_priced: bool = True,
        warm_copies: bool = True,
        spec: PlacementSpec | None = None,
    ) -> None:
        self.spec = _planner_knobs(spec)
        self.tuner = tuner
        self.warm_copies = warm_copies
        self.demand_priced = demand_priced
        self.cooldown_s = cooldown_s
        self.valuation = valuation
        self.tune_every_s = tune_every_s
        self.cost_weight = cost_weight
        self.storage_weight = storage_weight
        self.tuning: list[TuningState] = []

    def start(self, trace: Trace, config: SimConfig) -> None:
        """Precompute what does not change between steps."""
        self._trace, self._config = trace, config
        self._cooldown_s = config.cooldown_s if self.cooldown_s is None else self.cooldown_s
        # Holding is priced per GiB-hour; valuing local hits (or where asked), per
        # replica-hour (every resource's replica at the price of one of the mean size).
        size = trace.state_bytes.mean() / np.maximum(trace.state_bytes, 1.0)
        per_replica = self.holding_per_replica
        if per_replica is None:
            per_replica = self.valuation is LOCAL_FIRST
        scale = size if per_replica else np.ones(trace.n_resources)
        base = config.costs.ms_per_gib_hour * self.storage_weight
        own = config.costs.hot_sigma if self.hot_sigma is None else self.hot_sigma
        sigma = own if self.demand_priced else None
        self._costs = [
            replace(config.costs, ms_per_gib_hour=base * float(k), hot_sigma=sigma) for k in scale
        ]
        self._horizon = max(1, round(config.horizon_s / trace.step_s))
        self._specs = [
            replace(
                self.spec,
                min_replicas=self._minimum(trace, r),
                zone_floor=self._zone_floor(trace, r),
                max_replicas=int(trace.max_replicas[r]) or None,
                cooldown_s=self._cooldown_s,
                cost_weight=self.cost_weight,
            )
            for r in range(trace.n_resources)
        ]
        self._states = [
            StateProfile(
                int(trace.state_bytes[r]), float(trace.writes_per_min[r]), config.bytes_per_write
            )
            for r in range(trace.n_resources)
        ]
        self._inventory: dict[bytes, tuple[NodeInfo, ...]] = {}
        self._removed_at = np.full((trace.n_resources, trace.n_nodes), -np.inf)
        self._previous = np.zeros((trace.n_resources, trace.n_nodes), dtype=np.bool_)
        self._held = np.zeros((trace.n_resources, trace.n_nodes), dtype=np.bool_)
        self._warm_at = np.full((trace.n_resources, trace.n_nodes), -np.inf)
        # when each hedge copy was planned (NaN: none), for the self-tuner's hedge use
        self._hedged_at = np.full((trace.n_resources, trace.n_nodes), np.nan)
        self._write_rate = trace.writes_per_min / 60.0 * config.bytes_per_write
        self.tuning = [TuningState.initial(s.deviation_threshold) for s in self._specs]
        self._tune_steps = max(1, round(self.tune_every_s / trace.step_s))
        self._local = np.zeros(trace.n_resources)
        self._total = np.zeros(trace.n_resources)
        self._moved = np.zeros(trace.n_resources)
        window_s = HEAT_WINDOW_S if self.heat_window_s is None else self.heat_window_s
        self._heat_steps = max(1, round(window_s / trace.step_s))
        # The default prices hold no more copies than the reactive rule would on the
        # same observed demand: a shadow of it, on its own copies (as the operator's).
        self._shadow: Reactive | None = None
        self._copies = np.zeros((trace.n_resources, trace.n_nodes), dtype=np.bool_)
        self._held_copies = np.zeros(trace.n_resources, dtype=np.intp)
        # as the operator's: not while the self-tuner sets the cost weight (a target)
        tuner_prices = self.tuner is not None and self.tuner.target_local_hit_ratio is not None
        if self.demand_priced and not tuner_prices and sigma is not None:
            self._shadow = Reactive(window_s, self._cooldown_s, sigma)
            self._shadow.start(trace, config)
        memory = max(s.change_steps for s in self._specs) if self._specs else 0
        # what the forecasts said for the last steps, one step ahead (oldest first)
        self._earlier = np.full((trace.n_resources, trace.n_nodes, memory), np.nan)

    def _minimum(self, trace: Trace, r: int) -> int:
        """Resource ``r``'s ``min`` and :attr:`extra_replicas`, within its ``max`` and the nodes."""
        low = int(trace.min_replicas[r])
        if self.extra_replicas <= 0:
            return low
        high = int(trace.max_replicas[r]) or trace.n_nodes
        return max(low, min(low + self.extra_replicas, high, trace.n_nodes))

    def _zone_floor(self, trace: Trace, r: int) -> int | None:
        """The zone floor: with :attr:`extra_replicas` the trace's ``min``, else the spec's.

        The extra replicas go where the demand is, in any zone, as follow-the-workload's do.
        """
        if self.extra_replicas > 0:
            return int(trace.min_replicas[r])
        return self.spec.zone_floor

    def believed(self, t: int) -> Band:
        """Mean, lower, upper (resources x nodes x horizon) and deviation (resources x nodes)."""
        raise NotImplementedError

    def decide(self, t: int, replicas: BoolArray, ready: BoolArray, age_s: FloatArray) -> BoolArray:
        """Plan every resource for step ``t``."""
        trace, config = self._trace, self._config
        now = t * trace.step_s
        self._learn(t, replicas)
        self._removed_at[self._previous & ~replicas] = now  # lost with a node
        self._keep_warm(now, replicas)
        mean, lower, upper, deviation = self.believed(t)
        observed = trace.demand[:, :, t - 1] if t >= 1 else np.zeros(replicas.shape)
        history = trace.demand[:, :, max(0, t - trace.period) : t]  # the last day
        kept = min(history.shape[2], self._earlier.shape[2])
        said = self._earlier[:, :, self._earlier.shape[2] - kept :]
        nodes = self._nodes(t)
        heat = self._cluster_heat(t)
        budget = self._reactive_copies(t)
        desired = np.zeros_like(replicas)
        pods = None if trace.pods is None else trace.pods[:, :, t] > 0
        left = self._consumers_left(t, pods)
        for r in range(trace.n_resources):
            since = now - self._removed_at[r]
            recent = {
                trace.nodes[i]: float(since[i])
                for i in np.flatnonzero(since < 2 * self._cooldown_s)
            }
            current = tuple(
                CurrentReplica(trace.nodes[i], float(age_s[r, i]), bool(ready[r, i]))
                for i in np.flatnonzero(replicas[r])
            )
            inputs = PlanInput(
                spec=self._spec(r),
                state=self._states[r],
                nodes=nodes,
                forecast=DemandForecast(
                    trace.nodes,
                    mean[r],
                    lower[r],
                    upper[r],
                    deviation[r],
                    observed[r],
                    history[r],
                    said[r],
                ),
                replicas=current,
                step_s=trace.step_s,
                latency=self.valuation or config.latency,
                costs=self._costs[r],
                recently_removed=recent,
                consumer_nodes=_consumers(trace, pods, r),
                cluster_heat=heat,
                reactive_copies=None if budget is None else int(budget[r]),
                reactive_held=None if budget is None else int(self._held_copies[r]),
                copy_bytes=self._warm(r, now),
                warm_retention_s=self._config.warm_retention_s if self.warm_copies else 0.0,
                consumers_left=_consumers(trace, left, r),
                reactive_nodes=self._reactive_nodes(r),
            )
            planned = plan(inputs)
            chosen = set(planned.nodes)
            desired[r] = [n in chosen for n in trace.nodes]
            self._mark_hedges(r, planned, now)
        self._removed_at[replicas & ~desired] = now
        self._previous = desired.copy()
        if self._earlier.shape[2]:  # this step's forecast of this step, for the next steps
            self._earlier = np.concatenate([self._earlier[:, :, 1:], mean[:, :, :1]], axis=2)
        return desired

    def _mark_hedges(self, r: int, planned: Plan, now: float) -> None:
        """Remember when the plan added a hedge copy of resource ``r`` (when tuning).

        A copy keeps its reason while it stays, as a hedge Replica does in the operator
        (whose learner judges them, :func:`~statecast.core.reconcile.tuning.observe_window`).
        """
        if self.tuner is None:
            return
        for action in planned.of_kind(ActionKind.ADD):
            hedge = now if action.reason == Reason.HEDGE else np.nan
            self._hedged_at[r, self._trace.nodes.index(action.node)] = hedge

    def _hedge_use(self, t: int, replicas: BoolArray) -> list[float | None]:
        """Per resource, the share of its judged hedge copies whose node read it (None: none).

        The operator's rule: a hedge copy is judged once it has been held for a cooldown
        (or the whole tuning window, if shorter), and counts as used when its node read
        the resource while it was there within the window.
        """
        trace, now = self._trace, t * self._trace.step_s
        age = now - np.nan_to_num(self._hedged_at, nan=np.inf)
        judged = replicas & (age >= min(self._cooldown_s, self.tune_every_s))
        start = now - self._tune_steps * trace.step_s
        use: list[float | None] = []
        for r in range(trace.n_resources):
            nodes = np.flatnonzero(judged[r])
            used = 0
            for i in nodes:
                first = int(max(start, self._hedged_at[r, i]) // trace.step_s)
                used += int(trace.demand[r, i, first:t].sum() > 0)
            use.append(used / len(nodes) if len(nodes) else None)
        return use

    def _consumers_left(self, t: int, pods: BoolArray | None) -> BoolArray | None:
        """Per (resource, node): a consumer pod ran there lately, none runs at ``t``.

        Lately: within the reactive rule's window and its grace (the cooldown) before
        ``t``, the span over which that rule's count holds a copy for a pod's heat
        (``PlanInput.consumers_left``). None: the trace has no pods.
        """
        trace = self._trace
        if pods is None or trace.pods is None:
            return None
        span = self._heat_steps + max(1, round(self._cooldown_s / trace.step_s))
        before = (trace.pods[:, :, max(0, t - span) : t] > 0).any(axis=2)
        return np.asarray(before & ~pods, dtype=np.bool_)

    def _keep_warm(self, now: float, replicas: BoolArray) -> None:
        """When each node's copy left it, as the replay charges copies (warm copies).

        A copy gone since the last step was handed off by the last step's plan (its
        files kept warm) unless the plan still wanted it: then it was lost with its
        node, and nothing is warm (:func:`statecast.sim.replay.replay`).
        """
        gone = self._held & ~replicas
        self._warm_at[gone & ~self._previous] = now - self._trace.step_s
        self._warm_at[gone & self._previous] = -np.inf
        self._held = replicas.copy()

    def _warm(self, r: int, now: float) -> dict[str, float]:
        """Node -> bytes a copy of resource ``r`` moves there, where it is warm.

        Only with ``warm_copies`` (the planner then prices a copy back on a node within
        the retention at the writes it missed, :func:`statecast.core.warm.warm_prices`,
        as the replay charges it); else none: every copy is priced in full.
        """
        retention = self._config.warm_retention_s
        if not self.warm_copies or retention <= 0:
            return {}
        ago = now - self._warm_at[r]
        removed = {self._trace.nodes[i]: float(ago[i]) for i in np.flatnonzero(ago <= retention)}
        full = float(self._trace.state_bytes[r])
        return warm_prices(full, removed, float(self._write_rate[r]), retention)

    def _reactive_copies(self, t: int) -> npt.NDArray[np.intp] | None:
        """Per resource, the copies the reactive rule holds at step ``t`` (None: no budget).

        A shadow run of the one reactive rule (:class:`~statecast.sim.policies.Reactive`:
        the same window, threshold and grace as the default prices') on its own copies,
        which are lost with their nodes as in the replay. Those it holds for demand (not
        only through their grace) are kept for the plan's ``reactive_held``.
        """
        shadow = self._shadow
        if shadow is None:
            return None
        available = self._trace.available[:, t]
        held = self._copies & available[None, :]
        wanted = shadow.decide(t, held.copy(), held.copy(), np.zeros(held.shape))
        self._copies = np.asarray(wanted, dtype=np.bool_) & available[None, :]
        for_demand = (shadow.last_why != Why.NONE) & (shadow.last_why != Why.GRACE)
        self._held_copies = np.asarray((for_demand & self._copies).sum(axis=1), dtype=np.intp)
        return np.asarray(self._copies.sum(axis=1), dtype=np.intp)

    def _reactive_nodes(self, r: int) -> frozenset[str]:
        """The nodes the reactive budget's shadow holds a copy of resource ``r`` on now.

        Given to the plan (``PlanInput.reactive_nodes``) only where the spec trims or
        fills in the rule's order (``PlacementSpec.trim_in_reactive_order``,
        ``fill_in_reactive_order``); else empty.
        """
        spec = self.spec
        ordered = (
            spec.trim_in_reactive_order
            or spec.fill_in_reactive_order
            or spec.swap_in_reactive_order
        )
        if self._shadow is None or not ordered:
            return frozenset()
        return frozenset(self._trace.nodes[i] for i in np.flatnonzero(self._copies[r]))

    def _cluster_heat(self, t: int) -> tuple[float, float] | None:
        """Mean and deviation of the active pairs' rates over the reactive rule's window.

        What the operator's heat tracker gives the planner (the reactive policy's
        statistic, every resource pooled); None before the first step or with no reads.
        """
        trace = self._trace
        steps = min(t, self._heat_steps)
        if steps == 0:
            return None
        rate = trace.demand[:, :, t - steps : t].sum(axis=2) / (steps * trace.step_s)
        stats = HeatStats.of_array(rate[:, trace.available[:, t]])
        return None if stats.pairs == 0 else (stats.mean, stats.sigma)

    def _spec(self, r: int) -> PlacementSpec:
        if self.tuner is None:
            return self._specs[r]
        state = self.tuning[r]
        return replace(
            self._specs[r],
            cost_weight=state.cost_weight,
            deviation_threshold=state.deviation_threshold,
        )

    def _learn(self, t: int, replicas: BoolArray) -> None:
        """Feed the self-tuner with the outcome of the last window (when tuning)."""
        if self.tuner is None or t == 0:
            return
        self._hedged_at[~replicas] = np.nan  # gone: a copy back is judged by its own reason
        trace = self._trace
        seen = trace.demand[:, :, t - 1]
        self._local += (seen * self._previous).sum(axis=1)
        self._total += seen.sum(axis=1)
        self._moved += (replicas & ~self._previous).sum(axis=1) * trace.state_bytes
        if t % self._tune_steps:
            return
        hours = self._tune_steps * trace.step_s / 3600.0
        hedge_use = self._hedge_use(t, replicas)
        for r in range(trace.n_resources):
            if self._total[r] <= 0:
                continue
            outcome = Outcome(
                local_hit_ratio=float(self._local[r] / self._total[r]),
                bytes_moved_per_hour=float(self._moved[r] / hours),
                replicas=float(replicas[r].sum()),
                hedge_use=hedge_use[r],
            )
            self.tuning[r] = tune(self.tuning[r], outcome, self.tuner)
        self._local[:], self._total[:], self._moved[:] = 0.0, 0.0, 0.0

    def _nodes(self, t: int) -> tuple[NodeInfo, ...]:
        available = self._trace.available[:, t]
        key = available.tobytes()
        if key not in self._inventory:
            self._inventory[key] = tuple(
                NodeInfo(n, z, bool(a))
                for n, z, a in zip(self._trace.nodes, self._trace.zones, available, strict=True)
            )
        return self._inventory[key]


def _forecast_series(trace: Trace) -> FloatArray:
    """The series the forecaster follows, one row each.

    One per (resource, node); or, when the trace knows its pods, the residual per
    (resource, node) then the per-pod rate per resource
    (:mod:`statecast.core.forecast.pods`). Each step's split reads only that step (and
    the last per-pod estimate), so computing it up front does not peek.
    """
    n = trace.n_resources * trace.n_nodes
    if trace.pods is None:
        return trace.demand.reshape(n, -1)
    split = split_by_pods(trace.demand, trace.pods.astype(np.float64))
    return np.concatenate([split.residual.reshape(n, -1), split.per_pod])


def _consumers(trace: Trace, pods: BoolArray | None, r: int) -> frozenset[str]:
    """Nodes running a pod of resource ``r`` in this step (the operator's pod watch)."""
    if pods is None:
        return frozenset()
    return frozenset(trace.nodes[i] for i in np.flatnonzero(pods[r]))


class PerfectForecast(PlannerPolicy):
    """The planner fed the true future as a point forecast.

    What this planner would do with a perfect forecaster: it separates forecast errors
    from planning choices. It is not an upper bound on any placement (see the module).
    """

    name = "perfect-forecast"

    def believed(self, t: int) -> Band:
        """The trace's next ``horizon`` steps, as a point forecast with no uncertainty."""
        demand = self._trace.demand
        future = demand[:, :, t : t + self._horizon]
        if future.shape[2] < self._horizon:
            pad = self._horizon - future.shape[2]
            future = np.concatenate([future, np.repeat(future[:, :, -1:], pad, axis=2)], axis=2)
        zero = np.zeros(future.shape[:2])
        return future, future, future, zero


class ForecastCache:
    """Every step's forecast of one trace, shared by the replays of a sweep.

    The forecasts depend only on the trace (and the forecaster's settings), not on
    where replicas are, so the variants of a sweep compute them once.
    """

    def __init__(self) -> None:
        self.trace: Trace | None = None
        self.bands: dict[int, Band] = {}
        self.seconds = 0.0
        self.refits = 0

    def reset(self, trace: Trace) -> None:
        """Start over for ``trace``."""
        self.trace, self.bands, self.seconds, self.refits = trace, {}, 0.0, 0


class Predictive(PlannerPolicy):
    """statecast: forecasts of every (resource, node) series, then the planner.

    The forecasts come from :class:`~statecast.core.forecast.ForecastEngine`, as in the
    operator: one update per step for every series, a refit every ``refresh_steps``
    (and early on, whenever the history has doubled since the last refit).

    Args:
        refresh_steps: refit the forecasts every this many steps; between refits the
            forecast engine takes each new sample as a cheap update (its level moves,
            its parameters stay), so every step plans on a fresh forecast.
        history_days: how much history each refit sees; None (the default): what the
            operator's demand history gives a resource with the trace's step, a daily
            season and the replay's horizon
            (:func:`~statecast.core.demand_series.history_steps`).
        level: prediction-interval level.
        shared: forecasts of the trace computed by an earlier replay (same refresh,
            history and level), filled by the first one.

    The other arguments are :class:`PlannerPolicy`'s: the prices, the valuation and
    cooldown, and ``spec``, the planner's knobs.
    """

    name = "predictive"

    def __init__(
        self,
        refresh_steps: int = 1,
        history_days: float | None = None,
        level: float = 0.9,
        tuner: TunerConfig | None = None,
        cost_weight: float = 1.0,
        shared: ForecastCache | None = None,
        valuation: LatencyModel | None = None,
        storage_weight: float = 1.0,
        cooldown_s: float | None = None,
        demand_priced: bool = True,
        warm_copies: bool = True,
        spec: PlacementSpec | None = None,
    ) -> None:
        super().__init__(
            tuner,
            cost_weight=cost_weight,
            valuation=valuation,
            storage_weight=storage_weight,
            cooldown_s=cooldown_s,
            demand_priced=demand_priced,
            warm_copies=warm_copies,
            spec=spec,
        )
        self.shared = shared
        self.refresh_steps = max(1, refresh_steps)
        self.history_days = history_days
        self.level = level
        self.forecast_seconds = 0.0

    def start(self, trace: Trace, config: SimConfig) -> None:
        """Reset the forecasts and the recorded band."""
        super().start(trace, config)
        shape = (trace.n_resources, trace.n_nodes)
        self._engine: ForecastEngine | None = None
        self.refits = 0
        self._fc: tuple[FloatArray, FloatArray, FloatArray] | None = None
        self._said = np.zeros(shape)  # what the forecast said about the step being decided
        self._seen = np.zeros(shape, dtype=np.bool_)
        self._focus = focus_index(trace, config)
        self._series = _forecast_series(trace)
        self.band = np.full((3, trace.n_nodes, trace.steps), np.nan)
        self.forecast_seconds = 0.0

    def believed(self, t: int) -> Band:
        """Forecasts for steps ``t .. t + horizon - 1`` and each node's last deviation.

        From the shared :class:`ForecastCache` when an earlier replay of the same trace
        filled it (forecasts do not depend on the placement).
        """
        shared = self.shared
        if shared is not None and shared.trace is self._trace and t in shared.bands:
            band = shared.bands[t]
        else:
            band = self._forecast(t)
            if shared is not None:
                if shared.trace is not self._trace:
                    shared.reset(self._trace)
                shared.bands[t] = band
                shared.seconds = self.forecast_seconds
                shared.refits = self.refits
        mean, lower, upper, _ = band
        f = self._focus
        self.band[:, :, t] = mean[f, :, 0], lower[f, :, 0], upper[f, :, 0]
        return band

    def _forecast(self, t: int) -> Band:
        """Update (or refit) the forecast engine with the last sample and forecast."""
        import time

        from statecast.core.forecast import ForecastEngine

        trace, h = self._trace, self._horizon
        deviation = np.zeros(self._said.shape)
        if t >= 1:
            deviation = np.where(
                self._seen, forecast_deviation(self._said, trace.demand[:, :, t - 1]), 0.0
            )
        started = time.perf_counter()
        if t < 2:
            last = trace.demand[:, :, t - 1 : t] if t else np.zeros((*self._said.shape, 1))
            mean = np.repeat(last, h, axis=2)
            self._fc = (mean, 0.5 * mean, 2.0 * mean + 1.0)
        else:
            engine = self._engine
            n = self._series.shape[0]
            if engine is None:
                lookback = (
                    history_steps(trace.step_s, trace.period, h)
                    if self.history_days is None
                    else max(1, round(self.history_days * trace.period))
                )
                engine = self._engine = ForecastEngine(
                    n,
                    period=trace.period,
                    horizon=h,
                    level=self.level,
                    capacity=max(lookback, 4 * h),
                    refit_every=self.refresh_steps,
                )
                engine.refit(self._series[:, :t])
            else:
                engine.update(self._series[:, t - 1])
                if engine.refit_due:  # on schedule, and early on when the history doubled
                    engine.refit()
                    self.refits += 1
            batch = engine.forecast()
            self._fc = self._node_band(batch.mean, batch.lower, batch.upper, t)
        self.forecast_seconds += time.perf_counter() - started
        mean, lower, upper = self._fc
        self._said = mean[:, :, 0].copy()
        self._seen[:] = True
        return mean, lower, upper, deviation

    def _node_band(
        self, mean: FloatArray, lower: FloatArray, upper: FloatArray, t: int
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """The engine's rows as (resources, nodes, horizon), pods recombined if known."""
        trace = self._trace
        g, nodes = trace.n_resources, trace.n_nodes
        shape = (g, nodes, -1)
        if trace.pods is None:
            return mean.reshape(shape), lower.reshape(shape), upper.reshape(shape)
        cut = g * nodes
        residual = PodBand(
            mean[:cut].reshape(shape), lower[:cut].reshape(shape), upper[:cut].reshape(shape)
        )
        band = recombine(
            residual,
            PodBand(mean[cut:], lower[cut:], upper[cut:]),
            trace.pods[:, :, t].astype(np.float64),
        )
        return band.mean, band.lower, band.upper


#: Deprecated name of :class:`PerfectForecast` (one release): it was never an oracle.
Oracle = PerfectForecast
