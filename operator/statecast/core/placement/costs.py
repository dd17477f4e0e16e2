"""The objective's terms: latency between nodes, latency saved, bytes stored and moved."""

from __future__ import annotations

import functools

import numpy as np
import numpy.typing as npt

from statecast.core.placement.types import GIB, CostModel, LatencyModel, StateProfile

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@functools.lru_cache(maxsize=64)
def latency_matrix(zones: tuple[str, ...], latency: LatencyModel) -> FloatArray:
    """Latency from node i (row) to a replica on node j (column), by zone.

    The diagonal is the local latency; other entries come from :meth:`LatencyModel.between`.
    Cached by (zones, latency); the returned array is read-only.
    """
    names = sorted(set(zones))
    index = {z: i for i, z in enumerate(names)}
    by_zone = np.array([[latency.between(a, b) for b in names] for a in names], dtype=np.float64)
    idx = np.array([index[z] for z in zones], dtype=np.intp)
    matrix = by_zone[np.ix_(idx, idx)] if len(idx) else np.zeros((0, 0))
    np.fill_diagonal(matrix, latency.local_ms)
    matrix.flags.writeable = False
    return matrix


def serving_latency(matrix: FloatArray, holders: BoolArray, no_replica_ms: float) -> FloatArray:
    """Latency each node sees given the nodes that hold a serving replica."""
    if not holders.any():
        return np.full(matrix.shape[0], no_replica_ms)
    return np.asarray(matrix[:, holders].min(axis=1), dtype=np.float64)


def gain_of_adding(matrix: FloatArray, current: FloatArray, demand: FloatArray) -> FloatArray:
    """Latency saved (ms over the horizon) by adding a replica on each node.

    Args:
        matrix: node-to-node latency (see :func:`latency_matrix`).
        current: latency each node sees now (see :func:`serving_latency`).
        demand: accesses each node is expected to make over the horizon.

    Returns:
        One entry per candidate node (column of ``matrix``).
    """
    saved = np.maximum(current[:, None] - matrix, 0.0)
    return np.asarray(demand @ saved, dtype=np.float64)


def loss_of_removing(
    matrix: FloatArray, holders: BoolArray, demand: FloatArray, no_replica_ms: float
) -> FloatArray:
    """Latency lost (ms over the horizon) by removing each holder; 0 for non-holders.

    Removing holder j only hurts the nodes for which j is the nearest holder: they fall
    back to their second-nearest (or to the source when j was the only one).
    """
    loss = np.zeros(matrix.shape[0])
    columns = np.flatnonzero(holders)
    if len(columns) == 0:
        return loss
    sub = matrix[:, columns]
    if len(columns) == 1:
        loss[columns[0]] = float(demand @ (no_replica_ms - sub[:, 0]))
        return loss
    order = np.argsort(sub, axis=1, kind="stable")
    rows = np.arange(sub.shape[0])
    first = sub[rows, order[:, 0]]
    second = sub[rows, order[:, 1]]
    loss[columns] = np.bincount(
        order[:, 0], weights=demand * (second - first), minlength=len(columns)
    )
    return loss


def unpaid_holding(
    matrix: FloatArray,
    holders: BoolArray,
    recent: FloatArray,
    hold_per_step: float | FloatArray,
    no_replica_ms: float,
) -> FloatArray:
    """The most each holder's copy cost beyond what it saved, over any recent stretch.

    For every holder ``j`` and every stretch of the last ``L`` steps (``L`` = 1 ..
    ``recent``'s columns): holding over the stretch less the latency ``j`` saved in it
    (the reads of the nodes it is nearest to, each saving the gap to their next-nearest
    holder, or to the source when ``j`` is the only one), at the current holders. The
    largest over ``L``; 0 for non-holders and without history.

    Args:
        matrix: node-to-node latency.
        holders: nodes holding a serving replica.
        recent: accesses per node (rows) in each of the last steps (columns, oldest first).
        hold_per_step: cost of holding one copy for one step (ms), or per node.
        no_replica_ms: latency when nothing serves.
    """
    unpaid = np.zeros(matrix.shape[0])
    columns, deficit = _deficits(matrix, holders, recent, hold_per_step, no_replica_ms)
    if len(columns):
        unpaid[columns] = np.maximum(deficit.max(axis=1), 0.0)
    return unpaid


