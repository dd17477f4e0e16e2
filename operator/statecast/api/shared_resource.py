"""The ``SharedResource`` custom resource: a piece of replicated key/value state."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Annotated, Any, ClassVar, Literal

from pydantic import ConfigDict, Field, JsonValue, model_validator

from statecast.api.cron import parse_cron
from statecast.api.types import (
    CONDITIONS_LIST,
    Condition,
    Duration,
    Model,
    PositiveDuration,
    Quantity,
    ResourceModel,
    StatusModel,
    cel,
)
from statecast.api.units import CEL_DURATION_PATTERN, parse_duration

ZONE_LABEL = "topology.kubernetes.io/zone"
#: The shortest self-tuning window.
MIN_TUNING_WINDOW = timedelta(minutes=1)
#: The shortest and longest window of the reactive rule's heat.
MIN_HEAT_WINDOW, MAX_HEAT_WINDOW = timedelta(minutes=1), timedelta(hours=24)

Consistency = Literal["eventual", "strong"]
MergePolicy = Literal["lww", "multi-value"]
ReplicationPolicy = Literal["predictive", "reactive", "static"]
ResourcePhase = Literal["Pending", "Progressing", "Ready", "Degraded", "Failed"]
ReplicaRole = Literal["peer", "leader", "follower", "learner"]
ReplicaPhase = Literal["Pending", "Syncing", "Ready", "Stale", "Lost", "Draining"]


class ConfigMapSource(Model):
    """Initial state read from a ConfigMap in the resource's namespace."""

    name: Annotated[str, Field(min_length=1, max_length=253)]
    """Name of the ConfigMap; every data key becomes a key of the map."""


class SecretSource(Model):
    """Initial state read from a Secret in the resource's namespace."""

    name: Annotated[str, Field(min_length=1, max_length=253)]
    """Name of the Secret; every data key becomes a key of the map."""


class Source(Model):
    """Where the initial state comes from: at most one of inline, configMapRef, secretRef."""

    model_config = ConfigDict(
        json_schema_extra=cel(
            {
                "rule": "[has(self.inline), has(self.configMapRef), has(self.secretRef)]"
                ".filter(x, x).size() <= 1",
                "message": "source takes at most one of inline, configMapRef, secretRef",
            }
        )
    )

    inline: dict[str, JsonValue] | None = None
    """Initial keys and JSON values, written in the resource itself."""
    config_map_ref: ConfigMapSource | None = None
    """Take the initial keys from a ConfigMap."""
    secret_ref: SecretSource | None = None
    """Take the initial keys from a Secret."""

    @model_validator(mode="after")
    def _one_source(self) -> Source:
        given = [self.inline is not None, self.config_map_ref is not None, self.secret_ref]
        if sum(bool(g) for g in given) > 1:
            raise ValueError("source takes at most one of inline, configMapRef, secretRef")
        return self


class ReplicaBounds(Model):
    """How many replicas the resource may have."""

    model_config = ConfigDict(
        json_schema_extra=cel(
            {
                "rule": "!has(self.max) || self.min <= self.max",
                "message": "replicas.min must be less than or equal to replicas.max",
            }
        )
    )

    min: Annotated[int, Field(ge=1, le=1000)] = 2
    """Durability floor: never fewer replicas than this."""
    max: Annotated[int, Field(ge=1, le=1000)] | None = None
    """Upper bound on replicas; unset means one per eligible node."""

    @model_validator(mode="after")
    def _min_le_max(self) -> ReplicaBounds:
        if self.max is not None and self.min > self.max:
            raise ValueError("replicas.min must be less than or equal to replicas.max")
        return self


class Toleration(Model):
    """Lets replicas go to nodes with a matching taint, as a pod toleration does."""

    key: Annotated[str, Field(max_length=316)] = ""
    """Taint key to match; empty with operator Exists matches every taint."""
    operator: Literal["Exists", "Equal"] = "Equal"
    """Exists matches any value; Equal matches ``value``."""
    value: Annotated[str, Field(max_length=63)] = ""
    """Taint value to match with operator Equal."""
    effect: Literal["", "NoSchedule", "PreferNoSchedule", "NoExecute"] = ""
    """Taint effect to match; empty matches every effect."""


