"""A lapsed agent's urgent resources as one wave: found exactly, planned together, their
creations first and at once; the Lease watch and the look at the exact lapse."""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Any

import kopf

from statecast.api.shared_resource import SharedResourceSpec
from statecast.api.types import Ref
from statecast.controller.forecasting import DemandForecaster
from statecast.controller.observe import Indexes
from statecast.controller.sampling import DemandSampler
from statecast.controller.services import AgentLiveness, Services
from statecast.controller.wakeups import Wakeups
from statecast.controller.wave import reconcile_wave
from statecast.controller.woken import WokenReconciles
from statecast.core.demand import AgentSample
from statecast.core.reconcile.views import AgentLease, PodView, replica_view
from tests.unit._clock import ManualClock
from tests.unit.test_controller_handlers import FakeGateway, FakeIndex, node

NODES = ("a", "b", "c", "d")


def resource(name: str) -> kopf.Body:
    return kopf.Body(
        {
            "apiVersion": "statecast.io/v1alpha1",
            "kind": "SharedResource",
            "metadata": {"name": name, "namespace": "ns", "uid": f"u-{name}", "generation": 1},
            "spec": {"replicas": {"min": 2}, "replication": {"policy": "static"}},
            "status": {"observedGeneration": 1},
        }
    )


def copies(names: list[str], on: tuple[str, ...]) -> FakeIndex:
    return FakeIndex(
        {
            ("ns", name): [
                replica_view(
                    {
                        "metadata": {"name": f"{name}-{n}", "namespace": "ns"},
                        "spec": {"resource": name, "nodeName": n},
                        "status": {"phase": "Ready"},
                    }
                )
                for n in on
            ]
            for name in names
        }
    )


def lose_agent_a(gateway: FakeGateway, liveness: AgentLiveness) -> None:
    """Every agent seen renewing a minute ago; since then all but a's renewed."""
    seen_at = [1000.0]
    liveness.ttl, liveness.clock = 0.0, lambda: seen_at[0]
    old = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=60)
    gateway.leases = [AgentLease(n, old, 6) for n in NODES]
    liveness.current()
    seen_at[0] += 60
    fresh = dt.datetime.now(dt.UTC)
    gateway.leases = [AgentLease("a", old, 6)] + [AgentLease(n, fresh, 6) for n in NODES[1:]]
    liveness.current()


def indexes(names: list[str]) -> Indexes:
    # two zones: a copy on b (z2) stays, each replacement goes to z1 (c or d; a is lost)
    zones = {"a": "z1", "b": "z2", "c": "z1", "d": "z1"}
    return Indexes(
        FakeIndex({n: [node(n, zones[n])] for n in NODES}),  # type: ignore[arg-type]
        copies(names, ("a", "b")),  # type: ignore[arg-type]
    )


def test_a_waves_replacements_are_spread_over_the_nodes_not_all_on_the_least_loaded() -> None:
    """Planned one by one on the load before the wave, every replacement went to the
    node that was least loaded before it (c, then d only by the name)."""
    gateway = FakeGateway()
    services = Services.build(gateway)
    lose_agent_a(gateway, services.liveness)
    names = [f"r{i}" for i in range(4)]
    with ThreadPoolExecutor(4) as writes:
        reconcile_wave(services, [resource(n) for n in names], indexes(names), writes)
    placed = sorted(b["spec"]["nodeName"] for b in gateway.created)
    assert placed == ["c", "c", "d", "d"]
    assert sorted(name for name, _ in gateway.lost) == [f"{n}-a" for n in names]


class Recording(FakeGateway):
    """Notes each write as it starts; creations wait until ``together`` are in flight."""

    def __init__(self, together: int) -> None:
        super().__init__()
        self.calls: list[str] = []
        self.barrier = threading.Barrier(together, timeout=30)
        self.lock = threading.Lock()

    def note(self, call: str) -> None:
        with self.lock:
            self.calls.append(call)

    def create_replica(self, body: dict[str, Any]) -> bool:
        self.note("create")
        self.barrier.wait()
        return super().create_replica(body)

    def mark_replica_lost(self, namespace: str, name: str, reason: str, message: str) -> None:
        self.note("lost")
        super().mark_replica_lost(namespace, name, reason, message)

    def post_event(self, body: Any, type_: str, reason: str, message: str) -> None:
        self.note("event")
        super().post_event(body, type_, reason, message)

    def patch_status(self, namespace: str, name: str, status: dict[str, Any]) -> None:
        self.note("status")
        super().patch_status(namespace, name, status)


