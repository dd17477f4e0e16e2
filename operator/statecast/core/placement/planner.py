"""The plan function: where replicas of one resource should live next.

Objective: expected access latency saved over the forecast horizon against what the
replicas cost (bytes stored and bytes moved, priced by :class:`CostModel` and scaled by
the spec's ``cost_weight``), under the budget. The planner is greedy and runs in
stages, each of which may only add or only remove, so that every decision has one
reason:

1. ``failover``: replicas on nodes that are gone are dropped, unless one holds the
   only up-to-date copy (then it is kept until another copy exists).
2. ``cost``: above ``max`` (or the bytes-stored budget) the least useful go.
3. ``consumer``: a node that runs a consumer pod gets a replica before it asks.
4. ``minimum``: up to ``min``, new zones first.
5. ``rebalance``: fix the spread when replicas crowd into fewer zones than they could.
6. ``cost``: remove a replica when the demand it serves (forecast mean; upper bound
   where the forecast is uncertain) does not pay for holding it and it is past its
   cooldown.
7. ``predicted`` then ``hedge``: add the replica that saves most at the forecast mean;
   when none pays, judge uncertain nodes at their upper bound.
8. ``rebalance`` + ``predicted``: move a replica from a node that cooled down to one
   where demand went, when the move saves more than the copy costs (plus margin).
9. ``failover`` (strong consistency): promote the most advanced replica when the
   leader is gone.

Invariants (tested): never below ``min`` (when enough ready nodes exist), never above
``max``, zones covered when possible, never removes the last up-to-date copy,
deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from statecast.core.placement.costs import (
    copy_cost,
    gain_of_adding,
    holding_cost,
    latency_matrix,
    loss_of_removing,
    serving_latency,
    sync_bytes_per_hour,
)
from statecast.core.placement.hedging import forecast_confidence, uncertain_nodes
from statecast.core.placement.hysteresis import may_readd, should_add, should_remove
from statecast.core.placement.moves import best_move
from statecast.core.placement.types import (
    ActionKind,
    CurrentReplica,
    PlacementError,
    Plan,
    PlanInput,
    Reason,
    ReplicaAction,
    SyncMode,
)

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass
class _Board:
    """The planner's scratch state while it builds one plan (never leaves :func:`plan`)."""

    names: tuple[str, ...]
    zones: tuple[str, ...]
    holders: BoolArray  # ready nodes that serve after the plan
    kept_lost: set[str] = field(default_factory=set)
    protected: set[str] = field(default_factory=set)
    actions: dict[str, ReplicaAction] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    bytes_copied: float = 0.0

    @property
    def count(self) -> int:
        return int(self.holders.sum()) + len(self.kept_lost)

    def zones_covered(self, holders: BoolArray | None = None) -> int:
        mask = self.holders if holders is None else holders
        return len({self.zones[i] for i in _where(mask)})