class Placement(Model):
    """Which nodes may hold replicas and how they spread."""

    node_selector: dict[str, str] = Field(default_factory=dict)
    """Only nodes with all of these labels hold replicas."""
    tolerations: Annotated[list[Toleration], Field(max_length=32)] = Field(default_factory=list)
    """Taints that replicas tolerate."""
    spread_across: Annotated[str, Field(min_length=1, max_length=316)] = ZONE_LABEL
    """Node label whose values replicas spread over."""
    max_bytes_per_node: Quantity | None = None
    """Do not place a replica on a node already holding this many bytes of state."""


class KnownEvent(Model):
    """A known future event that changes demand, used by the forecaster as a regressor."""

    model_config = ConfigDict(
        json_schema_extra=cel(
            {
                "rule": "has(self.schedule) != has(self.at)",
                "message": "an event takes exactly one of schedule (cron) or at (a time)",
            }
        )
    )

    name: Annotated[str, Field(min_length=1, max_length=63)]
    """Name of the event, e.g. nightly-batch."""
    schedule: Annotated[str, Field(max_length=64)] | None = None
    """A cron schedule (five fields) on which the event recurs."""
    at: datetime | None = None
    """The one time the event happens."""
    duration: PositiveDuration = "1h"
    """How long the event lasts."""
    effect: Annotated[float, Field(gt=0, le=1000)] = 2.0
    """Expected multiplier on demand while the event lasts."""

    @model_validator(mode="after")
    def _schedule_is_cron(self) -> KnownEvent:
        if self.schedule is not None:
            parse_cron(self.schedule)  # a ValueError: pydantic reports it
        return self


class Prediction(Model):
    """How demand is sampled and forecast."""

    model_config = ConfigDict(
        json_schema_extra=cel(
            {
                # CEL durations have no day unit: a value in days is left to the
                # operator's own check (the model validator below); a value the pattern
                # refuses, or a zero, gets the message of its own field alone.
                "rule": "!has(self.horizon) || !has(self.interval)"
                f" || !self.horizon.matches('{CEL_DURATION_PATTERN}')"
                f" || !self.interval.matches('{CEL_DURATION_PATTERN}')"
                " || !self.horizon.matches('[1-9]') || !self.interval.matches('[1-9]')"
                " || duration(self.horizon) >= duration(self.interval)",
                "message": "prediction.horizon must be at least prediction.interval",
            }
        )
    )

    interval: PositiveDuration = "1m"
    """Sampling step of the access counts (more than 0)."""
    horizon: PositiveDuration = "15m"
    """How far ahead to forecast (more than 0)."""
    level: Annotated[float, Field(ge=0.5, lt=1.0)] = 0.9
    """Nominal coverage of the prediction interval."""
    seasonality: Annotated[list[PositiveDuration], Field(max_length=4)] = Field(
        default_factory=list
    )
    """Season lengths to look for, e.g. 1d and 7d (none: a day). The operator keeps the
    demand history these seasons read (three of the longest, at most four weeks): adding
    a longer season later starts its longer history then."""
    events: Annotated[list[KnownEvent], Field(max_length=32)] = Field(default_factory=list)
    """Known future events that change demand."""

    @model_validator(mode="after")
    def _horizon_covers_interval(self) -> Prediction:
        if parse_duration(self.horizon) < parse_duration(self.interval):
            raise ValueError("prediction.horizon must be at least prediction.interval")
        return self


class Thresholds(Model):
    """When the planner hedges against an uncertain or wrong forecast."""

    deviation: Annotated[float, Field(ge=0, le=100)] = 0.5
    """Relative error of the last forecast above which it counts as a miss."""
    confidence: Annotated[float, Field(ge=0, le=1)] = 0.8
    """Confidence below which extra (hedge) replicas are placed."""