def test_a_waves_creations_go_out_together_before_any_other_write() -> None:
    """With eight workers each writing a resource's creation, Lost mark, Events and
    status in turn, the last of 43 replacements came 29.5 s after the lapse."""
    names = [f"r{i}" for i in range(3)]
    gateway = Recording(together=3)  # each creation returns only once all 3 are in flight
    services = Services.build(gateway)
    lose_agent_a(gateway, services.liveness)
    with ThreadPoolExecutor(8) as writes:
        reconcile_wave(services, [resource(n) for n in names], indexes(names), writes)
    assert gateway.calls[:3] == ["create"] * 3
    assert sorted(gateway.calls[3:]) == sorted(["lost", "status"] * 3 + ["event"] * 6)


def wanted_by_pods_on_c_and_d(names: list[str]) -> tuple[list[kopf.Body], Indexes]:
    """Copies on a (lost) and b, min 2, max 4; a pod on c and one on d use each."""
    bodies = []
    for name in names:
        body = dict(resource(name))
        body["spec"] = {"replicas": {"min": 2, "max": 4}, "replication": {"policy": "static"}}
        bodies.append(kopf.Body(body))
    uses = frozenset(names)
    pods = FakeIndex({"ns": [PodView("ns", f"p-{n}", n, {}, uses) for n in "cd"]})
    plain = indexes(names)
    return bodies, Indexes(plain.nodes, plain.replicas, pods)  # type: ignore[arg-type]


def test_a_waves_plans_send_ahead_only_the_creations_that_take_each_out_of_risk() -> None:
    """At 300 resources each plan of a wave also added a copy for demand: 88 creations
    went out ahead of everything where 44 were needed."""
    names = ["r0", "r1"]
    gateway = Recording(together=2)  # each creation returns once another is in flight
    made: list[str] = []
    create = gateway.create_replica

    def noted(body: dict[str, Any]) -> bool:
        made.append(body["spec"]["resource"])
        return create(body)

    gateway.create_replica = noted  # type: ignore[method-assign]
    services = Services.build(gateway)
    lose_agent_a(gateway, services.liveness)
    bodies, both = wanted_by_pods_on_c_and_d(names)
    with ThreadPoolExecutor(8) as writes:
        reconcile_wave(services, bodies, both, writes)
    assert sorted(made[:2]) == names  # one each first (a copy on c or d for r0, then r1)
    assert sorted(made) == ["r0", "r0", "r1", "r1"]  # the other copies after them
    assert gateway.calls[:2] == ["create", "create"]


def test_an_operator_that_stops_acting_mid_wave_plans_and_writes_no_more() -> None:
    """Another operator acts once kopf's peering paused this one: it plans and writes
    the same resources, and both writing placed copies twice."""
    gateway = FakeGateway()
    services = Services.build(gateway)
    lose_agent_a(gateway, services.liveness)
    names = ["r0", "r1"]
    answers = iter([True])  # acts for the first plan only
    with ThreadPoolExecutor(4) as writes:
        reconcile_wave(
            services, [resource(n) for n in names], indexes(names), writes,
            acting=lambda: next(answers, False),
        )  # fmt: skip
    assert [b["spec"]["resource"] for b in gateway.created] == ["r0"]  # sent before
    assert gateway.lost == [] and gateway.statuses == {}  # nothing written after
    assert services.wakeups.pending() == 2  # both for the workers, which run if it acts


def test_a_lapse_that_ends_while_its_wave_plans_replaces_no_more_copies() -> None:
    """The agent is back (its renewal seen) after the wave's first plan: the resources
    planned later keep its copy, and only the first is replaced."""
    gateway = FakeGateway()
    services = Services.build(gateway)
    lose_agent_a(gateway, services.liveness)
    calls = []

    def acting() -> bool:  # asked before each plan: a's renewal arrives before the second
        calls.append(1)
        if len(calls) == 2:
            back = dt.datetime.now(dt.UTC)
            services.liveness.changed("MODIFIED", AgentLease("a", back, 6))
            gateway.leases = [AgentLease(n, back, 6) for n in NODES]
        return True

    services.liveness.listed(gateway.agent_leases())  # watched from now
    assert services.liveness.down_confirmed(dt.datetime.now(dt.UTC)) == {"a"}
    names = ["r0", "r1"]
    with ThreadPoolExecutor(4) as writes:
        reconcile_wave(services, [resource(n) for n in names], indexes(names), writes, acting)
    assert [b["spec"]["resource"] for b in gateway.created] == ["r0"]
    assert [name for name, _ in gateway.lost] == ["r0-a"]


