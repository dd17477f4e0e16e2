"""The plan function: where replicas of one resource should live next.

Objective: expected access latency saved against what the replicas cost (bytes stored,
the write stream that keeps them in sync, and the copies), everything priced by
:class:`CostModel` and scaled by the spec's ``cost_weight``, under the budget. Every
decision weighs the same two sides over the same *value window*, ``max(horizon,
cooldown)`` (a replica that is added stays at least its cooldown):

- *add* a replica when the latency it saves over the window beats holding it over the
  window plus its copy, by the hysteresis margin (over the node's expected stay, as a
  move, when the demand has stayed longer than a window: both sides over that stay);
- *remove* one past its cooldown when the latency it still saves does not pay for
  holding it, less the margin;
- *move* one (at ``min``, at ``max``, or whenever an add does not pay) from the node
  where it saves least to the node where it would save most when the difference over
  the window beats the copy, by the margin: the number of replicas, hence the holding
  cost, does not change.

A copy's price is its bytes and, with the demand-relative prices, at least holding it
through one cooldown (``PlacementSpec.copy_floor``, :func:`~.board.copy_price`).

The planner is greedy and runs in stages, each of which only adds or only removes, so
every decision has one reason:

1. ``failover``: replicas on nodes that are gone are dropped, unless one holds the
   only up-to-date copy (then it is kept until another copy exists).
2. ``cost``: above ``max`` (or the bytes-stored budget) the least useful go.
3. ``consumer``: a node that runs a consumer pod gets a replica before it asks; with
   ``PlacementSpec.everywhere_copy_days``, a resource whose copy outweighs that many
   days of its write stream (and, with ``everywhere_min_bytes``, a copy at least that
   large) is held on every ready node (``everywhere``); with
   ``PlacementSpec.background_reads_per_hour``, on every ready node whose background
   reads reach it (``predicted``).
4. ``minimum``: up to ``min``, new zones first.
5. ``rebalance``: the zone floor, ``min(min, zones)`` zones covered: a durability
   floor, never a reason to keep a copy away from demand (moves keep it too).
6. ``cost``: remove what the believed demand (forecast mean; upper bound where the
   forecast is uncertain) does not pay for, once its node's pause in reading has cost
   as much holding as copying it back would (the break-even rule; a warm copy back
   moves only the writes missed over the pause).
7. ``predicted`` then ``hedge``: add where the mean pays, else where the upper bound
   of an uncertain node pays; with a budget (the reactive rule's count), up to it
   (where the copy alone pays, with ``fill_priced``).
8. ``rebalance`` + ``predicted``: move replicas to where demand went.
9. ``failover`` (strong consistency): promote the most advanced replica when the
   leader is gone.

Invariants (tested): never below ``min`` (when enough ready nodes exist), never above
``max``, the zone floor kept when the nodes allow, never removes the last up-to-date
copy unless it hands it off (the same plan adds its successor, and the executor removes
it once the successor is up to date), deterministic.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from statecast.core.placement.board import (
    Board,
    BoolArray,
    Context,
    FloatArray,
    add,
    background_rate,
    best_node,
    break_even,
    build_context,
    copy_price,
    floors_copies,
    gains,
    holding,
    last_fresh,
    losses,
    overclaimed,
    past_cooldown,
    removable,
    remove,
    serving,
    stays,
    uncovering,
    zones_covered,
)
from statecast.core.placement.costs import copy_outlasts_stream, sync_bytes_per_hour
from statecast.core.placement.hysteresis import should_add
from statecast.core.placement.moves import Evidence, best_move
from statecast.core.placement.types import (
    ActionKind,
    PlacementError,
    PlacementSpec,
    Plan,
    PlanInput,
    Reason,
    ReplicaAction,
    SyncMode,
)


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
    ctx = build_context(inputs)
    n = len(ctx.names)
    board = Board(
        np.zeros(n, dtype=np.bool_), np.zeros(n, dtype=np.bool_), np.zeros(n, dtype=np.bool_)
    )
    _drop_lost(ctx, board)
    for name in ctx.current:
        i = ctx.index.get(name)
        if i is not None and ctx.ready[i]:
            board.holders[i] = True
    zones_possible = zones_covered(ctx, ctx.candidates | board.holders)
    cap = _capacity(inputs, n, board)
    ctx = replace(
        ctx,
        cap=cap,
        budget=cap if inputs.reactive_copies is None else min(cap, inputs.reactive_copies),
        fill=0 if inputs.reactive_copies is None else min(cap, inputs.reactive_copies),
        target_zones=min(_zone_floor(inputs.spec), zones_possible),
    )
    _trim_to_cap(ctx, board)
    _keep_floor_in_zone_order(ctx, board)
    _add_consumers(ctx, board)
    _hold_everywhere(ctx, board)
    _hold_background(ctx, board)
    _fill_minimum(ctx, board)
    _fill_zones(ctx, board)
    _trim_to_budget(ctx, board)
    _release_pod_copies(ctx, board)
    _remove_for_cost(ctx, board)
    _add_for_demand(ctx, board)
    _swap_to_rule(ctx, board)
    _relocate(ctx, board)
    _keep_and_promote(ctx, board)
    final = serving(ctx, board)
    mean = ctx.mean
    total = float(mean.sum())
    expected = float(mean @ final) / total if total > 0 else float(final.mean()) if n else 0.0
    ordered = tuple(sorted(board.actions.values(), key=lambda a: a.node))
    return Plan(ordered, expected, tuple(board.notes))


def _zone_floor(spec: PlacementSpec) -> int:
    """The zones the copies cover at least: ``spec.zone_floor``, else ``min``."""
    return spec.min_replicas if spec.zone_floor is None else spec.zone_floor


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


def _drop_lost(ctx: Context, board: Board) -> None:
    """Stage 1: replicas on nodes that are gone or not ready."""
    current, index, ready = ctx.current, ctx.index, ctx.ready
    alive_fresh = any(r.up_to_date for n, r in current.items() if n in index and ready[index[n]])
    for name in sorted(current):
        i = index.get(name)
        if i is not None and ready[i]:
            continue
        if i is not None:
            board.acted[i] = True
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


def _capacity(inputs: PlanInput, n_nodes: int, board: Board) -> int:
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


def _affordable(ctx: Context, board: Board) -> BoolArray:
    """Nodes where one more copy fits the bytes-moved-per-hour budget.

    A copy there moves what the node's copy costs (``PlanInput.copy_bytes``: the writes
    a warm copy missed, else the whole state), as the add and move prices say.
    """
    budget = ctx.inputs.spec.budget_bytes_moved_per_hour
    if budget is None:
        return np.ones(len(ctx.names), dtype=np.bool_)
    state = ctx.inputs.state
    moved = board.bytes_copied + ctx.bytes_at + sync_bytes_per_hour(state, board.count + 1)
    return np.asarray(moved <= budget, dtype=np.bool_)


def _first(options: BoolArray, *keys: np.ndarray) -> int:
    """The option that sorts first by ``keys`` (most significant first), then by name."""
    idx = np.flatnonzero(options)
    order = np.lexsort((idx, *(k[idx] for k in reversed(keys))))
    return int(idx[order[0]])


def _trim_to_cap(ctx: Context, board: Board) -> None:
    """Stage 2: above max or the stored-bytes budget the least useful replicas go.

    From crowded zones first: a zone's only copy goes last, as at the cap the floor
    could not be restored.
    """
    while board.count > ctx.cap:
        options = removable(ctx, board)
        if not options.any():
            break
        loss = losses(ctx, board, ctx.hedge)
        worst = _first(options, uncovering(ctx, board.holders), loss)
        detail = f"above the ceiling of {ctx.cap} replicas"
        remove(ctx, board, worst, Reason.COST, float(loss[worst]), detail)


def _trim_to_budget(ctx: Context, board: Board) -> None:
    """Above the reactive rule's count, the least useful replicas go (cost).

    Never below the floors (``min``, the zone floor, consumers' copies); the copy whose
    removal costs least latency goes, young or old. Neither the cooldown nor youth
    protects a copy here: the count is reactive replication's, whose grace already held
    it, and a young copy's bytes are spent whichever goes - kept for its youth it pushed
    out a copy that served more (a busy one past its cooldown after a swap onto a warm
    node; on the default's runs the trim by loss was better on every trace it changed
    but generated-02: docs/placement-history.md 'Session 13, default and tables'). The only
    up-to-date copy goes last, and only by a hand-off to a copy this plan adds (the
    executor keeps it until that one is up to date): when consumers' pods arrive, their
    copies take its place as reactive's do. With ``spec.trim_in_reactive_order`` the
    copies the rule does not hold go first (:func:`_outside_reactive`).
    """
    spec = ctx.inputs.spec
    outside = _outside_reactive(ctx)
    while board.count > max(ctx.budget, spec.min_replicas):
        added = board.holders & ~np.isfinite(ctx.age_s)  # the copies this plan adds
        options = removable(ctx, board, moving=bool(added.any())) & ~uncovering(ctx, board.holders)
        if not options.any():
            break
        loss = losses(ctx, board, ctx.hedge)
        first = [last_fresh(ctx, board)] if outside is None else [last_fresh(ctx, board), ~outside]
        worst = _first(options, *first, loss)
        detail = f"above the {ctx.budget} copies reactive replication holds on this demand"
        remove(ctx, board, worst, Reason.COST, float(loss[worst]), detail)


def _outside_reactive(ctx: Context) -> BoolArray | None:
    """Nodes whose copy the reactive rule does not hold now, for the trim to its count.

    With ``spec.trim_in_reactive_order`` and the rule's nodes given
    (``PlanInput.reactive_nodes``): the rule drops a copy once its pair has been cold
    for its grace and its count falls by that copy, so the trim drops those first and
    keeps the copies the rule still holds, whose nodes read again before their grace
    ends (by the forecast's loss alone, another went and was copied back). None: the
    least loss alone.
    """
    inputs = ctx.inputs
    if not inputs.spec.trim_in_reactive_order or not inputs.reactive_nodes:
        return None
    held = _rule_nodes(ctx)
    return np.asarray(~held, dtype=np.bool_)


def _add_consumers(ctx: Context, board: Board) -> None:
    """Stage 3: a node running a consumer pod gets the state before it asks."""
    for name in sorted(ctx.inputs.consumer_nodes):
        i = ctx.index.get(name)
        if i is None or not ctx.candidates[i]:
            continue
        board.protected[i] = True
        if not board.holders[i] and board.count < ctx.cap:
            value = float(gains(ctx, board, ctx.mean)[i])
            add(ctx, board, i, Reason.CONSUMER, value, "a pod on this node uses the resource")


def _hold_everywhere(ctx: Context, board: Board) -> None:
    """A copy on every ready node with room (``PlacementSpec.everywhere_copy_days``).

    Only for a resource whose full copy moves at least that many days of one replica's
    write stream (:func:`copy_outlasts_stream`) and, with
    ``PlacementSpec.everywhere_min_bytes``, is at least that many bytes; up to the cap
    (the nodes where a copy saves most first, then by name); its copies, old and new, are
    protected from the cost stages (the trims, the removals, the moves' sources).
    """
    inputs = ctx.inputs
    days = inputs.spec.everywhere_copy_days
    if not copy_outlasts_stream(inputs.state, days):
        return
    if inputs.state.bytes < inputs.spec.everywhere_min_bytes:
        return
    detail = f"held on every node: a copy moves at least {days:g} days of its write stream"
    gain = gains(ctx, board, ctx.mean)
    options = np.flatnonzero(ctx.candidates & ~board.holders)
    for i in options[np.lexsort((options, -gain[options]))]:  # most gain first, then name
        if board.count >= ctx.cap:
            break
        add(ctx, board, int(i), Reason.EVERYWHERE, float(gain[i]), detail)
    board.protected |= board.holders


#: A background copy is kept while its node's background reads are at least this share of
#: ``PlacementSpec.background_reads_per_hour`` (a node near the line does not come and go).
BACKGROUND_KEEP_SHARE = 0.5


def _hold_background(ctx: Context, board: Board) -> None:
    """A copy on every node whose background reads reach the spec's rate.

    ``PlacementSpec.background_reads_per_hour``: the ready nodes with room whose
    background read rate (:func:`~.board.background_rate`) is at least that many an
    hour, and the holders whose rate is at least :data:`BACKGROUND_KEEP_SHARE` of it;
    new copies up to the cap (the nodes where a copy saves most first, then by name);
    those copies, old and new, are protected from the cost stages (the trims, the
    removals, the moves' sources). Off at 0 and without history.
    """
    inputs = ctx.inputs
    per_hour = inputs.spec.background_reads_per_hour
    if per_hour <= 0:
        return
    rate = background_rate(inputs, ctx.names)
    if rate is None:
        return
    least = per_hour * inputs.step_s / 3600.0
    kept = board.holders & (rate >= BACKGROUND_KEEP_SHARE * least)
    wanted = ctx.candidates & ((rate >= least) | kept)
    detail = f"background reads at least {per_hour:g} an hour"
    gain = gains(ctx, board, ctx.mean)
    options = np.flatnonzero(wanted & ~board.holders)
    for i in options[np.lexsort((options, -gain[options]))]:  # most gain first, then name
        if board.count >= ctx.cap:
            break
        add(ctx, board, int(i), Reason.PREDICTED, float(gain[i]), detail)
    board.protected |= board.holders & wanted


def _floor(ctx: Context, board: Board, belief: FloatArray) -> FloatArray:
    """The demand the copies at ``min`` are placed by: the floor's window belief, if set.

    ``PlacementSpec.floor_window_s`` (:func:`~.board.window_demand`) while the board
    holds at most ``min`` copies; ``belief`` otherwise (and always with the knob off).
    """
    if len(ctx.floor) and board.count <= ctx.inputs.spec.min_replicas:
        return ctx.floor
    return belief


def _zone_order_rank(ctx: Context) -> FloatArray:
    """Per node, minus its place in the zone order (``spec.floor_in_zone_order``).

    One node of each zone (zones by name), then the next of each (nodes by name): the
    static baseline's fixed order (:func:`statecast.sim.policies.zone_order`). Higher
    is earlier, as a score.
    """
    seen = np.zeros(ctx.n_zones, dtype=np.int64)
    place = np.zeros(len(ctx.names), dtype=np.float64)
    for i, zone in enumerate(ctx.zone_id):
        place[i] = seen[zone] * ctx.n_zones + zone
        seen[zone] += 1
    return -place


def _keep_floor_in_zone_order(ctx: Context, board: Board) -> None:
    """With ``spec.floor_in_zone_order``: the floor's copies held stay (protected).

    Of the copies held, up to ``min``: new zones first, then first in the zone order
    (:func:`_zone_order_rank`) - the copies the static baseline would hold fixed. They
    are neither removed for cost nor moved in this plan.
    """
    spec = ctx.inputs.spec
    if not spec.floor_in_zone_order:
        return
    place = -_zone_order_rank(ctx)
    kept = np.zeros(len(ctx.names), dtype=np.bool_)
    for _ in range(spec.min_replicas):
        options = board.holders & ~kept
        if not options.any():
            return
        covered = np.zeros(ctx.n_zones, dtype=np.bool_)
        covered[ctx.zone_id[kept]] = True
        i = _first(options, covered[ctx.zone_id].astype(np.float64), place)
        kept[i] = True
        board.protected[i] = True


def _floor_score(ctx: Context, board: Board) -> FloatArray:
    """What the floor's copies are placed by: the forecast's gain, or the zone order.

    The gain at the floor's belief (:func:`_floor`); with ``spec.floor_in_zone_order``
    the zone order's rank (:func:`_zone_order_rank`).
    """
    if ctx.inputs.spec.floor_in_zone_order:
        return _zone_order_rank(ctx)
    return gains(ctx, board, _floor(ctx, board, ctx.hedge))


def _fill_minimum(ctx: Context, board: Board) -> None:
    """Stage 4: up to min, new zones first, then where the copy saves most.

    With ``spec.floor_in_zone_order``: then first in the zone order (:func:`_floor_score`).
    """
    spec = ctx.inputs.spec
    while board.count < spec.min_replicas and board.count < ctx.cap:
        score = _floor_score(ctx, board)
        options = _rule_only(ctx, board, ctx.candidates)
        i = best_node(ctx, board, options, score, prefer_new_zone=True)
        if i is None:
            board.notes.append(f"only {board.count} ready nodes for min {spec.min_replicas}")
            break
        by_gain = ctx.hedge is ctx.mean and not spec.floor_in_zone_order
        at_mean = score if by_gain else gains(ctx, board, ctx.mean)
        value = float(at_mean[i])
        add(ctx, board, i, Reason.MINIMUM, value, f"durability floor of {spec.min_replicas}")


def _fill_zones(ctx: Context, board: Board) -> None:
    """Stage 5: cover the zone floor on the uncovered zone's node that saves most.

    At the cap, a copy from a crowded zone makes room.
    """
    while zones_covered(ctx, board.holders) < ctx.target_zones:
        held_zones = np.zeros(ctx.n_zones, dtype=np.bool_)
        held_zones[ctx.zone_id[board.holders]] = True
        fresh_zone = ctx.candidates & ~held_zones[ctx.zone_id]
        i = best_node(ctx, board, _rule_only(ctx, board, fresh_zone), _floor_score(ctx, board))
        if i is None:
            break
        if board.count >= ctx.cap:
            per_zone = np.bincount(ctx.zone_id[board.holders], minlength=ctx.n_zones)
            crowded = removable(ctx, board) & (per_zone[ctx.zone_id] > 1)
            if not crowded.any():
                break
            loss = losses(ctx, board, ctx.hedge)
            j = _first(crowded, loss)
            detail = f"zone {ctx.zones[j]} holds two copies"
            remove(ctx, board, j, Reason.REBALANCE, float(loss[j]), detail)
        value = float(gains(ctx, board, ctx.mean)[i])
        add(ctx, board, i, Reason.REBALANCE, value, f"spread into zone {ctx.zones[i]}")


def _release_pod_copies(ctx: Context, board: Board) -> None:
    """Stage 6a: a copy kept for a consumer pod that left is judged for cost at once.

    With ``spec.release_pod_copies`` and a reactive budget: a copy on a node of
    ``PlanInput.consumers_left`` (its pod ran lately, none runs now) goes, past its
    cooldown, when the believed demand no longer pays for holding it, less the margin,
    even within the reactive rule's count and its break-even: that count holds it for
    heat the pod made (a window of it, then the grace), and the reads its break-even
    weighs were the pod's. The slot it leaves is the count's still: the fill puts it
    where the forecast says the demand is. Never below ``min``, the zone floor, nor
    the only up-to-date copy.
    """
    spec, inputs = ctx.inputs.spec, ctx.inputs
    if not spec.release_pod_copies or inputs.reactive_copies is None:
        return
    left = np.zeros(len(ctx.names), dtype=np.bool_)
    for name in inputs.consumers_left - inputs.consumer_nodes:
        i = ctx.index.get(name)
        if i is not None:
            left[i] = True
    _remove_unpaid(ctx, board, spec.min_replicas, among=left, why="its consumer pod left: ")


def _remove_for_cost(ctx: Context, board: Board) -> None:
    """Stage 6: remove what the believed demand does not pay for.

    A replica past its cooldown goes when the demand it still serves (the mean; the
    upper bound where uncertain) does not pay for holding it, less the margin; never
    below min, never uncovering the zone floor, and not while its node's pause in
    reading is shorter than the break-even (:func:`~.board.break_even`: holding it
    through the pause has cost less than copying it back would). The only up-to-date
    copy may go too, by a hand-off, when this plan adds a copy (:func:`_handing_off`).
    """
    floor = max(ctx.inputs.spec.min_replicas, ctx.fill)
    _remove_unpaid(ctx, board, floor, moving=_handing_off(ctx, board), pause=True)


def _remove_unpaid(
    ctx: Context,
    board: Board,
    floor: int,
    *,
    among: BoolArray | None = None,
    moving: bool = False,
    pause: bool = False,
    why: str = "",
) -> None:
    """Remove, least loss first, the copies the believed demand does not pay for.

    While the board holds more than ``floor`` copies: a removable copy (``among`` them,
    if given; the only up-to-date one too when ``moving``, by a hand-off) past its
    cooldown, not uncovering the zone floor, whose loss at the believed demand is below
    its holding less the margin; with ``pause``, not while its node's pause in reading
    is shorter than the break-even. ``why`` prefixes each removal's detail.
    """
    spec = ctx.inputs.spec
    while board.count > floor:
        loss = losses(ctx, board, ctx.hedge)
        hold = holding(ctx, board, ctx.hedge)
        options = (
            removable(ctx, board, moving=moving)
            & ~uncovering(ctx, board.holders)
            & past_cooldown(ctx, board)
            & (loss < hold * (1.0 - spec.hysteresis))
        )
        if among is not None:
            options &= among
        if pause and options.any():
            options &= ~break_even(ctx, board)
        if not options.any():
            return
        worst = _first(options, loss)
        detail = f"{why}saves at most {loss[worst]:.0f} ms against {hold[worst]:.0f} ms to hold"
        remove(ctx, board, worst, Reason.COST, float(loss[worst]), detail)


def _handing_off(ctx: Context, board: Board) -> bool:
    """Whether the only up-to-date copy may go by a hand-off in this plan.

    When the plan adds a copy (a consumer's, the minimum's, the zone floor's) the
    executor keeps every copy it removes until the added ones are up to date (the
    operator's :func:`~statecast.core.replica_set.hand_off`, the simulator's make before
    break), so the only up-to-date copy need not stay for durability: it is judged for
    cost like the others. Otherwise it stayed a whole planning step beside the pod's
    new copy, synced long before (reactive's went once that copy was ready). Beside
    existing copies still syncing it stays, as a move's source does.
    ``spec.hand_off_on_add`` False: never (it stays until the next plan).
    """
    if not ctx.inputs.spec.hand_off_on_add:
        return False
    existing = np.isfinite(ctx.age_s)
    added = board.holders & ~existing
    syncing = board.holders & existing & ~ctx.fresh
    return bool(added.any()) and not bool(syncing.any())


def _add_for_demand(ctx: Context, board: Board) -> None:
    """Stage 7: add where the mean pays (predicted), else where the upper bound pays (hedge).

    A copy pays when what it saves over its node's expected stay (:func:`~.board.stays`:
    the value window, or as long again as the node's demand has stayed as it is now)
    beats holding it over that stay plus its copy, by the margin. A node that just lost
    a replica needs a wider margin to get one back. Then, with a budget (the reactive
    rule's count), up to that count whatever the copy costs (with ``fill_priced``:
    where the copy alone pays over the stay; with ``fill_in_reactive_order``: on the
    rule's nodes first, :func:`_rule_first`).
    """
    while board.count < min(ctx.cap, ctx.budget):
        affordable = _affordable(ctx, board)
        if not affordable.any():
            board.notes.append("bytes-moved budget reached")
            return
        candidates = _rule_only(ctx, board, ctx.candidates & affordable)
        gain_mean = gains(ctx, board, ctx.mean)
        stay = stays(ctx, board, gain_mean)
        copy_at = copy_price(ctx, board)
        value, cost = gain_mean * stay, holding(ctx, board) * stay + copy_at
        ok = candidates & (value > cost * (1.0 + ctx.margin)) & (gain_mean > 0)
        i = best_node(ctx, board, ok, gain_mean)
        if i is not None:
            detail = f"expected to save {value[i]:.0f} ms against {cost[i]:.0f} ms"
            add(ctx, board, i, Reason.PREDICTED, float(gain_mean[i]), detail + _over(stay[i]))
            continue
        if ctx.hedge is not ctx.mean:  # uncertain nodes: where their upper bound pays
            gain_hedge = gains(ctx, board, ctx.hedge)
            up = stays(ctx, board, gain_hedge)
            cost = holding(ctx, board, ctx.hedge) * up + copy_at
            ok = candidates & (gain_hedge * up > cost * (1.0 + ctx.margin)) & (gain_hedge > 0)
            i = best_node(ctx, board, ok, gain_hedge)
            if i is not None:
                detail = f"forecast uncertain: upper bound saves {gain_hedge[i] * up[i]:.0f} ms"
                add(ctx, board, i, Reason.HEDGE, float(gain_hedge[i]), detail + _over(up[i]))
                continue
        if board.count >= ctx.fill:
            return
        settled = candidates & (ctx.margin <= ctx.inputs.spec.hysteresis) & (gain_mean > 0)
        if ctx.inputs.spec.fill_priced:
            settled &= value > copy_at * (1.0 + ctx.margin)
        if ctx.inputs.spec.fill_in_reactive_order:
            settled = _rule_first(ctx, board, settled, candidates & (gain_mean > 0))
        i = best_node(ctx, board, settled, gain_mean)
        if i is None:
            return
        detail = f"one of the {ctx.fill} copies reactive replication holds on this demand"
        if ctx.inputs.spec.fill_priced:
            detail += f": saves {value[i]:.0f} ms against a {copy_at[i]:.0f} ms copy"
        add(ctx, board, i, Reason.PREDICTED, float(gain_mean[i]), detail + _over(stay[i]))


def _rule_first(ctx: Context, board: Board, settled: BoolArray, paying: BoolArray) -> BoolArray:
    """The fill's options with ``spec.fill_in_reactive_order``: the rule's nodes first.

    Of ``paying`` (candidates where a copy gains), those on a node the reactive rule
    holds a copy on now (``PlanInput.reactive_nodes``) and the plan does not, if there
    is one - a node that just lost its copy too: the rule copies back to the node that
    read hot over its window, and the wider margin a node that just lost a replica
    needs (``Context.margin``) put the count's rise on another node, and the rule's
    node was copied to later as well (generated-04). Else ``settled``.
    """
    if not ctx.inputs.reactive_nodes:
        return settled
    ruled = paying & _rule_nodes(ctx) & ~board.holders & ~board.acted
    return ruled if ruled.any() else settled


def _rule_only(ctx: Context, board: Board, candidates: BoolArray) -> BoolArray:
    """With ``spec.swap_in_reactive_order``, the adds' candidates on the rule's nodes.

    Those of ``candidates`` the reactive rule holds and the plan does not, if any
    (the plan holds the rule's nodes, :func:`_swap_to_rule`); else ``candidates``.
    """
    if not ctx.inputs.spec.swap_in_reactive_order or not ctx.inputs.reactive_nodes:
        return candidates
    ruled = candidates & _rule_nodes(ctx) & ~board.holders
    return ruled if ruled.any() else candidates


def _rule_nodes(ctx: Context) -> BoolArray:
    """Per node: the reactive rule's shadow holds a copy there (``PlanInput.reactive_nodes``)."""
    nodes = ctx.inputs.reactive_nodes
    return np.array([name in nodes for name in ctx.names], dtype=np.bool_)


def _swap_to_rule(ctx: Context, board: Board) -> None:
    """With ``spec.swap_in_reactive_order``: the count's copies move to the rule's nodes.

    While the plan holds a copy on a node the reactive rule does not hold now
    (``PlanInput.reactive_nodes``) that may go (an existing copy, not protected; the
    only up-to-date copy by a hand-off, unless other copies still sync) and the rule
    holds a candidate node the plan does not: the copy of least loss moves to the
    rule's node of most gain whose move keeps the zone floor (:func:`_swap_pair`). The
    count is unchanged.
    """
    inputs = ctx.inputs
    if not inputs.spec.swap_in_reactive_order or not inputs.reactive_nodes:
        return
    ruled = _rule_nodes(ctx)
    for _ in range(len(ctx.names)):
        sources = removable(ctx, board, moving=True) & ~ruled
        syncing = board.holders & ~ctx.fresh & np.isfinite(ctx.age_s)
        if syncing.any():
            sources &= ~last_fresh(ctx, board)
        targets = ctx.candidates & ruled & ~board.holders & ~board.acted
        pair = _swap_pair(ctx, board, sources, targets)
        if pair is None:
            return
        j, c, lost, gained = pair
        detail = f"the reactive rule holds {ctx.names[c]}, not {ctx.names[j]}"
        if last_fresh(ctx, board)[j]:
            detail += "; handed off once that copy is up to date"
        remove(ctx, board, j, Reason.REBALANCE, lost, detail)
        add(ctx, board, c, Reason.REBALANCE, gained, detail)


def _swap_pair(
    ctx: Context, board: Board, sources: BoolArray, targets: BoolArray
) -> tuple[int, int, float, float] | None:
    """The swap :func:`_swap_to_rule` makes next (None: none keeps the zone floor).

    The first source (least loss, then name) and target (most gain, then name) whose
    swap leaves at least as many zones covered as the floor asks (or as now, if fewer):
    source, target, the source's loss and the target's gain.
    """
    if not sources.any() or not targets.any():
        return None
    loss = losses(ctx, board, ctx.mean)
    gain = gains(ctx, board, ctx.mean)
    need = min(ctx.target_zones, zones_covered(ctx, board.holders))
    src = np.flatnonzero(sources)
    dst = np.flatnonzero(targets)
    for j in src[np.lexsort((src, loss[src]))]:
        for c in dst[np.lexsort((dst, -gain[dst]))]:
            after = board.holders.copy()
            after[j], after[c] = False, True
            if zones_covered(ctx, after) >= need:
                return int(j), int(c), float(loss[j]), float(gain[c])
    return None


def _over(stay: float) -> str:
    """How long a copy was priced over, when longer than the value window."""
    return f" over {stay:.3g} windows (the demand's stay)" if stay > 1.0 else ""


def _relocate(ctx: Context, board: Board) -> None:
    """Stage 8: move replicas past their cooldown to where demand went.

    While a move saves more than its copy costs, by the margin, at the forecast's rate
    over the demand's expected residence: as long again as it has stayed as it is now
    (within the deviation threshold), at least the value window, the stay read from
    the newest ``spec.move_residence_s`` of history (:func:`~.moves.best_move`). The only
    up-to-date copy moves by a hand-off: the plan removes it and adds its successor, and
    the operator (like the simulator) removes it only once the successor is up to date.
    Beside copies still syncing it does not move: once they are up to date, one can.
    With history to read, no move goes against the newest step's demand (one that
    would have served it slower) to a node the forecast has just over-claimed
    (:func:`~.board.overclaimed`, :mod:`~statecast.core.placement.moves`); with
    ``spec.move_persistence_s``, none that the demand seen over its payback would not
    have repaid (:func:`_evidence`); with ``spec.move_ratio``, none whose faster-served
    reads do not outweigh its slower-served ones by that ratio. The bytes-moved budget
    counts each target's copy.
    """
    spec = ctx.inputs.spec
    if _grace_slots_open(ctx, board):
        return
    settled = ctx.candidates & (ctx.margin <= spec.hysteresis)
    movable = removable(ctx, board, moving=True) & past_cooldown(ctx, board)
    if spec.swap_in_reactive_order and ctx.inputs.reactive_nodes:
        movable &= ~_rule_nodes(ctx)  # the rule's copies stay where it holds them
    targets = settled & ~board.holders & ~board.acted
    if not movable.any() or not targets.any():
        return
    stayed = ctx.stayed
    demand = _floor(ctx, board, ctx.mean)  # a move keeps the count: at min, the floor's
    # A move saves at most what adding its target would (the source's copy only helps),
    # over the window, or over the longest stay it may be credited with.
    most = float(gains(ctx, board, demand)[targets].max()) * float(stayed[1].max(initial=1.0))
    if not should_add(most, float(ctx.copy_at[targets].min()), spec.hysteresis):
        return
    floored = floors_copies(ctx)
    doubtful = overclaimed(ctx)
    evidence = _evidence(ctx, copy_price(ctx, board))
    for _ in range(2 * len(ctx.names)):
        affordable = _affordable(ctx, board)
        if not affordable.any():
            return
        movable &= ~board.acted
        price = copy_price(ctx, board)
        warm = price if floored or bool((ctx.copy_at < ctx.copy).any()) else None
        move = best_move(
            ctx.matrix,
            board.holders,
            demand,
            movable=movable,
            targets=settled & affordable & ~board.holders & ~board.acted,
            zone_id=ctx.zone_id,
            min_zones=ctx.target_zones,
            no_replica_ms=ctx.no_replica_ms,
            stayed=stayed,
            tolerance=spec.deviation_threshold,
            copy=warm,
            doubtful=doubtful,
            evidence=evidence,
            ratio=spec.move_ratio,
        )
        if move is None or not should_add(move.value_ms, price[move.target], spec.hysteresis):
            return
        j, c = move.source, move.target
        syncing = board.holders & ~ctx.fresh & np.isfinite(ctx.age_s)  # existing copies
        if last_fresh(ctx, board)[j] and syncing.any():
            movable[j] = False  # copies are still syncing: once they are, one can move
            continue
        saves = f"saves {move.value_ms:.0f} ms against a {price[c]:.0f} ms copy"
        if move.stayed_windows > 0:
            hours = move.stayed_windows * ctx.window_s / 3600
            saves += (
                f" ({move.window_ms:.0f} ms a window while the demand stays"
                f" as long again as it has, {hours:.2g} h)"
            )
        detail = f"moved to {ctx.names[c]}: {saves}"
        if last_fresh(ctx, board)[j]:
            detail += "; handed off once that copy is up to date"
        remove(ctx, board, j, Reason.REBALANCE, move.value_ms, detail)
        add(ctx, board, c, Reason.PREDICTED, move.value_ms, f"moved from {ctx.names[j]}: {saves}")


def _grace_slots_open(ctx: Context, board: Board) -> bool:
    """Whether copies wait for a grace slot to close (``spec.hold_grace_slots``).

    True while the board holds more copies than the reactive rule holds for demand now
    (``PlanInput.reactive_held``, at least ``min`` and the zone floor): one of them goes
    within a cooldown, so no copy is bought meanwhile by a move. Only where a step is
    shorter than the cooldown: a grace lasts at most a cooldown (the rule's grace is
    the cooldown), so with a step as long no slot open now is still open at the next
    plan - the trim closes it there whether or not a copy waited, and waiting would
    only hold every move back a whole step.
    """
    held = ctx.inputs.reactive_held
    spec = ctx.inputs.spec
    if not spec.hold_grace_slots or held is None or ctx.inputs.step_s >= spec.cooldown_s:
        return False
    return board.count > max(held, spec.min_replicas, ctx.target_zones)


def _evidence(ctx: Context, price: FloatArray) -> Evidence | None:
    """What a move must also find paying in the demand seen lately (None: nothing asked).

    The newest ``spec.move_persistence_s`` of history (at least a step), each target's
    copy (``price``, :func:`~.board.copy_price`) with the margin, the value window in
    steps (:class:`~.moves.Evidence`).
    """
    spec, step_s = ctx.inputs.spec, ctx.inputs.step_s
    if spec.move_persistence_s <= 0 or ctx.recent.shape[1] == 0:
        return None
    steps = min(max(1, round(spec.move_persistence_s / step_s)), ctx.recent.shape[1])
    newest = np.maximum(ctx.recent[:, ctx.recent.shape[1] - steps :], 0.0)
    return Evidence(newest, price * (1.0 + spec.hysteresis), ctx.window_s / step_s)


def _keep_and_promote(ctx: Context, board: Board) -> None:
    """Stage 9: a keep for every replica that stays, and a promotion if strong lost its leader."""
    spec = ctx.inputs.spec
    staying = [name for name in sorted(ctx.current) if name not in board.actions]
    if staying:
        loss_mean = losses(ctx, board, ctx.mean)
        loss_hedge = loss_mean if ctx.hedge is ctx.mean else losses(ctx, board, ctx.hedge)
        hold = holding(ctx, board)
        hold_hedge = hold if ctx.hedge is ctx.mean else holding(ctx, board, ctx.hedge)
        cooled = past_cooldown(ctx, board)
    for name in staying:
        i = ctx.index[name]
        replica = ctx.current[name]
        sync = SyncMode.NONE if replica.up_to_date else SyncMode.DELTA
        if name in ctx.inputs.consumer_nodes:
            reason, detail = Reason.CONSUMER, "a pod on this node uses the resource"
        elif loss_mean[i] >= hold[i]:
            reason, detail = Reason.PREDICTED, f"expected to save {loss_mean[i]:.0f} ms"
        elif loss_hedge[i] >= hold_hedge[i]:
            reason, detail = Reason.HEDGE, f"upper bound saves {loss_hedge[i]:.0f} ms"
        elif not cooled[i]:
            reason = replica.reason or Reason.PREDICTED
            detail = "within its cooldown"
        else:
            reason = replica.reason or Reason.MINIMUM
            detail = "needed for min, the zone floor or the last up-to-date copy, or in the margin"
        board.actions[name] = ReplicaAction(
            ActionKind.KEEP, name, reason, sync, float(loss_mean[i]), float(hold[i]), detail
        )
    if spec.consistency == "strong":
        _promote(ctx, board)


def _promote(ctx: Context, board: Board) -> None:
    """A strong resource whose leader is gone: the most advanced staying replica leads."""
    current = ctx.current
    staying = [
        current[n]
        for n in sorted(current)
        if board.actions[n].kind == ActionKind.KEEP and n not in board.kept_lost
    ]
    if not staying:
        board.notes.append("no existing replica can lead yet")
        return
    if any(r.role == "leader" for r in staying):
        return
    chosen = max(staying, key=lambda r: (r.up_to_date, r.progress, [-ord(c) for c in r.node]))
    board.actions[chosen.node] = ReplicaAction(
        ActionKind.PROMOTE,
        chosen.node,
        Reason.FAILOVER,
        detail=f"leader gone; most advanced replica (progress {chosen.progress})",
    )