class Budget(Model):
    """Cost limits the planner keeps under."""

    bytes_stored: Quantity | None = None
    """Total bytes the resource's replicas may hold together."""
    bytes_moved_per_hour: Quantity | None = None
    """Bytes the resource may copy between nodes per hour."""


class Tuning(Model):
    """Self-tuning of the cost weight and the deviation threshold (policy predictive only)."""

    model_config = ConfigDict(
        json_schema_extra=cel(
            {
                # CEL durations have no day unit; a window given in days is long enough,
                # and a value the pattern refuses gets the pattern's one message.
                "rule": "!has(self.window)"
                f" || !self.window.matches('{CEL_DURATION_PATTERN}')"
                " || duration(self.window) >= duration('1m')",
                "message": "replication.tuning.window must be at least 1m",
            }
        )
    )

    enabled: bool = True
    """Learn the planner's cost weight and deviation threshold from what each window saw."""
    target_local_hit_ratio: Annotated[float, Field(gt=0, le=1)] | None = None
    """Share of accesses to serve locally; unset: cost weight 1, only the threshold learns."""
    window: Duration = "1h"
    """How long each outcome is observed before the learner takes a step (at least 1m)."""

    @model_validator(mode="after")
    def _window_at_least_a_minute(self) -> Tuning:
        if parse_duration(self.window) < MIN_TUNING_WINDOW:
            raise ValueError("replication.tuning.window must be at least 1m")
        return self


class Heat(Model):
    """The reactive rule's observed heat, per resource (Anna's selective replication).

    ``policy: reactive`` copies to a node whose access rate over ``window`` is more than
    ``kSigma`` standard deviations above the cluster's mean (every active (resource, node)
    pair's rate over the same window); ``policy: predictive`` reads the same rule for its
    default budget (its shadow holds as many copies as the rule would) and its prices'
    hot threshold. ``replication.cooldown`` is the rule's grace.
    """

    model_config = ConfigDict(
        json_schema_extra=cel(
            {
                "rule": "!has(self.window)"
                f" || !self.window.matches('{CEL_DURATION_PATTERN}')"
                " || (duration(self.window) >= duration('1m')"
                " && duration(self.window) <= duration('24h'))",
                "message": "replication.heat.window must be between 1m and 24h",
            }
        )
    )

    window: Duration | None = None
    """How long each node's access rate is taken over (1m - 24h; unset: the operator's,
    15m)."""
    k_sigma: Annotated[float, Field(ge=0, le=10)] | None = None
    """Standard deviations above the cluster's mean rate that make a pair hot (unset: the
    operator's, 1)."""

    @model_validator(mode="after")
    def _window_in_range(self) -> Heat:
        if self.window is None:
            return self
        if not MIN_HEAT_WINDOW <= parse_duration(self.window) <= MAX_HEAT_WINDOW:
            raise ValueError("replication.heat.window must be between 1m and 24h")
        return self


