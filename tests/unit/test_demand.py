"""Demand steps from agents' cumulative counters, and the history they go into."""

from __future__ import annotations

import numpy as np
import pytest

from statecast.core.demand import AgentSample, DemandHistory, DemandStep, step
from statecast.core.interval_ring import ROUNDING
from statecast.core.reconcile.views import agent_sample

REF = ("apps", "flags")
DAY = 86_400.0


def sample(t: float, local: int, remote: int, started: float = 0.0) -> AgentSample:
    return AgentSample(
        "n1", started, t, {("apps", "flags", "local"): local, ("apps", "flags", "remote"): remote}
    )


@pytest.mark.parametrize(
    ("sentence", "previous", "current", "expected"),
    [
        (
            "a first sample counts everything since the agent started",
            None,
            sample(10, 5, 1, started=2),
            {REF: DemandStep("n1", 2, 10, 5, 1)},
        ),
        (
            "accesses since the previous sample, split by where they were served",
            sample(10, 5, 1),
            sample(20, 9, 4),
            {REF: DemandStep("n1", 10, 20, 4, 3)},
        ),
        (
            "an agent that restarted (new startedAt) counts from its start",
            sample(10, 50, 10),
            sample(20, 3, 1, started=15),
            {REF: DemandStep("n1", 15, 20, 3, 1)},
        ),
        (
            "a counter that went down means a restart too",
            sample(10, 50, 10),
            sample(20, 3, 12),
            {REF: DemandStep("n1", 0, 20, 3, 12)},
        ),
    ],
)
def test_step(
    sentence: str,
    previous: AgentSample | None,
    current: AgentSample,
    expected: dict[tuple[str, str], DemandStep],
) -> None:
    assert step(previous, current) == expected, sentence


def test_history_answers_the_local_hit_ratio_over_a_window_and_stays_bounded() -> None:
    history = DemandHistory()
    history.add({REF: DemandStep("n1", 0, 10, 10, 0)})
    history.add({REF: DemandStep("n1", 10, 20, 3, 1)})
    history.add({REF: DemandStep("n2", 10, 20, 0, 4)})
    assert history.local_hit_ratio(REF, since=0) == 13 / 18
    assert history.local_hit_ratio(REF, since=15) == 3 / 8
    assert history.local_hit_ratio(("apps", "other"), since=0) is None
    history.set_interval(REF, 3600.0)  # three days of hours in the fine ring, 4 weeks coarse
    history.add({REF: DemandStep("n1", 4 * DAY, 4 * DAY + 10, 1, 0)})
    matrix = history.matrix(REF, ["n1"], 3600.0, 4 * DAY, 96)
    assert matrix[0, 0] == pytest.approx(14, rel=ROUNDING), "the first day: in the coarse ring"
    assert matrix[0, 1:].tolist() == [0.0] * 95
    history.add({REF: DemandStep("n1", 29 * DAY, 29 * DAY + 10, 1, 0)})
    matrix = history.matrix(REF, ["n1"], 3600.0, 29 * DAY, 29 * 24)
    assert np.isnan(matrix[0, :24]).all(), "the first day fell out of the coarse ring"
    assert matrix[0, 24:].sum() == pytest.approx(1.0, rel=ROUNDING)
    history.forget([])
    assert np.isnan(history.matrix(REF, ["n1"], 3600.0, 4 * DAY, 1)).all()


def test_agent_stats_are_parsed_and_operations_summed() -> None:
    body = {
        "node": "n1",
        "startedAt": 100.0,
        "time": 160.5,
        "accesses": [
            {"namespace": "apps", "resource": "flags", "node": "n1", "operation": "get",
             "served": "local", "count": 7},
            {"namespace": "apps", "resource": "flags", "node": "n1", "operation": "put",
             "served": "local", "count": 2},
            {"namespace": "apps", "resource": "flags", "node": "n1", "operation": "get",
             "served": "remote", "count": 1},
        ],
    }  # fmt: skip
    parsed = agent_sample(body, "n1")
    assert parsed.counts == {("apps", "flags", "local"): 9, ("apps", "flags", "remote"): 1}
    assert (parsed.started_at, parsed.time) == (100.0, 160.5)


def test_a_malformed_stats_answer_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="malformed /v1/stats"):
        agent_sample({"accesses": [{"namespace": "x"}]}, "n1")


def test_the_matrix_spreads_each_sample_over_the_intervals_it_covers() -> None:
    history = DemandHistory()
    history.add({REF: DemandStep("n1", 0, 20, 20, 0)})  # 1 access a second for 20 s
    history.add({REF: DemandStep("n1", 20, 30, 0, 5)})
    matrix = history.matrix(REF, ["n1", "n2"], interval=10, end=40, steps=4)
    assert matrix[0].tolist() == [10.0, 10.0, 5.0, 0.0]
    assert np.isnan(matrix[1]).all(), "a node never sampled is unknown, not idle"


def test_writes_per_minute_over_a_window() -> None:
    history = DemandHistory()
    history.add({REF: DemandStep("n1", 0, 60, 10, 0, writes=6)})
    history.add({REF: DemandStep("n2", 0, 60, 0, 3, writes=3)})
    assert history.writes_per_minute(REF, since=0, now=60) == 9.0


def test_pods_per_interval_are_averaged_over_the_time_each_count_held() -> None:
    history = DemandHistory()
    history.add_pods(REF, 15, {"n1": 1})  # bound halfway through the second interval
    history.add_pods(REF, 18, {"n1": 1, "n3": 0})  # no change: not kept
    history.add_pods(REF, 20, {"n1": 2, "n2": 1})
    history.add_pods(REF, 30, {"n2": 1})  # n1's pods left
    history.add_pods(REF, 25, {"n1": 9})  # older than the last change: ignored
    matrix = history.pod_matrix(REF, ["n1", "n2", "n3"], interval=10, end=50, steps=5)
    assert matrix.tolist() == [
        [0.0, 0.5, 2.0, 0.0, 0.0],
        [0.0, 0.0, 1.0, 1.0, 1.0],
        [0.0, 0.0, 0.0, 0.0, 0.0],
    ]


def test_pods_are_bounded_like_demand_and_forgotten_with_the_resource() -> None:
    history = DemandHistory()
    history.set_interval(REF, 3600.0)  # 72 intervals held
    for t, n in ((0, 1), (3600, 2), (4 * DAY, 3)):
        history.add_pods(REF, t, {"n1": n})
    matrix = history.pod_matrix(REF, ["n1"], 3600.0, 4 * DAY + 3600, 97)
    # The first day fell out; what is held shows the count that held then.
    assert matrix[0, :24].tolist() == [0.0] * 24
    assert matrix[0, 24:].tolist() == [2.0] * 72 + [3.0]
    history.forget([])
    assert history.pod_matrix(REF, ["n1"], 10, 30, 3).tolist() == [[0.0, 0.0, 0.0]]
    history.add_pods(REF, 0, {"n1": 1})
    history.drop(REF)
    assert history.pod_matrix(REF, ["n1"], 10, 30, 3).tolist() == [[0.0, 0.0, 0.0]]


def test_a_resource_with_nothing_recorded_has_no_snapshot() -> None:
    history = DemandHistory()
    history.set_interval(REF, 300.0)
    history.add_pods(REF, 10, {})
    assert history.snapshot(REF) is None
    history.add({REF: DemandStep("n1", 0, 10, 1, 0)})
    assert history.snapshot(REF) is not None
