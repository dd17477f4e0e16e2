"""Settings of a valid spec that do nothing: for another policy, or without their partner.

A ``SharedResource`` spec can hold settings that validate and have no effect: the
predictive planner's knobs on a ``reactive`` or ``static`` resource, a knob that acts only
with another one set (``everywhereMinBytes`` without ``everywhereCopyDays``), or one that
acts only with the reactive rule's budget on a resource whose spec turns that budget off
(``bytePricesOnly``, or ``tuning.targetLocalHitRatio``). Refusing them would fail a spec that
ran before (and one a user keeps for a later switch of policy); :func:`ignored_settings`
names them instead, so the reconcile reports each in the ``ForecastReady`` condition's
message and, once per spec generation, in a ``SettingsIgnored`` Warning Event
(:mod:`statecast.core.reconcile.status`). Each rule reads the code it describes:
:mod:`statecast.core.reconcile.policies` (the budget's shadow),
:func:`~statecast.core.reconcile.predictive.placement_costs` (the holding floor) and the
planner's stages. ``docs/tuning.md`` lists them for users.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pydantic import BaseModel
from pydantic.alias_generators import to_camel

from statecast.api.shared_resource import PlannerKnobs, SharedResourceSpec
from statecast.api.units import parse_duration
from statecast.core.reconcile.tuning import tuner_prices

__all__ = ["IGNORED_REASON", "ignored_settings"]

#: The reason of the Warning Event that names them.
IGNORED_REASON = "SettingsIgnored"
#: The planner's knobs that act only with the reactive rule's budget (its shadow's count,
#: nodes and held copies: ``PlanInput.reactive_copies``, ``reactive_nodes``,
#: ``reactive_held``).
BUDGET_KNOBS = (
    "trim_in_reactive_order",
    "fill_in_reactive_order",
    "swap_in_reactive_order",
    "release_pod_copies",
    "hold_grace_slots",
)


def _off_default(model: BaseModel, prefix: str) -> list[str]:
    """The fields of ``model`` whose value is not their default, as ``prefix.camelName``."""
    default = type(model)()
    return [
        f"{prefix}.{to_camel(name)}"
        for name in type(model).model_fields
        if getattr(model, name) != getattr(default, name)
    ]


def _note(names: Sequence[str], why: str) -> str:
    """One note: the settings ignored and why."""
    return f"ignored: {', '.join(names)} ({why})"


def _not_predictive(spec: SharedResourceSpec) -> list[str]:
    """What acts only with ``policy: predictive`` on a resource of another policy."""
    replication = spec.replication
    policy = replication.policy
    if policy == "predictive":
        return []
    set_here = [
        *_off_default(replication.planner, "replication.planner"),
        *_off_default(replication.thresholds, "replication.thresholds"),
        *_off_default(replication.budget, "replication.budget"),
    ]
    if replication.tuning.target_local_hit_ratio is not None:
        set_here.append("replication.tuning.targetLocalHitRatio")
    notes = []
    if set_here:
        notes.append(_note(set_here, f"only policy predictive reads them; policy is {policy}"))
    heat = _off_default(replication.heat, "replication.heat")
    if policy == "static" and heat:
        notes.append(_note(heat, "policy static follows no heat"))
    return notes


def _no_budget(spec: SharedResourceSpec) -> list[str]:
    """Knobs of the reactive budget on a predictive resource whose spec turns it off."""
    knobs, default = spec.replication.planner, PlannerKnobs()
    if knobs.byte_prices_only:
        why = "replication.planner.bytePricesOnly"
    elif tuner_prices(spec):
        why = "replication.tuning.targetLocalHitRatio (the self-tuner's cost weight)"
    else:
        return []
    names = [
        f"replication.planner.{to_camel(name)}"
        for name in BUDGET_KNOBS
        if getattr(knobs, name) != getattr(default, name)
    ]
    if not names:
        return []
    return [_note(names, f"they act with the reactive rule's budget, which {why} turns off")]


def _byte_prices(spec: SharedResourceSpec) -> list[str]:
    """What the holding floor at the hot threshold carries, with ``bytePricesOnly``."""
    replication = spec.replication
    if replication.policy != "predictive" or not replication.planner.byte_prices_only:
        return []
    names = _off_default(replication.heat, "replication.heat")
    if replication.planner.copy_floor:
        names.insert(0, "replication.planner.copyFloor")
    if not names:
        return []
    why = (
        "replication.planner.bytePricesOnly prices by bytes alone: no holding floor at the"
        " hot threshold, no reactive budget"
    )
    return [_note(names, why)]


def _partners(spec: SharedResourceSpec) -> list[str]:
    """A knob set whose partner, which it acts with, is off."""
    replication = spec.replication
    if replication.policy != "predictive":
        return []
    knobs, tuning = replication.planner, replication.tuning
    notes = []
    if knobs.everywhere_min_bytes > 0 and knobs.everywhere_copy_days <= 0:
        notes.append(
            _note(
                ["replication.planner.everywhereMinBytes"],
                "it acts only with replication.planner.everywhereCopyDays above 0",
            )
        )
    if knobs.floor_observed_only and parse_duration(knobs.floor_window).total_seconds() <= 0:
        notes.append(
            _note(
                ["replication.planner.floorObservedOnly"],
                "it acts only with replication.planner.floorWindow above 0s",
            )
        )
    if tuning.target_local_hit_ratio is not None and not tuning.enabled:
        notes.append(
            _note(["replication.tuning.targetLocalHitRatio"], "replication.tuning.enabled is false")
        )
    return notes


#: Each rule: the notes it finds in a spec (in this order).
RULES: tuple[Callable[[SharedResourceSpec], list[str]], ...] = (
    _not_predictive,
    _no_budget,
    _byte_prices,
    _partners,
)


def ignored_settings(spec: SharedResourceSpec) -> tuple[str, ...]:
    """Each setting of ``spec`` that has no effect, and why, as a sentence (none: empty).

    The operator's default spec, and any spec whose every setting acts, gives none.
    """
    return tuple(note for rule in RULES for note in rule(spec))