class PlannerKnobs(Model):
    """The predictive planner's knobs beyond the default prices (policy predictive only).

    Each is off, or the operator's rule, at its default (the default prices:
    docs/placement.md "Objective"; ``holdGraceSlots`` on since session 16); the simulator
    sweeps them as the operating points of ``statecast simulate``'s frontiers
    (docs/placement.md "Knobs a resource can set"). The two that follow the reactive rule
    act with its budget: not while the self-tuner sets the cost weight
    (``tuning.targetLocalHitRatio``), nor with ``bytePricesOnly``.
    """

    copy_weight: Annotated[float, Field(ge=0.001, le=1_000_000)] = 1.0
    """Multiplies the price of a copy alone (what an add or a move must save): higher
    moves fewer bytes for the latency a move would save, lower (down to 0.001, the
    streams-dear runs' 1/256) more; the holding price is unchanged."""
    trim_in_reactive_order: bool = False
    """Where the reactive rule's count falls, drop first the copies that rule no longer
    holds (rather than the least valuable by the forecast), so they are not bought back."""
    fill_in_reactive_order: bool = False
    """Where the reactive rule's count rises, put the new copies first on the nodes that
    rule holds (the nodes that read hot), then where the forecast gains most."""
    release_pod_copies: bool = False
    """A copy held for a consumer pod that left lately is judged for cost at once rather
    than kept through the rule's window and grace."""
    cooldown_from_read: bool = False
    """A copy's cooldown also counts from the newest step whose reads paid for holding it,
    not only from its creation."""
    everywhere_copy_days: Annotated[float, Field(ge=0, le=36_500)] = 0.0
    """Hold the resource on every ready node with room (up to ``replicas.max``) when a full
    copy of it moves at least this many days of one replica's write stream: such a copy
    costs more to make again than to keep in sync, and none is made again when demand
    moves or a node leaves. 0 (the default): off."""
    floor_in_zone_order: bool = False
    """The copies at ``replicas.min`` go where ``policy: static`` puts its fixed copies
    (new zones first, then one node of each zone in name order) and stay there; copies
    beyond ``min`` and consumers' copies follow the forecast as before."""
    hold_grace_slots: bool = True
    """While the reactive rule's count holds copies only through their grace, no copy
    moves (the default: such a slot closes within a cooldown, and a copy moved into it is
    bought back when the next opens). false: copies move whenever the move pays, as they
    do where the count holds none - with ``trimInReactiveOrder`` and ``fillInReactiveOrder``
    the count's copies then follow a node that turns hot as another's grace ends."""
    everywhere_min_bytes: Annotated[int, Field(ge=0, le=2**50)] = 0
    """With ``everywhereCopyDays``, hold on every node only a resource whose full copy is at
    least this many bytes: a copy on every node costs the same replica-hours whatever its
    size, and each copy it spares saves its size, so the largest save the most bytes per
    replica-hour. 0 (the default): whatever its size."""
    swap_in_reactive_order: bool = False
    """Hold the copies where the reactive rule holds them: a copy on a node the rule does
    not hold moves to one it holds and the plan does not (the zone floor kept), new copies
    go to the rule's nodes first, and the forecast's moves leave the rule's copies where
    they are - within an unchanged count the rule swaps a copy whose grace ended for a
    node that turned hot, which filling and trimming in its order do not follow."""
    background_reads_per_hour: Annotated[float, Field(ge=0, le=1e9)] = 0.0
    """Hold the resource, whatever its forecast, on every ready node with room whose
    background reads - the mean of its quietest three quarters of the day's steps, so a
    consumer pod's runs do not count - are at least this many an hour, and keep it there
    while they are at least half of it: a node that reads the resource all day keeps its
    copy through its consumer pods' comings and goings. 0 (the default): off."""
    hold_weight: Annotated[float, Field(ge=1e-10, le=1e6)] = 1.0
    """Multiplies the price of holding a GiB for an hour (the simulator's price grid,
    ``hold x``): lower holds more copies, higher fewer (the grid's 1e6 holds ``replicas.min``)."""
    cost_weight: Annotated[float, Field(ge=1e-6, le=1e6)] = 1.0
    """Multiplies every other price - copies, write streams (the grid's ``copy x``; the
    self-tuner's learned weight multiplies it further): lower moves copies more readily."""
    hold_per_replica: Quantity | None = None
    """Price each replica-hour of this resource as holding this many bytes for an hour,
    whatever its size (unset: by its own bytes). Give every resource the same value, the
    mean size of their state (e.g. ``64Mi``; docs/tuning.md reads it off the cluster), and
    a large resource's copy is held as readily as a small one's. The simulator's
    per-replica and local-first runs set the trace's mean size, a fraction of a byte kept.
    Until a replica reports its size the resource counts as 0 bytes: holding its state is
    free either way (its write stream and the hot-threshold floor are not)."""
    value_local_hits: bool = False
    """Value local hits, not latency: a read served by another node of its zone counts as
    one served from another zone (the simulator's local-first runs)."""
    byte_prices_only: bool = False
    """Price copies and holding by their bytes alone, as the simulator's price grid does:
    no holding floor relative to the cluster's hot threshold and no budget of the copies
    the reactive rule would hold (``heat`` then does not reach the planner)."""
    move_residence: Duration | None = None
    """The longest stay of demand a move (and an add) is credited with, read from the
    newest observed demand; ``0s``: the value window alone (unset: the day of history)."""
    hand_off_on_add: bool = True
    """In a plan that adds a copy, the only up-to-date copy may go for cost by a hand-off
    once the new copies are in sync; false: it stays until the next plan."""
    change_steps: Annotated[int, Field(ge=0, le=1000)] = 3
    """A node whose demand fell short of its forecast by more than the deviation threshold
    in this many newest steps in a row has changed: the planner believes those steps' level
    (0: never)."""
    move_persistence: Duration = "0s"
    """A move is made only where the demand seen since it would have paid back its copy,
    looking back at most this long (``0s``: the forecast alone)."""
    floor_window: Duration = "0s"
    """Where the copies at ``replicas.min`` sit is judged on each node's mean rate over this
    much of the newest observed demand and the forecast's horizon (``0s``: the forecast)."""
    floor_observed_only: bool = False
    """With ``floorWindow``, the copies at ``replicas.min`` follow the observed window
    alone, the forecast's horizon left out."""
    move_ratio: Annotated[float, Field(ge=0, le=1000)] = 0.0
    """A move's faster reads must outweigh its slower ones by more than this ratio, each
    weighted by its latency change (0: the copy's price alone)."""
    copy_floor: bool = False
    """A new copy costs at least holding it through one cooldown at the holding price
    relative to the hot threshold, not only its bytes."""
    zone_floor: Annotated[int, Field(ge=1, le=1000)] | None = None
    """How many zones the copies cover at least, where the nodes allow (unset:
    ``replicas.min``): with a higher ``min``, the copies beyond the floor go where the
    demand is, in any zone."""


