"""What the operator says when a reconcile fails, once per cause, and what it forgets.

Issue 19, items 4 and 9: a ZeroDivisionError raised in every reconcile gave the resource
no status, Event or metric, only a traceback every resync; one cause posted the same
Warning twice; a deleted resource's phase series stayed exported.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import kopf
import pytest
from prometheus_client import generate_latest

from statecast.controller import handlers, wave
from statecast.controller.services import EventMemory, Services
from statecast.core.reconcile.status import failed_status
from tests.unit.test_controller_handlers import FakeGateway, FakeIndex, body, nodes, replica

NOW = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)


class EventsGateway(FakeGateway):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[tuple[str, str, str]] = []

    def post_event(self, body: Any, type_: str, reason: str, message: str) -> None:
        super().post_event(body, type_, reason, message)
        self.messages.append((type_, reason, message))


@pytest.fixture
def gateway() -> EventsGateway:
    return EventsGateway()


@pytest.fixture
def services(gateway: EventsGateway) -> Services:
    return Services.build(gateway)


def metrics_text(services: Services) -> str:
    return generate_latest(services.metrics.registry).decode()


def test_a_reconcile_that_raises_becomes_a_condition_an_event_and_a_metric(
    gateway: EventsGateway, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(observed: Any) -> Any:
        raise ZeroDivisionError("float division by zero")

    monkeypatch.setattr(wave, "reconcile", broken)
    memo = kopf.Memo(services=services)
    for _ in range(3):  # the resync timer keeps trying
        handlers.reconcile_resource(
            body(), memo=memo, node_index=nodes(), replica_index=FakeIndex()
        )
    status = gateway.statuses["flags"]  # what the server holds
    conditions = {c["type"]: c for c in status["conditions"]}
    assert status["phase"] == "Failed"  # it never had a status
    assert conditions["Ready"]["status"] == "False"
    assert conditions["Ready"]["reason"] == "ReconcileError"
    assert "ZeroDivisionError: float division by zero" in conditions["Degraded"]["message"]
    failed = [m for m in gateway.messages if m[1] == "ReconcileFailed"]
    assert failed == [("Warning", "ReconcileFailed", "ZeroDivisionError: float division by zero")]
    assert 'statecast_reconcile_errors_total{namespace="ns",resource="flags"} 3.0' in (
        metrics_text(services)
    )


def test_a_failed_reconcile_keeps_the_phase_and_the_other_conditions_it_had() -> None:
    previous = {
        "phase": "Ready",
        "conditions": [
            {"type": "Ready", "status": "True", "lastTransitionTime": "2026-11-28T10:00:00Z"},
            {"type": "ForecastReady", "status": "False", "reason": "NotPredictive"},
        ],
    }
    status = failed_status(previous, 4, NOW, "KeyError: 'x'")
    assert "phase" not in status
    assert [c["type"] for c in status["conditions"]] == ["Ready", "Degraded", "ForecastReady"]
    assert status["conditions"][0]["lastTransitionTime"] == "2026-11-28T12:00:00Z"
    assert status["observedGeneration"] == 4


def test_one_cause_posts_one_warning_even_when_the_status_patch_is_not_seen_yet(
    gateway: EventsGateway, services: Services
) -> None:
    memo = kopf.Memo(services=services)
    spec_body = body()
    spec_body["spec"]["replicas"] = {"min": 5}  # more than the three nodes
    index = FakeIndex({("ns", "flags"): [replica("a", "Ready"), replica("b", "Ready")]})
    for _ in range(3):  # each resync sees the body without the status it patched
        handlers.reconcile_resource(spec_body, memo=memo, node_index=nodes(), replica_index=index)
    assert [m[1] for m in gateway.messages].count("NotEnoughNodes") == 1


def test_the_same_event_is_posted_again_after_the_window() -> None:
    memory = EventMemory(window=60)
    ref = ("ns", "flags")
    assert memory.due(ref, "Warning", "ReplicaLost", "flags-a: gone", 0.0)
    assert not memory.due(ref, "Warning", "ReplicaLost", "flags-a: gone", 30.0)
    assert memory.due(ref, "Warning", "ReplicaLost", "flags-b: gone", 30.0)
    assert memory.due(ref, "Warning", "ReplicaLost", "flags-a: gone", 61.0)


def test_a_deleted_resource_takes_its_metric_series_with_it(services: Services) -> None:
    memo = kopf.Memo(services=services)
    handlers.reconcile_resource(body(), memo=memo, node_index=nodes(), replica_index=FakeIndex())
    assert '{namespace="ns",resource="flags",statecast_resource_phase="Pending"} 1.0' in (
        metrics_text(services)
    )
    asyncio.run(handlers.resource_seen(body(), type="DELETED", memo=memo))
    assert 'resource="flags"' not in metrics_text(services)


def test_agent_readings_are_counted_by_outcome(services: Services) -> None:
    services.sampler.counted("node-1", "ok")
    services.sampler.counted("node-1", "failed")
    text = metrics_text(services)
    assert 'statecast_agent_samples_total{node="node-1",outcome="failed"} 1.0' in text
    assert 'statecast_agent_samples_total{node="node-1",outcome="ok"} 1.0' in text


@pytest.mark.parametrize(
    ("address", "port", "expected"),
    [
        ("127.0.0.1:9090", None, ("127.0.0.1", 9090)),  # the default: this host only
        ("10.1.2.3:9090", 9100, ("10.1.2.3", 9100)),  # --metrics-port, the older spelling
        ("[::1]:9090", None, ("::1", 9090)),
        ("off", None, None),
    ],
)
def test_the_metrics_address(address: str, port: int | None, expected: Any) -> None:
    from statecast.commands.operator import DEFAULT_METRICS_ADDRESS, metrics_address

    assert DEFAULT_METRICS_ADDRESS == "127.0.0.1:9090"
    assert metrics_address(address, port) == expected
    with pytest.raises(ValueError, match="HOST:PORT"):
        metrics_address("9090")


def test_metrics_are_served_on_the_address_and_a_taken_one_does_not_stop_the_operator(
    services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    import socket
    import urllib.request

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
    handlers.start_services(kopf.Memo(services=services, metrics_address=("127.0.0.1", port)))
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
            assert b"statecast_replica_actions" in reply.read()
        other = Services.build(EventsGateway())
        handlers.start_services(kopf.Memo(services=other, metrics_address=("127.0.0.1", port)))
        assert "event=metrics-not-served" in caplog.text
        other.stop()
    finally:
        services.stop()
