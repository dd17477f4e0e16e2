"""`kubectl statecast forecast`: the forecast beside the sampled demand, and the picture."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from statecast.core.demand_codec import decode, encode
from statecast.core.demand_series import DemandSnapshot, ResourceDemand, Span
from statecast.kubectl.forecast_view import forecast_view, recent_means
from statecast.kubectl.plot import PlotError, plot_timeline
from statecast.kubectl.render import forecast_text
from statecast.kubectl.timeline import (
    Timeline,
    history_matrix,
    placement_spans,
    resource_timeline,
    zone_sums,
)
from statecast.kubectl.view import DecisionLine, ReplicaLine
from tests.unit._kubectl_objects import NOW, node, replica, resource, summary

T0 = NOW.timestamp() - 100.0  # 20 intervals of 5 s before now


def history(rates: dict[str, list[float]]) -> DemandSnapshot:
    """Demand sampled every 5 s from T0: ``rates[node][i]`` accesses in interval i (the
    last interval stays raw, as the newest one does in the operator)."""
    demand = ResourceDemand(5.0)
    for name, values in rates.items():
        for i, count in enumerate(values):
            demand.add(name, Span(T0 + 5 * i, T0 + 5 * (i + 1), count, 0.0))
    return decode(encode(demand.snapshot()))  # as the operator saves it


def test_the_history_matrix_is_the_demand_per_node_and_interval_newest_last() -> None:
    nodes, ends, values = history_matrix(history({"n1": [1, 2, 3, 4], "n2": [0, 0, 5, 5]}), 4)
    assert nodes == ("n1", "n2")
    np.testing.assert_allclose(ends - ends[-1], [-15, -10, -5, 0])
    np.testing.assert_allclose(values[:, :4], [[1, 2, 3, 4], [0, 0, 5, 5]])


def test_intervals_before_a_nodes_first_sample_are_unknown_not_idle() -> None:
    demand = ResourceDemand(5.0)
    for i in range(4):
        demand.add("n1", Span(T0 + 5 * i, T0 + 5 * (i + 1), 1.0, 0.0))
    demand.add("n2", Span(T0 + 10, T0 + 20, 4.0, 0.0))
    _, _, values = history_matrix(demand.snapshot(), 4)
    assert np.isnan(values[1, :2]).all()
    assert np.isfinite(values[1, 2:]).all()


def test_recent_means_average_the_last_horizon_of_each_node() -> None:
    means = recent_means(history({"n1": [9, 9, 1, 3], "n2": [2, 2, 2, 2]}), 2)
    assert means == pytest.approx({"n1": 2.0, "n2": 2.0})


def test_zone_sums_add_the_nodes_of_each_zone() -> None:
    values = np.array([[1.0, np.nan], [2.0, 3.0], [np.nan, np.nan]])
    sums = zone_sums(("a1", "a2", "b1"), values, {"a1": "a", "a2": "a", "b1": "b"})
    np.testing.assert_allclose(sums["a"], [3.0, 3.0])
    assert np.isnan(sums["b"]).all()


def test_the_forecast_view_puts_forecast_and_recent_demand_side_by_side() -> None:
    res = resource(
        replicas=[summary("node-1", "zone-a"), summary("node-3", "zone-c", "predicted")],
        forecast=[{"node": "node-3", "mean": 40.0, "lower": 30.0, "upper": 52.0}],
    )
    nodes = [node("node-1", "zone-a"), node("node-2", "zone-a"), node("node-3", "zone-c")]
    snap = history({"node-1": [2] * 10, "node-2": [1] * 10, "node-3": [30] * 10})
    view = forecast_view(res, [replica("node-1"), replica("node-3")], nodes, snap, "saved 1m ago")
    assert [(n.node, n.recent, n.mean, n.replica) for n in view.nodes] == [
        ("node-3", 30.0, 40.0, True),
        ("node-1", 2.0, None, True),  # not among the busiest nodes of the forecast
        ("node-2", 1.0, None, False),
    ]
    assert [(z.zone, z.recent, z.mean, z.replicas) for z in view.zones] == [
        ("zone-a", 3.0, None, 1),
        ("zone-c", 30.0, 40.0, 1),
    ]
    text = forecast_text(view, NOW)
    assert "History:        saved 1m ago\n" in text
    assert "  node-3   zone-c   30.0     40.0     30.0     52.0     yes\n" in text


def test_without_a_saved_history_the_view_says_so() -> None:
    view = forecast_view(resource(), [], None, None, "not saved yet")
    assert view.nodes == ()
    assert "History:        not saved yet\n" in forecast_text(view, NOW)


def _at(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(T0 + seconds, dt.UTC)


def test_placement_spans_follow_the_add_and_remove_events() -> None:
    decisions = [
        DecisionLine(
            _at(10), "Normal", "ReplicaAdded", "add replica on n2 (reason predicted)", "n2"
        ),
        DecisionLine(
            _at(60), "Normal", "ReplicaRemoved", "remove replica on n2 (reason cost)", "n2"
        ),
        DecisionLine(
            _at(30), "Normal", "ReplicaRemoved", "remove replica on n3 (reason cost)", "n3"
        ),
        DecisionLine(_at(70), "Normal", "ReplicaAdded", "add replica on n4 (reason hedge)", "n4"),
    ]
    now_there = [
        ReplicaLine("n1", "a", "peer", "Ready", "minimum", created=_at(-500)),
        ReplicaLine("n4", "b", "peer", "Ready", "hedge", created=_at(70)),
    ]
    zones = {"n1": "a", "n2": "a", "n3": "b", "n4": "b"}
    spans = placement_spans(decisions, now_there, zones, T0, T0 + 100)
    assert [
        (s.node, s.start - T0, None if s.end is None else s.end - T0, s.reason) for s in spans
    ] == [
        ("n1", 0.0, None, "minimum"),  # there before the window: from its start
        ("n2", 10.0, 60.0, "predicted"),
        ("n3", 0.0, 30.0, ""),  # removed, its add older than the window
        ("n4", 70.0, None, "hedge"),
    ]


def test_the_resource_timeline_holds_zone_demand_the_status_band_and_the_spans() -> None:
    res = resource(
        replicas=[summary("node-1", "zone-a")],
        forecast=[
            {"node": "node-1", "mean": 4.0, "lower": 2.0, "upper": 6.0},
            {"node": "node-2", "mean": 1.0, "lower": 0.0, "upper": 2.0},
        ],
    )
    zones = {"node-1": "zone-a", "node-2": "zone-a"}
    snap = history({"node-1": [3] * 20, "node-2": [1] * 20})
    lines = (ReplicaLine("node-1", "zone-a", "peer", "Ready", "minimum"),)
    timeline = resource_timeline(res, lines, (), zones, snap, NOW, 60.0)
    assert timeline.zones == ("zone-a",)
    assert len(timeline.times) == 12
    np.testing.assert_allclose(timeline.demand["zone-a"][-3:], [4.0, 4.0, 4.0])
    band = timeline.bands["zone-a"]
    np.testing.assert_allclose([band.mean[0], band.lower[0], band.upper[0]], [5.0, 2.0, 8.0])
    assert band.times[1] - band.times[0] == 30.0  # the horizon


def test_the_picture_is_written(tmp_path: Path) -> None:
    res = resource(forecast=[{"node": "node-1", "mean": 4.0, "lower": 2.0, "upper": 6.0}])
    zones = {"node-1": "zone-a", "node-2": "zone-b"}
    snap = history({"node-1": [3] * 20, "node-2": [1] * 20})
    lines = (ReplicaLine("node-1", "zone-a", "peer", "Ready", "minimum"),)
    timeline = resource_timeline(res, lines, (), zones, snap, NOW, 60.0)
    path = tmp_path / "out" / "flags.png"
    plot_timeline(timeline, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_an_empty_timeline_is_refused(tmp_path: Path) -> None:
    empty = Timeline("x", 5.0, np.zeros(0), {}, {}, (), NOW.timestamp())
    with pytest.raises(PlotError, match="nothing to plot"):
        plot_timeline(empty, tmp_path / "x.png")


def test_a_routine_removal_without_an_event_closes_its_span_from_the_status() -> None:
    """Since session 10 routine removals post no Event: the picture lost those copies
    (before: node-2 absent); ``status.recentRemovals`` keeps when each node lost one."""
    res = resource(replicas=[summary("node-1", "zone-a")])
    status = res["status"]
    status["recentRemovals"] = [
        {"node": "node-2", "time": _at(70).isoformat().replace("+00:00", "Z")},
        {"node": "node-3", "time": _at(40).isoformat().replace("+00:00", "Z")},
    ]
    posted = (DecisionLine(_at(42), "Normal", "ReplicaRemoved", "remove (reason lost)", "node-3"),)
    zones = {"node-1": "zone-a", "node-2": "zone-a", "node-3": "zone-b"}
    lines = (ReplicaLine("node-1", "zone-a", "peer", "Ready", "minimum", created=_at(-500)),)
    timeline = resource_timeline(res, lines, posted, zones, None, NOW, 100.0)
    ends = {s.node: None if s.end is None else round(s.end - T0) for s in timeline.spans}
    assert ends == {"node-1": None, "node-2": 70, "node-3": 42}  # node-3: one removal
