"""The planner's working state: what a call knows (:class:`Context`) and decided (:class:`Board`).

:class:`Context` is everything :func:`~statecast.core.placement.planner.plan` derives
from its input once (node order, zones, the latency matrix, the demand over the value
window, the prices); :class:`Board` is the placement being built, stage by stage.
Neither leaves the planner.

The value window is ``max(horizon, cooldown)``: a replica that is added stays at least
its cooldown, so every decision weighs the latency its replicas save over that window
(the forecast's mean rate carried past the horizon when the cooldown is longer)
against what they cost over the same window.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import numpy as np
import numpy.typing as npt

from statecast.core.placement.costs import (
    copy_cost,
    demand_holding_floor,
    gain_of_adding,
    holding_cost,
    hot_threshold,
    latency_matrix,
    loss_of_removing,
    own_gap,
    saved_by_step,
    serving_latency,
    unpaid_beyond,
    unpaid_holding,
)
from statecast.core.placement.hedging import forecast_confidence, uncertain_nodes
from statecast.core.placement.hysteresis import may_readd
from statecast.core.placement.moves import add_stay, stay_ladder
from statecast.core.placement.types import (
    ActionKind,
    CurrentReplica,
    NodeInfo,
    PlanInput,
    Reason,
    ReplicaAction,
    SyncMode,
)
from statecast.core.warm import copy_bytes

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.intp]
_V = TypeVar("_V")


@dataclass(frozen=True)
class Context:
    """What the planner derives once from its input (arrays are indexed by sorted node name).

    Attributes:
        inputs: the planner's input.
        names: node names, sorted.
        index: name -> position.
        zones: zone of each node.
        zone_id: zone of each node as an integer.
        n_zones: number of distinct zones.
        ready: nodes that are ready (their replicas serve).
        candidates: ready nodes with room for a copy.
        load: node load (ties go to the less loaded).
        matrix: latency from node i to a replica on node j.
        mean: believed accesses per node over the value window (the forecast mean, or
            the demand just seen where the last forecast missed by far).
        hedge: the same, at the upper bound for nodes whose forecast is uncertain (the
            very array ``mean`` is when no node's is).
        window_s: the value window, ``max(horizon, cooldown)``.
        hold_bytes: cost of holding one replica's bytes over the window (ms); the
            demand-relative floor is priced on the board (:func:`holding`).
        copy: cost of one full copy (ms).
        copy_at: cost of a new copy on each node (ms): a full copy, or less where the
            node keeps a removed replica's files (:attr:`PlanInput.copy_bytes`).
        bytes_at: bytes a new copy on each node moves.
        current: node -> the replica there now.
        fresh: nodes holding an up-to-date replica now.
        pinned: nodes whose replica is a strong resource's leader (never removed for cost).
        age_s: age of each node's replica (infinite where there is none).
        recent: accesses per node in each of the last steps observed (oldest first; no
            columns when unknown).
        margin: the add gate's margin per node (wider where a replica was just removed).
        cap: the most replicas the plan may hold.
        budget: the most replicas the demand stages hold (the reactive rule's count,
            :attr:`PlanInput.reactive_copies`; ``cap`` without one).
        target_zones: zones that must stay covered (the durability floor).
        floor: believed accesses per node over the value window while the plan holds
            ``min`` copies (:func:`window_demand`, ``PlacementSpec.floor_window_s``);
            empty: ``mean`` (the default).
    """

    inputs: PlanInput
    names: tuple[str, ...]
    index: dict[str, int]
    zones: tuple[str, ...]
    zone_id: IntArray
    n_zones: int
    ready: BoolArray
    candidates: BoolArray
    load: FloatArray
    matrix: FloatArray
    mean: FloatArray
    hedge: FloatArray
    window_s: float
    hold_bytes: float
    copy: float
    current: dict[str, CurrentReplica]
    fresh: BoolArray
    pinned: BoolArray
    age_s: FloatArray
    recent: FloatArray
    margin: FloatArray
    cap: int
    target_zones: int
    budget: int = 0
    fill: int = 0
    copy_at: FloatArray = field(default_factory=lambda: np.zeros(0))
    bytes_at: FloatArray = field(default_factory=lambda: np.zeros(0))
    floor: FloatArray = field(default_factory=lambda: np.zeros(0))

    @property
    def no_replica_ms(self) -> float:
        """Latency when no replica serves."""
        return self.inputs.latency.no_replica_ms

    @functools.cached_property
    def stayed(self) -> tuple[FloatArray, FloatArray]:
        """The observed demand over the newest stretches (:func:`~.moves.stay_ladder`)."""
        spec = self.inputs.spec
        return stay_ladder(self.recent, self.inputs.step_s, self.window_s, spec.move_residence_s)


@dataclass
class Board:
    """The placement being built: holders after the plan, and the actions so far."""

    holders: BoolArray
    acted: BoolArray
    protected: BoolArray
    kept_lost: set[str] = field(default_factory=set)
    actions: dict[str, ReplicaAction] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    bytes_copied: float = 0.0

    @property
    def count(self) -> int:
        """Replicas the plan holds (kept copies on lost nodes included)."""
        return int(self.holders.sum()) + len(self.kept_lost)


@dataclass(frozen=True)
class _Inventory:
    """What the planner derives from the node list alone (cached: it rarely changes)."""

    names: tuple[str, ...]
    index: dict[str, int]
    zones: tuple[str, ...]
    zone_id: IntArray
    n_zones: int
    ready: BoolArray
    free: tuple[int | None, ...]
    load: FloatArray
    fits_by_size: dict[int, BoolArray] = field(default_factory=dict)

    def fits(self, size: int) -> BoolArray:
        """Nodes with room for a copy of ``size`` bytes (read-only; cached per size)."""
        known = self.fits_by_size.get(size)
        if known is None:
            known = np.array([f is None or f >= size for f in self.free], dtype=np.bool_)
            known.flags.writeable = False
            if len(self.fits_by_size) < 64:
                self.fits_by_size[size] = known
        return known


class _LastCall(Generic[_V]):
    """The last result of a cached derivation, found again by the identity of its arguments.

    Callers pass the same tuple objects call after call (the operator and the simulator
    keep one node tuple until the nodes change); hashing and comparing a hundred
    ``NodeInfo`` on every plan cost more than the plan's arithmetic.
    """

    def __init__(self) -> None:
        self._last: tuple[tuple[object, ...], _V] | None = None

    def get(self, args: tuple[object, ...], derive: Callable[[], _V]) -> _V:
        """The result for ``args`` (the same objects as last time), else ``derive()``."""
        last = self._last
        same = last is not None and len(last[0]) == len(args)
        if last is not None and same and all(a is b for a, b in zip(last[0], args, strict=True)):
            return last[1]
        value = derive()
        self._last = (args, value)
        return value


_LAST_INVENTORY: _LastCall[_Inventory] = _LastCall()
_LAST_MATRIX: _LastCall[FloatArray] = _LastCall()


def inventory_of(nodes: tuple[NodeInfo, ...]) -> _Inventory:
    """The node list's inventory (cached by value, and by identity for the last one)."""
    return _LAST_INVENTORY.get((nodes,), lambda: _inventory(nodes))


@functools.lru_cache(maxsize=256)
def _inventory(nodes: tuple[NodeInfo, ...]) -> _Inventory:
    ordered = sorted(nodes, key=lambda n: n.name)
    names = tuple(n.name for n in ordered)
    zones = tuple(n.zone for n in ordered)
    zone_names = sorted(set(zones))
    position = {z: i for i, z in enumerate(zone_names)}
    inventory = _Inventory(
        names=names,
        index={name: i for i, name in enumerate(names)},
        zones=zones,
        zone_id=np.array([position[z] for z in zones], dtype=np.intp),
        n_zones=len(zone_names),
        ready=np.array([n.ready for n in ordered], dtype=np.bool_),
        free=tuple(n.free_bytes for n in ordered),
        load=np.array([n.load for n in ordered], dtype=np.float64),
    )
    for array in (inventory.zone_id, inventory.ready, inventory.load):
        array.flags.writeable = False
    return inventory


def build_context(inputs: PlanInput) -> Context:
    """Derive the arrays the stages work on (see :class:`Context`).

    ``cap`` and ``target_zones`` depend on which replicas survive the failover stage;
    the planner fills them in once it knows.
    """
    spec, state = inputs.spec, inputs.state
    nodes = inventory_of(inputs.nodes)
    names, index = nodes.names, nodes.index
    fits = nodes.fits(state.bytes)
    horizon = inputs.forecast.mean.shape[1] if inputs.forecast.nodes else 1
    window_s = max(horizon * inputs.step_s, spec.cooldown_s)
    mean, hedge = _demand(inputs, names)
    scale = window_s / (horizon * inputs.step_s)
    believed = mean * scale
    current = {r.node: r for r in inputs.replicas}
    fresh = np.zeros(len(names), dtype=np.bool_)
    pinned = np.zeros(len(names), dtype=np.bool_)
    age = np.full(len(names), np.inf)
    for name, replica in current.items():
        i = index.get(name)
        if i is not None:
            fresh[i] = replica.up_to_date
            pinned[i] = replica.role == "leader" and spec.consistency == "strong"
            age[i] = replica.age_s
    recent = np.zeros((len(names), 0))
    if inputs.forecast.recent is not None:
        at, src = _LAST_ROWS.get(
            (inputs.forecast.nodes, names), lambda: _rows(inputs.forecast.nodes, names)
        )
        recent = np.zeros((len(names), inputs.forecast.recent.shape[1]))
        recent[at] = np.maximum(_finite(inputs.forecast.recent[src]), 0.0)
    margin = np.full(len(names), spec.hysteresis)
    for name, since in inputs.recently_removed.items():
        i = index.get(name)
        if i is not None and not may_readd(since, spec.cooldown_s):
            margin[i] = 2 * spec.hysteresis + 1.0
    copy = copy_cost(state, inputs.costs, spec.cost_weight * spec.copy_weight)
    moved = np.full(len(names), float(state.bytes))
    for name, warm in inputs.copy_bytes.items():
        i = index.get(name)
        if i is not None:
            moved[i] = min(max(float(warm), 0.0), moved[i])
    copy_at = copy * moved / state.bytes if state.bytes > 0 else np.full(len(names), copy)
    floor = window_demand(inputs, names)
    return Context(
        inputs=inputs,
        names=names,
        index=index,
        zones=nodes.zones,
        zone_id=nodes.zone_id,
        n_zones=nodes.n_zones,
        ready=nodes.ready,
        candidates=nodes.ready & fits,
        load=nodes.load,
        matrix=_LAST_MATRIX.get(
            (nodes.zones, inputs.latency), lambda: latency_matrix(nodes.zones, inputs.latency)
        ),
        mean=believed,
        hedge=believed if hedge is mean else hedge * scale,
        window_s=window_s,
        hold_bytes=holding_cost(state, inputs.costs, window_s / 3600.0, spec.cost_weight),
        copy=copy,
        copy_at=copy_at,
        bytes_at=moved,
        current=current,
        fresh=fresh,
        pinned=pinned,
        age_s=age,
        recent=recent,
        margin=margin,
        cap=len(names),
        budget=len(names),
        target_zones=0,
        floor=np.zeros(0) if floor is None else floor * scale,
    )


#: The share of a node's steps in the day of observed demand, the quietest, whose mean is its
#: background read rate (:func:`background_rate`): a consumer pod's runs are its busiest.
BACKGROUND_QUIET_SHARE = 0.75


def background_rate(inputs: PlanInput, names: tuple[str, ...]) -> FloatArray | None:
    """Each node's background reads a step: the mean of its quietest observed steps.

    The quietest :data:`BACKGROUND_QUIET_SHARE` of the steps in ``DemandForecast.recent``
    (the day of observed demand; at least one step): a consumer pod brings most of a
    node's reads while it runs, for a few of the day's steps, and the rest of the
    day says what the node reads without it. 0 for nodes the forecast does not know;
    None without history.
    """
    fc = inputs.forecast
    if fc.recent is None or fc.recent.shape[1] == 0 or not fc.nodes:
        return None
    out = np.zeros(len(names))
    at, src = _rows(fc.nodes, names)
    if len(at) == 0:
        return out
    seen = np.sort(np.maximum(_finite(fc.recent[src]), 0.0), axis=1)
    quiet = max(1, math.ceil(BACKGROUND_QUIET_SHARE * seen.shape[1]))
    out[at] = seen[:, :quiet].mean(axis=1)
    return out


def _finite(values: FloatArray) -> FloatArray:
    """NaN and infinities (a forecast that failed) count as no demand."""
    if np.isfinite(values).all():
        return values
    return np.asarray(np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0), dtype=np.float64)


