"""Saving and loading the demand history: who writes, what, when, and what is refused."""

from __future__ import annotations

import base64
import datetime as dt
import logging
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from statecast.controller.history_keeper import (
    SAVE_ROUNDS,
    Activity,
    HistoryKeeper,
    Owner,
    history_configmap,
    history_name,
    save_round,
)
from statecast.controller.sampling import DemandSampler
from statecast.core.demand import AgentSample
from statecast.core.demand_codec import decode
from statecast.core.reconcile.views import AgentLease
from tests.unit._clock import ManualClock

OWNER = Owner("apps", "flags", "uid-1")
REF = ("apps", "flags")


class FakeStore:
    """ConfigMaps by (namespace, name), as the gateway would keep them."""

    def __init__(self) -> None:
        self.maps: dict[tuple[str, str], dict[str, Any]] = {}
        self.reads = 0
        self.fail_reads = 0

    def read_history(self, namespace: str, name: str, uid: str) -> bytes | None:
        self.reads += 1
        if self.fail_reads:
            self.fail_reads -= 1
            raise ConnectionError("API server unreachable")
        found = self.maps.get((namespace, history_name(name)))
        if found is None or found["metadata"]["ownerReferences"][0]["uid"] != uid:
            return None
        return base64.b64decode(found["binaryData"]["demand"])

    def write_history(self, body: dict[str, Any]) -> None:
        meta = body["metadata"]
        self.maps[(meta["namespace"], meta["name"])] = body


def keeper_with(store: FakeStore, clock: ManualClock, max_bytes: int = 900 * 1024) -> HistoryKeeper:
    activity = Activity(window=15.0, clock=clock)
    sampler = DemandSampler(list, active=activity.active)
    return HistoryKeeper(sampler, store, activity, period=300.0, max_bytes=max_bytes)


def sample(node: str, t: float, local: int) -> AgentSample:
    return AgentSample(node, 0.0, t, {("apps", "flags", "local"): local})


def test_history_saved_by_one_operator_is_loaded_by_the_next() -> None:
    store, clock = FakeStore(), ManualClock(1000.0)
    first = keeper_with(store, clock)
    first.observe(OWNER, 60.0)
    for minute in range(1, 31):
        first.sampler.record(sample("n1", 60.0 * minute, 10 * minute))
    assert first.save() == 1
    body = store.maps[("apps", "statecast-history-flags")]
    assert body["metadata"]["ownerReferences"] == [
        {"apiVersion": "statecast.io/v1alpha1", "kind": "SharedResource", "name": "flags",
         "uid": "uid-1", "controller": True, "blockOwnerDeletion": True}
    ]  # fmt: skip
    assert body["metadata"]["labels"]["statecast.io/history"] == "demand"
    second = keeper_with(store, clock)
    second.observe(OWNER, 60.0)
    args = (REF, ["n1"], 60.0, 1800.0, 30)
    np.testing.assert_array_equal(second.sampler.matrix(*args), first.sampler.matrix(*args))
    assert second.sampler.matrix(*args)[0, 1:].tolist() == [10.0] * 29