def plan(inputs: PlanInput) -> Plan:
    """Plan the replicas of one resource (pure and deterministic).

    Args:
        inputs: the spec, state profile, nodes, forecasts, replicas, latency and costs.

    Returns:
        A :class:`Plan` with one action per node that has or gets a replica, each with
        its reason code.

    Raises:
        PlacementError: when the input is inconsistent (duplicate nodes or replicas,
            ``min > max``, negative sizes).
    """
    _validate(inputs)
    spec, state = inputs.spec, inputs.state
    nodes = tuple(sorted(inputs.nodes, key=lambda n: n.name))
    names = tuple(n.name for n in nodes)
    index = {name: i for i, name in enumerate(names)}
    n_nodes = len(nodes)
    ready = np.array([n.ready for n in nodes], dtype=np.bool_)
    fits = np.array(
        [n.free_bytes is None or n.free_bytes >= state.bytes for n in nodes], dtype=np.bool_
    )
    load = np.array([n.load for n in nodes], dtype=np.float64)
    matrix = latency_matrix(tuple(n.zone for n in nodes), inputs.latency)
    no_replica_ms = inputs.latency.no_replica_ms

    mean, upper, uncertain = _demand(inputs, index, n_nodes)
    hedge = np.where(uncertain, upper, mean)
    horizon = inputs.forecast.mean.shape[1] if inputs.forecast.nodes else 1
    hours = horizon * inputs.step_s / 3600.0
    hold = holding_cost(state, inputs.costs, hours, spec.cost_weight)
    add_cost = hold + copy_cost(state, inputs.costs, spec.cost_weight)

    current = {r.node: r for r in inputs.replicas}
    board = _Board(names, tuple(n.zone for n in nodes), np.zeros(n_nodes, dtype=np.bool_))
    _drop_lost(board, current, index, ready)
    for node in current:
        if node in index and ready[index[node]]:
            board.holders[index[node]] = True

    cap = _capacity(inputs, n_nodes, board)
    candidates = ready & fits
    ready_zones = len({board.zones[i] for i in _where(candidates | board.holders)})
    target_zones = min(spec.min_replicas, ready_zones)

    def removable(i: int) -> bool:
        """A holder whose removal keeps an up-to-date copy and is not protected."""
        name = names[i]
        if name in board.protected or name in board.actions:
            return False
        replica = current.get(name)
        if replica is None:
            return False
        if replica.role == "leader" and spec.consistency == "strong":
            return False
        if replica.up_to_date:
            others = [
                j
                for j in _where(board.holders)
                if j != i and current.get(names[j]) is not None and current[names[j]].up_to_date
            ]
            if not others:
                return False
        return True

    def add(i: int, reason: Reason, value: float, detail: str) -> None:
        board.holders[i] = True
        board.bytes_copied += state.bytes
        board.actions[names[i]] = ReplicaAction(
            ActionKind.ADD, names[i], reason, SyncMode.FULL, value, add_cost, detail
        )

    def remove(i: int, reason: Reason, value: float, detail: str) -> None:
        board.holders[i] = False
        board.actions[names[i]] = ReplicaAction(
            ActionKind.REMOVE, names[i], reason, SyncMode.NONE, value, hold, detail
        )

    def uncovers(i: int) -> bool:
        """Removing holder ``i`` would leave fewer zones covered than the spread asks."""
        after = board.holders.copy()
        after[i] = False
        return board.zones_covered(after) < target_zones

    # 2. Above max or the stored-bytes budget: the least useful go, from crowded zones
    # first (a zone's only copy goes last: the spread could not be restored at the cap).
    while board.count > cap:
        loss = loss_of_removing(matrix, board.holders, hedge, no_replica_ms)
        options = [i for i in _where(board.holders) if removable(i)]
        if not options:
            break
        worst = min(options, key=lambda i: (uncovers(i), loss[i], names[i]))
        remove(worst, Reason.COST, float(loss[worst]), f"above the ceiling of {cap} replicas")

    zone_id = np.unique(np.array(board.zones), return_inverse=True)[1]

    def best(mask: BoolArray, score: FloatArray, prefer_new_zone: bool = False) -> int | None:
        """The best option by (new zone,) score, lower load, then the first name."""
        acted = np.array([n in board.actions for n in names], dtype=np.bool_)
        idx = np.flatnonzero(mask & ~board.holders & ~acted)
        if len(idx) == 0:
            return None
        keys: list[FloatArray] = [-idx.astype(np.float64), -load[idx], np.round(score[idx], 9)]
        if prefer_new_zone:
            keys.append((~np.isin(zone_id[idx], zone_id[board.holders])).astype(np.float64))
        return int(idx[np.lexsort(keys)[-1]])

    def gains(demand: FloatArray) -> FloatArray:
        return gain_of_adding(matrix, serving_latency(matrix, board.holders, no_replica_ms), demand)

    # 3. Consumers: state local before the pod starts.
    for name in sorted(inputs.consumer_nodes):
        i = index.get(name)
        if i is None or not candidates[i]:
            continue
        board.protected.add(name)
        if not board.holders[i] and board.count < cap:
            add(i, Reason.CONSUMER, float(gains(mean)[i]), "a pod on this node uses the resource")

    # 4. Minimum, new zones first.
    while board.count < spec.min_replicas and board.count < cap:
        i = best(candidates, gains(hedge), prefer_new_zone=True)
        if i is None:
            board.notes.append(f"only {board.count} ready nodes for min {spec.min_replicas}")
            break
        add(i, Reason.MINIMUM, float(gains(mean)[i]), f"durability floor of {spec.min_replicas}")

    # 5. Rebalance the spread.
    while board.zones_covered() < target_zones:
        covered = {board.zones[j] for j in _where(board.holders)}
        fresh = candidates & np.array([z not in covered for z in board.zones], dtype=np.bool_)
        i = best(fresh, gains(hedge))
        if i is None:
            break
        if board.count >= cap:
            crowded = [
                j
                for j in _where(board.holders)
                if removable(j)
                and sum(board.zones[k] == board.zones[j] for k in _where(board.holders)) > 1
            ]
            if not crowded:
                break
            loss = loss_of_removing(matrix, board.holders, hedge, no_replica_ms)
            j = min(crowded, key=lambda k: (loss[k], names[k]))
            remove(j, Reason.REBALANCE, float(loss[j]), f"zone {board.zones[j]} holds two copies")
        add(i, Reason.REBALANCE, float(gains(mean)[i]), f"spread into zone {board.zones[i]}")

    # 6. Remove what the believed demand (upper bound where uncertain) does not pay for.
    while board.count > spec.min_replicas:
        loss = loss_of_removing(matrix, board.holders, hedge, no_replica_ms)
        options = []
        for i in _where(board.holders):
            if not removable(i) or uncovers(i):
                continue
            if should_remove(
                float(loss[i]), hold, spec.hysteresis, current[names[i]].age_s, spec.cooldown_s
            ):
                options.append(i)
        if not options:
            break
        worst = min(options, key=lambda i: (loss[i], names[i]))
        remove(
            worst,
            Reason.COST,
            float(loss[worst]),
            f"saves at most {loss[worst]:.0f} ms against {hold:.0f} ms to hold",
        )

    # 7. Add where the mean pays (predicted), else where the upper bound pays (hedge).
    # A node that just lost a replica needs a wider margin to get one back (anti-flap).
    margin = np.array(
        [
            spec.hysteresis
            if may_readd(inputs.recently_removed.get(n), spec.cooldown_s)
            else 2 * spec.hysteresis + 1.0
            for n in names
        ]
    )
    while board.count < cap:
        if not _budget_allows(inputs, board):
            board.notes.append("bytes-moved budget reached")
            break
        gain_mean, gain_hedge = gains(mean), gains(hedge)
        ok_mean = candidates & (gain_mean > add_cost * (1.0 + margin)) & (gain_mean > 0)
        i = best(ok_mean, gain_mean)
        if i is not None and should_add(float(gain_mean[i]), add_cost, float(margin[i])):
            add(
                i,
                Reason.PREDICTED,
                float(gain_mean[i]),
                f"expected to save {gain_mean[i]:.0f} ms against {add_cost:.0f} ms",
            )
            continue
        ok_hedge = candidates & (gain_hedge > add_cost * (1.0 + margin)) & (gain_hedge > 0)
        i = best(ok_hedge, gain_hedge)
        if i is not None:
            add(
                i,
                Reason.HEDGE,
                float(gain_hedge[i]),
                f"forecast uncertain: upper bound saves {gain_hedge[i]:.0f} ms",
            )
            continue
        break

    # 8. Move a replica whose node cooled down to where demand went.
    fresh = np.array([names[i] not in board.actions for i in range(n_nodes)], dtype=np.bool_)
    settled = candidates & fresh & (margin <= spec.hysteresis)
    move_cost = add_cost - hold + spec.hysteresis * add_cost
    for _ in range(n_nodes):
        if not _budget_allows(inputs, board):
            break
        movable = [
            j
            for j in _where(board.holders)
            if removable(j) and current[names[j]].age_s >= spec.cooldown_s
        ]
        move = best_move(
            matrix,
            board.holders,
            mean,
            movable=movable,
            targets=settled & ~board.holders & fresh,
            zones=board.zones,
            min_zones=target_zones,
            no_replica_ms=no_replica_ms,
        )
        if move is None or move.value_ms <= move_cost:
            break
        j, c = move.source, move.target
        fresh[j] = fresh[c] = False
        remove(j, Reason.REBALANCE, move.value_ms, f"moved to {names[c]}")
        add(
            c,
            Reason.PREDICTED,
            move.value_ms,
            f"moved from {names[j]}: saves {move.value_ms:.0f} ms",
        )

    _keep_and_promote(
        inputs,
        board,
        current=current,
        index=index,
        matrix=matrix,
        mean=mean,
        upper=hedge,
        hold=hold,
    )
    final = serving_latency(matrix, board.holders, no_replica_ms)
    total = float(mean.sum())
    expected = float(mean @ final) / total if total > 0 else float(final.mean()) if n_nodes else 0.0
    ordered = tuple(sorted(board.actions.values(), key=lambda a: a.node))
    return Plan(ordered, expected, tuple(board.notes))