@functools.lru_cache(maxsize=256)
def _rows(forecast_nodes: tuple[str, ...], names: tuple[str, ...]) -> tuple[IntArray, IntArray]:
    """Where each forecast row goes among the planner's nodes (rows of unknown nodes dropped)."""
    index = {name: i for i, name in enumerate(names)}
    pairs = [(index[name], k) for k, name in enumerate(forecast_nodes) if name in index]
    at = np.array([i for i, _ in pairs], dtype=np.intp)
    src = np.array([k for _, k in pairs], dtype=np.intp)
    at.flags.writeable = src.flags.writeable = False
    return at, src


_LAST_ROWS: _LastCall[tuple[IntArray, IntArray]] = _LastCall()


def _demand(inputs: PlanInput, names: tuple[str, ...]) -> tuple[FloatArray, FloatArray]:
    """Expected accesses per node over the horizon: believed, and hedged.

    Believed is the forecast mean, raised to the last step's demand carried over the
    horizon where the last forecast missed by more than the deviation threshold and that
    demand is known (persistence: a forecast that just missed by far is no reason to
    ignore what was seen). Hedged is the upper bound for the nodes whose forecast is
    uncertain (missed by more than the threshold last time and not confident now), the
    believed demand elsewhere.
    """
    spec, fc = inputs.spec, inputs.forecast
    mean = np.zeros(len(names))
    hedge = np.zeros(len(names))
    at, src = _LAST_ROWS.get((fc.nodes, names), lambda: _rows(fc.nodes, names))
    if len(at) == 0:
        return mean, hedge
    m = np.maximum(_finite(fc.mean[src]), 0.0)
    lo = np.maximum(_finite(fc.lower[src]), 0.0)
    up = np.maximum(_finite(fc.upper[src]), m)
    deviation = _finite(fc.deviation[src])
    believed = m.sum(axis=1)
    if fc.observed is not None:
        seen = np.maximum(_finite(fc.observed[src]), 0.0) * m.shape[1]
        believed = np.where(
            deviation > spec.deviation_threshold, np.maximum(believed, seen), believed
        )
    moved = np.zeros(len(src), dtype=np.bool_)
    if fc.said is not None and fc.recent is not None:
        moved, level = demand_moved(
            fc.said[src], fc.recent[src], spec.change_steps, spec.deviation_threshold
        )
        believed = np.where(moved, np.minimum(believed, level * m.shape[1]), believed)
    mean[at] = believed
    uncertain = (
        uncertain_nodes(
            deviation,
            forecast_confidence(m, lo, up),
            spec.deviation_threshold,
            spec.confidence_threshold,
        )
        & ~moved
    )  # the interval of a forecast whose demand has gone is no hedge either
    if not uncertain.any():
        return mean, mean  # one array: the stages then judge once where both would agree
    hedge[at] = np.where(uncertain, np.maximum(up.sum(axis=1), believed), believed)
    return mean, hedge