def unpaid_beyond(
    matrix: FloatArray,
    holders: BoolArray,
    recent: FloatArray,
    hold_per_step: float | FloatArray,
    no_replica_ms: float,
    price: FloatArray,
) -> FloatArray:
    """The most each holder's copy cost beyond what it saved and a price, over any stretch.

    :func:`unpaid_holding` less ``price[L - 1]`` for the stretch of the newest ``L``
    steps, the largest over ``L`` (``-inf`` for non-holders and without history): a
    holder whose value is below 0 has not yet, over any stretch, cost what its price
    for that stretch is. With one price for every stretch this is
    ``unpaid_holding - price`` wherever the unpaid holding is above 0.

    Args:
        matrix: node-to-node latency.
        holders: nodes holding a serving replica.
        recent: accesses per node (rows) in each of the last steps (columns, oldest first).
        hold_per_step: cost of holding one copy for one step (ms), or per node.
        no_replica_ms: latency when nothing serves.
        price: shape (steps,), the price a stretch of ``L`` steps is weighed against
            (the newest stretch first).
    """
    beyond = np.full(matrix.shape[0], -np.inf)
    columns, deficit = _deficits(matrix, holders, recent, hold_per_step, no_replica_ms)
    if len(columns):
        beyond[columns] = (deficit - price[None, : deficit.shape[1]]).max(axis=1)
    return beyond


def _deficits(
    matrix: FloatArray,
    holders: BoolArray,
    recent: FloatArray,
    hold_per_step: float | FloatArray,
    no_replica_ms: float,
) -> tuple[npt.NDArray[np.intp], FloatArray]:
    """The holders, and what each cost beyond what it saved over the newest 1, 2, ... steps."""
    n = matrix.shape[0]
    columns, saved = saved_by_step(matrix, holders, recent, no_replica_ms)
    if len(columns) == 0 or recent.shape[1] == 0:
        return columns[:0], np.zeros((0, recent.shape[1]))
    hold = np.broadcast_to(np.asarray(hold_per_step, dtype=np.float64), (n,))[columns]
    deficit = np.cumsum((hold[:, None] - saved)[:, ::-1], axis=1)  # newest stretch first
    return columns, deficit


def saved_by_step(
    matrix: FloatArray, holders: BoolArray, recent: FloatArray, no_replica_ms: float
) -> tuple[npt.NDArray[np.intp], FloatArray]:
    """The holders, and the latency each one's copy saved in each of the recent steps.

    Row ``k`` is holder ``columns[k]``: the reads (``recent``, nodes by steps, oldest
    first) of the nodes it is nearest to, each saving the gap to their next-nearest
    holder (to the source where it is the only one), at the current holders.
    """
    n = matrix.shape[0]
    columns = np.flatnonzero(holders)
    if len(columns) == 0 or recent.shape[1] == 0:
        return columns, np.zeros((len(columns), recent.shape[1]))
    sub = matrix[:, columns]
    order = np.argsort(sub, axis=1, kind="stable")
    rows = np.arange(n)
    first = sub[rows, order[:, 0]]
    second = sub[rows, order[:, 1]] if len(columns) > 1 else np.full(n, no_replica_ms)
    nearest = np.zeros((len(columns), n))
    nearest[order[:, 0], rows] = second - first
    return columns, np.asarray(nearest @ recent, dtype=np.float64)  # (holders, steps)


def sync_bytes_per_hour(state: StateProfile, replicas: int) -> float:
    """Bytes the write stream moves per hour to keep ``replicas`` copies in sync."""
    return state.writes_per_min * 60.0 * state.bytes_per_write * replicas


