"""Woken reconciles: each resource once, not too often, and the right ones for a node."""

from __future__ import annotations

from statecast.controller.wakeups import Wakeups
from tests.unit._clock import ManualClock


def test_a_resource_woken_many_times_is_reconciled_once() -> None:
    wakeups = Wakeups(min_gap=1.0, clock=ManualClock(100.0))
    wakeups.wake([("ns", "a"), ("ns", "b"), ("ns", "a")])
    wakeups.wake([("ns", "a")])
    taken = [wakeups.next(timeout=0), wakeups.next(timeout=0), wakeups.next(timeout=0)]
    assert taken == [("ns", "a"), ("ns", "b"), None]


def test_a_resource_is_not_reconciled_again_within_the_gap() -> None:
    clock = ManualClock(100.0)
    wakeups = Wakeups(min_gap=1.0, clock=clock)
    wakeups.wake([("ns", "a")])
    assert wakeups.next(timeout=0) == ("ns", "a")
    wakeups.done(("ns", "a"))
    wakeups.wake([("ns", "a")])
    assert wakeups.next(timeout=0) is None  # woken again at once: waits its gap
    clock.now += 1.0
    assert wakeups.next(timeout=0) == ("ns", "a")


def test_a_resource_woken_first_does_not_wait_the_gap() -> None:
    """A spec change (or a copy left at risk) is no burst of replica reports."""
    clock = ManualClock(100.0)
    wakeups = Wakeups(min_gap=1.0, clock=clock)
    wakeups.wake([("ns", "a")])
    assert wakeups.next(timeout=0) == ("ns", "a")
    wakeups.done(("ns", "a"))
    clock.now += 0.2
    wakeups.wake([("ns", "a")], first=True)
    assert wakeups.next(timeout=0) == ("ns", "a")


def test_a_resource_being_reconciled_waits_for_that_reconcile() -> None:
    clock = ManualClock(100.0)
    wakeups = Wakeups(min_gap=0.0, clock=clock)
    wakeups.wake([("ns", "a")])
    assert wakeups.next(timeout=0) == ("ns", "a")
    wakeups.wake([("ns", "a")])
    assert wakeups.next(timeout=0) is None
    wakeups.done(("ns", "a"))
    assert wakeups.next(timeout=0) == ("ns", "a")


def test_a_lost_node_wakes_the_resources_with_a_copy_there() -> None:
    wakeups = Wakeups(min_gap=0.0, clock=ManualClock(100.0))
    wakeups.replica(("ns", "a"), "n1", present=True)
    wakeups.replica(("ns", "b"), "n2", present=True)
    wakeups.replica(("ns", "c"), "n1", present=True)
    wakeups.replica(("ns", "c"), "n1", present=False)
    wakeups.wake_holders("n1")
    assert [wakeups.next(timeout=0), wakeups.next(timeout=0)] == [("ns", "a"), None]


def test_a_namespace_or_everything_can_be_woken_and_deleted_resources_are_not() -> None:
    wakeups = Wakeups(min_gap=0.0, clock=ManualClock(100.0))
    for ref in [("x", "a"), ("x", "b"), ("y", "c")]:
        wakeups.known(ref)
    wakeups.forget(("x", "b"))
    wakeups.wake_namespace("x")
    assert [wakeups.next(timeout=0), wakeups.next(timeout=0)] == [("x", "a"), None]
    wakeups.done(("x", "a"))
    wakeups.wake_all()
    assert {wakeups.next(timeout=0), wakeups.next(timeout=0)} == {("x", "a"), ("y", "c")}


def test_only_changes_count() -> None:
    wakeups = Wakeups(clock=ManualClock(100.0))
    assert wakeups.changed(("node", "n1"), ("ready", True))
    assert not wakeups.changed(("node", "n1"), ("ready", True))
    assert wakeups.changed(("node", "n1"), ("ready", False))


def test_every_known_resource_is_resynced_once_a_period_spread_over_it() -> None:
    wakeups = Wakeups(min_gap=0.0, clock=ManualClock(100.0))
    refs = [("ns", f"r{i}") for i in range(1000)]
    for ref in refs:
        wakeups.known(ref)
    wakeups.forget(("ns", "r0"))
    per_second = [wakeups.resync_round(t, t + 1.0, 60.0) for t in range(1000, 1060)]
    assert sum(per_second) == 999  # each once in a period, the deleted one never
    assert max(per_second) < 40  # spread over it, not one burst
    taken = {wakeups.next(timeout=0) for _ in range(1000)}
    assert taken == {*refs[1:], None}
    assert (
        wakeups.resync_round(1060.0, 1060.5, 60.0) + wakeups.resync_round(1060.5, 1120.0, 60.0)
        == 999
    )  # the next period: once more each


