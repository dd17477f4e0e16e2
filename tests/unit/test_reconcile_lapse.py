"""A lapsed agent Lease: the resources it affects, their order, the next lapse, the load."""

from __future__ import annotations

import datetime as dt

import pytest

from statecast.api.types import Ref
from statecast.core.reconcile.lapse import (
    Wave,
    copies_left,
    creations_ahead,
    lapse_wave,
    load_after,
    next_lapse,
    overdue_by,
)
from statecast.core.reconcile.views import AgentLease
from statecast.core.replica_set import ReplicaChange

A, B, C, D, E = (("ns", x) for x in "abcde")
NOW = dt.datetime(2026, 12, 5, 3, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("lapsed", "down", "copies", "minimums", "wave"),
    [
        # nothing held there: nothing to do
        (["n9"], [], {A: {"n1", "n2"}}, {A: 2}, Wave()),
        # min 2, one left: urgent; three copies, two left: the rest
        (["n1"], [], {A: {"n1", "n2"}, B: {"n1", "n2", "n3"}}, {A: 2, B: 2}, Wave((A,), (B,))),
        # a copy elsewhere that is not on the lapsed node is not affected
        (["n1"], [], {A: {"n2", "n3"}, B: {"n1", "n2"}}, {A: 2, B: 2}, Wave((B,), ())),
        # a raised minimum (3) left with two: urgent, after the one left with one
        (
            ["n1"],
            [],
            {A: {"n1", "n2", "n3"}, B: {"n1", "n2"}, C: {"n1", "n2", "n3", "n4"}},
            {A: 3, B: 2, C: 2},
            Wave((B, A), (C,)),
        ),
        # a node down already counts: the loss of n1 leaves A one copy, not two
        (["n1"], ["n1", "n2"], {A: {"n1", "n2", "n3"}}, {A: 1}, Wave((A,), ())),
        # two nodes lapse at once (a zone): every holder, fewest left first, then names
        (
            ["n1", "n2"],
            [],
            {A: {"n1", "n2"}, B: {"n2", "n3", "n4"}, C: {"n1", "n3"}, D: {"n3", "n4"}},
            {A: 2, B: 2, C: 2, D: 2},
            Wave((A, C), (B,)),
        ),
        # unknown minimum: 1, and one copy left is still at risk
        (["n1"], [], {E: {"n1", "n2", "n3"}}, {}, Wave((), (E,))),
    ],
)
def test_a_lapse_affects_the_holders_and_puts_those_left_short_first(
    lapsed: list[str],
    down: list[str],
    copies: dict[Ref, set[str]],
    minimums: dict[Ref, int],
    wave: Wave,
) -> None:
    assert lapse_wave(lapsed, down, copies, minimums) == wave


def test_the_order_of_a_wave_does_not_depend_on_the_order_of_the_sets() -> None:
    copies = {("ns", f"r{i:03d}"): {"n1", "n2"} for i in range(200)}
    reversed_ = dict(reversed(list(copies.items())))
    assert lapse_wave(["n1"], [], copies, {}) == lapse_wave(["n1"], [], reversed_, {})
    assert list(lapse_wave(["n1"], [], copies, {}).urgent) == sorted(copies)


def lease(node: str, renewed_ago: float | None, duration: int = 30) -> AgentLease:
    renewed = None if renewed_ago is None else NOW - dt.timedelta(seconds=renewed_ago)
    return AgentLease(node=node, renew_time=renewed, duration_seconds=duration)


@pytest.mark.parametrize(
    ("leases", "seconds"),
    [
        ([], None),
        ([lease("n1", 10.0)], 20.0),
        ([lease("n1", 10.0), lease("n2", 29.5), lease("n3", 1.0)], 0.5),
        ([lease("n1", 31.0), lease("n2", 5.0)], 25.0),  # n1 lapsed already
        ([lease("n1", None), lease("n2", 40.0)], None),  # never renewed / lapsed
        ([lease("n1", 1.0, duration=2)], 1.0),
        ([lease("n1", 30.0)], 0.0),  # lapses now (expired is "longer than it lasts")
    ],
)
def test_the_next_lapse_is_when_the_first_live_lease_runs_out(
    leases: list[AgentLease], seconds: float | None
) -> None:
    assert next_lapse(leases, NOW) == seconds


@pytest.mark.parametrize(
    ("load", "added", "after"),
    [
        ({"n1": (1.0, 10.0, 5.0)}, {}, {"n1": (1.0, 10.0, 5.0)}),
        ({"n1": (1.0, 10.0, 5.0)}, {"n1": (2, 20)}, {"n1": (3.0, 30.0, 5.0)}),
        (
            {"n1": (1.0, 10.0, 5.0)},
            {"n2": (1, 7)},
            {"n1": (1.0, 10.0, 5.0), "n2": (1.0, 7.0, 0.0)},
        ),
    ],
)
def test_a_waves_plans_add_their_copies_to_the_load_the_next_plan_sees(
    load: dict[str, tuple[float, ...]],
    added: dict[str, tuple[int, int]],
    after: dict[str, tuple[float, ...]],
) -> None:
    assert load_after(load, added) == after


def add(node: str, reason: str) -> ReplicaChange:
    return ReplicaChange("add", node, reason)


@pytest.mark.parametrize(
    ("adds", "left", "minimum", "ahead"),
    [
        # one left of min 2: the replacement only, not the copy for predicted demand
        ([add("n2", "predicted"), add("n3", "minimum")], 1, 2, [add("n3", "minimum")]),
        # none left: two, replacements first, then the plan's order
        (
            [add("n2", "predicted"), add("n3", "failover"), add("n4", "hedge")],
            0,
            2,
            [add("n3", "failover"), add("n2", "predicted")],
        ),
        # a raised minimum (3) left with two: one
        ([add("n4", "minimum"), add("n5", "minimum")], 2, 3, [add("n4", "minimum")]),
        # a copy held on every node restores it too (said minimum before session 25)
        ([add("n2", "predicted"), add("n3", "everywhere")], 1, 2, [add("n3", "everywhere")]),
        # min 1 with one left is still at risk: back to two
        ([add("n2", "predicted")], 1, 1, [add("n2", "predicted")]),
        # not short any more (the agent came back, or copies were added): nothing ahead
        ([add("n2", "predicted")], 2, 2, []),
        ([], 0, 2, []),
    ],
)
def test_a_waves_plan_sends_ahead_only_what_takes_it_out_of_risk(
    adds: list[ReplicaChange], left: int, minimum: int, ahead: list[ReplicaChange]
) -> None:
    assert list(creations_ahead(adds, left, minimum)) == ahead


def test_copies_left_counts_the_holders_not_gone() -> None:
    assert copies_left(["n1", "n2", "n2", "n3"], {"n1", "n9"}) == 2


def test_a_lapse_is_overdue_by_the_time_since_its_lease_ran_out() -> None:
    lease = AgentLease("n1", NOW - dt.timedelta(seconds=31.5), 30)
    assert overdue_by(lease, NOW) == pytest.approx(1.5)
    assert overdue_by(AgentLease("n1", NOW, 30), NOW) == pytest.approx(-30.0)
    assert overdue_by(AgentLease("n1", None, 30), NOW) == 0.0