def _where(mask: BoolArray) -> list[int]:
    """Indices of the true entries, as Python ints."""
    return [int(i) for i in np.flatnonzero(mask)]


def _finite(values: FloatArray) -> FloatArray:
    """NaN and infinities (a forecast that failed) count as no demand."""
    if np.isfinite(values).all():
        return values
    return np.asarray(np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0), dtype=np.float64)


def _validate(inputs: PlanInput) -> None:
    spec = inputs.spec
    if spec.min_replicas < 0:
        raise PlacementError(f"min replicas must be >= 0, got {spec.min_replicas}")
    if spec.max_replicas is not None and spec.max_replicas < max(spec.min_replicas, 1):
        raise PlacementError(f"max replicas {spec.max_replicas} is below min {spec.min_replicas}")
    if inputs.state.bytes < 0 or inputs.state.writes_per_min < 0:
        raise PlacementError("state size and write rate must be >= 0")
    if inputs.step_s <= 0:
        raise PlacementError("step must be > 0 seconds")
    names = [n.name for n in inputs.nodes]
    if len(set(names)) != len(names):
        raise PlacementError("node inventory names a node twice")
    replicas = [r.node for r in inputs.replicas]
    if len(set(replicas)) != len(replicas):
        raise PlacementError("two replicas on one node")


