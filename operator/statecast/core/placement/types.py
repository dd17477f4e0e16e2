"""Input and output types of the placement planner (frozen, filled by the caller)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
GIB = float(2**30)


class PlacementError(ValueError):
    """An input the planner cannot plan for (shapes, duplicate nodes, min > max)."""


class Reason(StrEnum):
    """Why a replica is added, kept, removed or promoted (reaches status, Events, metrics).

    ``everywhere``: a copy of a resource held on every ready node
    (``PlacementSpec.everywhere_copy_days``; before session 25 such copies said ``minimum``).
    """

    MINIMUM = "minimum"
    PREDICTED = "predicted"
    HEDGE = "hedge"
    CONSUMER = "consumer"
    FAILOVER = "failover"
    REBALANCE = "rebalance"
    COST = "cost"
    EVERYWHERE = "everywhere"


class ActionKind(StrEnum):
    """What the operator should do with a replica."""

    ADD = "add"
    REMOVE = "remove"
    KEEP = "keep"
    PROMOTE = "promote"


class SyncMode(StrEnum):
    """How a new replica gets its state: a full copy, a delta on a stale copy, or none."""

    FULL = "full"
    DELTA = "delta"
    NONE = "none"


@dataclass(frozen=True)
class PlacementSpec:
    """The placement-related fields of a ``SharedResource`` spec.

    Attributes:
        min_replicas: durability floor (``replicas.min``).
        max_replicas: ceiling (``replicas.max``); None means one per ready node.
        spread_across: the topology label replicas spread over (informational here:
            :class:`NodeInfo.zone` already holds that label's value).
        deviation_threshold: relative miss of the last forecast above which a node's
            forecast counts as wrong (``replication.thresholds.deviation``).
        confidence_threshold: forecast confidence below which a node is uncertain
            (``replication.thresholds.confidence``).
        cooldown_s: a replica younger than this is never removed for cost.
        budget_bytes_stored: most bytes all replicas may hold together, or None.
        budget_bytes_moved_per_hour: most bytes copies and sync may move per hour, or None.
        consistency: ``eventual`` or ``strong`` (strong resources get a leader).
        cost_weight: multiplies every cost; the self-tuner adjusts it.
        hysteresis: relative margin between the add and the remove gate.
        change_steps: a node whose demand fell short of what its forecast said by more
            than ``deviation_threshold`` in each of this many newest steps in a row has
            changed (its demand moved away): the planner believes the level of those
            steps instead of the forecast (0: never). See
            :func:`~statecast.core.placement.board.demand_moved`.
        move_residence_s: the longest stay of demand a move is priced over: a move
            saves at the forecast's rate for as long again as the demand has stayed
            as it is now, at least the value window, the stay read from at most this
            much of the newest observed demand (``DemandForecast.recent``;
            :func:`~statecast.core.placement.moves.best_move`). None: all the history
            given (the operator and the simulator give a day); 0: the value window
            alone (session 9's gate, under which copies at ``min`` never moved within
            a zone when a move paid back over two windows or more). Adds are priced
            over the same stay (:func:`~statecast.core.placement.moves.add_stay`): a
            copy's bytes against what it saves for as long as its node's demand is
            expected to stay, its holding over that stay too.
        fill_priced: the copies the planner adds up to the reactive rule's count
            (:attr:`PlanInput.reactive_copies`) beyond what the prices pay for must
            still save, over their node's expected stay, more than their copy costs
            (their holding is that count's, as reactive replication's is). False (the
            default): they are added whatever the copy costs, as in session 10 (priced,
            the default run moved 6 % fewer bytes on the 58 published traces but held
            5 points fewer local hits on an unseen one, generated-701; docs/placement.md).
        hand_off_on_add: in a plan that adds a copy (a consumer's, the minimum's, the
            zone floor's), the only up-to-date copy may go for cost like any other, by
            a hand-off: the executor (the operator's
            :func:`~statecast.core.replica_set.hand_off`, the simulator's replay) removes
            it only once the added copies are up to date, as it does for a move. Not
            while existing copies are still syncing. False: it stays until the next plan
            (session 10's rule; the sweep's grid keeps it).
        move_persistence_s: the longest evidence a move asks of the demand seen lately
            (:class:`~statecast.core.placement.moves.Evidence`): a move is made only
            where, made as many steps ago as its copy takes to repay at the forecast's
            rate (at least one, at most this), it would have repaid it at the demand
            seen since, by the same margin over the same stay: the forecast's demand at
            the target has persisted, as follow-the-workload's window of statistics
            must say so before it moves a lease. A cheap (warm) copy asks the newest
            step only. 0 (the default): the forecast alone (every earlier run); no
            history given: the forecast alone.
        floor_window_s: where the copies sit while the plan holds ``min`` of them (the
            floor: the moves, the minimum's and the zone floor's copies) is judged on
            each node's mean rate over the newest this-many seconds of observed demand
            (``DemandForecast.recent``) and the forecast's horizon, instead of the
            forecast alone (raised to the newest step where it missed by far): at a few
            reads a step the forecast and one step are count noise, and the copy at
            ``min`` chased it, where reactive replication and follow-the-workload hold
            it on the node with the most reads over their window
            (:func:`~statecast.core.placement.board.window_demand`). Above ``min`` the
            forecast's belief decides as before. 0 (the default): the forecast's belief
            everywhere (every earlier run).
        move_ratio: the reads a move serves faster (its target's, mostly) must outweigh
            the reads it serves slower (its source's) by more than this ratio, each
            weighted by its latency change, at the forecast over the value window - not
            only save more than the copy (:func:`~statecast.core.placement.moves.best_move`):
            a margin on the two sides a move trades, as follow-the-workload moves a lease
            only to a node reading twice as much (1.0). Where a step's reads are worth far
            more than a copy, two nodes of similar demand otherwise trade the copy back
            and forth on every wobble of the forecast (the largest cause of the bytes we
            moved beyond reactive replication and follow-the-workload; docs/placement-history.md,
            "Session 13, bytes"). 0 (the default): the copy alone (every earlier run).
        copy_floor: with the demand-relative prices (``CostModel.hot_sigma``), a new
            copy (an add's, a move's, a priced fill's) costs at least what holding it on
            its node through one cooldown costs
            (:func:`~statecast.core.placement.board.copy_price`), not only its bytes: a
            copy stays at least its cooldown, and renting against buying in the holding
            price's terms a copy is worth that much holding. Priced at its bytes alone
            (2,000 ms a GiB) a copy cost 10-10^5 times less than the reads it served, and
            the default run moved copies away and back on every shift of the forecast.
            False (the default): the bytes alone. On, the default run moved fewer bytes
            on most traces but served worse on traces it was not designed on (held-out
            and fresh seeds: up to 3.7 points of local hits and 12.7 % of latency;
            docs/placement-history.md, "Session 15, copy floor"), and it holds a copy at ``min``
            away from concentrated demand the byte price moves it to: a knob and a run
            of the benchmark beside the default, not the default. The byte prices alone
            (``hot_sigma`` None) keep their own copy price either way.
        hold_grace_slots: with a reactive budget, no copy moves while the plan holds
            more copies than the reactive rule holds for demand now
            (:attr:`PlanInput.reactive_held`, at least ``min`` and the zone floor): the
            rest of the budget is copies the rule keeps only through their grace, which
            close within a cooldown, and a copy moved then is bought for a slot that is
            about to go - the trim drops a copy when it closes, and the next slot buys
            one back (session 15: 30 % of the default's copy bytes were copies back to a
            node the trim had emptied less than an hour before). The copies wait where
            they are, as reactive replication's grace copies do. Only where a step
            (``PlanInput.step_s``, a plan each step) is shorter than the cooldown, the
            rule's grace: with a step as long no slot open now is still open at the
            next plan, and waiting would hold every move back a whole step (session 16:
            on hourly steps session 15's rule cost up to 3.5 points of local hits for
            no bytes). True (the default since session 16: fewer bytes where pods and
            graces come and go, service within the margins on every trace, unchanged
            on the held-out and fresh seeds); without ``reactive_held`` it does nothing.
            docs/placement-history.md, "Session 15, grace slots"; docs/placement.md, "Session 16".
        cooldown_from_read: a copy's cooldown also counts from the newest step whose
            reads paid for holding it (the latency its copy saved in that step, at the
            current copies, at least a step's holding: with the demand-relative prices,
            a step its node read at about the reactive rule's hot threshold), not only
            from its creation: it is neither removed for cost nor moved until it has
            gone a cooldown without such a step (:func:`~.board.past_cooldown`), as
            reactive replication keeps a copy for its grace after its pair was last
            hot. Without history (``DemandForecast.recent``) the age alone decides.
            False (the default): the cooldown counts from creation alone.
        release_pod_copies: with a reactive budget, a copy on a node whose consumer
            pod left lately (:attr:`PlanInput.consumers_left`) is judged for cost at
            once, within the reactive rule's count and its break-even (the reads both
            weigh were the pod's); the count's slot is filled where the forecast says
            the demand is. The count holds such a copy a window of the pod's heat and
            then its grace: an hour after the pod left at hourly steps
            (generated-23). False: kept as the count holds it.
        trim_in_reactive_order: with a reactive budget, the trim to the reactive rule's
            count drops first the copies that rule does not hold now
            (:attr:`PlanInput.reactive_nodes`), then the least loss as before: the rule
            drops a copy once its pair has been cold for its grace, and the count falls
            by that copy; trimmed by the forecast's loss alone another copy went, and
            came back when the rule's count rose again for its node (session 20:
            generated-26 at reactive's count, 822 copies against the rule's 725).
            False (the default): the least loss alone; without ``reactive_nodes`` it
            does nothing.
        fill_in_reactive_order: with a reactive budget, the copies that fill the plan
            up to the reactive rule's count (whatever they cost) go first to the nodes
            that rule holds a copy on now (:attr:`PlanInput.reactive_nodes`), then where
            the forecast's gain is highest as before: the rule copies to the node that
            read hot over its window, and where the forecast put the count's rise on
            another node, the rule's node was copied to later as well (session 23:
            generated-04 at reactive's count, k = 0 and a 12-step window, one 13 MB
            copy). The mirror of ``trim_in_reactive_order``. False (the default): by
            the forecast's gain alone; without ``reactive_nodes`` it does nothing.
        zone_floor: how many zones the copies cover at least, where the nodes allow
            (the zone floor); None (the default): ``min_replicas``, as ever. The
            simulator's runs that hold replicas beyond the trace's ``min`` (as
            follow-the-workload's ``+1`` .. ``+3`` do) keep the trace's ``min`` here.
        copy_weight: multiplies the price of a copy alone (its bytes at
            ``CostModel.ms_per_gib_moved``, times ``cost_weight``): what an add or a move
            must save, and what the break-even weighs a copy back at; the holding
            price, its write stream and its demand-relative floor are left as they are.
            The demand-relative prices hold the reactive rule's count whatever a copy
            costs, and at 2,000 ms a GiB a move within the count pays for itself with
            almost any latency it saves: on generated-04 at reactive's count (k = 1.5, a
            24-step grace) the default relocated the extra copies of a 12 MiB resource
            four times in the measured day (52 MB) where the rule's hot set never
            moved (session 21). 1 (the default): a copy at its bytes' price.
        everywhere_copy_days: a resource whose full copy moves at least as many bytes as
            this many days of one replica's write stream (``StateProfile``: its bytes
            against its writes a minute times their size; a resource never written
            qualifies at any value) is held on every ready node with room, up to
            ``max``, from the first plan on, and no cost stage removes those copies, as
            ``full`` holds it: such a copy is dearer to make again than to keep in sync
            for that long, and a copy already on every node is never made again when
            the demand moves or a node leaves (only when a node comes back or joins).
            The other resources are planned as before. Session 24 (gc24), against
            groupcache on seen generated-10: its hot caches hold a 180 MB resource
            written 3 times a minute (40.6 days of a replica's stream a copy) on every
            node, so the two node losses of the measured days cost it no copy, where
            our runs at its service copied that resource again after each loss; and on
            seen generated-05 its LRU's tie-break holds the two rarely written
            resources (14.7 and 49.9 days) everywhere. 0 (the default): off, every
            earlier run.
        everywhere_min_bytes: with ``everywhere_copy_days``, only a resource whose full
            copy is at least this many bytes is held on every node (the others are
            planned as before): of the rarely written resources, the largest first. A
            copy on every node costs the same replica-hours whatever its size, but each
            copy it spares (a consumer pod or the demand arriving on a node without
            one) saves its size, so per replica-hour the largest copies save the most
            bytes, and where every rarely written resource everywhere is over the
            budget the largest alone may fit. Session 25 (gc25), against groupcache on
            seen generated-38 (7 nodes, consumer pods on every node): its hot caches
            hold the 72 MB resource (a copy 32.5 days of its stream; 83 pod arrivals
            after the warm-up) on every node and the 36 MB one (242 days; 30 arrivals)
            on its owners and pods; the day count alone orders them the other way, and
            both everywhere is ``full``, over that run's replica-hours. 0 (the default):
            every resource the day count selects, every earlier run.
        floor_observed_only: with ``floor_window_s``, the floor's demand is each node's
            reads over that window of observed demand alone, the forecast's horizon left
            out (:func:`~statecast.core.placement.board.window_demand`), as
            follow-the-workload's statistics window is: its lease follows the reads
            already seen, where the window blended with the horizon still weighed the
            forecast's demand on the node the demand had just left (a daily season
            repeating yesterday). On generated-15 (one 45 MB resource whose demand hops
            between nodes every two days, hourly steps) the floor at ``min`` + 2 with a
            3-step window and the forecast's horizon made 9 copies after the warm-up for
            83.9 % local, follow-the-workload's 1-step run 9 for 86.9 %, and the floor on
            the window alone 9 for 87.0 % (session 24). False (the default): the window
            and the horizon (every earlier run); without history the horizon alone.
        floor_in_zone_order: the copies at ``min`` go where the static baseline puts
            its fixed copies and stay there: up to ``min``, new zones first, then in the
            zone order (one node of each zone, zones by name, then the next of each,
            nodes by name, as :func:`statecast.sim.policies.zone_order`), not where the
            forecast gains most; and of the copies held, the ``min`` first in that
            order (new zones first) are never removed for cost nor moved. A copy on a
            lost node is replaced by the next in the order; consumers' copies and copies
            beyond ``min`` are planned as before. Where consumer pods and node losses
            fall independently of the demand, as in the scenario generator, a floor
            placed by the demand seen so far is no better than a fixed one, and a fixed
            one never moves (session 24: on generated-20 static's three fixed nodes
            drew 13 of the 52 pod arrivals after the warm-up, the uniform share, and
            static made 39 copies; our floor that never moves, placed by the demand,
            made 49, 12 of them to static's nodes). False (the default): the floor by
            the forecast's gain.
        swap_in_reactive_order: with a reactive budget, after the fill the plan's copies
            on nodes the reactive rule does not hold now move to the nodes it holds and
            the plan does not (:attr:`PlanInput.reactive_nodes`), one for one, whatever
            the copy costs: the rule moves within its count when a pair turns hot in
            the step another pair's grace ends (it copies to the hot node and drops the
            cold one), and a plan that follows the rule's count only where it rises or
            falls (``fill_in_reactive_order``, ``trim_in_reactive_order``) neither fills
            nor trims there (session 26: seen generated-09 at a 3-step window, k = 0
            and a 24-step grace, one such swap at step 414, the plan's copy 26 steps
            on the cold node). Never a copy a consumer pod or a floor keeps (protected,
            ``min``'s zones), nor the only up-to-date copy while others still sync. The
            sources go least loss first, the targets most gain first. False (the
            default): the count's copies move only as the forecast's moves pay.
        background_reads_per_hour: a copy, protected from the cost stages, on every
            ready node whose background reads are at least this many an hour, kept
            while they are at least half of it: a node's background is the mean of the
            quietest three quarters of its steps in the day of observed demand
            (``DemandForecast.recent``; :func:`~.board.background_rate`), so that a
            consumer pod's runs, a node's busiest steps, do not count. Groupcache's hot
            copies, chosen by the read rate instead of a coin: a node that reads a
            resource all day keeps a copy through its consumer pods' comings and
            goings, and one that reads it only while a pod runs there does not.
            Session 26 (gc26), against groupcache on seen generated-35 (70 nodes, one
            zone, three resources, consumer pods bringing 80 % of the reads to random
            nodes for 15 minutes to 3 hours): the steady 20 % of the reads are spread
            over the nodes by fixed weights, and a copy on the nodes that read most of
            them holds the service with copies that never move, where the forecast's
            copies followed the pods (x1.06 - x1.60 groupcache's bytes at its service
            and count, x0.81 - x0.98 with the knob). 0 (the default): off, every earlier
            run.
    """

    min_replicas: int = 2
    max_replicas: int | None = None
    spread_across: str = "topology.kubernetes.io/zone"
    deviation_threshold: float = 0.5
    confidence_threshold: float = 0.8
    cooldown_s: float = 300.0
    budget_bytes_stored: int | None = None
    budget_bytes_moved_per_hour: int | None = None
    consistency: Literal["eventual", "strong"] = "eventual"
    cost_weight: float = 1.0
    hysteresis: float = 0.2
    change_steps: int = 3
    move_residence_s: float | None = None
    fill_priced: bool = False
    hand_off_on_add: bool = True
    move_persistence_s: float = 0.0
    floor_window_s: float = 0.0
    move_ratio: float = 0.0
    copy_floor: bool = False
    hold_grace_slots: bool = True
    cooldown_from_read: bool = False
    release_pod_copies: bool = False
    trim_in_reactive_order: bool = False
    fill_in_reactive_order: bool = False
    zone_floor: int | None = None
    copy_weight: float = 1.0
    everywhere_copy_days: float = 0.0
    floor_observed_only: bool = False
    floor_in_zone_order: bool = False
    everywhere_min_bytes: int = 0
    swap_in_reactive_order: bool = False
    background_reads_per_hour: float = 0.0


@dataclass(frozen=True)
class StateProfile:
    """What the replicated state costs to hold and keep in sync.

    Attributes:
        bytes: size of one full replica.
        writes_per_min: observed write rate (every write is shipped to every replica).
        bytes_per_write: mean size of a write on the wire.
    """

    bytes: int
    writes_per_min: float = 0.0
    bytes_per_write: int = 1024


@dataclass(frozen=True)
class CostModel:
    """Exchange rates between user latency and bytes (the objective's prices).

    The objective is in milliseconds of access latency: a replica is worth adding
    when the latency it saves over the horizon exceeds what its bytes cost.

    Attributes:
        ms_per_gib_hour: latency one must save to hold a GiB for an hour.
        ms_per_gib_moved: latency one must save to move a GiB over the network.
        hot_sigma: the holding price's floor, relative to the resource's own demand
            (None: the byte prices only). Holding a copy on a node over the value window
            costs at least what a local copy would save that node's reads, over the
            replica they are served from now, were it reading at the *hot threshold*:
            the mean plus ``hot_sigma`` standard deviations of the access rates of the
            cluster's active (resource, node) pairs (``PlanInput.cluster_heat``; else
            of the ready nodes' believed demand), times the value window: the one
            reactive rule's threshold (:mod:`statecast.core.reactive`, whose default
            is 1 deviation). A copy then pays for
            its holding where the reads it serves (weighted by the latency it saves
            them, from the planner's own latency matrix) exceed a hot node's by the
            add gate's margin: the number of copies beyond ``min`` follows the shape of
            the demand, as reactive replication's hot set does, not its volume
            (:func:`~statecast.core.placement.costs.demand_holding_floor`).
    """

    ms_per_gib_hour: float = 40_000.0
    ms_per_gib_moved: float = 2_000.0
    hot_sigma: float | None = 1.0


@dataclass(frozen=True)
class LatencyModel:
    """Access latency between nodes, by zone.

    Attributes:
        local_ms: served by the replica on the caller's own node.
        same_zone_ms: served by a replica on another node of the same zone.
        cross_zone_ms: served from another zone (when ``zone_ms`` has no entry).
        no_replica_ms: no replica reachable: read from the source of truth.
        zone_ms: ``(from_zone, to_zone, ms)`` entries overriding the defaults;
            looked up in both directions.
    """

    local_ms: float = 0.1
    same_zone_ms: float = 0.5
    cross_zone_ms: float = 2.0
    no_replica_ms: float = 50.0
    zone_ms: tuple[tuple[str, str, float], ...] = ()

    def between(self, from_zone: str, to_zone: str) -> float:
        """Latency of a remote access from a node in ``from_zone`` to a replica in ``to_zone``."""
        for a, b, ms in self.zone_ms:
            if (a, b) == (from_zone, to_zone):
                return ms
        for a, b, ms in self.zone_ms:
            if (b, a) == (from_zone, to_zone):
                return ms
        return self.same_zone_ms if from_zone == to_zone else self.cross_zone_ms


@dataclass(frozen=True)
class NodeInfo:
    """A node that may hold a replica.

    Attributes:
        name: node name.
        zone: value of the spread label on this node.
        ready: the node and its agent are up (replicas there serve).
        free_bytes: memory the agent may still use for replicas, or None for no limit.
        load: utilisation in [0, 1]; ties between equal candidates go to the less loaded.
    """

    name: str
    zone: str
    ready: bool = True
    free_bytes: int | None = None
    load: float = 0.0


@dataclass(frozen=True)
class NodeForecast:
    """Forecast of one node's accesses per step over the horizon (operator-friendly form).

    Attributes:
        node: node name.
        mean: expected accesses per step, shape (horizon,).
        lower: lower bound of the prediction interval, shape (horizon,).
        upper: upper bound of the prediction interval, shape (horizon,).
        deviation: relative miss of the previous forecast for this node (0 when unknown).
        observed: accesses in the last step observed (None when unknown): where the
            last forecast missed by more than the deviation threshold, the planner
            believes demand may stay there (persistence) as well as the forecast.
    """

    node: str
    mean: tuple[float, ...]
    lower: tuple[float, ...]
    upper: tuple[float, ...]
    deviation: float = 0.0
    observed: float | None = None


@dataclass(frozen=True)
class DemandForecast:
    """Forecasts of every node at once, as arrays (the planner's working form).

    Attributes:
        nodes: node names, one per row.
        mean: shape (n_nodes, horizon), accesses per step.
        lower: shape (n_nodes, horizon).
        upper: shape (n_nodes, horizon).
        deviation: shape (n_nodes,), relative miss of each node's previous forecast.
        observed: shape (n_nodes,), accesses in the last step observed, or None when
            unknown (see :class:`NodeForecast`).
        recent: shape (n_nodes, steps), accesses per step in the last steps observed
            (oldest first; the last column is the step ``observed`` gives), or None when
            unknown: a copy is not removed for cost before what it cost beyond what it
            saved over some recent stretch reaches the price of copying it back (see
            :func:`~statecast.core.placement.board.break_even`).
        said: shape (n_nodes, steps), what the forecasts had said for the last steps
            observed, one step ahead (oldest first, aligned with the newest columns of
            ``recent``; NaN where unknown), or None: with ``recent``, how the planner
            tells demand that moved away from a forecast that merely missed once
            (:func:`~statecast.core.placement.board.demand_moved`).
    """

    nodes: tuple[str, ...]
    mean: FloatArray
    lower: FloatArray
    upper: FloatArray
    deviation: FloatArray
    observed: FloatArray | None = None
    recent: FloatArray | None = None
    said: FloatArray | None = None

    def __post_init__(self) -> None:
        n = len(self.nodes)
        if len(set(self.nodes)) != n:
            raise PlacementError("forecast names a node twice")
        shape = self.mean.shape
        if len(shape) != 2 or shape[0] != n:
            raise PlacementError(f"forecast mean must have shape ({n}, horizon), got {shape}")
        if self.lower.shape != shape or self.upper.shape != shape:
            raise PlacementError("forecast lower/upper must have the shape of mean")
        if self.deviation.shape != (n,):
            raise PlacementError(f"forecast deviation must have shape ({n},)")
        if self.observed is not None and self.observed.shape != (n,):
            raise PlacementError(f"observed demand must have shape ({n},)")
        if self.recent is not None and (self.recent.ndim != 2 or self.recent.shape[0] != n):
            raise PlacementError(f"recent demand must have shape ({n}, steps)")
        if self.said is not None and (self.said.ndim != 2 or self.said.shape[0] != n):
            raise PlacementError(f"what the forecasts said must have shape ({n}, steps)")

    @classmethod
    def from_nodes(cls, forecasts: Iterable[NodeForecast]) -> DemandForecast:
        """Stack per-node forecasts (all of one horizon) into arrays."""
        items = list(forecasts)
        horizon = len(items[0].mean) if items else 1
        if any(len(f.mean) != horizon for f in items):
            raise PlacementError("every node forecast must have the same horizon")

        def stack(values: list[tuple[float, ...]]) -> FloatArray:
            return np.asarray(values, dtype=np.float64).reshape(len(items), horizon)

        return cls(
            nodes=tuple(f.node for f in items),
            mean=stack([f.mean for f in items]),
            lower=stack([f.lower for f in items]),
            upper=stack([f.upper for f in items]),
            deviation=np.asarray([f.deviation for f in items], dtype=np.float64),
            observed=(
                np.asarray([f.observed or 0.0 for f in items], dtype=np.float64)
                if any(f.observed is not None for f in items)
                else None
            ),
        )

    @classmethod
    def empty(cls) -> DemandForecast:
        """No forecast at all (every node's demand counts as zero)."""
        zeros = np.zeros((0, 1))
        return cls((), zeros, zeros, zeros, np.zeros(0))


@dataclass(frozen=True)
class CurrentReplica:
    """A replica that exists now.

    Attributes:
        node: node it lives on.
        age_s: seconds since it was created.
        up_to_date: it holds every acknowledged write (Ready, not Stale or Syncing).
        role: ``peer``, ``leader`` or ``follower``.
        progress: how far it has applied the write history (higher is more advanced);
            chooses the follower to promote.
        reason: the reason it was created with, if known.
    """

    node: str
    age_s: float = 0.0
    up_to_date: bool = True
    role: Literal["peer", "leader", "follower"] = "peer"
    progress: int = 0
    reason: Reason | None = None


@dataclass(frozen=True)
class PlanInput:
    """Everything the planner looks at for one resource.

    Attributes:
        spec: the resource's placement fields.
        state: size and write rate of the state.
        nodes: the node inventory.
        forecast: per-node demand forecast over the horizon.
        replicas: the replicas that exist now.
        step_s: seconds per forecast step.
        latency: latency between nodes and zones.
        costs: prices of bytes stored and moved, in latency.
        consumer_nodes: nodes running a pod that declares it uses the resource.
        recently_removed: node -> seconds since a replica was removed there.
        cluster_heat: ``(mean, sigma)`` of the access rates (per second) of every
            active (resource, node) pair of the cluster over the reactive rule's window
            (:class:`statecast.core.reactive.HeatStats`): the default prices' hot
            threshold is then that rule's, ``mean + costs.hot_sigma * sigma``, a rate
            pooled over every resource (a resource's own few nodes are a poor sample:
            two busy nodes of three are never a sigma above their mean). None: the
            resource's own ready nodes' believed demand gives it.
        reactive_copies: how many copies the one reactive rule
            (:func:`statecast.core.reactive.choose_by_heat`) holds for this resource now,
            on the same observed demand (the caller keeps a shadow of that rule: hot
            pairs, grace, ``min``, the zone floor, consumers). The planner then holds no
            more beyond its floors (``min``, the zone floor, consumers): the forecast
            decides where and when the copies go, not how many reactive replication
            would pay for. None: no such budget.
        reactive_held: of ``reactive_copies``, how many the rule holds for demand now
            (hot pairs, consumers, ``min``, the zone floor); the others it holds only
            through their grace, and they go within a cooldown unless their node is hot
            again (:attr:`PlacementSpec.hold_grace_slots`). None: not said.
        copy_bytes: node -> bytes a new copy on that node would move, where that is
            less than a full copy (a warm copy: the node still holds a removed
            replica's files and catches up on the writes it missed; the caller prices
            it with the one cost function the simulator charges,
            :func:`statecast.core.warm.copy_bytes`). Nodes not named: a full copy.
        warm_retention_s: how long a node keeps the files of a copy removed from it
            (the agents' warm retention, whose copies ``copy_bytes`` prices): the
            break-even rule then prices copying a copy it removes now back after a
            lull as long again as the one it weighs at what that copy would move, the
            writes missed over the lull (:func:`statecast.core.warm.copy_bytes`), as
            adds and moves price a warm copy. 0: a full copy (every copy priced in
            full, or a caller that does not say).
        consumers_left: nodes whose consumer pod ran lately (within the reactive
            rule's window and grace) but runs none now: the reactive count
            (``reactive_copies``) still holds their copies for heat the pod made
            (:attr:`PlacementSpec.release_pod_copies`). The simulator and the operator
            give them (empty: the rule does nothing).
        reactive_nodes: the nodes the reactive rule's shadow holds a copy on now (the
            copies ``reactive_copies`` counts): the trim to that count drops the others
            first (:attr:`PlacementSpec.trim_in_reactive_order`), the fill up to it adds
            on them first (:attr:`PlacementSpec.fill_in_reactive_order`). The simulator and
            the operator give them (empty: the trim by loss alone, the fill by gain).
    """

    spec: PlacementSpec
    state: StateProfile
    nodes: tuple[NodeInfo, ...]
    forecast: DemandForecast
    replicas: tuple[CurrentReplica, ...] = ()
    step_s: float = 60.0
    latency: LatencyModel = field(default_factory=LatencyModel)
    costs: CostModel = field(default_factory=CostModel)
    consumer_nodes: frozenset[str] = frozenset()
    recently_removed: Mapping[str, float] = field(default_factory=dict)
    cluster_heat: tuple[float, float] | None = None
    reactive_copies: int | None = None
    reactive_held: int | None = None
    copy_bytes: Mapping[str, float] = field(default_factory=dict)
    warm_retention_s: float = 0.0
    consumers_left: frozenset[str] = frozenset()
    reactive_nodes: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ReplicaAction:
    """One step of a plan, with the reason a user can read.

    Attributes:
        kind: add, remove, keep or promote.
        node: the node concerned.
        reason: the reason code.
        sync: how an added replica gets its state (``none`` for other kinds).
        value_ms: expected access latency the replica saves over the horizon.
        cost_ms: what holding (and for an add, copying) it costs, in the same unit.
        detail: one sentence explaining the decision.
    """

    kind: ActionKind
    node: str
    reason: Reason
    sync: SyncMode = SyncMode.NONE
    value_ms: float = 0.0
    cost_ms: float = 0.0
    detail: str = ""


@dataclass(frozen=True)
class Plan:
    """The planner's answer: one action per node that has or gets a replica.

    A promotion stands for "keep, and make it the leader".

    Attributes:
        actions: adds, removes, keeps and promotions, ordered by node name.
        expected_latency_ms: mean access latency the plan expects over the horizon.
        notes: plan-wide remarks (budget reached, not enough zones, ...).
    """

    actions: tuple[ReplicaAction, ...]
    expected_latency_ms: float = 0.0
    notes: tuple[str, ...] = ()

    @property
    def nodes(self) -> tuple[str, ...]:
        """Nodes that hold a replica once the plan is applied."""
        return tuple(
            a.node
            for a in self.actions
            if a.kind in (ActionKind.ADD, ActionKind.KEEP, ActionKind.PROMOTE)
        )

    def of_kind(self, kind: ActionKind) -> tuple[ReplicaAction, ...]:
        """The actions of one kind."""
        return tuple(a for a in self.actions if a.kind == kind)

    @property
    def leader(self) -> str | None:
        """The node promoted to leader by this plan, if any."""
        promoted = self.of_kind(ActionKind.PROMOTE)
        return promoted[0].node if promoted else None