def window_demand(inputs: PlanInput, names: tuple[str, ...]) -> FloatArray | None:
    """Expected accesses per node over the horizon at its mean rate over a window.

    The window is the newest ``spec.floor_window_s`` of observed demand
    (``DemandForecast.recent``, whole steps, at least one) followed by the forecast's
    horizon, every step weighed alike: at a few reads a step a node's forecast and its
    newest step are count noise (the forecast's belief follows one step that missed it
    by far, :func:`_demand`), while its reads over an hour rank the nodes as reactive
    replication's and follow-the-workload's windows do. With
    ``spec.floor_observed_only`` the window alone, the horizon left out (scaled to the
    horizon's steps, as the blend is), as follow-the-workload's statistics are. None
    when the knob is off (0) or no history is given: the forecast's belief alone.
    """
    spec, fc = inputs.spec, inputs.forecast
    if spec.floor_window_s <= 0 or fc.recent is None or not fc.nodes:
        return None
    steps = min(max(1, round(spec.floor_window_s / inputs.step_s)), fc.recent.shape[1])
    horizon = fc.mean.shape[1]
    out = np.zeros(len(names))
    at, src = _LAST_ROWS.get((fc.nodes, names), lambda: _rows(fc.nodes, names))
    if len(at) == 0 or steps + horizon == 0:
        return out
    seen = np.maximum(_finite(fc.recent[src, fc.recent.shape[1] - steps :]), 0.0).sum(axis=1)
    if spec.floor_observed_only and steps > 0:
        out[at] = seen / steps * horizon
        return out
    ahead = np.maximum(_finite(fc.mean[src]), 0.0).sum(axis=1)
    out[at] = (ahead + seen) / (steps + horizon) * horizon
    return out