def _demand(
    inputs: PlanInput, index: dict[str, int], n_nodes: int
) -> tuple[FloatArray, FloatArray, BoolArray]:
    """Expected and upper-bound accesses per node over the horizon, and the uncertain mask."""
    spec, fc = inputs.spec, inputs.forecast
    mean = np.zeros(n_nodes)
    upper = np.zeros(n_nodes)
    uncertain = np.zeros(n_nodes, dtype=np.bool_)
    if not fc.nodes:
        return mean, upper, uncertain
    rows = [(index[name], k) for k, name in enumerate(fc.nodes) if name in index]
    if not rows:
        return mean, upper, uncertain
    at = np.array([i for i, _ in rows], dtype=np.intp)
    src = np.array([k for _, k in rows], dtype=np.intp)
    m = np.maximum(_finite(fc.mean[src]), 0.0)
    lo = np.maximum(_finite(fc.lower[src]), 0.0)
    up = np.maximum(_finite(fc.upper[src]), m)
    mean[at] = m.sum(axis=1)
    upper[at] = up.sum(axis=1)
    confidence = forecast_confidence(m, lo, up)
    uncertain[at] = uncertain_nodes(
        _finite(fc.deviation[src]),
        confidence,
        spec.deviation_threshold,
        spec.confidence_threshold,
    )
    return mean, upper, uncertain