def test_a_failed_creation_fails_its_resource_only_and_queues_it_again() -> None:
    class Failing(FakeGateway):
        def create_replica(self, body: dict[str, Any]) -> bool:
            if body["spec"]["resource"] == "r0":
                raise RuntimeError("apiserver said 500")
            return super().create_replica(body)

    gateway = Failing()
    services = Services.build(gateway)
    lose_agent_a(gateway, services.liveness)
    with ThreadPoolExecutor(2) as writes:
        reconcile_wave(services, [resource("r0"), resource("r1")], indexes(["r0", "r1"]), writes)
    assert [b["spec"]["resource"] for b in gateway.created] == ["r1"]
    assert ("Warning", "ReconcileFailed") in gateway.events
    assert services.wakeups.pending() == 2  # r0 to be tried again, both brought up to date


def test_a_claimed_resource_is_not_handed_to_a_worker_and_a_running_one_is_not_claimed() -> None:
    wakeups = Wakeups(min_gap=5.0, clock=ManualClock(100.0))
    a, b = ("ns", "a"), ("ns", "b")
    wakeups.wake([a, b])
    assert wakeups.next(timeout=0) == a  # a worker has a
    assert wakeups.claim([a, b]) == [b]  # b reconciled 0 s ago or not: claimed all the same
    assert wakeups.next(timeout=0) is None  # b is claimed, a running
    wakeups.done(a)
    assert wakeups.next(timeout=0) == a  # queued again, first: due at once, gap or not
    assert wakeups.next(timeout=0) is None  # b is still claimed


class Watched(FakeGateway):
    def __init__(self) -> None:
        super().__init__()
        self.lists = 0

    def agent_leases(self) -> list[AgentLease]:
        self.lists += 1
        return super().agent_leases()


def test_a_watched_lease_is_seen_renewed_when_the_event_comes_and_its_lapse_confirmed() -> None:
    gateway, clock = Watched(), ManualClock(1000.0)
    liveness = AgentLiveness(gateway, ttl=0.0, clock=clock, wall=clock)

    def at(seconds: float) -> dt.datetime:
        return dt.datetime.fromtimestamp(seconds, dt.UTC)

    liveness.listed([AgentLease("a", at(1.0), 6), AgentLease("b", at(1.0), 6)])
    clock.now += 4.0
    liveness.changed("MODIFIED", AgentLease("b", at(2.0), 6))  # b renewed, a did not
    clock.now += 3.0
    assert liveness.down(at(clock.now)) == frozenset()  # a lapse a list has not confirmed
    assert gateway.lists == 0  # fed by the watch, never listed
    gateway.leases = [AgentLease("a", at(1.0), 6), AgentLease("b", at(2.0), 6)]
    assert liveness.down_confirmed(at(clock.now)) == {"a"}
    assert liveness.down(at(clock.now)) == {"a"}
    liveness.changed("DELETED", AgentLease("a", at(1.0), 6))
    assert [lease.node for lease in liveness.current()] == ["b"]
    liveness.unwatched()
    liveness.current()
    assert gateway.lists == 2  # the watch stopped: listed on demand again


def test_a_lapse_seen_by_a_stalled_watch_is_not_confirmed_by_a_list() -> None:
    gateway, clock = Watched(), ManualClock(1000.0)
    liveness = AgentLiveness(gateway, ttl=0.0, clock=clock, wall=clock)
    renewed = dt.datetime.fromtimestamp(1.0, dt.UTC)
    liveness.listed([AgentLease("a", renewed, 6)])
    clock.now += 7.0  # no event for 7 s: a stalled watch, or a dead agent
    now = dt.datetime.fromtimestamp(clock.now, dt.UTC)
    assert liveness.down(now) == frozenset()  # the watch's view lapsed it; not confirmed
    gateway.leases = [AgentLease("a", dt.datetime.fromtimestamp(5.0, dt.UTC), 6)]  # it renewed
    assert liveness.down_confirmed(now) == frozenset()
    gateway.leases = [AgentLease("a", dt.datetime.fromtimestamp(5.0, dt.UTC), 6)]
    clock.now += 7.0  # and now it stopped
    assert liveness.down_confirmed(dt.datetime.fromtimestamp(clock.now, dt.UTC)) == {"a"}