def overclaimed(ctx: Context) -> BoolArray | None:
    """Nodes where the forecast has just said more demand than came (None: no record).

    In one of the newest ``change_steps`` steps, what the forecast had said one step
    ahead exceeded the demand seen by more than the deviation threshold of it (the
    one-sided miss of :func:`demand_moved`, once instead of every time). A move against
    the newest step's demand does not go to such a node
    (:func:`~statecast.core.placement.moves.best_move`). Nodes the forecast does not
    cover have no record against them.
    """
    spec, fc = ctx.inputs.spec, ctx.inputs.forecast
    if fc.said is None or fc.recent is None:
        return None
    steps = min(spec.change_steps, fc.said.shape[1], fc.recent.shape[1])
    doubt = np.zeros(len(ctx.names), dtype=np.bool_)
    at, src = _LAST_ROWS.get((fc.nodes, ctx.names), lambda: _rows(fc.nodes, ctx.names))
    if steps <= 0 or len(at) == 0:
        return doubt
    said = fc.said[src, -steps:]
    said = np.maximum(np.nan_to_num(said, nan=0.0, posinf=0.0, neginf=0.0), 0.0)
    seen = np.maximum(_finite(fc.recent[src, -steps:]), 0.0)
    doubt[at] = ((said - seen) / np.maximum(said, 1.0) > spec.deviation_threshold).any(axis=1)
    return doubt


