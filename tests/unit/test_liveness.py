"""Liveness judged on the observer's clock (issue 19; ch13's clock-skew finding): a holder
whose clock is off still counts as alive while its Lease keeps changing, and as down once
the observer has seen no change for longer than the Lease lasts."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest

from statecast.controller.services import AgentLiveness
from statecast.core.liveness import RenewalWatch, newer, renewed_at
from statecast.core.reconcile.views import AgentLease
from tests.unit._clock import ManualClock


@pytest.mark.parametrize(
    ("sightings", "silent"),
    [
        ([("r1", 0.0)], 0.0),  # first seen: renewed when first seen
        ([("r1", 0.0), ("r1", 4.0)], 4.0),  # no change for 4 s
        ([("r1", 0.0), ("r2", 3.0), ("r2", 5.0)], 2.0),  # changed at 3 s
        ([("r1", 0.0), ("r2", 3.0), ("r1", 4.0)], 0.0),  # any change counts (a clock stepped)
    ],
)
def test_silence_is_counted_from_the_last_change_the_observer_saw(sightings, silent) -> None:
    watch = RenewalWatch()
    for marker, now in sightings:
        got = watch.silent_for("n1", marker, now)
    assert got == silent


def test_a_holder_whose_lease_is_gone_is_forgotten() -> None:
    watch = RenewalWatch()
    watch.observe("n1", "r1", 0.0)
    watch.forget_others(["n2"])
    assert watch.silent_for("n1", "r1", 50.0) == 0.0  # seen anew


class Leases:
    def __init__(self) -> None:
        self.leases: list[AgentLease] = []

    def agent_leases(self) -> list[AgentLease]:
        return list(self.leases)

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(name)


def test_an_agent_whose_clock_is_behind_is_alive_while_it_renews_and_down_once_it_stops() -> None:
    gateway, clock = Leases(), ManualClock(1000.0)
    liveness = AgentLiveness(gateway, ttl=0.0, clock=clock, wall=clock)  # type: ignore[arg-type]

    def now() -> dt.datetime:
        return dt.datetime.fromtimestamp(clock.now, dt.UTC)

    def renew_behind(seconds: float) -> None:  # its clock is `seconds` behind ours
        renewed = now() - dt.timedelta(seconds=seconds)
        gateway.leases = [AgentLease("slow", renewed, 6), AgentLease("ok", now(), 6)]

    for _ in range(5):
        renew_behind(9.0)  # by its own renewTime it expired 3 s ago, at each renewal
        assert liveness.down(now()) == frozenset()
        clock.now += 2.0
    clock.now += 5.0  # it stopped renewing; 7 s without a change on our clock
    assert liveness.down(now()) == frozenset({"slow", "ok"})


def test_a_dead_agent_first_seen_by_a_restarted_operator_is_down_after_one_lease() -> None:
    gateway, clock = Leases(), ManualClock(1000.0)
    liveness = AgentLiveness(gateway, ttl=0.0, clock=clock, wall=clock)  # type: ignore[arg-type]
    long_ago = dt.datetime.fromtimestamp(clock.now - 600, dt.UTC)
    gateway.leases = [AgentLease("dead", long_ago, 6)]
    assert liveness.down(dt.datetime.fromtimestamp(clock.now, dt.UTC)) == frozenset()
    clock.now += 7.0
    assert liveness.down(dt.datetime.fromtimestamp(clock.now, dt.UTC)) == {"dead"}


class SlowLeases(Leases):
    """Answers the first list at once; later lists wait until ``release`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.lists = 0
        self.listing, self.release = threading.Event(), threading.Event()

    def agent_leases(self) -> list[AgentLease]:
        self.lists += 1
        if self.lists > 1:
            self.listing.set()
            self.release.wait(120.0)
        return list(self.leases)


def test_a_reconcile_gets_the_last_lease_list_while_another_thread_lists_again() -> None:
    gateway, clock = SlowLeases(), ManualClock(1000.0)
    liveness = AgentLiveness(gateway, ttl=1.0, clock=clock, wall=clock)  # type: ignore[arg-type]
    now = dt.datetime.fromtimestamp(clock.now, dt.UTC)
    gateway.leases = [AgentLease("a", now, 6)]
    assert [lease.node for lease in liveness.current()] == ["a"]
    clock.now += 2.0  # the list is stale: the next caller lists again, and waits for it
    lister = threading.Thread(target=liveness.current)
    lister.start()
    assert gateway.listing.wait(30.0)
    try:
        answers: list[list[AgentLease]] = []
        other = threading.Thread(target=lambda: answers.append(liveness.current()))
        other.start()
        other.join(20.0)  # it must not wait for the slow list (released only below)
        assert not other.is_alive()
        assert [lease.node for lease in answers[0]] == ["a"]
        assert gateway.lists == 2  # one list under way, not a second one
    finally:
        gateway.release.set()
        lister.join(30.0)


@pytest.mark.parametrize(
    ("held", "seen", "is_newer"),
    [
        ("10", "11", True),
        ("10", "10", True),  # the same read again: not older
        ("11", "10", False),  # a lagging watch's event after a list's newer read
        ("9", "10", True),  # numbers, not strings ("9" > "10" as text)
        ("", "10", True),  # nothing held
        ("10", "", True),  # no version (a fake): no order known
        ("a1", "a0", True),  # not numbers: no order known
    ],
)
def test_reads_of_a_lease_are_ordered_by_their_resource_version(
    held: str, seen: str, is_newer: bool
) -> None:
    assert newer(held, seen) is is_newer


def test_a_lagging_watchs_older_event_does_not_renew_a_dead_agent() -> None:
    """A confirming list showed the dead agent's last renewal; the watch, seconds behind,
    then delivered the renewal before it: counted as a change, the agent was alive again
    for a whole Lease (and lapsed, and its wave ran, twice)."""
    gateway, clock = Leases(), ManualClock(1000.0)
    liveness = AgentLiveness(gateway, ttl=0.0, clock=clock, wall=clock)  # type: ignore[arg-type]

    def at(seconds: float) -> dt.datetime:
        return dt.datetime.fromtimestamp(seconds, dt.UTC)

    liveness.listed([AgentLease("a", at(990.0), 6, version="10")])
    clock.now += 2.0
    gateway.leases = [AgentLease("a", at(994.0), 6, version="12")]  # its last renewal
    assert liveness.down_confirmed(at(clock.now)) == frozenset()
    clock.now += 2.0
    liveness.changed("MODIFIED", AgentLease("a", at(992.0), 6, version="11"))  # late
    liveness.changed("MODIFIED", AgentLease("a", at(994.0), 6, version="12"))
    clock.now += 4.5  # 6.5 s since its last renewal was seen
    assert liveness.down_confirmed(at(clock.now)) == {"a"}
    assert liveness.down(at(clock.now)) == {"a"}
    liveness.changed("MODIFIED", AgentLease("a", at(999.0), 6, version="13"))  # it is back
    assert liveness.down(at(clock.now)) == frozenset()


def test_a_list_older_than_the_watchs_last_event_keeps_the_watchs_view() -> None:
    gateway, clock = Leases(), ManualClock(1000.0)
    liveness = AgentLiveness(gateway, ttl=0.0, clock=clock, wall=clock)  # type: ignore[arg-type]

    def at(seconds: float) -> dt.datetime:
        return dt.datetime.fromtimestamp(seconds, dt.UTC)

    liveness.listed([AgentLease("a", at(990.0), 6, version="10")])
    clock.now += 5.0
    liveness.changed("MODIFIED", AgentLease("a", at(995.0), 6, version="12"))  # seen at 1005
    clock.now += 1.0
    gateway.leases = [AgentLease("a", at(990.0), 6, version="10")]  # a list served late
    assert liveness.down_confirmed(at(clock.now)) == frozenset()
    clock.now += 5.5  # 6.5 s since the renewal at version 12 was seen: down
    assert liveness.down_confirmed(at(clock.now)) == {"a"}


@pytest.mark.parametrize(
    ("written", "seen", "duration", "renewed"),
    [
        (100.0, 100.0, 30, 100.0),  # seen as written
        (100.0, 102.5, 30, 100.0),  # delivered 2.5 s late: as written
        (100.0, 106.0, 30, 101.0),  # 6 s late (or a clock 6 s behind): 5 s (a sixth) trusted
        (100.0, 97.0, 30, 97.0),  # written ahead of our clock: when seen
        (100.0, 101.5, 6, 100.5),  # an agent's 6 s Lease: 1 s trusted
    ],
)
def test_a_renewal_counts_as_written_within_a_sixth_of_its_lease_before_it_was_seen(
    written: float, seen: float, duration: int, renewed: float
) -> None:
    assert renewed_at(written, seen, duration) == pytest.approx(renewed)


def test_a_renewal_the_watch_delivered_late_lapses_when_written_plus_the_lease() -> None:
    """Judged from when the watch delivered the last renewal, the lapse at 1,000
    resources (load ~15) was seen 2.5 s after the Lease's expiry."""
    gateway, clock = Leases(), ManualClock(1000.0)
    liveness = AgentLiveness(gateway, ttl=0.0, clock=clock, wall=clock)  # type: ignore[arg-type]

    def at(seconds: float) -> dt.datetime:
        return dt.datetime.fromtimestamp(seconds, dt.UTC)

    liveness.listed([AgentLease("a", at(1000.0), 30, version="1")])
    clock.now = 1007.5
    liveness.changed("MODIFIED", AgentLease("a", at(1005.0), 30, version="2"))  # 2.5 s late
    clock.now = 1035.1  # 30.1 s after it was written, 27.6 s after it was seen
    gateway.leases = [AgentLease("a", at(1005.0), 30, version="2")]
    assert liveness.down_confirmed(at(clock.now)) == {"a"}


class BlockedLeases(Leases):
    """Every list waits until ``release`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.listing, self.release = threading.Event(), threading.Event()

    def agent_leases(self) -> list[AgentLease]:
        self.listing.set()
        self.release.wait(120.0)
        return list(self.leases)


