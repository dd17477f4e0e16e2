"""Consumer pods per node as a leading signal of demand: counted, recorded, forecast."""

from __future__ import annotations

import datetime as dt

import numpy as np
import numpy.typing as npt
import pytest

from statecast.api.shared_resource import LabelSelector, SharedResourceSpec
from statecast.controller.forecasting import DemandForecaster
from statecast.controller.sampling import DemandSampler
from statecast.core.demand import AgentSample
from statecast.core.reconcile.predicted import forecast_demand
from statecast.core.reconcile.views import PodView, consumer_pods

REF = ("ns", "flags")


def pod(node: str, uses: str = "", **labels: str) -> PodView:
    return PodView("ns", f"job-{node}", node, labels, frozenset(filter(None, uses.split(","))))


def test_consumer_pods_are_counted_per_node_by_annotation_or_selector() -> None:
    pods = [
        pod("node-1", uses="flags"),
        pod("node-1", app="web"),
        pod("node-2", uses="sessions,flags"),
        pod("node-3", uses="sessions"),
        pod("node-3", app="batch"),
    ]
    web = LabelSelector.model_validate({"matchLabels": {"app": "web"}})
    assert consumer_pods(pods, "flags", web) == {"node-1": 2, "node-2": 1}
    assert consumer_pods(pods, "flags", None) == {"node-1": 1, "node-2": 1}
    assert consumer_pods(pods, "sessions", None) == {"node-2": 1, "node-3": 1}
    everything = LabelSelector()
    assert consumer_pods(pods, "other", everything) == {"node-1": 2, "node-2": 1, "node-3": 2}


NOW = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)
NODES = ["node-1", "node-2", "node-3"]
SPEC = SharedResourceSpec.model_validate(
    {"replicas": {"min": 2}, "prediction": {"interval": "1m", "horizon": "5m"}}
)
NAN = float("nan")


def rows(*series: list[float]) -> npt.NDArray[np.float64]:
    return np.array(series, dtype=np.float64)


#: node-1 read 5 a minute on its own for 10 minutes, then ran a job pod reading 100 more;
#: node-2 reads 20 a minute without pods; node-3 was never sampled.
JOB_DEMAND = rows([5.0] * 10 + [105.0] * 20, [20.0] * 30, [NAN] * 30)
JOB_PODS = rows([0.0] * 10 + [1.0] * 20, [0.0] * 30, [0.0] * 30)


@pytest.mark.parametrize(
    ("sentence", "pods_now", "node", "plain", "with_pods"),
    [
        ("a node whose job pod just left is forecast at its residual, not its recent level",
         [0, 0, 0], "node-1", 105.0, 5.0),
        ("a node that keeps its pod keeps its level", [1, 0, 0], "node-1", 105.0, 105.0),
        ("a second pod bound next to the first adds the per-pod demand once more",
         [2, 0, 0], "node-1", 105.0, 205.0),
        ("a node where a pod was just bound gets the per-pod demand before any history",
         [1, 0, 1], "node-3", 0.0, 100.0),
        ("a node without pods is forecast from its own series", [1, 0, 1], "node-2", 20.0, 20.0),
    ],
)  # fmt: skip
def test_the_pods_running_now_move_the_forecast(
    sentence: str, pods_now: list[int], node: str, plain: float, with_pods: float
) -> None:
    row = NODES.index(node)
    before = forecast_demand(JOB_DEMAND, NODES, SPEC, generated_at=NOW)
    after = forecast_demand(
        JOB_DEMAND, NODES, SPEC, generated_at=NOW, pods=JOB_PODS, pods_now=np.array(pods_now)
    )
    assert before is not None and after is not None
    assert float(before.forecast.mean[row, 0]) == pytest.approx(plain, abs=1.0), sentence
    assert float(after.forecast.mean[row, 0]) == pytest.approx(with_pods, abs=1.0), sentence
    f = after.forecast
    assert (f.lower[row] <= f.mean[row]).all() and (f.mean[row] <= f.upper[row]).all()
    assert len(after.models) == len(NODES), "one model per node, the per-pod series aside"