def test_woken_resources_go_before_safety_resyncs_and_each_runs_once() -> None:
    wakeups = Wakeups(min_gap=0.0, clock=ManualClock(100.0))
    wakeups.resync([("ns", "r1"), ("ns", "r2"), ("ns", "r1")])
    wakeups.wake([("ns", "w1")])
    wakeups.resync([("ns", "w1")])  # already woken: not queued twice
    wakeups.wake([("ns", "r2")])  # due for a resync, then woken: goes first
    assert wakeups.pending() == 3
    taken = [wakeups.next(timeout=0) for _ in range(4)]
    assert taken == [("ns", "w1"), ("ns", "r2"), ("ns", "r1"), None]


def test_a_safety_resync_waits_the_gap_like_a_wakeup() -> None:
    clock = ManualClock(100.0)
    wakeups = Wakeups(min_gap=1.0, clock=clock)
    wakeups.wake([("ns", "a")])
    assert wakeups.next(timeout=0) == ("ns", "a")
    wakeups.done(("ns", "a"))
    wakeups.resync([("ns", "a")])
    assert wakeups.next(timeout=0) is None
    clock.now += 1.0
    assert wakeups.next(timeout=0) == ("ns", "a")


def test_a_failed_reconcile_is_tried_again_later_and_later_until_one_succeeds() -> None:
    clock = ManualClock(100.0)
    wakeups = Wakeups(min_gap=0.0, clock=clock)
    ref = ("ns", "a")
    assert [wakeups.failed(ref) for _ in range(7)] == [2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]
    assert wakeups.next(timeout=0) is None  # queued 2 s after the first failure
    clock.now += 2.0
    assert wakeups.next(timeout=0) == ref
    wakeups.done(ref)
    wakeups.succeeded(ref)
    assert wakeups.failed(ref) == 2.0
    wakeups.wake([("ns", "b")])
    wakeups.wake([ref])  # woken meanwhile: at once, not after the delay
    clock.now += 0.5
    assert {wakeups.next(timeout=0), wakeups.next(timeout=0)} == {ref, ("ns", "b")}


def test_a_lost_node_wakes_the_resources_left_with_one_copy_first() -> None:
    """At 1,000 resources a lost node woke ~400 and the few whose last other copy was
    all that was left waited behind the others (up to 90 s in the benchmark)."""
    wakeups = Wakeups(min_gap=0.0, clock=ManualClock(100.0))
    many = [("ns", f"r{i:02d}") for i in range(20)]
    for ref in many:
        for node in ("n1", "n2", "n3"):
            wakeups.replica(ref, node, present=True)
    wakeups.replica(("ns", "alone"), "n1", present=True)
    wakeups.replica(("ns", "alone"), "n2", present=True)
    wakeups.wake([("ns", "changed")])  # a spec change queued before the loss
    wakeups.wake_holders("n1")
    order = [wakeups.next(timeout=0) for _ in range(22)]
    assert order[:2] == [("ns", "alone"), ("ns", "changed")]
    assert sorted(order[2:]) == many  # type: ignore[type-var]


def test_a_resource_asked_for_later_runs_then_unless_woken_sooner() -> None:
    clock = ManualClock(100.0)
    wakeups = Wakeups(min_gap=0.0, clock=clock)
    wakeups.later(("ns", "a"), 5.0)  # a copy's grace ends in 5 s: nothing else will wake it
    assert wakeups.next(timeout=0) is None
    clock.now += 5.0
    assert wakeups.next(timeout=0) == ("ns", "a")
    wakeups.done(("ns", "a"))
    wakeups.later(("ns", "a"), 5.0)
    wakeups.later(("ns", "a"), 9.0)  # a later ask keeps the sooner one
    wakeups.wake([("ns", "a")])  # a change wakes it at once
    assert wakeups.next(timeout=0) == ("ns", "a")


def test_a_lost_node_wakes_a_resource_it_leaves_below_its_raised_minimum_first() -> None:
    """The 1,000-resource run's 69 s outlier: a minimum raised to 3 left two copies after
    the loss - below it, but not "at most one copy", so it waited behind ~400 others."""
    wakeups = Wakeups(min_gap=0.0, clock=ManualClock(100.0))
    many = [("ns", f"r{i:02d}") for i in range(20)]
    for ref in [*many, ("ns", "raised")]:
        wakeups.known(ref, minimum=3 if ref == ("ns", "raised") else 2)
        for node in ("n1", "n2", "n3"):
            wakeups.replica(ref, node, present=True)
    wakeups.wake_holders("n1")
    order = [wakeups.next(timeout=0) for _ in range(21)]
    assert order[0] == ("ns", "raised")
    assert sorted(order[1:]) == many  # type: ignore[type-var]