def test_while_the_list_after_a_dropped_watch_is_under_way_readers_get_the_watchs_view() -> None:
    """They got the list the watch had started from, minutes old: every agent looked
    lapsed to a reconcile that read the Leases then."""
    gateway, clock = BlockedLeases(), ManualClock(1000.0)
    liveness = AgentLiveness(gateway, ttl=1.0, clock=clock, wall=clock)  # type: ignore[arg-type]

    def at(seconds: float) -> dt.datetime:
        return dt.datetime.fromtimestamp(seconds, dt.UTC)

    liveness.listed([AgentLease("a", at(1000.0), 6, version="1")])
    for second in range(1, 61):  # renewed every second for a minute, as the watch saw
        clock.now = 1000.0 + second
        liveness.changed("MODIFIED", AgentLease("a", at(clock.now), 6, version=str(second + 1)))
    liveness.unwatched()  # the watch dropped
    gateway.leases = [AgentLease("a", at(1060.0), 6, version="61")]
    clock.now = 1061.0
    lister = threading.Thread(target=liveness.current)
    lister.start()
    assert gateway.listing.wait(30)
    try:
        assert liveness.down(at(clock.now)) == frozenset()  # the watch's view, 1 s old
    finally:
        gateway.release.set()
        lister.join(30)


def test_a_stalled_watchs_lapses_count_only_once_a_list_confirms_them() -> None:
    """A watch that stalls without an error shows every Lease lapsing: a reconcile that
    read that view marked live agents' copies Lost and placed copies elsewhere."""
    gateway, clock = Leases(), ManualClock(1000.0)
    liveness = AgentLiveness(gateway, ttl=1.0, clock=clock, wall=clock)  # type: ignore[arg-type]

    def at(seconds: float) -> dt.datetime:
        return dt.datetime.fromtimestamp(seconds, dt.UTC)

    liveness.listed([AgentLease("a", at(1000.0), 6, version="1")])
    clock.now = 1010.0  # no event for 10 s: the watch stalled, the agent renews still
    gateway.leases = [AgentLease("a", at(1009.0), 6, version="9")]
    assert liveness.down(at(clock.now)) == frozenset()
    assert liveness.down_confirmed(at(clock.now)) == frozenset()  # the list: alive
    clock.now = 1020.0  # and now it stopped renewing at 1009
    assert liveness.down_confirmed(at(clock.now)) == {"a"}
    assert liveness.down(at(clock.now)) == {"a"}
    liveness.changed("MODIFIED", AgentLease("a", at(1020.0), 6, version="10"))  # back
    assert liveness.down(at(clock.now)) == frozenset()
    clock.now = 1030.0  # stalled again: its lapse must be confirmed again
    assert liveness.down(at(clock.now)) == frozenset()


def test_a_confirmed_lapse_stays_when_the_lease_is_written_without_a_renewal() -> None:
    gateway, clock = Leases(), ManualClock(1000.0)
    liveness = AgentLiveness(gateway, ttl=1.0, clock=clock, wall=clock)  # type: ignore[arg-type]

    def at(seconds: float) -> dt.datetime:
        return dt.datetime.fromtimestamp(seconds, dt.UTC)

    liveness.listed([AgentLease("a", at(1000.0), 6, version="1")])
    clock.now = 1010.0
    gateway.leases = [AgentLease("a", at(1000.0), 6, version="1")]
    assert liveness.down_confirmed(at(clock.now)) == {"a"}
    # someone annotates the dead agent's Lease: a new version, the same renewTime
    liveness.changed("MODIFIED", AgentLease("a", at(1000.0), 6, endpoint="x", version="2"))
    assert liveness.down(at(clock.now)) == {"a"}