def test_without_pods_the_forecast_is_exactly_the_plain_one() -> None:
    rng = np.random.default_rng(7)
    history = rng.poisson(30.0, (4, 120)).astype(np.float64)
    history[1, :40] = NAN  # sampled from step 40 on
    history[3] = NAN  # never sampled
    nodes = ["a", "b", "c", "d"]
    said = {"a": 25.0, "c": 40.0}
    plain = forecast_demand(history, nodes, SPEC, generated_at=NOW, previous_next=said)
    assert plain is not None
    for pods, pods_now in ((None, None), (np.zeros((4, 120)), np.zeros(4))):
        same = forecast_demand(
            history, nodes, SPEC, generated_at=NOW, previous_next=said, pods=pods,
            pods_now=pods_now,
        )  # fmt: skip
        assert same is not None
        assert same.models == plain.models
        for got, want in zip(
            (same.forecast.mean, same.forecast.lower, same.forecast.upper,
             same.forecast.deviation),
            (plain.forecast.mean, plain.forecast.lower, plain.forecast.upper,
             plain.forecast.deviation),
            strict=True,
        ):  # fmt: skip
            np.testing.assert_array_equal(got, want)


def test_a_node_sampled_only_lately_is_forecast_as_without_pods() -> None:
    # node-2 was sampled only for the last 20 minutes and never ran pods: its residual
    # is its own series, gap included (not zeros that would widen its band).
    rng = np.random.default_rng(3)
    lately = [NAN] * 40 + rng.poisson(20.0, 20).astype(np.float64).tolist()
    demand = rows([100.0] * 60, lately, [0.0] * 60)
    pods = rows([1.0] * 60, [0.0] * 60, [0.0] * 60)
    plain = forecast_demand(demand, NODES, SPEC, generated_at=NOW)
    split = forecast_demand(demand, NODES, SPEC, generated_at=NOW, pods=pods, pods_now=[1, 0, 0])
    assert plain is not None and split is not None
    for band in ("mean", "lower", "upper"):
        np.testing.assert_allclose(
            getattr(split.forecast, band)[1], getattr(plain.forecast, band)[1], err_msg=band
        )
    assert float(split.forecast.mean[0, 0]) == pytest.approx(100.0, abs=1.0)


def sampled(sampler: DemandSampler, node: str, per_minute: int, minutes: int = 10) -> None:
    start = NOW.timestamp() - 60 * minutes
    for i in range(minutes + 1):
        counts = {("ns", "flags", "local"): per_minute * i}
        sampler.record(AgentSample(node, start, start + 60 * i, counts))


def test_the_forecaster_records_pods_and_forecasts_again_when_they_change() -> None:
    sampler = DemandSampler(lambda: [])
    sampled(sampler, "node-1", 100)  # node-1 ran one job pod throughout
    sampled(sampler, "node-2", 20)
    sampler.record_pods(REF, {"node-1": 1}, NOW.timestamp() - 600)
    forecaster = DemandForecaster(sampler)
    first = forecaster.demand(REF, SPEC, NODES, NOW, {"node-1": 1})
    assert first is not None
    assert float(first.forecast.mean[0, 0]) == pytest.approx(100.0, abs=1.0)
    assert first.forecast.nodes == ("node-1", "node-2"), "node-3: no demand, no pod, no series"
    later = NOW + dt.timedelta(seconds=5)
    assert forecaster.demand(REF, SPEC, NODES, later, {"node-1": 1}) is first
    bound = forecaster.demand(REF, SPEC, NODES, later, {"node-1": 1, "node-3": 1})
    assert bound is not None and bound is not first, "a pod bound mid-interval counts at once"
    assert bound.forecast.nodes == ("node-1", "node-2", "node-3")
    assert float(bound.forecast.mean[2, 0]) == pytest.approx(100.0, abs=1.0)
    np.testing.assert_array_equal(bound.forecast.deviation[:2], first.forecast.deviation)
    assert sampler.pod_matrix(REF, NODES, 60, later.timestamp() + 60, 1).tolist() == [
        [1.0], [0.0], [1.0]
    ], "the new pod is in the history"  # fmt: skip
