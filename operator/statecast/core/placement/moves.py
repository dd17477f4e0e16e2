"""Moving a replica: when taking one away and placing it elsewhere saves latency.

Demand may move while the number of replicas should not change (at ``min``, at
``max``, or when a new replica would not pay for its holding): the best move takes the
replica off one holder and puts one on a candidate, chosen together so that the
latency saved (the candidate's gain without that holder, less the holder's loss) is
largest. A move changes no holding cost, so the planner makes it when the latency it
saves beats the copy, by the margin.

Over how long? The forecast prices the value window; a copy that moves stays as long
as the demand that drew it does, which the forecast does not see. So a move is priced
over the demand's expected residence: as long again as the demand has already stayed
as it is now (the median remaining life of a stay seen at a random moment of it, under
no assumption about its length), and never less than the window. "Stayed as it is
now": over the newest stretch of observed demand (:func:`stay_ladder`), and over every
newer one, the move would have saved what the forecast says it saves from now on,
within the deviation threshold. Demand that alternates between nodes has stayed one
phase, and a forecast that says the demand is fading (or much higher than it was) is
not the demand staying: neither earns more than the window.

Nor does a move go against the demand just seen on a forecast that has just been wrong
about its target: with a stay to read (any history), a move that would have cost
latency over the newest observed step - the demand the source's copy served there
outweighs what the target's would have - bets the copy on the forecast reversing what
was just observed. It is not made when, in one of the newest ``change_steps`` steps,
the forecast said more demand at the target than came, by more than the deviation
threshold (the target is *doubtful*; every target is when no forecast's record is
given): a daily season still forecasting yesterday's demand on the node it left
(generated-15 moved its only copy back to that node, which read nothing, away from the
node reading thousands an hour, and back again three hours later). A forecast that
has been right about the target (a consumer pod that just arrived, a season that holds)
still moves ahead of the demand. A move toward a node that has just started reading,
or from one that has gone quiet, is not against the newest step; a move from quiet to
quiet (anticipation) is not either.

With ``PlacementSpec.move_persistence_s`` a move also asks the demand seen lately to
agree (:class:`Evidence`): made as many steps ago as its copy takes to repay at the
forecast's rate, it would have repaid it since. Off by default: it moves far fewer
bytes where the second copy flips between nodes of similar, noisy demand (drift), and
costs local hits where the forecast was right ahead of the demand (docs/placement-history.md,
"Session 12, bytes").

The copy is the only price a move pays, and the margin is on it: where a step's reads
are worth far more than a copy (busy nodes, small states), two nodes of similar demand
trade the copy back and forth on every wobble of their forecasts, each move saving a
little more than the copy and neither keeping it. With ``PlacementSpec.move_ratio`` the
reads a move serves faster must also outweigh the reads it serves slower by that ratio
(each weighted by its latency change, at the forecast over the value window): a margin
on the two sides a move trades, as the add and remove gates put theirs on the two sides
they compare, and as follow-the-workload moves a lease only to a node reading twice as
much as the lease's (docs/placement-history.md, "Session 13, bytes").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.intp]


@dataclass(frozen=True)
class Evidence:
    """What a move must also have saved at the demand seen lately (move persistence).

    A move's copy is repaid, at the forecast's rate over its credited stay, in some
    number of steps, its *payback*: the move is made only where, had it been made that
    many steps ago (at least one, at most the newest ``recent`` steps), it would have
    saved at the rate seen since what repays the copy over the same stay. A move that
    repays within a step needs only the newest step to agree with the forecast; a move
    the forecast needs hours to repay needs hours of demand behind it, as
    follow-the-workload moves a lease once its window of statistics says so. A noisy
    second-best node (generated drift: two nodes of similar demand, the copy flipping
    between them) does not pass; demand that has arrived does, at once where the copy
    is cheap (a warm one).

    Attributes:
        recent: shape (nodes, steps), the newest steps observed (oldest first): the
            longest evidence asked (``PlacementSpec.move_persistence_s``).
        price: per target, the least a move there must save over its stay (its copy,
            with the margin).
        window_steps: steps in the value window.
    """

    recent: FloatArray
    price: FloatArray
    window_steps: float

    def paid(self, lately: FloatArray, window: FloatArray, windows: FloatArray) -> BoolArray:
        """Per (source, target): whether the demand seen over its payback repays its copy.

        Args:
            lately: shape (steps, sources, targets), what each move would have saved in
                each of the newest steps (newest first).
            window: shape (sources, targets), what it saves over the value window at
                the forecast.
            windows: shape (sources, targets), the value windows its value is credited
                over (at least 1).
        """
        stay = windows * self.window_steps  # steps
        rate = np.maximum(window, 1e-12) / self.window_steps  # the forecast's saving a step
        payback = self.price[None, :] / (rate * windows)  # steps to repay the copy
        steps = np.clip(np.ceil(payback), 1, lately.shape[0]).astype(np.intp)
        total = np.take_along_axis(np.cumsum(lately, axis=0), (steps - 1)[None], axis=0)[0]
        return np.asarray(total / steps * stay > self.price[None, :], dtype=np.bool_)


@dataclass(frozen=True)
class Move:
    """Take the replica off ``source`` and put one on ``target``, saving ``value_ms``.

    ``value_ms`` is the forecast's saving over the value window (``window_ms``) plus
    the credit of the demand's stay (``stayed_windows`` value windows of observed
    demand; 0 when none is credited).
    """

    source: int
    target: int
    value_ms: float
    window_ms: float = 0.0
    stayed_windows: float = 0.0


def stay_ladder(
    recent: FloatArray, step_s: float, window_s: float, bound_s: float | None
) -> tuple[FloatArray, FloatArray]:
    """The observed demand per node over the newest 1, 2, 4, ... steps, and their lengths.

    Args:
        recent: shape (nodes, steps), accesses per step (oldest first).
        step_s: seconds per step.
        window_s: the value window (the lengths are returned in windows).
        bound_s: the longest stretch credited (None: all of ``recent``; 0: none).

    Returns:
        (demand, windows): shape (stretches, nodes) the accesses per node summed over
        each stretch, and shape (stretches,) each stretch's length in value windows
        (the whole history is the last stretch). Empty when nothing is credited.
    """
    steps = recent.shape[1]
    if bound_s is not None:
        steps = min(steps, int(bound_s // step_s))
    if steps <= 0:
        return np.zeros((0, recent.shape[0])), np.zeros(0)
    lengths = sorted({*(1 << k for k in range(steps.bit_length()) if 1 << k <= steps), steps})
    # Sums over the segments between the lengths (newest first), then running totals:
    # one pass over the history, no copy of it (a day of 10-s steps is 8,640 columns).
    newest = recent[:, recent.shape[1] - steps :]
    if newest.size and newest.min() < 0.0:
        newest = np.maximum(newest, 0.0)
    starts = steps - np.asarray(lengths, dtype=np.intp)  # oldest column of each stretch
    cuts = np.concatenate([starts[::-1], [steps]])  # ascending segment bounds
    parts = np.add.reduceat(newest, cuts[:-1], axis=1)[:, ::-1]  # newest segment first
    sums = np.cumsum(parts, axis=1)
    return np.ascontiguousarray(sums.T), np.asarray(lengths, float) * step_s / window_s


def best_move(
    matrix: FloatArray,
    holders: BoolArray,
    demand: FloatArray,
    *,
    movable: BoolArray,
    targets: BoolArray,
    zone_id: IntArray,
    min_zones: int,
    no_replica_ms: float,
    stayed: tuple[FloatArray, FloatArray] | None = None,
    tolerance: float = 0.5,
    copy: FloatArray | None = None,
    doubtful: BoolArray | None = None,
    evidence: Evidence | None = None,
    ratio: float = 0.0,
) -> Move | None:
    """The move that saves most latency, or None when none is possible.

    Every (holder, candidate) pair at once: without holder ``j`` each node falls back to
    its second-nearest holder where ``j`` was its nearest (to the source of truth when
    ``j`` was the only one). A pair's value is its saving over the value window at the
    forecast, ``V``, times the windows the demand is expected to stay, ``max(1, s)``:
    ``s`` the windows it has stayed as it is now (:func:`_stay`: the longest newest
    stretch over which, and over every newer one, the move would have saved ``V`` a
    window within ``tolerance``), when ``stayed`` is given; ``V`` alone else. With
    ``stayed``, a pair that would have cost latency over the newest observed step is
    not a move where its target is ``doubtful`` (every target when None: the forecast
    has just said more demand there than came; see the module).

    Args:
        matrix: node-to-node latency.
        holders: nodes holding a serving replica.
        demand: expected accesses per node over the window.
        movable: holders that may give up their replica.
        targets: nodes that may receive one.
        zone_id: zone of each node, as an integer.
        min_zones: zones that must stay covered after the move (the durability floor).
        no_replica_ms: latency when nothing serves.
        stayed: the observed demand over the newest stretches and their lengths in
            value windows (:func:`stay_ladder`), or None: the window alone.
        tolerance: relative difference between a stretch's saving and the forecast's
            that still counts as the demand staying as it is (the planner passes the
            deviation threshold: a larger miss counts as the forecast being wrong).
        copy: per node, the cost of a copy there (ms), where copies differ (a warm
            copy): the move chosen is the one that saves most beyond its copy. None:
            every copy costs the same (the choice is the largest saving).
        doubtful: per node, whether the forecast has just said more demand there than
            came (:func:`~statecast.core.placement.board.overclaimed`); None: every
            node is.
        evidence: the demand seen lately a move must also find paying (:class:`Evidence`;
            ``PlacementSpec.move_persistence_s``). None: the forecast alone.
        ratio: the reads a move serves faster must outweigh those it serves slower by
            more than this ratio, at the forecast over the value window, each weighted
            by its latency change (``PlacementSpec.move_ratio``, :func:`_outweighs`); 0:
            the saving beyond the copy decides alone.
    """
    options = targets & ~holders
    sources = np.flatnonzero(movable & holders)
    if not options.any() or len(sources) == 0:
        return None
    held = np.flatnonzero(holders)
    sub = matrix[:, held]
    order = np.argsort(sub, axis=1, kind="stable")
    rows = np.arange(matrix.shape[0])
    first = sub[rows, order[:, 0]]
    second = sub[rows, order[:, 1]] if len(held) > 1 else np.full(len(rows), no_replica_ms)
    nearest = held[order[:, 0]]
    seen = 0 if evidence is None else evidence.recent.shape[1]  # newest step first below
    stack = [demand[None, :]] if evidence is None else [demand[None, :], evidence.recent[:, ::-1].T]
    demands = np.vstack(stack if stayed is None else [*stack, stayed[0]])
    # Latency of every node once each source is gone: (sources, nodes).
    without = np.where(nearest[None, :] == sources[:, None], second[None, :], first[None, :])
    loss = (without - first[None, :]) @ demands.T  # (sources, demands)
    saved = np.maximum(without[:, :, None] - matrix[None, :, :], 0.0)  # (sources, i, c)
    gain = np.tensordot(demands, saved, axes=([1], [1]))  # (demands, sources, c)
    values = gain - loss.T[:, :, None]
    window = values[0]
    lately = values[1 : 1 + seen]  # what the move would have saved in each newest step
    values = np.concatenate([values[:1], values[1 + seen :]])  # the forecast, the ladder
    length = np.zeros_like(window)
    against = np.zeros(window.shape, dtype=np.bool_)
    if stayed is not None and len(stayed[1]):
        length = _stay(values[1:], window, stayed[1], tolerance)
        against = values[1] < -1e-9  # over the newest step it would have cost latency
        if doubtful is not None:
            against &= doubtful[None, :]
    credit = window * np.maximum(length - 1.0, 0.0)  # beyond the window the forecast prices
    # The floor: a source whose zone would go uncovered below it may only move to a
    # zone without a copy (its own zone included, as it will have none).
    per_zone = np.bincount(zone_id[held], minlength=int(zone_id.max()) + 1)
    uncover = (per_zone[zone_id[sources]] == 1) & (np.count_nonzero(per_zone) - 1 < min_zones)
    restricted = (per_zone[zone_id] == 0)[None, :] | (zone_id[None, :] == zone_id[sources][:, None])
    allowed = options[None, :] & (restricted | ~uncover[:, None]) & ~against
    if evidence is not None and seen:
        allowed &= evidence.paid(lately, window, np.maximum(length, 1.0))
    if ratio > 0:
        allowed &= _outweighs(matrix, first, without, demand, ratio)
    value = np.where(allowed, window + credit, -np.inf)
    net = value if copy is None else value - copy[None, :]
    k, c = divmod(int(np.argmax(net)), value.shape[1])
    if not np.isfinite(value[k, c]):
        return None
    stay = float(length[k, c]) if credit[k, c] > 0 else 0.0
    return Move(int(sources[k]), int(c), float(value[k, c]), float(window[k, c]), stay)


def _outweighs(
    matrix: FloatArray, first: FloatArray, without: FloatArray, demand: FloatArray, ratio: float
) -> BoolArray:
    """Per (source, target): whether the reads served faster outweigh the slower by ``ratio``.

    Each read is weighted by its latency change: the reads whose nearest copy comes
    closer (the target's, mostly) against those whose nearest copy goes farther (the
    source's), follow-the-workload's test of one node's reads against another's, for
    any number of copies and zones.
    """
    after = np.minimum(without[:, :, None], matrix[None, :, :])  # (sources, nodes, targets)
    change = first[None, :, None] - after  # > 0: served faster
    faster = np.einsum("n,snc->sc", demand, np.maximum(change, 0.0))
    slower = np.einsum("n,snc->sc", demand, np.maximum(-change, 0.0))
    return np.asarray(faster > (1.0 + ratio) * slower, dtype=np.bool_)


def _stay(
    past: FloatArray, window: FloatArray, windows: FloatArray, tolerance: float
) -> FloatArray:
    """Per (source, candidate), how many value windows the demand has stayed as it is now.

    The longest of the newest stretches such that over it, and over every shorter one,
    the move would have saved what the forecast says it saves from now on, within
    ``tolerance`` of it either way (the forecast's rate times the stretch's length); 0
    where even the newest step does not, or the forecast says the move saves nothing.

    Args:
        past: shape (stretches, sources, candidates), what the move would have saved
            over each stretch, shortest first.
        window: shape (sources, candidates), what it saves over the value window at
            the forecast.
        windows: shape (stretches,), each stretch's length in value windows.
        tolerance: the relative difference that still counts as the same demand.
    """
    expect = window[None, :, :] * windows[:, None, None]
    same = (np.abs(past - expect) <= tolerance * expect) & (window > 0)[None, :, :]
    held = np.cumprod(same, axis=0).sum(axis=0)  # stretches in a row, shortest first
    return np.where(held > 0, windows[np.maximum(held - 1, 0)], 0.0)


def add_stay(
    matrix: FloatArray,
    current: FloatArray,
    window: FloatArray,
    stayed: tuple[FloatArray, FloatArray],
    tolerance: float,
) -> FloatArray:
    """Per node, the value windows a new copy there is expected to serve, at least 1.

    The rule moves are priced by (:func:`best_move`), for an add: as long again as the
    node's demand has stayed as it is now, the longest newest stretch over which (and
    over every newer one) a copy on the node would have saved, at today's holders,
    what the forecast says it saves a window from now on, within ``tolerance``; one
    window where none does (the forecast's window alone, as without history).

    Args:
        matrix: node-to-node latency.
        current: latency each node sees now (at the board's holders).
        window: per node, what a copy there saves over the value window at the forecast.
        stayed: the observed demand over the newest stretches and their lengths in
            value windows (:func:`stay_ladder`).
        tolerance: the relative difference that still counts as the same demand.
    """
    demand, windows = stayed
    if len(windows) == 0:
        return np.ones(len(window))
    saved = np.maximum(current[:, None] - matrix, 0.0)
    past = (demand @ saved)[:, None, :]  # (stretches, 1, nodes)
    length = _stay(past, window[None, :], windows, tolerance)[0]
    return np.asarray(np.maximum(length, 1.0), dtype=np.float64)