def _drop_lost(
    board: _Board, current: dict[str, CurrentReplica], index: dict[str, int], ready: BoolArray
) -> None:
    """Stage 1: replicas on nodes that are gone or not ready."""
    alive_fresh = any(r.up_to_date for n, r in current.items() if n in index and ready[index[n]])
    for name in sorted(current):
        if name in index and ready[index[name]]:
            continue
        replica = current[name]
        if replica.up_to_date and not alive_fresh:
            board.kept_lost.add(name)
            board.actions[name] = ReplicaAction(
                ActionKind.KEEP,
                name,
                Reason.FAILOVER,
                detail="node not ready but holds the only up-to-date copy; kept until it returns",
            )
            alive_fresh = True  # one kept copy is enough
            continue
        board.actions[name] = ReplicaAction(
            ActionKind.REMOVE, name, Reason.FAILOVER, detail="node not ready; replica lost"
        )


def _capacity(inputs: PlanInput, n_nodes: int, board: _Board) -> int:
    """The most replicas the plan may keep: max, ready nodes and the stored-bytes budget."""
    spec = inputs.spec
    cap = spec.max_replicas if spec.max_replicas is not None else n_nodes + len(board.kept_lost)
    budget = spec.budget_bytes_stored
    if budget is not None and inputs.state.bytes > 0:
        affordable = int(budget // inputs.state.bytes)
        if affordable < cap:
            if affordable < spec.min_replicas:
                board.notes.append(
                    f"stored-bytes budget affords {affordable} replicas,"
                    f" below min {spec.min_replicas}"
                )
            cap = max(affordable, spec.min_replicas)
    return cap


def _budget_allows(inputs: PlanInput, board: _Board) -> bool:
    """Whether one more copy fits the bytes-moved-per-hour budget."""
    budget = inputs.spec.budget_bytes_moved_per_hour
    if budget is None:
        return True
    moved = board.bytes_copied + inputs.state.bytes
    moved += sync_bytes_per_hour(inputs.state, board.count + 1)
    return moved <= budget


def _keep_and_promote(
    inputs: PlanInput,
    board: _Board,
    *,
    current: dict[str, CurrentReplica],
    index: dict[str, int],
    matrix: FloatArray,
    mean: FloatArray,
    upper: FloatArray,
    hold: float,
) -> None:
    """Stage 8: a keep for every replica that stays, and a promotion if strong lost its leader."""
    no_replica_ms = inputs.latency.no_replica_ms
    loss_mean = loss_of_removing(matrix, board.holders, mean, no_replica_ms)
    loss_upper = loss_of_removing(matrix, board.holders, upper, no_replica_ms)
    for name in sorted(current):
        if name in board.actions:
            continue
        i = index[name]
        replica = current[name]
        sync = SyncMode.NONE if replica.up_to_date else SyncMode.DELTA
        if name in inputs.consumer_nodes:
            reason, detail = Reason.CONSUMER, "a pod on this node uses the resource"
        elif loss_mean[i] >= hold:
            reason, detail = Reason.PREDICTED, f"expected to save {loss_mean[i]:.0f} ms"
        elif loss_upper[i] >= hold:
            reason, detail = Reason.HEDGE, f"upper bound saves {loss_upper[i]:.0f} ms"
        elif replica.age_s < inputs.spec.cooldown_s:
            reason = replica.reason or Reason.PREDICTED
            detail = "within its cooldown"
        else:
            reason = replica.reason or Reason.MINIMUM
            detail = "needed for min, spread or the last up-to-date copy, or within the margin"
        board.actions[name] = ReplicaAction(
            ActionKind.KEEP, name, reason, sync, float(loss_mean[i]), hold, detail
        )
    if inputs.spec.consistency != "strong":
        return
    staying = [
        current[n]
        for n in sorted(current)
        if board.actions[n].kind == ActionKind.KEEP and n not in board.kept_lost
    ]
    if any(r.role == "leader" for r in staying) or not staying:
        if not staying:
            board.notes.append("no existing replica can lead yet")
        return
    chosen = max(staying, key=lambda r: (r.up_to_date, r.progress, [-ord(c) for c in r.node]))
    board.actions[chosen.node] = ReplicaAction(
        ActionKind.PROMOTE,
        chosen.node,
        Reason.FAILOVER,
        detail=f"leader gone; most advanced replica (progress {chosen.progress})",
    )