def copy_outlasts_stream(state: StateProfile, days: float) -> bool:
    """Whether a full copy of ``state`` moves at least ``days`` of one replica's stream.

    ``PlacementSpec.everywhere_copy_days``'s test; False when ``days`` is 0 (off). A
    resource never written qualifies at any positive ``days``.
    """
    if days <= 0:
        return False
    per_day = sync_bytes_per_hour(state, 1) * 24.0
    return state.bytes >= days * per_day


def holding_cost(state: StateProfile, costs: CostModel, hours: float, weight: float) -> float:
    """Cost (ms) of holding one replica for ``hours``: its bytes stored and its sync stream."""
    stored = state.bytes / GIB * hours * costs.ms_per_gib_hour
    synced = sync_bytes_per_hour(state, 1) / GIB * hours * costs.ms_per_gib_moved
    return weight * (stored + synced)


def hot_threshold(demand: FloatArray, ready: BoolArray, k_sigma: float) -> float:
    """The mean plus ``k_sigma`` standard deviations of the ready nodes' demand (0: none)."""
    if not ready.any():
        return 0.0
    ready_demand = demand[ready]
    return float(ready_demand.mean() + k_sigma * ready_demand.std())


def own_gap(matrix: FloatArray, serving: BoolArray, ready: BoolArray) -> FloatArray:
    """Per node, the latency a local copy saves its reads over where they are served now.

    The nearest serving replica on another node (the farthest ready node where no other
    node serves), less the local latency: the same-zone gap of the node's zone in a zone
    that holds a copy, the cross-zone gap (with the model's per zone-pair overrides) in
    one that does not. 0 for a node alone in the cluster.
    """
    n = matrix.shape[0]
    if n == 0:
        return np.zeros(0)
    local = np.diagonal(matrix)
    others = ~np.eye(n, dtype=np.bool_)
    held = serving[None, :] & others
    farthest = np.where(ready[None, :] & others, matrix, -np.inf).max(axis=1)
    nearest = np.where(held, matrix, np.inf).min(axis=1)
    seen = np.where(held.any(axis=1), nearest, farthest)
    return np.asarray(np.maximum(np.where(np.isfinite(seen), seen, local) - local, 0.0))


def demand_holding_floor(gap: FloatArray, hot_reads: float, weight: float) -> FloatArray:
    """The demand-relative floor of holding a replica on each node over the window (ms).

    What a local copy would save the node's reads (``gap``, see :func:`own_gap`) were it
    reading ``hot_reads`` times over the window: the hot threshold (the cluster's
    active pairs' mean rate plus ``CostModel.hot_sigma`` deviations, times the window;
    or :func:`hot_threshold` of the resource's own ready nodes). The latency a copy
    saves is the demand it serves weighted by the gap each read saves, so a copy pays
    for its holding where the demand it serves beats a hot node's by the add gate's
    margin: a node of a zone with a copy when it is itself hotter than the threshold,
    the first copy of a zone when the zone's reads together are. The number of copies
    beyond ``min`` then follows the shape of the demand, as reactive replication's hot
    set does (the same statistic), not its volume, where a price per GiB-hour alone
    holds a copy on every node of a busy resource and on none of a quiet one.

    Args:
        gap: per node, the latency a local copy saves a read there (:func:`own_gap`).
        hot_reads: a hot node's reads over the window.
        weight: the cost weight (the self-tuner's knob).
    """
    return np.asarray(weight * gap * max(hot_reads, 0.0))


def copy_cost(state: StateProfile, costs: CostModel, weight: float, full: bool = True) -> float:
    """Cost (ms) of creating a replica: a full copy, or a tenth of it for a delta sync."""
    moved = state.bytes if full else state.bytes / 10.0
    return weight * moved / GIB * costs.ms_per_gib_moved
