"""A spec change reconciled at once in its own lane, on its last forecast if it serves."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import time
from concurrent.futures import Executor
from typing import Any

import kopf
import pytest

from statecast.api.shared_resource import SharedResourceSpec
from statecast.api.types import Ref
from statecast.controller import handlers
from statecast.controller.forecasting import DemandForecaster
from statecast.controller.sampling import DemandSampler
from statecast.controller.services import Services
from statecast.controller.urgent import UrgentChanges
from statecast.controller.wakeups import Wakeups
from statecast.core.demand import AgentSample
from statecast.core.reconcile.urgent import forecast_basis, last_forecast_serves
from tests.unit._clock import ManualClock
from tests.unit.test_controller_handlers import FakeGateway, FakeIndex, nodes


class HeldGateway(FakeGateway):
    """Holds every Replica creation of the resource ``busy`` until ``release`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.release, self.holding = threading.Event(), threading.Event()

    def create_replica(self, body: dict[str, Any]) -> bool:
        if body["spec"]["resource"] == "busy":
            self.holding.set()
            self.release.wait(60)
        return super().create_replica(body)


def shared(name: str, generation: int = 1, minimum: int = 2, **status: Any) -> dict[str, Any]:
    return {
        "apiVersion": "statecast.io/v1alpha1",
        "kind": "SharedResource",
        "metadata": {"name": name, "namespace": "ns", "uid": f"u-{name}", "generation": generation},
        "spec": {"replicas": {"min": minimum}, "replication": {"policy": "static"}},
        "status": status,
    }


def wait_for(what: Any, deadline_s: float = 30.0) -> None:
    deadline = time.monotonic() + deadline_s
    while not what():
        assert time.monotonic() < deadline, "not within the deadline (a liveness wait)"
        time.sleep(0.02)


def test_a_spec_change_is_reconciled_while_every_worker_is_busy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """At 1,000 resources a spec change queued first still waited for one of the eight
    workers to finish a reconcile against a slow API server (4.55 s p99, session 7)."""
    monkeypatch.setattr(handlers, "RECONCILE_THREADS", 1)
    gateway = HeldGateway()
    memo = kopf.Memo(services=Services.build(gateway, sample_seconds=3600.0))
    index = FakeIndex({("ns", "busy"): [shared("busy")], ("ns", "flags"): [shared("flags")]})
    kwargs: dict[str, Any] = {
        "node_index": nodes(),
        "replica_index": FakeIndex(),
        "pod_index": FakeIndex(),
    }
    handlers.start_services(memo, **kwargs)
    try:
        flags = shared("flags", generation=2, minimum=3, observedGeneration=1)
        index[("ns", "flags")] = [flags]
        busy = index[("ns", "busy")][0]
        asyncio.run(handlers.resource_seen(kopf.Body(busy), type=None, memo=memo))
        assert gateway.holding.wait(30), "the one worker never started on busy"
        asyncio.run(handlers.resource_seen(kopf.Body(flags), type="MODIFIED", memo=memo))
        wait_for(lambda: any(b["spec"]["resource"] == "flags" for b in gateway.created))
        assert not gateway.release.is_set()  # the worker is still held in busy's creation
        wait_for(lambda: any(name == "flags" for name, _ in gateway.status_patches))
        written = next(s for name, s in gateway.status_patches if name == "flags")
        assert written["observedGeneration"] == 2
    finally:
        gateway.release.set()
        handlers.stop_services(memo)


def test_a_change_of_a_resource_a_worker_is_reconciling_goes_to_the_workers_first() -> None:
    wakeups = Wakeups(min_gap=0.0, clock=ManualClock(100.0))
    ran: list[list[Ref]] = []

    def run_wave(refs: list[Ref], writes: Executor) -> None:
        ran.append(refs)

    lane = UrgentChanges(wakeups, run_wave)
    wakeups.wake([("ns", "other"), ("ns", "a")])
    assert wakeups.next(timeout=0) == ("ns", "other")  # a worker has it
    lane.run_batch([("ns", "b"), ("ns", "other")])
    assert ran == [[("ns", "b")]]
    wakeups.done(("ns", "other"))
    assert wakeups.next(timeout=0) == ("ns", "other")  # again, ahead of a
    lane.run_batch([("ns", "c")])
    assert ran[-1] == [("ns", "c")]
    assert wakeups.next(timeout=0) == ("ns", "a")


def test_a_lane_that_does_not_act_leaves_changes_to_the_workers_first() -> None:
    wakeups = Wakeups(min_gap=0.0, clock=ManualClock(100.0))
    lane = UrgentChanges(wakeups, lambda refs, writes: None, acting=lambda: False)
    wakeups.wake([("ns", "a")])
    lane.run_batch([("ns", "b")])
    assert wakeups.next(timeout=0) == ("ns", "b")


SPEC = {"replicas": {"min": 2}, "prediction": {"interval": "1m", "horizon": "5m"}}


@pytest.mark.parametrize(
    ("change", "serves"),
    [
        ({"replicas": {"min": 3}}, True),  # what a forecast is not made from
        ({"placement": {"spreadAcross": "zone"}}, True),
        ({"prediction": {"interval": "1m", "horizon": "10m"}}, False),
        ({"prediction": {"interval": "2m", "horizon": "5m"}}, False),
        ({"consumers": {"selector": {"matchLabels": {"app": "x"}}}}, False),
    ],
)
def test_the_last_forecast_serves_a_change_it_was_not_made_from(
    change: dict[str, Any], serves: bool
) -> None:
    made = forecast_basis(SharedResourceSpec.model_validate(SPEC))
    changed = SharedResourceSpec.model_validate({**SPEC, **change})
    assert last_forecast_serves(made, changed) is serves
    assert not last_forecast_serves(None, changed)


def test_a_spec_change_plans_on_the_last_forecast_unless_its_prediction_changed() -> None:
    sampler = DemandSampler(lambda: [])
    now = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)
    start = now.timestamp() - 600
    for i in range(11):  # node-4 read every minute for 10 minutes
        sampler.record(
            AgentSample("node-4", start, start + 60 * i, {("ns", "r", "remote"): 300 * i})
        )
    forecaster = DemandForecaster(sampler)
    spec = SharedResourceSpec.model_validate(SPEC)
    first = forecaster.demand(("ns", "r"), spec, ["node-4"], now)
    assert first is not None
    later = now + dt.timedelta(minutes=2)
    sampler.record(AgentSample("node-4", start, later.timestamp(), {("ns", "r", "remote"): 4000}))
    raised = SharedResourceSpec.model_validate({**SPEC, "replicas": {"min": 3}})
    assert forecaster.demand(("ns", "r"), raised, ["node-4"], later, latest=True) is first
    longer = SharedResourceSpec.model_validate(
        {**SPEC, "prediction": {"interval": "1m", "horizon": "10m"}}
    )
    again = forecaster.demand(("ns", "r"), longer, ["node-4"], later, latest=True)
    assert again is not None and again is not first


def test_no_more_workers_plan_at_once_than_there_are_slots(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Eight workers in forecast rebuilds took the interpreter from kopf's event loop: a
    spec change's event reached the operator up to 1.7 s after the PATCH (1,000 resources)."""
    inside, most, lock = [0], [0], threading.Lock()
    gate = threading.Event()

    def plan(services: Services, body: kopf.Body, indexes: Any) -> Any:
        with lock:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        gate.wait(0.2)  # long enough for the others to try to come in
        with lock:
            inside[0] -= 1
        raise RuntimeError("planned")

    monkeypatch.setattr(handlers, "plan", plan)
    services = Services.build(FakeGateway(), sample_seconds=3600.0)
    services.wakeups.plan_slots(2)
    bodies = [kopf.Body(shared(f"r{i}")) for i in range(6)]

    def one(body: kopf.Body) -> None:
        with pytest.raises(RuntimeError, match="planned"):
            handlers._reconcile_body(services, body, None)  # type: ignore[arg-type]

    threads = [threading.Thread(target=one, args=(b,)) for b in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert 1 <= most[0] <= 2


def test_changes_that_come_while_a_batch_runs_go_together_in_the_next() -> None:
    wakeups = Wakeups(min_gap=0.0, clock=ManualClock(100.0))
    started, release = threading.Event(), threading.Event()
    ran: list[list[Ref]] = []

    def run_wave(refs: list[Ref], writes: Executor) -> None:
        ran.append(refs)
        started.set()
        release.wait(30)

    lane = UrgentChanges(wakeups, run_wave)
    lane.start()
    try:
        lane.changed(("ns", "a"))
        assert started.wait(30)
        for name in ("b", "c", "b"):  # b twice: once
            lane.changed(("ns", name))
        assert lane.pending() == 2
        release.set()
        wait_for(lambda: len(ran) == 2)
        assert ran == [[("ns", "a")], [("ns", "b"), ("ns", "c")]]
    finally:
        release.set()
        lane.stop()
    lane.changed(("ns", "d"))  # stopped: to the workers, first
    assert wakeups.next(timeout=0) == ("ns", "d")


def test_a_prediction_change_within_an_interval_is_forecast_with_the_new_settings() -> None:
    sampler = DemandSampler(lambda: [])
    now = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)
    start = now.timestamp() - 600
    for i in range(11):  # node-4 read every minute for 10 minutes, unevenly
        sampler.record(
            AgentSample(
                "node-4", start, start + 60 * i, {("ns", "r", "remote"): 300 * i + 97 * (i % 3)}
            )
        )
    forecaster = DemandForecaster(sampler)
    spec = SharedResourceSpec.model_validate(SPEC)
    first = forecaster.demand(("ns", "r"), spec, ["node-4"], now)
    assert first is not None
    for latest in (False, True):  # the same interval: a reconcile's call, and a change's
        wider = SharedResourceSpec.model_validate(
            {**SPEC, "prediction": {**SPEC["prediction"], "level": 0.99}}
        )
        again = forecaster.demand(("ns", "r"), wider, ["node-4"], now, latest=latest)
        assert again is not None and again is not first
        assert again.level == 0.99
        assert forecaster.demand(("ns", "r"), wider, ["node-4"], now) is again