class Replication(Model):
    """How replicas are placed."""

    policy: ReplicationPolicy = "predictive"
    """predictive: follow forecasts; reactive: follow observed heat; static: min only."""
    thresholds: Thresholds = Field(default_factory=Thresholds)
    """When to hedge."""
    cooldown: Duration = "5m"
    """A replica placed for demand stays at least this long."""
    heat: Heat = Field(default_factory=Heat)
    """The reactive rule's window and threshold (policy reactive; predictive's budget)."""
    lost_copy_retention: Duration = "24h"
    """How long a lost replica holding writes no reachable replica holds is kept, waiting
    for its agent to return so its writes are merged, before they are given up."""
    budget: Budget = Field(default_factory=Budget)
    """Cost limits."""
    tuning: Tuning = Field(default_factory=Tuning)
    """Self-tuning of the thresholds and the cost weight from realised outcomes."""
    planner: PlannerKnobs = Field(default_factory=PlannerKnobs)
    """The predictive planner's knobs beyond the default prices (each off, or the operator's
    rule, by default)."""


class LabelSelectorRequirement(Model):
    """One requirement of a label selector."""

    key: Annotated[str, Field(min_length=1, max_length=316)]
    """The label key."""
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    """How the key relates to the values."""
    values: Annotated[list[Annotated[str, Field(max_length=63)]], Field(max_length=64)] = Field(
        default_factory=list
    )
    """Values for In and NotIn."""

    def holds(self, labels: Mapping[str, str]) -> bool:
        """Whether ``labels`` satisfy this requirement (Kubernetes semantics)."""
        if self.operator == "Exists":
            return self.key in labels
        if self.operator == "DoesNotExist":
            return self.key not in labels
        inside = self.key in labels and labels[self.key] in self.values
        return inside if self.operator == "In" else not inside