def demand_moved(
    said: FloatArray, seen: FloatArray, steps: int, threshold: float
) -> tuple[BoolArray, FloatArray]:
    """Nodes whose demand has moved away from their forecast, and its level since.

    A node's demand has moved when, in each of the newest ``steps`` steps, it fell short
    of what the forecast had said for that step (one step ahead) by more than
    ``threshold`` of it: ``(said - seen) / max(said, 1) > threshold``. One such miss is
    what any forecast does now and then (the planner then believes the forecast, or the
    demand seen where that is higher); the same one-sided miss ``steps`` times in a row
    is a change the forecast has not learned yet (a daily season fitted on yesterday
    keeps forecasting a node the demand left). Under a forecast whose misses are
    independent, a one-sided miss beyond the threshold with probability ``p`` repeats
    ``steps`` times with probability ``p ** steps`` (0.1 and 3 steps: one in a
    thousand). The level believed for a moved node is the mean of those steps' demand.

    Args:
        said: shape (nodes, k), what the forecasts said for the last k steps (oldest
            first; NaN where unknown).
        seen: shape (nodes, m), the demand of the last m steps (oldest first; the newest
            columns are the steps ``said`` is about).
        steps: how many misses in a row make a change (0: never).
        threshold: the relative miss that counts (the deviation threshold).

    Returns:
        (moved, level): which nodes' demand moved, and each node's mean demand per step
        over the newest ``steps`` steps (0 where unknown).
    """
    n = said.shape[0]
    if steps <= 0 or said.shape[1] < steps or seen.shape[1] < steps:
        return np.zeros(n, dtype=np.bool_), np.zeros(n)
    expected = said[:, -steps:]
    actual = np.maximum(_finite(seen[:, -steps:]), 0.0)
    known = np.isfinite(expected).all(axis=1)
    expected = np.maximum(np.nan_to_num(expected, nan=0.0, posinf=0.0, neginf=0.0), 0.0)
    short = (expected - actual) / np.maximum(expected, 1.0) > threshold
    moved: BoolArray = np.logical_and(known, short.all(axis=1))
    level: FloatArray = actual.mean(axis=1)
    return moved, level


