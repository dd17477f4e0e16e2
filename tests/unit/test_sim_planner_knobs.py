"""One place for the planner's knobs: every knob a sweep or a caller sets reaches the planner.

A planner knob is a field of :class:`PlacementSpec`. The simulator's planner policies take
them as one ``spec`` (each resource's spec is it, with the replica bounds, the cooldown and
the cost weight filled in), and a sweep's :class:`Setting` names, in each knob field's
metadata, the spec field it sets. Before, each knob was repeated by hand in five places
(Setting, ``predictive_variant``, ``Predictive``, ``PlannerPolicy`` and the spec it built),
and one left out silently ran the default. These tests change each field alone and look
at what :func:`plan` is given: a field that reaches nothing fails here.
"""

from __future__ import annotations

import typing
from dataclasses import fields, replace
from typing import Any

import numpy as np
import pytest

from statecast.core.placement import PlacementSpec
from statecast.sim import SimConfig, Trace
from statecast.sim.planned import PER_RESOURCE, ForecastCache, PlannerPolicy, Predictive
from statecast.sim.sweeps import DEFAULT, KNOB, PREDICTIVE, Setting, predictive_variant
from tests.unit._plan_spy import spy_on_plans

#: What a plan is given besides the demand: every knob of a policy shows in one of these.
SEEN = ("spec", "latency", "costs", "warm_retention_s", "reactive_copies")


def _trace() -> Trace:
    """A 1 MiB and a 64 MiB resource read on four nodes in two zones (sizes differ, so
    holding per replica-hour prices them apart)."""
    steps = 4
    demand = np.zeros((2, 4, steps))
    demand[:, :, :] = np.array([400.0, 100.0, 20.0, 5.0])[None, :, None]
    return Trace(
        name="knobs",
        demand=demand,
        resources=("small", "large"),
        nodes=("n0", "n1", "n2", "n3"),
        zones=("z0", "z1", "z0", "z1"),
        step_s=300.0,
        available=np.ones((4, steps), dtype=np.bool_),
        state_bytes=np.array([1.0, 64.0]) * 2**20,
        writes_per_min=np.ones(2),
        min_replicas=np.ones(2, dtype=np.int64),
        max_replicas=np.zeros(2, dtype=np.int64),
    )


def _seen(monkeypatch: pytest.MonkeyPatch, policy: PlannerPolicy) -> list[tuple[Any, ...]]:
    """What each resource's plan is given at the second step (one observed step)."""
    inputs = spy_on_plans(monkeypatch)
    trace = _trace()
    policy.start(trace, SimConfig())
    nothing = np.zeros((trace.n_resources, trace.n_nodes), dtype=np.bool_)
    policy.decide(1, nothing, nothing, np.zeros(nothing.shape))
    monkeypatch.undo()
    assert len(inputs) == trace.n_resources
    return [tuple(getattr(i, name) for name in SEEN) for i in inputs]


def _other(value: Any, hint: Any) -> Any:
    """A value of the field's type other than ``value``."""
    options = typing.get_args(hint)
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value * 2 + 1
    if value is None:
        return 2 if int in options else 123.0
    if typing.get_origin(hint) is typing.Literal:
        return next(o for o in options if o != value)
    return f"{value}-other"


def _changed(cls: type, name: str, value: Any) -> Any:
    return _other(value, typing.get_type_hints(cls)[name])


KNOBS = [f.name for f in fields(PlacementSpec) if f.name not in PER_RESOURCE]


@pytest.mark.parametrize("name", KNOBS)
def test_every_field_of_a_policys_spec_reaches_the_planner_alone(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    base = _seen(monkeypatch, Predictive())
    value = _changed(PlacementSpec, name, getattr(PlacementSpec(), name))
    seen = _seen(monkeypatch, Predictive(spec=replace(PlacementSpec(), **{name: value})))
    for before, after in zip(base, seen, strict=True):
        assert getattr(after[0], name) == value
        assert replace(after[0], **{name: getattr(before[0], name)}) == before[0]
        assert after[1:] == before[1:]


@pytest.mark.parametrize("name", PER_RESOURCE)
def test_a_spec_setting_a_field_the_policy_fills_is_refused(name: str) -> None:
    value = _changed(PlacementSpec, name, getattr(PlacementSpec(), name))
    with pytest.raises(ValueError, match=name):
        Predictive(spec=replace(PlacementSpec(), **{name: value}))


def _setting_seen(monkeypatch: pytest.MonkeyPatch, setting: Setting) -> list[tuple[Any, ...]]:
    policy = predictive_variant(_trace(), ForecastCache(), setting).make()
    assert isinstance(policy, PlannerPolicy)
    return _seen(monkeypatch, policy)


#: ``window`` is read over the steps observed, one here: test_sim_shaped checks that it
#: reaches the budget's shadow and the heat (a plan at this step cannot tell it).
@pytest.mark.parametrize("name", [f.name for f in fields(Setting) if f.name != "window"])
@pytest.mark.parametrize("base", [Setting(), DEFAULT], ids=["grid", "default"])
def test_every_field_of_a_setting_reaches_the_planner(
    monkeypatch: pytest.MonkeyPatch, name: str, base: Setting
) -> None:
    # A field predictive_variant (or its metadata) left out would plan as `base` does.
    if name == "sigma":  # the hot threshold prices only with the default prices
        base = replace(base, demand_priced=True)
    value = _changed(Setting, name, getattr(base, name))
    changed = replace(base, **{name: value})
    seen = _setting_seen(monkeypatch, changed)
    assert seen != _setting_seen(monkeypatch, base)
    knob = next(f for f in fields(Setting) if f.name == name).metadata.get(KNOB)
    if knob is not None:  # a planner knob: it sets its spec field, and no other
        assert all(getattr(s[0], knob) == value for s in seen)
        assert changed.planner == replace(base.planner, **{knob: value})
    if name != "demand_priced":  # the label names every field but the default prices'
        assert changed.label != base.label


def test_the_mapping_the_published_runs_were_made_with() -> None:
    # The grid's rule (no stay beyond the window, no hand-off) and the default run's (the
    # operator's spec); the knob fields name spec fields; labels of the grid stay unique.
    assert Setting().planner == replace(
        PlacementSpec(), move_residence_s=0.0, hand_off_on_add=False
    )
    assert DEFAULT.planner == PlacementSpec()
    assert Setting(deviation=1.0, changes=1, residence=None).planner == replace(
        PlacementSpec(), deviation_threshold=1.0, change_steps=1, hand_off_on_add=False
    )
    names = {f.name for f in fields(PlacementSpec)}
    assert {f.metadata[KNOB] for f in fields(Setting) if KNOB in f.metadata} <= names
    assert len({s.label for s in PREDICTIVE}) == len(PREDICTIVE)