def test_a_lapse_is_looked_at_when_it_comes_and_its_urgent_resources_go_as_one_wave() -> None:
    gateway, clock = FakeGateway(), ManualClock(1000.0)
    liveness = AgentLiveness(gateway, ttl=0.0, clock=clock, wall=clock)
    wakeups = Wakeups(min_gap=1.0, clock=clock)
    short, spare, elsewhere = ("ns", "short"), ("ns", "spare"), ("ns", "elsewhere")
    for ref, on in [(short, "ab"), (spare, "abc"), (elsewhere, "bc")]:
        wakeups.known(ref, minimum=2)
        for n in on:
            wakeups.replica(ref, n, present=True)
    waves: list[list[Ref]] = []
    done = threading.Event()

    def run_wave(refs: list[Ref], writes: Executor) -> None:
        waves.append(refs)
        done.set()

    woken = WokenReconciles(
        wakeups, liveness, lambda ref: None, run_wave=run_wave,
        wall=lambda: dt.datetime.fromtimestamp(clock.now, dt.UTC),
    )  # fmt: skip
    renewed = dt.datetime.fromtimestamp(clock.now, dt.UTC)  # written as seen
    gateway.leases = [AgentLease(n, renewed, 6) for n in "abc"]
    assert woken.look_at_leases() == 1.0  # 6 s to the first lapse: a period
    clock.now += 5.5
    assert 0.5 <= woken.look_at_leases() <= 0.52  # the next look: just after the lapse
    gateway.leases = [AgentLease("a", renewed, 6)] + [
        AgentLease(n, dt.datetime.fromtimestamp(clock.now, dt.UTC), 6) for n in "bc"
    ]
    clock.now += 0.51
    woken.look_at_leases()
    assert done.wait(30)
    assert waves == [[short]]
    assert wakeups.next(timeout=0) == spare  # the rest: queued for the workers
    assert wakeups.next(timeout=0) is None  # a copy elsewhere only: not woken


def test_no_worker_starts_a_reconcile_while_a_wave_is_planning() -> None:
    wakeups = Wakeups(min_gap=0.0, clock=ManualClock(100.0))
    wakeups.wake([("ns", "a")])
    with wakeups.held():
        assert wakeups.next(timeout=0) is None
    assert wakeups.next(timeout=0) == ("ns", "a")


def test_a_wave_plans_with_the_last_forecast_as_it_is_and_others_bring_it_up_to_date() -> None:
    """A forecast update or rebuild took 0.1-0.3 s at 1,000 resources, and nearly every
    plan of a wave had one: its last replacement went out 14 s after the lapse."""
    sampler = DemandSampler(lambda: [])
    now = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)
    start = now.timestamp() - 600
    for i in range(11):  # node-4 read every minute for 10 minutes
        sampler.record(
            AgentSample("node-4", start, start + 60 * i, {("ns", "r", "remote"): 300 * i})
        )
    forecaster = DemandForecaster(sampler)
    spec = SharedResourceSpec.model_validate(
        {"replicas": {"min": 2}, "prediction": {"interval": "1m", "horizon": "5m"}}
    )
    first = forecaster.demand(("ns", "r"), spec, ["node-4"], now)
    assert first is not None
    later = now + dt.timedelta(minutes=2)
    sampler.record(AgentSample("node-4", start, later.timestamp(), {("ns", "r", "remote"): 4000}))
    assert forecaster.demand(("ns", "r"), spec, ["node-4"], later, latest=True) is first
    assert forecaster.demand(("ns", "r"), spec, ["node-4"], later) is not first
    fresh = DemandForecaster(sampler)  # none made yet: made now
    assert fresh.demand(("ns", "r"), spec, ["node-4"], later, latest=True) is not None


def test_a_confirming_list_is_reused_within_the_time_asked_and_not_beyond() -> None:
    """A strong resource's election is decided on a list at most a second old (as
    before the watch), not on the watch's view, without a list per resource."""
    gateway, clock = Watched(), ManualClock(1000.0)
    liveness = AgentLiveness(gateway, ttl=0.0, clock=clock, wall=clock)
    liveness.listed([AgentLease("a", dt.datetime.fromtimestamp(1.0, dt.UTC), 6)])
    now = dt.datetime.fromtimestamp(clock.now, dt.UTC)
    liveness.down_confirmed(now, within=1.0)
    liveness.down_confirmed(now, within=1.0)
    assert gateway.lists == 1
    clock.now += 1.0
    liveness.down_confirmed(now, within=1.0)
    liveness.down_confirmed(now)  # now: always a list
    assert gateway.lists == 3
