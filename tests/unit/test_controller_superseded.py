"""A reconcile whose resource's spec changed while it planned writes nothing.

Found by the ``operator-restart`` chaos scenario (docs/faults.md, session 8): the operator
that took over after a restart began its first reconcile with ``replicas.min: 3``; 1.6 s
before it wrote, the watch delivered ``min: 2`` (generation + 1) - and it still added a
failover copy for 3, which the next reconcile removed 0.5 s later.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import kopf
import pytest

from statecast.controller import handlers
from statecast.controller.observe import Indexes
from statecast.controller.services import AgentLiveness, Services
from statecast.controller.wave import reconcile_one, reconcile_wave
from statecast.core.reconcile.superseded import plan_superseded
from statecast.core.reconcile.views import AgentLease, replica_view
from tests.unit.test_controller_handlers import FakeGateway, FakeIndex, node

REF = ("ns", "r")


@pytest.mark.parametrize(
    ("planned", "latest", "superseded"),
    [
        (1, 2, True),  # the spec changed after the plan's body was read
        (3, 7, True),
        (2, 2, False),  # the same spec (a status or metadata change moves no generation)
        (2, 1, False),  # an older event noted late: the plan's body is the newer one
        (1, None, False),  # nothing noted (a deleted resource): as without the check
        (None, 2, False),  # a body without a generation
        ("1", 2, False),  # malformed
        (True, 2, False),
    ],
)
def test_a_plan_is_superseded_only_by_a_newer_generation(
    planned: object, latest: object, superseded: bool
) -> None:
    assert plan_superseded(planned, latest) is superseded
    assert plan_superseded(planned, latest, "u-r", "u-r") is superseded  # the same object


@pytest.mark.parametrize(
    ("planned", "latest", "planned_uid", "latest_uid", "superseded"),
    [
        (5, 1, "u-old", "u-new", True),  # deleted and created again: generation 1 again
        (1, 1, "u-old", "u-new", True),
        (1, 2, "u-old", "u-old", True),  # the same object: the generation decides
        (5, 1, "u-old", None, False),  # no uid noted: the generation decides
        (5, 1, None, "u-new", False),
        (1, None, "u-old", None, False),  # deleted, not created again: as before
    ],
)
def test_a_plan_on_a_resource_deleted_and_created_again_is_superseded(
    planned: object, latest: object, planned_uid: object, latest_uid: object, superseded: bool
) -> None:
    assert plan_superseded(planned, latest, planned_uid, latest_uid) is superseded


def resource(generation: int, minimum: int, uid: str = "u-r") -> kopf.Body:
    return kopf.Body(
        {
            "apiVersion": "statecast.io/v1alpha1",
            "kind": "SharedResource",
            "metadata": {"name": "r", "namespace": "ns", "uid": uid, "generation": generation},
            "spec": {"replicas": {"min": minimum}, "replication": {"policy": "static"}},
            "status": {"observedGeneration": 1},
        }
    )


def indexes() -> Indexes:
    """Copies on a (its agent lost), b and c; d free: min 3 wants d, min 2 wants nothing."""
    zones = {"a": "z1", "b": "z2", "c": "z1", "d": "z2"}
    views = [
        replica_view(
            {
                "metadata": {"name": f"r-{n}", "namespace": "ns"},
                "spec": {"resource": "r", "nodeName": n},
                "status": {"phase": "Ready"},
            }
        )
        for n in ("a", "b", "c")
    ]
    return Indexes(
        FakeIndex({n: [node(n, z)] for n, z in zones.items()}),  # type: ignore[arg-type]
        FakeIndex({REF: views}),  # type: ignore[arg-type]
    )


def lose_agent_a(gateway: FakeGateway, liveness: AgentLiveness) -> None:
    """Every agent seen renewing a minute ago; since then all but a's renewed."""
    seen_at = [1000.0]
    liveness.ttl, liveness.clock = 0.0, lambda: seen_at[0]
    old = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=60)
    gateway.leases = [AgentLease(n, old, 6) for n in "abcd"]
    liveness.current()
    seen_at[0] += 60
    fresh = dt.datetime.now(dt.UTC)
    gateway.leases = [AgentLease("a", old, 6)] + [AgentLease(n, fresh, 6) for n in "bcd"]
    liveness.current()