class LabelSelector(Model):
    """A Kubernetes label selector."""

    match_labels: dict[str, str] = Field(default_factory=dict)
    """Labels that must all be present with these values."""
    match_expressions: Annotated[list[LabelSelectorRequirement], Field(max_length=16)] = Field(
        default_factory=list
    )
    """Set-based requirements, all of which must hold."""

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether ``labels`` are selected (an empty selector selects everything)."""
        return all(labels.get(k) == v for k, v in self.match_labels.items()) and all(
            r.holds(labels) for r in self.match_expressions
        )


class Consumers(Model):
    """Which pods use the resource (pods may also annotate ``statecast.io/uses``)."""

    selector: LabelSelector | None = None
    """Pods in the namespace matching this selector consume the resource."""


class SharedResourceSpec(Model):
    """Desired state of a SharedResource."""

    model_config = ConfigDict(
        json_schema_extra=cel(
            {
                "rule": "self.consistency == 'eventual' || self.merge == 'lww'",
                "message": "merge multi-value needs consistency eventual",
            }
        )
    )

    consistency: Consistency = "eventual"
    """eventual: CRDT merge, writes accepted everywhere; strong: one leader, majority ack."""
    merge: MergePolicy = "lww"
    """How concurrent writes to a key merge (eventual only): lww or multi-value."""
    source: Source = Field(default_factory=Source)
    """Initial state."""
    replicas: ReplicaBounds = Field(default_factory=ReplicaBounds)
    """Bounds on the number of replicas."""
    placement: Placement = Field(default_factory=Placement)
    """Which nodes may hold replicas."""
    prediction: Prediction = Field(default_factory=Prediction)
    """How demand is sampled and forecast."""
    replication: Replication = Field(default_factory=Replication)
    """How replicas are placed."""
    consumers: Consumers = Field(default_factory=Consumers)
    """Which pods use the resource."""

    @model_validator(mode="after")
    def _merge_needs_eventual(self) -> SharedResourceSpec:
        if self.consistency == "strong" and self.merge != "lww":
            raise ValueError("merge multi-value needs consistency eventual")
        return self


class ReplicaSummary(StatusModel):
    """One replica as the resource's status shows it."""

    node: str
    """Node holding the replica."""
    zone: str = ""
    """Value of the spread label on that node."""
    role: ReplicaRole = "peer"
    """peer (eventual); leader, follower (a voter) or learner (catching up, not voting)."""
    phase: ReplicaPhase = "Pending"
    """Phase the node agent reports."""
    lag_seconds: float | None = None
    """How far behind the most recent write the replica is."""
    reason: str = ""
    """Why the replica is there."""
    stand_in_for: Annotated[list[str], Field(max_length=64)] = Field(default_factory=list)
    """Lost copies it stands in for: it started from the source, not from the state."""
    unmerged: bool = False
    """Lost, and holding writes no reachable replica holds: kept until they are merged."""


class NodeForecast(StatusModel):
    """Forecast accesses for one node over the horizon."""

    node: str
    """The node."""
    mean: float
    """Expected accesses per interval, averaged over the horizon."""
    lower: float
    """Lower bound of the prediction interval."""
    upper: float
    """Upper bound of the prediction interval."""


class ForecastSummary(StatusModel):
    """The last forecast the planner acted on."""

    model: str = ""
    """Model chosen for the resource's series."""
    generated_at: datetime | None = None
    """When the forecast was made."""
    level: float | None = None
    """Nominal coverage of the bounds."""
    nodes: Annotated[list[NodeForecast], Field(max_length=64)] = Field(default_factory=list)
    """Per-node forecasts for the nodes that matter."""


class Decision(StatusModel):
    """The last placement decision."""

    action: str
    """What was done: add, remove, keep, promote."""
    reason: str
    """Reason code: minimum, predicted, hedge, consumer, failover, rebalance, cost,
    everywhere."""
    node: str = ""
    """Node the action applied to."""
    message: str = ""
    """Human-readable explanation."""
    time: datetime | None = None
    """When the decision was taken."""


