"""Which of predictive's simulated runs a ``SharedResource`` spec can express.

The published frontiers are made of runs of :func:`statecast.sim.sweeps.variants`, each a
:class:`~statecast.sim.sweeps.Setting`: the planner's knobs (the fields naming a
:class:`~statecast.core.placement.PlacementSpec` field, :data:`~statecast.sim.sweeps.KNOB`),
the prices and the valuation, the reactive shadow's window and k, the cooldown and the
replicas beyond ``min``. A user of the operator runs only what a spec can say:
``spec.replication`` (``planner``, ``thresholds``, ``heat``, ``cooldown``, ``tuning``) and
``replicas``, mapped by :mod:`statecast.core.reconcile.predictive` (``placement_spec``,
``placement_costs``, ``placement_latency``). :func:`expression` writes the spec fragment a
setting needs and says what it cannot write: a run is *expressible* when its planner spec,
prices and valuation, read back through the operator's own functions, are the simulator's.
That is the planner's inputs a spec sets, not the operator's forecasts or demand sampling.

What every run shares with the operator's default spec is not counted here: the
simulator runs without the self-tuner (``replication.tuning.enabled: false``), with the
replay's 15-minute horizon and cooldown when the setting names none (``prediction.horizon``,
``replication.cooldown``), and the reactive shadow's 15-minute window and k = 1 (the
operator's). ``Setting.warm`` is not counted either: the operator prices a copy back on a
warm node as the agents keep it, and the published tables are replayed with every copy
charged in full (warm retention 0), where a run with and without it is the same run.

A planner knob the API offers is found by name (the rule ``placement_spec`` follows): a
:class:`PlacementSpec` field ``x`` is ``replication.planner``'s ``x`` in camelCase, a
duration ``x_s`` is the duration ``x`` (seconds written as ``90s``), and
``deviation_threshold`` is ``replication.thresholds.deviation``. A new field of
``PlannerKnobs`` so named is found without a change here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import timedelta
from typing import Any

from pydantic import ValidationError
from pydantic.alias_generators import to_camel

from statecast.api.shared_resource import PlannerKnobs, SharedResourceSpec
from statecast.api.units import format_duration, parse_quantity
from statecast.core.placement import CostModel
from statecast.core.reconcile.predictive import (
    placement_costs,
    placement_latency,
    placement_spec,
)
from statecast.sim.config import SimConfig
from statecast.sim.planned import LOCAL_FIRST
from statecast.sim.sweeps import DEFAULT, KNOB, Setting
from statecast.sim.trace import MIB, Trace

#: The prices and valuation a setting sets apart from the default prices, by its
#: :class:`Setting` field: the ``replication.planner`` knob that sets it (found by name:
#: None, or a name the API lacks, and the run is not expressible), how the knob's value is
#: read from the field's, and the name of what is missing without it.
PRICES: dict[str, tuple[str | None, Any, str]] = {
    "hold": ("hold_weight", float, "hold_price"),  # a GiB-hour's price multiplied
    "copy": ("cost_weight", float, "cost_weight"),  # every cost multiplied (the weight)
    "demand_priced": ("byte_prices_only", lambda v: not v, "byte_prices_only"),
    "local": ("value_local_hits", bool, "local_first"),  # local hits valued, not latency
}
#: Holding priced per replica-hour, a replica of any resource at the price of one of the
#: trace's mean size (``Setting.per_replica``, and every local-first run): the knob, and
#: what is missing without it. The knob's value is that mean size, a number of the trace:
#: :attr:`Expression.spec` carries :data:`MEAN_SIZE` in its place, and the check reads
#: the prices back at a replica of that size (where the two prices are equal exactly when
#: the value is the mean; :func:`mean_size` gives it).
PER_REPLICA = ("hold_per_replica", "per_replica_holding")
MEAN_SIZE = "64Mi"


def mean_size(trace: Trace) -> str:
    """``replication.planner.holdPerReplica`` for a per-replica run on ``trace``.

    The mean size of its resources, every digit (a fraction of a byte kept, as the
    simulator prices it), so each resource's holding price is the simulator's exactly.
    """
    return repr(float(trace.state_bytes.mean()))


#: The zone floor apart from ``replicas.min`` (``Setting.extra``'s copies beyond ``min``).
ZONE_FLOOR = "zone_floor"
#: The simulator's reactive shadow holds the trace's ``min``, the operator's ``replicas.min``:
#: a run with ``Setting.extra`` and the default prices' budget (none in today's sweep).
SHADOW_MIN = "reactive_shadow_min"
#: The operator's prices, read back, are not the simulator's.
PRICED_APART = "prices"
#: A value the API refuses is named by its field and this.
OUT_OF_RANGE = " (out of range)"


@dataclass(frozen=True)
class Expression:
    """A setting written as a spec, and what the spec cannot write.

    Attributes:
        spec: the ``SharedResource`` spec fragment (camelCase, as a user writes it) that
            sets what can be set: ``replication`` and, with ``Setting.extra``, the
            ``replicas.min`` offset as ``{"replicas": {"minPlus": n}}`` (per resource:
            ``replicas.min`` the trace's ``min`` plus ``n`` within its ``max`` and the
            nodes, ``replication.planner.zoneFloor`` the trace's ``min``); a per-replica
            run's ``holdPerReplica`` is :data:`MEAN_SIZE` in place of :func:`mean_size`.
        missing: what a spec cannot say, each a :class:`PlacementSpec` field
            (``move_ratio``), a price of :data:`PRICES` (``hold_price``) or a field the
            API refuses at this value (``copy_weight (out of range)``); empty: the run is
            one a user can configure.
    """

    spec: Mapping[str, Any]
    missing: tuple[str, ...]

    @property
    def expressible(self) -> bool:
        """Whether a ``SharedResource`` spec runs this setting."""
        return not self.missing


def _api_path(name: str) -> tuple[str, ...] | None:
    """Where ``replication`` holds a :class:`PlacementSpec` field (None: nowhere)."""
    if name == "deviation_threshold":
        return ("thresholds", "deviation")
    key = name.removesuffix("_s")
    if key in PlannerKnobs.model_fields:
        return ("planner", to_camel(key))
    return None


def _written(name: str, value: Any) -> Any:
    """A knob's value as a spec writes it (seconds as a duration)."""
    if name.endswith("_s") and isinstance(value, int | float):
        return format_duration(timedelta(seconds=float(value)))
    return value


def _put(tree: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for key in path[:-1]:
        tree = tree.setdefault(key, {})
    tree[path[-1]] = value


def _refused(replication: Mapping[str, Any]) -> bool:
    try:
        SharedResourceSpec.model_validate({"replication": replication})
    except ValidationError:
        return True
    return False


def _knobs(setting: Setting) -> tuple[dict[str, tuple[tuple[str, ...], Any]], list[str]]:
    """The planner knobs ``setting`` moves off the operator's default.

    The path and value of each the API holds, and the names of the others.
    """
    wanted, default = setting.planner, placement_spec(SharedResourceSpec())
    placed: dict[str, tuple[tuple[str, ...], Any]] = {}
    missing = []
    for f in fields(Setting):
        name = f.metadata.get(KNOB)
        if name is None or getattr(wanted, name) == getattr(default, name):
            continue
        path = _api_path(name)
        if path is None:
            missing.append(name)
        else:
            placed[name] = (path, _written(name, getattr(wanted, name)))
    return placed, missing


def _replication(setting: Setting) -> tuple[dict[str, Any], list[str]]:
    """``setting``'s ``spec.replication`` (each value the API takes) and what it lacks."""
    placed, missing = _knobs(setting)
    cooldown = SimConfig().cooldown_s if setting.cooldown is None else setting.cooldown
    entries: dict[str, tuple[tuple[str, ...], Any]] = {
        **placed,
        "cooldown": (("cooldown",), format_duration(timedelta(seconds=cooldown))),
    }
    if setting.sigma is not None:
        entries["heat.k_sigma"] = (("heat", "kSigma"), setting.sigma)
    if setting.window is not None:
        window = format_duration(timedelta(seconds=setting.window))
        entries["heat.window"] = (("heat", "window"), window)
    replication: dict[str, Any] = {"tuning": {"enabled": False}}
    for name, (path, value) in entries.items():
        alone: dict[str, Any] = {}
        _put(alone, path, value)
        if _refused(alone):
            missing.append(name + OUT_OF_RANGE)
        else:
            _put(replication, path, value)
    return replication, missing


def _prices(setting: Setting, replication: dict[str, Any]) -> list[str]:
    """Put ``setting``'s prices into ``replication`` where the API holds them; the others."""
    missing = []
    for field, (knob, value, name) in PRICES.items():
        if getattr(setting, field) == getattr(DEFAULT, field):
            continue
        if knob is None or knob not in PlannerKnobs.model_fields:
            missing.append(name)
            continue
        alone = {"planner": {to_camel(knob): value(getattr(setting, field))}}
        if _refused(alone):
            missing.append(name + OUT_OF_RANGE)
        else:
            replication.setdefault("planner", {}).update(alone["planner"])
    if setting.per_replica or setting.local:
        knob, name = PER_REPLICA
        if knob not in PlannerKnobs.model_fields:
            missing.append(name)
        else:
            replication.setdefault("planner", {})[to_camel(knob)] = MEAN_SIZE
    return missing


def _sim_costs(setting: Setting) -> CostModel:
    """The planner's prices in the simulator's run at ``setting`` (not per replica-hour)."""
    costs = SimConfig().costs
    sigma = costs.hot_sigma if setting.sigma is None else setting.sigma
    return CostModel(
        ms_per_gib_hour=costs.ms_per_gib_hour * (setting.hold / setting.copy) * 1.0,
        ms_per_gib_moved=costs.ms_per_gib_moved,
        hot_sigma=sigma if setting.demand_priced else None,
    )


def expression(setting: Setting) -> Expression:
    """``setting`` as a ``SharedResource`` spec, and what no spec can say of it.

    Every knob the fragment sets is read back through the operator's mappings
    (:func:`~statecast.core.reconcile.predictive.placement_spec` and
    :func:`~statecast.core.reconcile.predictive.placement_costs`) and must come out as
    the simulator's planner spec (:attr:`Setting.planner`) and prices; one that does not
    is missing.
    """
    replication, missing = _replication(setting)
    missing += _prices(setting, replication)
    spec: dict[str, Any] = {"replication": replication}
    if setting.extra:
        spec["replicas"] = {"minPlus": setting.extra}
        if _api_path(ZONE_FLOOR) is None:
            missing.append(ZONE_FLOOR)
        if setting.demand_priced:  # the simulator's shadow holds the trace's min
            missing.append(SHADOW_MIN)
    written = SharedResourceSpec.model_validate({"replication": replication})
    mapped, wanted = placement_spec(written), setting.planner
    for f in fields(Setting):
        name = f.metadata.get(KNOB)
        if name is None or any(m.startswith(name) for m in missing):
            continue
        if getattr(mapped, name) != getattr(wanted, name):
            missing.append(name)
    priced = ("hold_price", "cost_weight", "byte_prices", "local_first", PER_REPLICA[1])
    if not any(m.startswith(priced) for m in missing):
        k = written.replication.heat.k_sigma
        costs = placement_costs(written, 1.0 if k is None else k, parse_quantity(MEAN_SIZE))
        replayed = SimConfig().latency  # the replay's, the planner's valuation unless local
        valued = placement_latency(written, replayed)
        if (
            costs != _sim_costs(setting)
            or mapped.cost_weight != setting.copy
            or valued != (LOCAL_FIRST if setting.local else replayed)
        ):
            missing.append(PRICED_APART)
    return Expression(spec, tuple(sorted(set(missing))))


# -- labels ------------------------------------------------------------------------------

_HEAD = re.compile(r"^predictive hold x(?P<hold>\S+) copy x(?P<copy>\S+)(?P<rest>.*)$")
#: Each suffix of :attr:`Setting.label`, in its order: (pattern, field, parse).
_SUFFIXES: tuple[tuple[str, str, Any], ...] = (
    (r" local-first", "local", lambda _: True),
    (r" cd=(\S+)s", "cooldown", float),
    (r" miss>(\S+)", "deviation", float),
    (r" changes=(\d+)", "changes", int),
    (r" stay=(day|\S+s)", "residence", lambda v: None if v == "day" else float(v[:-1])),
    (r" hand-off", "hand_off", lambda _: True),
    (r" warm", "warm", lambda _: True),
    (r" per-replica", "per_replica", lambda _: True),
    (r" persist=(\S+)s", "persist", float),
    (r" floor=(\S+)s", "floor_window", float),
    (r" ratio=(\S+)", "ratio", float),
    (r" copy-floor (on|off)", "copy_floor", lambda v: v == "on"),
    (r" grace-slots (on|off)", "grace_slots", lambda v: v == "on"),
    (r" cd-from-read", "from_read", lambda _: True),
    (r" k=(\S+)", "sigma", float),
    (r" pod-release (on|off)", "pod_release", lambda v: v == "on"),
    (r" w=(\S+)s", "window", float),
    (r" trim-in-reactive-order", "reactive_order", lambda _: True),
    (r" min\+(\d+)", "extra", int),
    (r" copies x(\S+)", "copy_weight", float),
    (r" fill-in-reactive-order", "reactive_fill", lambda _: True),
    (r" everywhere>=(\S+)d", "everywhere", float),
    (r" copy>=(\S+)MiB", "everywhere_bytes", lambda v: round(float(v) * MIB)),
    (r" observed-only", "observed", lambda _: True),
    (r" floor-in-zone-order", "zone_order", lambda _: True),
    (r" swap-in-reactive-order", "rule_swaps", lambda _: True),
    (r" background>=(\S+)/h", "background", float),
)


def setting_of(label: str) -> Setting:
    """The setting a predictive run's label names (the inverse of :attr:`Setting.label`).

    A refinement run's prices are read as its label prints them (three digits). A label
    does not name ``demand_priced``: every setting of the sweep that keeps the default
    prices' demand-relative floor prices warm copies too, and no other does (the default
    run and those made from it; the grid and the refinement price bytes only, in full), so
    ``warm`` gives it (``tests/unit/test_sim_expressible.py`` checks it on the sweep).

    Raises:
        ValueError: ``label`` is not a predictive run's, or has a suffix no setting writes.
    """
    if label == DEFAULT.label:
        return DEFAULT
    head = _HEAD.match(label)
    if head is None:
        raise ValueError(f"not a predictive run's label: {label!r}")
    rest = head["rest"]
    values: dict[str, Any] = {"hold": float(head["hold"]), "copy": float(head["copy"])}
    for pattern, name, parse in _SUFFIXES:
        found = re.match(pattern + r"(?= |$)", rest)
        if found is not None:
            values[name] = parse(found.group(1) if found.groups() else "")
            rest = rest[found.end() :]
    if rest:
        raise ValueError(f"unknown suffix {rest!r} in {label!r}")
    setting = Setting(**values, demand_priced=values.get("warm", False))
    if setting.label != label:
        raise ValueError(f"{label!r} reads back as {setting.label!r}")
    return setting