def services_seeing(generation: int, minimum: int) -> tuple[FakeGateway, Services]:
    """Services whose last event of the resource said ``generation`` / ``minimum``."""
    gateway = FakeGateway()
    services = Services.build(gateway)
    lose_agent_a(gateway, services.liveness)
    memo = kopf.Memo(services=services)
    asyncio.run(handlers.resource_seen(resource(generation, minimum), type="MODIFIED", memo=memo))
    services.wakeups.next(timeout=0)  # the reconcile under way took it from the queue
    return gateway, services


def test_the_failover_copy_for_the_spec_the_reconcile_began_with_is_added() -> None:
    """The setting of the tests below, with no newer spec: min 3 and a's agent lost."""
    gateway, services = services_seeing(generation=1, minimum=3)
    reconcile_one(services, resource(1, 3), indexes())
    assert [b["spec"]["nodeName"] for b in gateway.created] == ["d"]
    assert [name for name, _ in gateway.lost] == ["r-a"]


def test_a_reconcile_whose_spec_changed_while_it_planned_writes_nothing_and_runs_again() -> None:
    gateway, services = services_seeing(generation=2, minimum=2)  # min back to 2 meanwhile
    reconcile_one(services, resource(1, 3), indexes())  # began with generation 1, min 3
    assert gateway.created == [] and gateway.deleted == []
    assert gateway.lost == [] and gateway.status_patches == [] and gateway.events == []
    services.wakeups.done(REF)  # as the worker does
    assert services.wakeups.next(timeout=0) == REF  # again, on the newer spec
    reconcile_one(services, resource(2, 2), indexes())
    assert gateway.created == []  # min 2: b and c are enough
    assert gateway.deleted == [("ns", "r-a")]  # a's copy goes (failover): no Lost mark
    assert gateway.lost == []


def test_a_plan_on_a_resource_deleted_and_created_again_under_its_name_writes_nothing() -> None:
    """The old object (generation 5, min 3) planned; meanwhile it was deleted and created
    again with min 2 (generation 1): before, 5 > 1 kept the plan and it added d."""
    gateway, services = services_seeing(generation=5, minimum=3)
    memo = kopf.Memo(services=services)
    asyncio.run(handlers.resource_seen(resource(5, 3), type="DELETED", memo=memo))
    again = resource(1, 2, uid="u-r2")
    asyncio.run(handlers.resource_seen(again, type="ADDED", memo=memo))
    reconcile_one(services, resource(5, 3), indexes())  # began on the deleted object
    assert gateway.created == [] and gateway.deleted == []
    assert gateway.lost == [] and gateway.status_patches == [] and gateway.events == []


def test_a_waves_plan_on_a_superseded_spec_sends_no_creation() -> None:
    gateway, services = services_seeing(generation=2, minimum=2)
    with ThreadPoolExecutor(2) as writes:
        reconcile_wave(services, [resource(1, 3)], indexes(), writes)
    assert gateway.created == [] and gateway.lost == [] and gateway.status_patches == []
    assert services.wakeups.pending() == 1


def test_the_generation_is_noted_from_every_event_and_forgotten_with_the_resource() -> None:
    services = Services.build(FakeGateway())
    memo = kopf.Memo(services=services)
    raw: dict[str, Any] = dict(resource(4, 2))
    asyncio.run(handlers.resource_seen(kopf.Body(raw), type=None, memo=memo))
    assert (services.wakeups.generation(REF), services.wakeups.uid(REF)) == (4, "u-r")
    asyncio.run(handlers.resource_seen(kopf.Body(raw), type="DELETED", memo=memo))
    assert (services.wakeups.generation(REF), services.wakeups.uid(REF)) == (None, None)