class Removal(StatusModel):
    """A replica the operator removed lately (kept for two cooldowns)."""

    node: str
    """The node it was removed from."""
    time: datetime
    """When."""
    lost: bool = False
    """The copy was lost with its node (not handed off): a copy back there is a full copy."""


class TuningStatus(StatusModel):
    """What the self-tuner learned, and what it needs to continue after a restart."""

    cost_weight: float
    """Multiplies the planner's costs (below 1: more replicas, above 1: fewer)."""
    deviation_threshold: float
    """The hedging deviation threshold the planner uses instead of the spec's."""
    explanation: Annotated[str, Field(max_length=1024)] = ""
    """Why the knobs are what they are, in one line."""
    last_tuned_at: datetime | None = None
    """When the learner last took a step."""
    window_start: datetime | None = None
    """When the window being observed began."""
    step: float = 0.25
    """Current step of the cost weight (log space)."""
    last_move: Annotated[int, Field(ge=-1, le=1)] = 0
    """Direction of the last change of the cost weight (+1 up, -1 down, 0 none yet)."""
    updates: int = 0
    """Windows learned from."""
    reversals: int = 0
    """Changes of direction of the cost weight so far."""
    spec_deviation_threshold: float | None = None
    """The spec's thresholds.deviation learning started from (a new value starts over)."""


class SharedResourceStatus(StatusModel):
    """Observed state of a SharedResource."""

    phase: ResourcePhase = "Pending"
    """Pending, Progressing, Ready, Degraded or Failed."""
    observed_generation: int | None = None
    """The spec generation this status describes."""
    ready_replicas: int = 0
    """Replicas the agents report Ready."""
    desired_replicas: int = 0
    """Replicas the operator wants."""
    ready: str = ""
    """Ready/desired, for display."""
    replicas: Annotated[list[ReplicaSummary], Field(max_length=1000)] = Field(default_factory=list)
    """Every replica of the resource."""
    leader: str | None = None
    """Node of the leader (strong consistency)."""
    epoch: int | None = None
    """Leader epoch (strong consistency); older epochs are fenced."""
    voters: Annotated[list[str], Field(max_length=15)] | None = None
    """Nodes whose replicas vote in ``epoch`` (strong): a majority of them commits a write."""
    forecast: ForecastSummary | None = None
    """The last forecast."""
    local_hit_ratio: float | None = None
    """Share of accesses served by a local replica over the last window."""
    hit_percent: int | None = None
    """localHitRatio in percent, for display."""
    last_decision: Decision | None = None
    """The last placement decision."""
    recent_removals: Annotated[list[Removal], Field(max_length=256)] = Field(default_factory=list)
    """Replicas removed within the last two cooldowns: the planner does not place a copy
    back there at once, and this holds across operator restarts."""
    tuning: TuningStatus | None = None
    """The self-tuner's knobs and why (predictive resources with tuning enabled)."""
    conditions: Annotated[list[Condition], Field(max_length=16)] = Field(
        default_factory=list, json_schema_extra=CONDITIONS_LIST
    )
    """Ready, Progressing, Degraded, ForecastReady."""


class SharedResource(ResourceModel):
    """A replicated key/value map that the operator places on nodes."""

    kind: ClassVar[str] = "SharedResource"
    plural: ClassVar[str] = "sharedresources"
    singular: ClassVar[str] = "sharedresource"
    short_names: ClassVar[list[str]] = ["sr"]
    printer_columns: ClassVar[list[dict[str, Any]]] = [
        {"name": "Consistency", "type": "string", "jsonPath": ".spec.consistency"},
        {"name": "Ready", "type": "string", "jsonPath": ".status.ready"},
        {"name": "Hit%", "type": "integer", "jsonPath": ".status.hitPercent"},
        {"name": "Leader", "type": "string", "jsonPath": ".status.leader"},
        {"name": "Phase", "type": "string", "jsonPath": ".status.phase", "priority": 1},
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ]

    spec: SharedResourceSpec
    """Desired state."""
    status: SharedResourceStatus = Field(default_factory=SharedResourceStatus)
    """Observed state."""
