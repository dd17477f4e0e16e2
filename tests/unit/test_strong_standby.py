"""A standby operator carries out a strong resource's failover without waiting for kopf."""

from __future__ import annotations

import copy
import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import kopf
import pytest

from statecast.controller.services import AgentLiveness, Services
from statecast.controller.strong_standby import StandbyElections, StrongLister
from statecast.core.reconcile.strong import standby_looks
from statecast.core.reconcile.views import AgentLease
from statecast.core.strong.log import LogPosition

VOTERS = ["a", "b", "c"]


class Clock:
    """One clock for the liveness (monotonic and wall) and the standby's ``now``."""

    def __init__(self) -> None:
        self.t = 1_000_000.0

    def mono(self) -> float:
        return self.t

    def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.t, dt.UTC)


class FakeStrongGateway:
    """The API server and the agents of one strong resource ``ns/flags`` (leader ``a``)."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.version = 1
        self.resource: dict[str, Any] = {
            "metadata": {"name": "flags", "namespace": "ns", "resourceVersion": "1"},
            "spec": {"consistency": "strong", "replicas": {"min": 3}},
            "status": {"epoch": 3, "leader": "a", "voters": list(VOTERS)},
        }
        self.renewed = {n: clock.now() for n in VOTERS}
        self.roles: dict[str, tuple[str, int]] = {}
        self.fenced: list[tuple[str, int]] = []
        self.events: list[str] = []
        self.listed = 0

    # --- Gateway (what Services and the election use) ------------------------------
    def agent_leases(self) -> list[AgentLease]:
        return [AgentLease(n, t, 3, f"http://{n}") for n, t in self.renewed.items()]

    def post_event(self, body: Any, type_: str, reason: str, message: str) -> None:
        self.events.append(reason)

    def read_resource(self, namespace: str, name: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.resource)

    def write_config(
        self, namespace: str, name: str, config: dict[str, Any], resource_version: str
    ) -> str | None:
        if resource_version != str(self.version):
            return None  # the compare-and-swap
        self.version += 1
        self.resource["status"].update(config)
        self.resource["metadata"]["resourceVersion"] = str(self.version)
        return str(self.version)

    def set_replica_role(
        self, namespace: str, name: str, role: str, epoch: int, voters: list[str] | None
    ) -> None:
        self.roles[name] = (role, epoch)

    def fence(
        self, node: str, endpoint: str, namespace: str, name: str, epoch: int
    ) -> LogPosition | None:
        if node == "a":
            return None  # its agent is dead
        self.fenced.append((node, epoch))
        return LogPosition(3, 9 if node == "b" else 8)

    # --- StrongLister ----------------------------------------------------------------
    def strong_resources(self) -> list[dict[str, Any]]:
        self.listed += 1
        return [copy.deepcopy(self.resource)]

    def replicas_of(self, namespace: str, name: str) -> list[dict[str, Any]]:
        epoch = 3
        return [
            {
                "metadata": {"name": f"flags-{n}", "namespace": "ns"},
                "spec": {"resource": "flags", "nodeName": n, "role": role, "epoch": epoch},
                "status": {"phase": "Ready"},
            }
            for n, role in (("a", "leader"), ("b", "follower"), ("c", "follower"))
        ]

    def nodes(self) -> list[dict[str, Any]]:
        return [
            {
                "metadata": {"name": n, "labels": {"topology.kubernetes.io/zone": f"z{i}"}},
                "status": {"conditions": [{"type": "Ready", "status": "True"}]},
            }
            for i, n in enumerate(VOTERS)
        ]


def _standby(
    sweep_every: int = 10, gateway: FakeStrongGateway | None = None, clock: Clock | None = None
) -> tuple[StandbyElections, FakeStrongGateway, Clock]:
    clock = clock or Clock()
    gateway = gateway or FakeStrongGateway(clock)
    assert isinstance(gateway, StrongLister)
    services = Services.build(gateway)  # type: ignore[arg-type]
    liveness = AgentLiveness(gateway, ttl=0.0, clock=clock.mono, wall=clock.mono)  # type: ignore[arg-type]
    services = replace(services, liveness=liveness)
    return (
        StandbyElections(
            services, gateway, sweep_every=sweep_every, now=clock.now, clock=clock.mono
        ),
        gateway,
        clock,
    )


def _leader_agent_dies(gateway: FakeStrongGateway, clock: Clock, seconds: float = 10.0) -> None:
    """``a`` stops renewing; ``b`` and ``c`` renew every second meanwhile."""
    for _ in range(int(seconds)):
        clock.t += 1.0
        for node in ("b", "c"):
            gateway.renewed[node] = clock.now()


def test_a_standby_elects_the_most_up_to_date_survivor_when_the_leaders_agent_is_down() -> None:
    standby, gateway, clock = _standby()
    assert standby.tick() == []  # every agent just seen renewing: nothing listed
    assert gateway.listed == 0
    _leader_agent_dies(gateway, clock)
    assert standby.tick() == [("ns", "flags")]
    status = gateway.resource["status"]
    assert (status["epoch"], status["leader"], status["voters"]) == (4, "b", VOTERS)
    assert sorted(gateway.fenced) == [("b", 4), ("c", 4)]
    assert gateway.roles == {"flags-b": ("leader", 4), "flags-c": ("follower", 4),
                             "flags-a": ("follower", 4)}  # fmt: skip
    assert "LeaderElected" in gateway.events
    assert standby.tick() == []  # the new leader's agent renews: nothing more to do


def test_a_process_whose_kopf_acts_leaves_the_failover_to_its_timer() -> None:
    standby, gateway, clock = _standby()
    _leader_agent_dies(gateway, clock, seconds=5.0)
    standby.kopf_pass()  # kopf's strong_leader timer just ran here: kopf acts
    assert standby.tick() == []
    assert gateway.listed == 0 and gateway.resource["status"]["epoch"] == 3


def test_a_standby_leaves_a_led_resource_alone_even_on_a_sweep() -> None:
    standby, gateway, clock = _standby(sweep_every=1)
    for _ in range(3):
        clock.t += 1.0
        gateway.renewed = {n: clock.now() for n in VOTERS}
        assert standby.tick() == []
    assert gateway.listed == 3  # swept every pass
    assert gateway.resource["status"]["epoch"] == 3 and not gateway.fenced


def test_a_standby_finishes_an_epoch_reserved_by_an_operator_that_died() -> None:
    standby, gateway, clock = _standby(sweep_every=1)
    gateway.resource["status"].update({"epoch": 4, "leader": None})  # reserved, then killed
    clock.t += 1.0
    gateway.renewed = {n: clock.now() for n in VOTERS}
    assert standby.tick() == [("ns", "flags")]
    assert gateway.resource["status"]["epoch"] == 4  # finished, not skipped (before: 5)
    assert gateway.resource["status"]["leader"] in VOTERS


class DuelGateway(FakeStrongGateway):
    """While one process fences (its election's epoch reserved, no leader yet), the other
    operator process makes a pass (``other``), once, inside ``b``'s fence."""

    def __init__(self, clock: Clock) -> None:
        super().__init__(clock)
        self.other: Callable[[], object] | None = None

    def fence(
        self, node: str, endpoint: str, namespace: str, name: str, epoch: int
    ) -> LogPosition | None:
        if node == "b":  # (a voter the election waits for: a's fence is not waited for)
            other, self.other = self.other, None
            if other is not None:
                other()
        return super().fence(node, endpoint, namespace, name, epoch)


def test_two_operator_processes_do_not_leapfrog_one_failover() -> None:
    """Found in leader-kill runs (epoch 1 -> 5-7): the other operator process saw the epoch
    reserved without a leader mid-election, took it for one whose operator died and
    reserved the next; the first election's record then lost its compare-and-swap, and
    so on while elections outlasted the passes (before: epoch 5). Now both finish the
    reserved epoch and the first record wins."""
    clock = Clock()
    gateway = DuelGateway(clock)
    first, _, _ = _standby(gateway=gateway, clock=clock)
    second, _, _ = _standby(gateway=gateway, clock=clock)
    assert first.tick() == [] and second.tick() == []  # every agent seen renewing
    _leader_agent_dies(gateway, clock)
    gateway.other = second.tick  # the second process's pass comes while the first fences
    first.tick()
    status = gateway.resource["status"]
    assert (status["epoch"], status["leader"]) == (4, "b")  # one epoch, one leader
    outcomes = {
        (process, sample.labels["outcome"]): sample.value
        for process, standby in (("first", first), ("second", second))
        for metric in standby.services.metrics.elections.collect()
        for sample in metric.samples
        if sample.name.endswith("_total")
    }
    # the second finished the reserved epoch; the first one's record lost and it stopped
    assert outcomes == {("second", "elected"): 1.0, ("first", "conflict"): 1.0}
    assert first.tick() == [] and second.tick() == []  # led: nothing more


def test_an_event_posted_outside_kopfs_handlers_is_created_directly() -> None:
    """The standby thread has no kopf event queue: LeaderElected raised LookupError there
    and stopped the election before the Replicas were told (a 6 s gap in a chaos run)."""
    from kubernetes import client

    from statecast.controller.gateway import KubeGateway

    created: list[tuple[str, Any]] = []

    class Core:
        def create_namespaced_event(self, namespace: str, body: Any) -> None:
            created.append((namespace, body))

    gateway = KubeGateway(client.ApiClient())
    gateway.core = Core()  # type: ignore[assignment]
    raw = {
        "apiVersion": "statecast.io/v1alpha1",
        "kind": "SharedResource",
        "metadata": {"name": "flags", "namespace": "ns", "uid": "u1"},
    }
    resource = kopf.Body(raw)  # type: ignore[arg-type]
    gateway.post_event(resource, "Normal", "LeaderElected", "b leads epoch 4")
    [(namespace, event)] = created
    assert namespace == "ns" and event["reason"] == "LeaderElected"
    assert event["involvedObject"]["uid"] == "u1" and event["type"] == "Normal"


class FrozenLeaderGateway(FakeStrongGateway):
    """``a``'s agent is frozen: its fence answers only once ``thaw`` is set."""

    def __init__(self, clock: Clock) -> None:
        super().__init__(clock)
        self.thaw = threading.Event()
        self.frozen_answered = threading.Event()

    def fence(
        self, node: str, endpoint: str, namespace: str, name: str, epoch: int
    ) -> LogPosition | None:
        if node != "a":
            return super().fence(node, endpoint, namespace, name, epoch)
        self.thaw.wait(20)  # as the fence's timeout would end it
        self.frozen_answered.set()
        return None


def test_a_failover_does_not_wait_for_the_fence_of_a_voter_whose_lease_lapsed() -> None:
    """Found by leader-partition-lapsed (session 9): each failover election waited for the
    frozen old leader's fence to time out, 2.5 s a round at load, though its answer can
    never make it the leader (before: tick() returned only once the fence gave up)."""
    clock = Clock()
    gateway = FrozenLeaderGateway(clock)
    services = replace(
        Services.build(gateway),  # type: ignore[arg-type]
        liveness=AgentLiveness(gateway, ttl=0.0, clock=clock.mono, wall=clock.mono),  # type: ignore[arg-type]
    )
    standby = StandbyElections(services, gateway, sweep_every=10, now=clock.now, clock=clock.mono)
    standby.tick()
    _leader_agent_dies(gateway, clock)
    try:
        assert standby.tick() == [("ns", "flags")]
        assert not gateway.frozen_answered.is_set()  # elected while a's fence still waits
        status = gateway.resource["status"]
        assert (status["epoch"], status["leader"]) == (4, "b")
    finally:
        gateway.thaw.set()


class CountingGateway(FakeStrongGateway):
    """Counts the Lease lists too."""

    def __init__(self, clock: Clock) -> None:
        super().__init__(clock)
        self.lease_lists = 0

    def agent_leases(self) -> list[AgentLease]:
        self.lease_lists += 1
        return super().agent_leases()


def _process_standby(paused: bool) -> tuple[StandbyElections, CountingGateway, Clock]:
    """The standby elections as the startup handler builds them under kopf's peering."""
    from statecast.controller import handlers
    from statecast.controller.kopf_pause import KopfPause

    clock = Clock()
    gateway = CountingGateway(clock)
    liveness = AgentLiveness(gateway, ttl=0.0, clock=clock.mono, wall=clock.mono)  # type: ignore[arg-type]
    services = replace(Services.build(gateway), liveness=liveness)  # type: ignore[arg-type]
    memo = kopf.Memo(**{handlers.PAUSE: KopfPause(paused=paused)})
    standby = handlers.standby_elections(services, gateway, memo)
    standby.now, standby.clock = clock.now, clock.mono
    return standby, gateway, clock


def test_an_acting_operator_with_no_strong_timer_lists_nothing_while_an_agent_is_down() -> None:
    """With no strong resource kopf's strong_leader timer never runs: the acting operator
    listed the Leases and every SharedResource each second once an agent was down
    (1.4 requests/s at 1,000 resources, megabytes a list; session 9)."""
    standby, gateway, clock = _process_standby(paused=False)  # kopf acts here
    _leader_agent_dies(gateway, clock)
    for _ in range(3):
        clock.t += 1.0
        assert standby.tick() == []
    assert (gateway.listed, gateway.lease_lists) == (0, 0)


def test_a_paused_operator_still_carries_out_the_failover() -> None:
    standby, gateway, clock = _process_standby(paused=True)  # a peer acts
    assert standby.tick() == []  # every agent seen renewing
    _leader_agent_dies(gateway, clock)
    assert standby.tick() == [("ns", "flags")]
    assert gateway.resource["status"]["leader"] == "b"


@pytest.mark.parametrize(
    ("acting", "since_kopf_pass", "looks"),
    [
        (False, float("inf"), True),  # paused, no timer here: the standby elects
        (False, 2.9, False),  # the timer ran 2.9 s ago (interval 1 s): kopf acts here
        (False, 3.0, True),
        (True, float("inf"), False),  # acting, no strong resource (no timer): nothing
        (True, 0.5, False),
    ],
)
def test_when_the_standby_looks(acting: bool, since_kopf_pass: float, looks: bool) -> None:
    assert standby_looks(acting, since_kopf_pass, 1.0) is looks