def test_a_corrupt_blob_is_ignored_with_a_warning_and_replaced(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store, clock = FakeStore(), ManualClock(1000.0)
    store.write_history(history_configmap(OWNER, b"garbage"))
    keeper = keeper_with(store, clock)
    with caplog.at_level(logging.WARNING):
        keeper.observe(OWNER, 60.0)
    assert "event=history-ignored resource=apps/flags" in caplog.text
    keeper.sampler.record(sample("n1", 60.0, 5))
    assert keeper.save() == 1
    blob = base64.b64decode(store.maps[("apps", "statecast-history-flags")]["binaryData"]["demand"])
    assert decode(blob).covered == {"n1": 60.0}


def test_a_failed_read_is_retried_and_nothing_is_saved_before_it_succeeds() -> None:
    store, clock = FakeStore(), ManualClock(1000.0)
    store.fail_reads = 1
    keeper = keeper_with(store, clock)
    keeper.observe(OWNER, 60.0)
    keeper.sampler.record(sample("n1", 60.0, 5))
    assert keeper.save() == 0, "saving now would overwrite what could not be read"
    keeper.observe(OWNER, 60.0)
    assert store.reads == 2
    assert keeper.save() == 1


def test_a_history_too_big_is_cut_and_the_log_says_so(caplog: pytest.LogCaptureFixture) -> None:
    store, clock = FakeStore(), ManualClock(1000.0)
    keeper = keeper_with(store, clock, max_bytes=600)
    keeper.observe(OWNER, 60.0)
    rng = np.random.default_rng(3)
    total = 0
    for minute in range(1, 400):
        total += int(rng.poisson(50))
        keeper.sampler.record(sample("n1", 60.0 * minute, total))
    with caplog.at_level(logging.WARNING):
        assert keeper.save() == 1
    assert "event=history-trimmed resource=apps/flags dropped_intervals=" in caplog.text
    blob = base64.b64decode(store.maps[("apps", "statecast-history-flags")]["binaryData"]["demand"])
    assert len(blob) <= 600


def test_a_standby_neither_samples_nor_saves_and_reloads_when_it_acts_again() -> None:
    store, clock = FakeStore(), ManualClock(1000.0)
    leases_asked: list[int] = []

    def leases() -> list[Any]:
        leases_asked.append(1)
        return []

    activity = Activity(window=15.0, clock=clock)
    sampler = DemandSampler(leases, active=activity.active)
    keeper = HistoryKeeper(sampler, store, activity)
    assert sampler.sample_once() == 0 and not leases_asked, "no reconcile yet: a standby"
    keeper.observe(OWNER, 60.0)
    sampler.sample_once()
    assert leases_asked == [1]
    sampler.record(sample("n1", 60.0, 5))
    clock.now += 60  # no reconcile for a minute: peering paused this operator
    assert sampler.sample_once() == 0 and leases_asked == [1]
    keeper.stop()
    assert store.maps == {}, "a paused operator does not save"
    other = keeper_with(store, clock)  # the peer acted meanwhile and saved
    other.observe(OWNER, 60.0)
    other.sampler.record(sample("n1", 60.0, 5))
    other.sampler.record(sample("n1", 120.0, 9))
    other.save()
    keeper.observe(OWNER, 60.0)  # acting again: what it held is stale, read it again
    assert sampler.matrix(REF, ["n1"], 60.0, 120.0, 2).tolist() == [[5.0, 4.0]]
    keeper.stop()
    assert ("apps", "statecast-history-flags") in store.maps


def test_a_long_resource_name_gets_a_hashed_configmap_name_and_a_valid_label() -> None:
    name = history_name("r" * 253)
    assert len(name) == 253
    assert name.startswith("statecast-history-rrr")
    assert name != history_name("r" * 252 + "s")
    body = history_configmap(Owner("apps", "x" * 62 + "-y", "u"), b"")
    assert body["metadata"]["labels"]["statecast.io/resource"] == "x" * 62


class CannedReader:
    """Agents that answer with a clock ``ahead`` seconds in the future."""

    ahead = 0.0

    def read(self, agents: Sequence[AgentLease]) -> dict[str, AgentSample | None]:
        counts = {("apps", "flags", "local"): 5}
        return {a.node: AgentSample(a.node, 0.0, time.time() + self.ahead, counts) for a in agents}


def test_a_sample_from_an_agent_whose_clock_runs_ahead_is_ignored() -> None:
    now = dt.datetime.now(dt.UTC)
    reader = CannedReader()
    sampler = DemandSampler(lambda: [AgentLease("n1", now, 600, "http://n1:7420")], reader=reader)
    reader.ahead = 3600.0
    assert sampler.sample_once() == 0
    assert sampler.snapshot(REF) is None, "an hour ahead would have cleared the hour before"
    reader.ahead = 0.0
    assert sampler.sample_once() == 1


class SlowStore(FakeStore):
    """Reads wait until the test lets them through."""

    def __init__(self) -> None:
        super().__init__()
        import threading

        self.gate = threading.Event()

    def read_history(self, namespace: str, name: str, uid: str) -> bytes | None:
        assert self.gate.wait(30), "the test never let the read through"
        return super().read_history(namespace, name, uid)


def wait_for(condition: Any, what: str) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


def test_in_the_background_a_reconcile_does_not_wait_for_the_saved_history() -> None:
    store, clock = SlowStore(), ManualClock(1000.0)
    first = keeper_with(FakeStore(), clock)
    first.observe(OWNER, 60.0)
    first.sampler.record(sample("n1", 60.0, 10))
    first.sampler.record(sample("n1", 120.0, 20))
    first.store = store
    assert first.save() == 1
    activity = Activity(window=15.0, clock=clock)
    keeper = HistoryKeeper(
        DemandSampler(list, active=activity.active), store, activity, load_threads=2
    )
    try:
        keeper.observe(OWNER, 60.0)  # returns although the read has not been answered
        keeper.observe(OWNER, 60.0)  # one read in flight: not a second
        keeper.sampler.record(sample("n1", 180.0, 30))
        assert keeper.save() == 0, "nothing is saved before the saved history is read"
        store.gate.set()
        wait_for(lambda: keeper.save() == 1, "the history was not loaded")
        assert keeper.sampler.matrix(REF, ["n1"], 60.0, 120.0, 2).tolist() == [[10.0, 10.0]]
    finally:
        keeper.stop()


def test_acting_again_reads_the_history_again_while_a_read_is_in_flight() -> None:
    store, clock = SlowStore(), ManualClock(1000.0)
    activity = Activity(window=15.0, clock=clock)
    keeper = HistoryKeeper(
        DemandSampler(list, active=activity.active), store, activity, load_threads=1
    )
    try:
        keeper.observe(OWNER, 60.0)
        clock.now += 60  # paused meanwhile: the next reconcile acts again
        keeper.observe(OWNER, 60.0)  # the other operator may have saved since
        keeper.sampler.record(sample("n1", 1060.0, 5))
        store.gate.set()
        wait_for(lambda: keeper.save() == 1, "the second read was not kept")
        assert store.reads == 2
    finally:
        keeper.stop()


def test_a_periods_saves_are_spread_over_its_rounds_each_resource_saved_once() -> None:
    """Saved all at once, 1,000 resources made a burst of 1,000 ConfigMap writes every
    five minutes (docs/scale-history.md, session 10)."""
    store, clock = FakeStore(), ManualClock(1000.0)
    keeper = keeper_with(store, clock)
    names = [f"r{i}" for i in range(60)]
    for name in names:
        keeper.observe(Owner("apps", name, f"uid-{name}"), 60.0)
    keeper.sampler.record(
        AgentSample("n1", 0.0, 60.0, {("apps", name, "local"): 5 for name in names})
    )
    assert keeper._loop.period == 300.0 / SAVE_ROUNDS
    per_round = []
    for _ in range(SAVE_ROUNDS):
        before = len(store.maps)
        keeper._save_while_acting()  # one round of the period
        per_round.append(len(store.maps) - before)
    assert sum(per_round) == len(names), "every resource saved once a period"
    assert max(per_round) < len(names) / 2, per_round
    assert {save_round(("apps", n), SAVE_ROUNDS) for n in names} == set(range(SAVE_ROUNDS))
    assert keeper.save() == len(names), "a whole save (the operator stopping) saves all"


def test_no_round_saves_before_the_first_pass_is_over_and_rounds_resume_after() -> None:
    """The first round, 30 s after the start, fell in the tail of a first pass over 1,000
    new resources: a hundred ConfigMap writes and the core API client's import
    (docs/scale-history.md, session 15). It waits for the pass (``settled``), at most a period."""
    store, clock = FakeStore(), ManualClock(1000.0)
    activity = Activity(window=15.0, clock=clock)
    sampler = DemandSampler(list, active=activity.active)
    pass_over = False
    keeper = HistoryKeeper(
        sampler, store, activity, period=300.0, settled=lambda: pass_over, clock=clock
    )
    names = [f"r{i}" for i in range(60)]
    for name in names:
        keeper.observe(Owner("apps", name, f"uid-{name}"), 60.0)
    sampler.record(AgentSample("n1", 0.0, 60.0, {("apps", n, "local"): 5 for n in names}))
    for _ in range(3):  # rounds due during the pass, the operator acting
        clock.now += 30.0
        activity.mark()
        keeper._save_while_acting()
    assert store.maps == {}, "before: round 0 saved its resources 30 s in, mid-pass"
    pass_over = True
    for _ in range(SAVE_ROUNDS):
        activity.mark()
        keeper._save_while_acting()
    assert len(store.maps) == len(names), "every round once the pass is over: all saved"


def test_rounds_save_a_period_after_the_start_even_if_the_pass_never_ends() -> None:
    store, clock = FakeStore(), ManualClock(1000.0)
    activity = Activity(window=15.0, clock=clock)
    sampler = DemandSampler(list, active=activity.active)
    keeper = HistoryKeeper(
        sampler, store, activity, period=300.0, settled=lambda: False, clock=clock
    )
    for name in ("a", "b"):
        keeper.observe(Owner("apps", name, f"uid-{name}"), 60.0)
    sampler.record(AgentSample("n1", 0.0, 60.0, {("apps", n, "local"): 5 for n in "ab"}))
    clock.now += 299.0
    activity.mark()
    keeper._save_while_acting()
    assert not keeper.saving() and store.maps == {}
    clock.now += 1.0
    for _ in range(SAVE_ROUNDS):
        activity.mark()
        keeper._save_while_acting()
    assert keeper.saving() and len(store.maps) == 2
