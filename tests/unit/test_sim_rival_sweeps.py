"""The rivals' sweeps: as many distinct settings on hourly traces as on 5-minute ones.

Before session 14 reactive's windows and grace periods were seconds (300, 900, 3600):
on an hourly trace all three are one step, and reactive had 4 distinct runs against
predictive's 74-275; follow-the-workload had 6, groupcache at most 9.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from bench.sim import Study, kept_only, reused_runs

from statecast.sim import SimConfig, Trace
from statecast.sim.baselines import MIN_STATS_S, FollowTheWorkload, HotCopies
from statecast.sim.frontier import Point
from statecast.sim.policies import Reactive
from statecast.sim.sweeps import Variant, variants

#: The replay's cooldown: reactive's default grace.
COOLDOWN_S = SimConfig().cooldown_s


def _trace(step_s: float, resources: int = 20) -> Trace:
    steps, nodes = 48, 6
    return Trace(
        name=f"steps-{step_s:g}",
        demand=np.ones((resources, nodes, steps)),
        resources=tuple(f"r{i}" for i in range(resources)),
        nodes=tuple(f"n{i}" for i in range(nodes)),
        zones=("a", "b", "c") * 2,
        step_s=step_s,
        available=np.ones((nodes, steps), dtype=np.bool_),
        state_bytes=np.full(resources, 2.0**20),
        writes_per_min=np.ones(resources),
        min_replicas=np.ones(resources, dtype=np.int64),
        max_replicas=np.zeros(resources, dtype=np.int64),
    )


def _reactive_steps(policy: object, step_s: float) -> tuple[int, float, int]:
    """What a reactive run does on a trace of ``step_s`` steps: window steps (as
    ``Reactive.start`` rounds them), k, and steps a cold copy stays (a copy goes once
    ``now - last hot >= grace``, and ``now`` moves a step at a time)."""
    assert isinstance(policy, Reactive)
    grace = COOLDOWN_S if policy.grace_s is None else policy.grace_s
    window = max(1, round(policy.window_s / step_s))
    return window, policy.k_sigma, max(1, math.ceil(grace / step_s - 1e-9))


def _follow_steps(policy: object, step_s: float) -> tuple[int, float, int]:
    assert isinstance(policy, FollowTheWorkload)
    window = max(1, math.ceil(max(policy.window_s, MIN_STATS_S) / step_s))
    return window, policy.ratio, policy.extra


def _hot(policy: object, step_s: float) -> tuple[int, float]:
    assert isinstance(policy, HotCopies)
    return policy.per_node, policy.probability


KEYS = {"reactive": _reactive_steps, "follow-the-workload": _follow_steps, "groupcache": _hot}


def _sweep(trace: Trace, family: str) -> list[Variant]:
    chosen = variants(trace, (family,))
    labels = [v.label for v in chosen]
    assert len(labels) == len(set(labels)), "a label twice"
    assert chosen[0].label == family, "the default first, under the family's name"
    return chosen


@pytest.mark.parametrize(
    ("family", "least"), [("reactive", 84), ("follow-the-workload", 60), ("groupcache", 35)]
)
@pytest.mark.parametrize("step_s", [300.0, 900.0, 3600.0])
def test_every_run_of_a_rival_s_sweep_is_a_distinct_setting_at_every_step(
    family: str, least: int, step_s: float
) -> None:
    trace = _trace(step_s)
    keys = [KEYS[family](v.make(), step_s) for v in _sweep(trace, family)]
    assert len(set(keys)) == len(keys), "two runs of one setting"
    assert len(keys) >= least, len(keys)


def test_the_defaults_come_first_at_the_family_s_defaults() -> None:
    trace = _trace(3600.0)
    for family, default in (
        ("reactive", Reactive()),
        ("follow-the-workload", FollowTheWorkload()),
        ("groupcache", HotCopies()),
    ):
        first = _sweep(trace, family)[0].make()
        assert KEYS[family](first, 3600.0) == KEYS[family](default, 3600.0)


def test_groupcache_holds_no_more_hot_copies_a_node_than_there_are_resources() -> None:
    trace = _trace(300.0, resources=3)
    keys = [_hot(v.make(), 300.0) for v in _sweep(trace, "groupcache")]
    assert {n for n, _ in keys} == {1, 2, 3}
    assert len(set(keys)) == len(keys) == 3 * 7


def test_the_sweeps_keep_their_published_labels_first() -> None:
    # The runs published before session 14 are reused by label: every earlier setting
    # keeps its label, and its place before the new ones.
    chosen = _sweep(_trace(300.0), "reactive")
    assert [v.label for v in chosen[:3]] == [
        "reactive",
        "reactive w=300s k=0 g=300s",
        "reactive w=300s k=0 g=900s",
    ]
    assert "reactive w=3 steps k=0.25 g=24 steps" in {v.label for v in chosen}
    hourly = [v.label for v in _sweep(_trace(3600.0), "follow-the-workload")]
    assert hourly[1] == "follow-the-workload w=30s x1 +1"
    assert "follow-the-workload w=12 steps x1.25 +3" in hourly


def _point(family: str, label: str, hours: float) -> Point:
    return Point(family, label, hours, 0.5, 1.0, 0.0)


def test_a_sweep_that_gained_settings_replays_only_those() -> None:
    trace = _trace(3600.0)
    chosen = variants(trace, ("reactive", "predictive"))
    old = [v.label for v in chosen if v.family == "reactive"][:4]
    kept = Study("t", "", [_point("reactive", label, 1.0) for label in old], warm_retention_s=0.0)
    taken = reused_runs(chosen, kept, frozenset(), warm_retention_s=0.0)
    assert sorted(chosen[i].label for i in taken) == sorted(old)


def test_kept_families_stand_as_published_refinement_runs_included() -> None:
    trace = _trace(3600.0)
    chosen = variants(trace, ("reactive", "predictive"))
    grid = [v.label for v in chosen if v.family == "predictive"]
    published = [_point("predictive", grid[0], 1.0), _point("predictive", "refined", 2.0)]
    kept = Study("t", "", published, warm_retention_s=0.0)
    left, extra = kept_only(chosen, kept, frozenset({"predictive"}))
    assert [v.label for v in left if v.family == "predictive"] == [grid[0]]
    assert len([v for v in left if v.family == "reactive"]) == len(
        [v for v in chosen if v.family == "reactive"]
    )
    assert [p.label for p in extra] == ["refined"]
    assert kept_only(chosen, kept, frozenset()) == (chosen, [])


def test_predictive_runs_are_taken_by_label_even_when_a_label_repeats() -> None:
    # A refinement run that lands on a grid setting repeats its label (published
    # generated-24 and fresh 106): the same run twice, still taken, not replayed.
    trace = _trace(3600.0)
    chosen = variants(trace, ("predictive",))
    grid = [v.label for v in chosen]
    published = [_point("predictive", label, 1.0) for label in grid[:3]]
    published.append(_point("predictive", grid[1], 1.0))
    kept = Study("t", "", published, warm_retention_s=0.0)
    taken = reused_runs(chosen, kept, frozenset(), warm_retention_s=0.0)
    assert sorted(chosen[i].label for i in taken) == sorted(grid[:3])