def holding(ctx: Context, board: Board, demand: FloatArray | None = None) -> FloatArray:
    """Cost of holding a replica on each node over the window, with the board's holders.

    Its bytes, or the demand-relative floor where that is higher: what a local copy
    would save the node's reads, over the nearest copy on another node of the board
    (:func:`~statecast.core.placement.costs.own_gap`), were it reading at the hot
    threshold (:func:`~statecast.core.placement.costs.demand_holding_floor`). Measured
    on the board, so that a removal and an add in one plan price the same gap: a copy
    that is its zone's only one costs the cross-zone gap, as does the first copy of a
    zone, and a copy beside another of its zone the same-zone gap.

    ``demand``: the demand the copies are judged at (``ctx.mean`` when None; the hedge
    stage and the removals judge at ``ctx.hedge``). Without the cluster's heat the hot
    threshold is that demand's, so that an upper bound is weighed against the upper
    bounds' threshold.
    """
    sigma = ctx.inputs.costs.hot_sigma
    if sigma is None:
        return np.full(len(ctx.names), ctx.hold_bytes)
    heat = ctx.inputs.cluster_heat
    if heat is not None:
        hot_reads = (heat[0] + sigma * heat[1]) * ctx.window_s
    else:
        hot_reads = hot_threshold(ctx.mean if demand is None else demand, ctx.ready, sigma)
    gap = own_gap(ctx.matrix, board.holders & ctx.ready, ctx.ready)
    floor = demand_holding_floor(gap, hot_reads, ctx.inputs.spec.cost_weight)
    return np.asarray(np.maximum(floor, ctx.hold_bytes))


def floors_copies(ctx: Context) -> bool:
    """Whether a copy's price has the holding floor (:func:`copy_price`)."""
    return ctx.inputs.spec.copy_floor and ctx.inputs.costs.hot_sigma is not None


def copy_price(ctx: Context, board: Board) -> FloatArray:
    """Per node, what a new copy there costs (ms): its bytes, at least a cooldown's holding.

    The bytes it moves at ``CostModel.ms_per_gib_moved`` (``ctx.copy_at``: a warm copy
    moves only the writes it missed) and, with the demand-relative prices
    (``CostModel.hot_sigma``) and ``PlacementSpec.copy_floor``, at least what holding it
    on the node through one cooldown costs (:func:`holding`, at the hot threshold where
    that is dearer than its bytes held), scaled by the share of the state it moves.
    Renting against buying in the holding price's own terms: a copy stays at least its
    cooldown, and a policy that holds an idle copy one cooldown before dropping it
    (reactive replication's grace) treats a copy as worth that much holding; priced at
    its bytes alone (2,000 ms a GiB), a copy cost 10-10^5 times less than the reads it
    served, so copies moved and moved back on every shift of the forecast
    (docs/placement-history.md, "Session 15, copy floor").
    """
    if not floors_copies(ctx):
        return ctx.copy_at
    full = max(float(ctx.inputs.state.bytes), 1.0)
    share = min(1.0, ctx.inputs.spec.cooldown_s / ctx.window_s)
    floor = holding(ctx, board) * share * ctx.bytes_at / full
    return np.asarray(np.maximum(ctx.copy_at, floor), dtype=np.float64)


def zones_covered(ctx: Context, holders: BoolArray) -> int:
    """How many distinct zones hold a replica."""
    return int(np.count_nonzero(np.bincount(ctx.zone_id[holders], minlength=ctx.n_zones)))


def uncovering(ctx: Context, holders: BoolArray) -> BoolArray:
    """Holders whose removal would leave fewer zones covered than the floor asks."""
    per_zone = np.bincount(ctx.zone_id[holders], minlength=ctx.n_zones)
    covered = int(np.count_nonzero(per_zone))
    if covered - 1 >= ctx.target_zones:
        return np.zeros_like(holders)
    return np.asarray(holders & (per_zone[ctx.zone_id] == 1), dtype=np.bool_)


def last_fresh(ctx: Context, board: Board) -> BoolArray:
    """The holder of the only up-to-date copy, if there is just one."""
    fresh_held = board.holders & ctx.fresh
    return np.asarray(fresh_held & (int(fresh_held.sum()) <= 1), dtype=np.bool_)


