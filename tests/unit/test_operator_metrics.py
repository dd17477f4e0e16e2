"""The metrics worth a dashboard: operator gauges per resource, forecast score, agent files."""

from __future__ import annotations

import asyncio

import kopf
import numpy as np
import pytest
from prometheus_client import generate_latest

from statecast.agent.accounting import AccessLog, SyncLog, build_registry
from statecast.controller import handlers
from statecast.controller.services import Services
from statecast.core.placement import DemandForecast
from statecast.core.reconcile.forecast_score import ForecastScore
from statecast.core.reconcile.views import replica_view
from tests.unit.test_controller_handlers import FakeGateway, FakeIndex, body, nodes


def text(services: Services) -> str:
    return generate_latest(services.metrics.registry).decode()


def held(node: str, phase: str, size: int) -> object:
    return replica_view(
        {
            "metadata": {"name": f"flags-{node}", "namespace": "ns"},
            "spec": {"resource": "flags", "nodeName": node},
            "status": {"phase": phase, "bytes": size},
        }
    )


def test_a_reconcile_exports_its_replicas_by_phase_its_duration_and_the_bytes_it_moves() -> None:
    services = Services.build(FakeGateway())
    memo = kopf.Memo(services=services)
    replicas = FakeIndex({("ns", "flags"): [held("a", "Ready", 500)]})
    handlers.reconcile_resource(body(), memo=memo, node_index=nodes(), replica_index=replicas)
    got = text(services)
    assert 'statecast_replicas{namespace="ns",phase="Ready",resource="flags"} 1.0' in got
    assert 'statecast_replicas{namespace="ns",phase="Lost",resource="flags"} 0.0' in got
    assert 'statecast_reconcile_duration_seconds_count{policy="predictive"} 1.0' in got
    moved = [line for line in got.splitlines() if line.startswith("statecast_bytes_moved_total{")]
    assert moved and sum(float(line.split()[-1]) for line in moved) == 500.0, "one copy of 500 B"
    asyncio.run(handlers.resource_seen(body(), type="DELETED", memo=memo))
    assert 'resource="flags"' not in text(services), "every series of the resource goes with it"


def test_the_hit_ratio_and_the_forecast_score_are_set_while_known_and_removed_after() -> None:
    services = Services.build(FakeGateway())
    metrics = services.metrics
    metrics.resource_seen("ns", "r", {"phase": "Ready", "localHitRatio": 0.75}, (2.5, 0.9))
    got = text(services)
    assert 'statecast_local_hit_ratio{namespace="ns",resource="r"} 0.75' in got
    assert 'statecast_forecast_mae{namespace="ns",resource="r"} 2.5' in got
    assert 'statecast_forecast_interval_coverage{namespace="ns",resource="r"} 0.9' in got
    metrics.resource_seen("ns", "r", {"phase": "Ready"}, None)
    got = text(services)
    assert "statecast_local_hit_ratio{" not in got and "statecast_forecast_mae{" not in got


def forecast(mean: list[float], lower: list[float], upper: list[float]) -> DemandForecast:
    column = lambda values: np.array(values, dtype=np.float64)[:, None]  # noqa: E731
    return DemandForecast(("a", "b"), column(mean), column(lower), column(upper), np.zeros(2))


@pytest.mark.parametrize(
    ("rounds", "expected"),
    [
        ([], None),
        ([({"a": 12.0, "b": 0.0},)], (1.0, 1.0)),  # |10-12|, |0-0|; both inside
        ([({"a": 16.0, "b": float("nan")},)], (6.0, 0.0)),  # b not read: not scored
        ([({"a": 12.0, "b": 0.0},), ({"a": 16.0},)], (8 / 3, 2 / 3)),
    ],
)
def test_the_forecast_score_is_the_rolling_mae_and_coverage_one_interval_ahead(
    rounds: list[tuple[dict[str, float]]], expected: tuple[float, float] | None
) -> None:
    score = ForecastScore(window=10)
    for (actual,) in rounds:
        score.add(forecast([10.0, 0.0], [8.0, 0.0], [14.0, 1.0]), actual)
    assert score.value() == (None if expected is None else pytest.approx(expected))


def test_the_score_forgets_intervals_beyond_its_window() -> None:
    score = ForecastScore(window=1)
    score.add(forecast([10.0, 0.0], [8.0, 0.0], [14.0, 1.0]), {"a": 30.0, "b": 0.0})
    score.add(forecast([10.0, 0.0], [8.0, 0.0], [14.0, 1.0]), {"a": 10.0, "b": 0.0})
    assert score.value() == (0.0, 1.0)


def test_the_agent_exports_its_log_and_snapshot_sizes_and_its_start() -> None:
    access = AccessLog("n1")
    registry = build_registry(
        access, SyncLog(), list, files=lambda: [("ns", "r", 4096, 1 << 20, 1)]
    )
    got = generate_latest(registry).decode()
    assert 'statecast_agent_wal_bytes{namespace="ns",resource="r"} 4096.0' in got
    assert 'statecast_agent_snapshot_bytes{namespace="ns",resource="r"} 1.048576e+06' in got
    assert 'statecast_agent_snapshot_writer_kills_total{namespace="ns",resource="r"} 1.0' in got
    started = [line for line in got.splitlines() if line.startswith("statecast_agent_start_time")]
    assert [line.split()[0] for line in started] == [
        'statecast_agent_start_time_seconds{node="n1"}'
    ]
    assert float(started[0].split()[1]) == access.started