def break_even(ctx: Context, board: Board) -> BoolArray:
    """Holders whose copy has not yet cost, beyond what it saved, what copying it back would.

    The break-even rule of renting against buying: a copy that saves less than it costs
    to hold may be needed again after the lull; dropping it then costs a copy back.
    Keeping it until what it cost beyond what it saved, over some recent stretch
    (:func:`~statecast.core.placement.costs.unpaid_holding`, no longer than the copy's
    age), reaches the copy's price, and no longer, costs at most twice what the best
    choice in hindsight would for any lull, however long (the forecast only sees the
    horizon). Without it, a copy that is cheap to hold is dropped at every lull the
    forecast sees and copied back when reads return. No history: nothing is kept.

    The price of copying it back is a full copy's; where the node keeps a removed
    copy's files (``PlanInput.warm_retention_s``), a stretch of ``L`` steps is weighed
    against the copy back after a lull as long again, ``L`` steps, which moves only the
    writes missed meanwhile (:func:`copy_back_prices`): the price adds and moves give a
    warm copy.
    """
    steps = ctx.recent.shape[1]
    if steps == 0:
        return np.zeros_like(board.holders)
    step_s = ctx.inputs.step_s
    hold_per_step = holding(ctx, board) * (step_s / ctx.window_s)
    warm = ctx.inputs.warm_retention_s > 0
    price = copy_back_prices(ctx, steps) if warm else np.zeros(0)
    unpaid = np.zeros(len(ctx.names)) if not warm else np.full(len(ctx.names), np.inf)
    ages = np.minimum(np.floor(ctx.age_s / step_s), steps)
    for age in np.unique(ages[board.holders]):  # a copy's stretch is no longer than its age
        holders = board.holders & (ages == age)
        if age < 1:
            continue
        args = (
            ctx.matrix,
            board.holders,
            ctx.recent[:, steps - int(age) :],
            hold_per_step,
            ctx.no_replica_ms,
        )
        part = unpaid_beyond(*args, price) if warm else unpaid_holding(*args)
        unpaid[holders] = part[holders]
    if warm:  # kept while no stretch has cost its own copy back
        return np.asarray(board.holders & (unpaid < 0.0), dtype=np.bool_)
    return np.asarray(board.holders & (unpaid < ctx.copy), dtype=np.bool_)


def past_cooldown(ctx: Context, board: Board) -> BoolArray:
    """Nodes whose copy is past its cooldown (may go for cost, or move).

    Older than the cooldown; with ``spec.cooldown_from_read``, also a cooldown past the
    newest recent step whose reads paid for holding the copy (what it saved that step,
    :func:`~statecast.core.placement.costs.saved_by_step` at the board's holders, at
    least a step of :func:`holding`). A copy that paid in no step of the history given
    has been idle longer than that history; without history the age alone decides.
    """
    spec = ctx.inputs.spec
    old = ctx.age_s >= spec.cooldown_s
    steps = ctx.recent.shape[1]
    if not spec.cooldown_from_read or steps == 0:
        return np.asarray(old, dtype=np.bool_)
    step_s = ctx.inputs.step_s
    hold_per_step = holding(ctx, board) * (step_s / ctx.window_s)
    columns, saved = saved_by_step(ctx.matrix, board.holders, ctx.recent, ctx.no_replica_ms)
    paid = saved >= hold_per_step[columns][:, None]
    newest_first = paid[:, ::-1]
    quiet = np.where(newest_first.any(axis=1), newest_first.argmax(axis=1), np.inf)
    idle = np.full(len(ctx.names), np.inf)
    idle[columns] = quiet * step_s
    return np.asarray(old & (idle >= spec.cooldown_s), dtype=np.bool_)


def copy_back_prices(ctx: Context, steps: int) -> FloatArray:
    """The price (ms) of a copy back after a lull of 1, 2, ... ``steps`` steps.

    What :func:`statecast.core.warm.copy_bytes` charges for it at the resource's write
    rate and ``PlanInput.warm_retention_s``, priced as a full copy is: the writes missed
    over the lull, at most the whole state (a full copy past the retention).
    """
    inputs = ctx.inputs
    state = inputs.state
    rate = state.writes_per_min / 60.0 * state.bytes_per_write
    full = float(state.bytes)
    lulls = np.arange(1, steps + 1) * inputs.step_s
    moved = [copy_bytes(full, float(s), rate, inputs.warm_retention_s) for s in lulls]
    if full <= 0:
        return np.full(steps, ctx.copy)
    return np.asarray(ctx.copy * np.asarray(moved) / full, dtype=np.float64)


def removable(ctx: Context, board: Board, *, moving: bool = False) -> BoolArray:
    """Holders that may go.

    An existing replica (not one the plan adds), not protected, not already decided,
    not a strong resource's leader, and not the last up-to-date copy (unless
    ``moving``: a move of that copy keeps it until its successor is up to date).
    """
    last = last_fresh(ctx, board) if not moving else np.zeros_like(board.holders)
    existing = board.holders & np.isfinite(ctx.age_s)
    return np.asarray(
        existing & ~board.protected & ~board.acted & ~ctx.pinned & ~last, dtype=np.bool_
    )


def serving(ctx: Context, board: Board) -> FloatArray:
    """Latency each node sees with the board's holders."""
    return serving_latency(ctx.matrix, board.holders, ctx.no_replica_ms)


def stays(ctx: Context, board: Board, gain: FloatArray) -> FloatArray:
    """Per node, the value windows a copy added there is priced over (at least 1).

    As long again as the node's demand has stayed as it is now, at least the value
    window (:func:`~statecast.core.placement.moves.add_stay`: the moves' rule, read
    from at most ``spec.move_residence_s`` of history); the window alone with
    ``move_residence_s = 0`` or no history. ``gain``: what each copy saves over the
    window at the forecast (:func:`gains`, at the board's holders).
    """
    stayed = ctx.stayed
    if len(stayed[1]) == 0:
        return np.ones(len(ctx.names))
    tolerance = ctx.inputs.spec.deviation_threshold
    return add_stay(ctx.matrix, serving(ctx, board), gain, stayed, tolerance)


def gains(ctx: Context, board: Board, demand: FloatArray) -> FloatArray:
    """Latency each candidate would save over the window as one more replica."""
    return gain_of_adding(ctx.matrix, serving(ctx, board), demand)


def losses(ctx: Context, board: Board, demand: FloatArray) -> FloatArray:
    """Latency each holder's removal would cost over the window."""
    return loss_of_removing(ctx.matrix, board.holders, demand, ctx.no_replica_ms)


def best_node(
    ctx: Context, board: Board, mask: BoolArray, score: FloatArray, prefer_new_zone: bool = False
) -> int | None:
    """The best option by (new zone,) score, lower load, then the first name."""
    idx = np.flatnonzero(mask & ~board.holders & ~board.acted)
    if len(idx) == 0:
        return None
    keys: list[FloatArray] = [-idx.astype(np.float64), -ctx.load[idx], np.round(score[idx], 9)]
    if prefer_new_zone:
        held_zones = np.zeros(ctx.n_zones, dtype=np.bool_)
        held_zones[ctx.zone_id[board.holders]] = True
        keys.append((~held_zones[ctx.zone_id[idx]]).astype(np.float64))
    return int(idx[np.lexsort(keys)[-1]])


def add(ctx: Context, board: Board, i: int, reason: Reason, value: float, detail: str) -> None:
    """Put a new replica on node ``i`` (a full copy)."""
    cost = float(holding(ctx, board)[i]) + float(ctx.copy_at[i])
    board.holders[i] = True
    board.acted[i] = True
    board.bytes_copied += float(ctx.bytes_at[i])
    name = ctx.names[i]
    board.actions[name] = ReplicaAction(
        ActionKind.ADD, name, reason, SyncMode.FULL, value, cost, detail
    )


def remove(ctx: Context, board: Board, i: int, reason: Reason, value: float, detail: str) -> None:
    """Take the replica off node ``i``."""
    cost = float(holding(ctx, board)[i])
    board.holders[i] = False
    board.acted[i] = True
    name = ctx.names[i]
    board.actions[name] = ReplicaAction(
        ActionKind.REMOVE, name, reason, SyncMode.NONE, value, cost, detail
    )
