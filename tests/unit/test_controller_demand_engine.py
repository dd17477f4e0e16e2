"""The operator's forecast kept current per interval: when to rebuild, update, and agreement."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import replace

import numpy as np
import numpy.typing as npt
import pytest

from statecast.api.shared_resource import SharedResourceSpec
from statecast.controller.forecasting import DemandForecaster
from statecast.controller.sampling import DemandSampler
from statecast.core.demand import AgentSample
from statecast.core.forecast import ForecastEngine
from statecast.core.forecast.incremental import due_for_refit
from statecast.core.placement import LatencyModel
from statecast.core.reactive import HeatStats, ObservedHeat
from statecast.core.reconcile.demand_engine import (
    MAX_CATCH_UP_STEPS,
    REFIT_EVERY_S,
    Built,
    DemandEngine,
    EngineSettings,
    Step,
    next_step,
    refit_every,
    season_completed,
    series_changed,
)
from statecast.core.reconcile.predicted import (
    PredictedDemand,
    demand_rows,
    forecast_demand,
    steps_of,
)
from statecast.core.reconcile.predictive import placement_input
from statecast.core.reconcile.views import node_view

NOW = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)
REF = ("ns", "flags")
NODES = ("node-1", "node-2", "node-3")
SPEC = SharedResourceSpec.model_validate(
    {
        "replicas": {"min": 2},
        "prediction": {"interval": "1m", "horizon": "5m", "seasonality": ["1h"]},
    }
)
SETTINGS = EngineSettings(NODES, 60.0, 5, 60, 0.9, 4320)
DAY = round(REFIT_EVERY_S / 60.0)
FloatArray = npt.NDArray[np.float64]


def built(end: float = 6000.0, steps: int = 100, refitted: int = 100, since: int = 0) -> Built:
    return Built(SETTINGS, end, steps, refitted, since)


@pytest.mark.parametrize(
    ("sentence", "engine", "settings", "end", "step", "reason"),
    [
        ("a resource without an engine gets one", None, SETTINGS, 6000.0, Step.REBUILD,
         "no-engine"),
        ("the interval it holds is nothing new", built(), SETTINGS, 6000.0, Step.SAME, ""),
        ("the next interval is an update", built(), SETTINGS, 6060.0, Step.UPDATE, ""),
        ("intervals a slow resync skipped are caught up on by updates",
         built(steps=4320, refitted=4320), SETTINGS, 6000.0 + 60 * MAX_CATCH_UP_STEPS,
         Step.UPDATE, ""),
        ("further behind, the history is fitted again", built(), SETTINGS,
         6000.0 + 60 * (MAX_CATCH_UP_STEPS + 1), Step.REBUILD, "intervals-skipped"),
        ("a history that went back is fitted again", built(), SETTINGS, 5940.0, Step.REBUILD,
         "history-went-back"),
        ("a changed prediction.interval rebuilds", built(),
         replace(SETTINGS, interval=120.0), 6000.0, Step.REBUILD, "prediction-changed"),
        ("a changed horizon rebuilds", built(), replace(SETTINGS, horizon=10), 6060.0,
         Step.REBUILD, "prediction-changed"),
        ("a changed level rebuilds", built(), replace(SETTINGS, level=0.8), 6060.0,
         Step.REBUILD, "prediction-changed"),
        ("a changed season rebuilds", built(), replace(SETTINGS, season=1440), 6060.0,
         Step.REBUILD, "prediction-changed"),
        ("a node that joined rebuilds", built(), replace(SETTINGS, nodes=(*NODES, "node-4")),
         6060.0, Step.REBUILD, "nodes-changed"),
        ("a reloaded history rebuilds", built(), replace(SETTINGS, generation=(0, 1)), 6000.0,
         Step.REBUILD, "history-reloaded"),
        ("a day of updates since the last fit rebuilds", built(steps=4320, refitted=4320,
         since=DAY - 1), SETTINGS, 6060.0, Step.REBUILD, "refit-due"),
        ("a young history that doubled since the last fit rebuilds",
         built(steps=199, refitted=100, since=99), SETTINGS, 6060.0, Step.REBUILD, "refit-due"),
        ("a young history that completed a season rebuilds (its 3rd of 60 steps, at 180)",
         built(steps=179, refitted=150, since=29), SETTINGS, 6060.0, Step.REBUILD,
         "season-completed"),
        ("within a season it is an update", built(steps=170, refitted=150, since=20), SETTINGS,
         6060.0, Step.UPDATE, ""),
    ],
)  # fmt: skip
def test_the_engine_is_rebuilt_only_when_an_update_cannot_follow(
    sentence: str,
    engine: Built | None,
    settings: EngineSettings,
    end: float,
    step: Step,
    reason: str,
) -> None:
    assert next_step(engine, settings, end) == (step, reason), sentence


@pytest.mark.parametrize(
    ("sentence", "since", "refitted", "steps", "interval", "due"),
    [
        ("an hour after a fit of three days is not due", 60, 4320, 4320, 60.0, False),
        ("a day after it is due", 1440, 4320, 4320, 60.0, True),
        ("a day is counted in intervals of the resource", 288, 864, 864, 300.0, True),
        ("a history that doubled is due", 3, 3, 6, 60.0, True),
        ("one that grew by half is not", 50, 100, 150, 60.0, False),
        ("a full history does not double: only the day counts", 100, 4320, 4320, 60.0, False),
    ],
)  # fmt: skip
def test_refits_are_daily_and_early_on_whenever_the_history_doubled(
    sentence: str, since: int, refitted: int, steps: int, interval: float, due: bool
) -> None:
    assert due_for_refit(since, refit_every(interval), steps, refitted) is due, sentence


@pytest.mark.parametrize(
    ("sentence", "refitted", "steps", "season", "due"),
    [
        ("the rebuild at 144 of 18-step seasons was in the 8th; 180 completes the 10th",
         144, 180, 18, True),
        ("163 is still in the 9th season", 162, 163, 18, False),
        ("a day of one-minute steps completed at 2880 after a rebuild at 2816", 2816, 2880,
         1440, True),
        ("after 14 seasons only the daily and doubling schedule counts", 14 * 24, 15 * 24, 24,
         False),
        ("a season of one step is no season", 5, 9, 1, False),
    ],
)  # fmt: skip
def test_a_young_history_is_refitted_at_each_season_it_completes(
    sentence: str, refitted: int, steps: int, season: int, due: bool
) -> None:
    assert season_completed(refitted, steps, season) is due, sentence


def column(*values: float) -> FloatArray:
    return np.array(values, dtype=np.float64)[:, None]


@pytest.mark.parametrize(
    ("sentence", "with_pods", "sampled", "demand", "pods", "pods_now", "why"),
    [
        ("a new interval of known series is an update", False, [True, True, False],
         column(3, 4, np.nan), column(0, 0, 0), [0, 0, 0], None),
        ("the first pod in the history needs the per-pod split", False, [True, True, True],
         column(3, 4, 5), column(0, 1, 0), [0, 1, 0], "pods-appeared"),
        ("a pod bound now needs it too", False, [True, True, True], column(3, 4, 5),
         column(0, 0, 0), [1, 0, 0], "pods-appeared"),
        ("pods are an update once the split is followed", True, [True, True, True],
         column(3, 4, 5), column(0, 2, 0), [0, 2, 0], None),
        ("a node read for the first time is no longer zero", False, [True, True, False],
         column(3, 4, 5), column(0, 0, 0), [0, 0, 0], "node-sampled-first"),
    ],
)  # fmt: skip
def test_new_series_rebuild_the_engine(
    sentence: str,
    with_pods: bool,
    sampled: list[bool],
    demand: FloatArray,
    pods: FloatArray,
    pods_now: list[int],
    why: str | None,
) -> None:
    got = series_changed(
        with_pods, np.array(sampled), demand, pods, np.array(pods_now, dtype=np.float64)
    )
    assert got == why, sentence


def seasonal(steps: int, seed: int = 5) -> FloatArray:
    """Three nodes with an hourly pattern; node-3 sampled only from step 40."""
    rng = np.random.default_rng(seed)
    t = np.arange(steps)
    shape = 1.0 + 0.6 * np.sin(2 * np.pi * t / 60)
    history = rng.poisson(np.outer([40.0, 15.0, 8.0], shape)).astype(np.float64)
    history[2, :40] = np.nan
    return history


def job_pods(steps: int) -> FloatArray:
    pods = np.zeros((3, steps))
    pods[0, steps // 2 :] = 1.0
    return pods


def assert_agrees(got: PredictedDemand, want: PredictedDemand | None, rtol: float) -> None:
    assert want is not None
    assert got.models == want.models
    for band in ("mean", "lower", "upper", "deviation"):
        np.testing.assert_allclose(
            getattr(got.forecast, band), getattr(want.forecast, band), rtol=rtol, atol=1e-6,
            err_msg=band,
        )  # fmt: skip


@pytest.mark.parametrize("with_pods", [False, True])
def test_after_a_rebuild_the_engine_says_what_forecast_demand_says(with_pods: bool) -> None:
    history = seasonal(300)
    pods = job_pods(300) if with_pods else np.zeros((3, 300))
    history[0] += 60.0 * pods[0]
    now = pods[:, -1]
    said = {"node-1": 30.0, "node-2": 20.0}
    engine = DemandEngine.build(SETTINGS, 18_000.0, history, pods, now)
    assert engine is not None and engine.with_pods is with_pods
    got = engine.demand(SPEC, now, previous_next=said, writes_per_min=2.0)
    at = dt.datetime.fromtimestamp(18_000.0, dt.UTC)
    want = forecast_demand(
        history, NODES, SPEC, generated_at=at, previous_next=said, writes_per_min=2.0,
        pods=pods, pods_now=now,
    )  # fmt: skip
    assert_agrees(got, want, rtol=1e-4)
    assert got.generated_at == at and got.writes_per_min == 2.0 and got.interval_s == 60.0


@pytest.mark.parametrize("with_pods", [False, True])
def test_between_rebuilds_the_updates_stay_close_to_a_full_forecast(with_pods: bool) -> None:
    history = seasonal(330)
    pods = job_pods(330) if with_pods else np.zeros((3, 330))
    history[0] += 60.0 * pods[0]
    engine = DemandEngine.build(SETTINGS, 0.0, history[:, :300], pods[:, :300], pods[:, 299])
    assert engine is not None
    for k in range(300, 330):  # half an hour of updates, one interval each
        engine.update(history[:, k : k + 1], pods[:, k : k + 1], 60.0 * (k - 299))
    got = engine.demand(SPEC, pods[:, -1], previous_next=None, writes_per_min=0.0)
    assert got.generated_at == dt.datetime.fromtimestamp(1800.0, dt.UTC)
    # The updates feed exactly the series a rebuild would fit (the pod split appended
    # step by step), into the engine's cheap update: parameters held since the fit.
    rows = demand_rows(history, pods, pods[:, -1])
    held = ForecastEngine(len(rows.series), period=60, horizon=5, level=0.9, capacity=4320)
    held.refit(rows.series[:, :300])
    for k in range(300, 330):
        held.update(rows.series[:, k])
    np.testing.assert_array_equal(got.forecast.mean[:, :], node_mean(held, pods[:, -1]))
    assert_close(got, forecast_demand(
        history, NODES, SPEC, generated_at=got.generated_at, pods=pods, pods_now=pods[:, -1]
    ))  # fmt: skip


def test_both_paths_hand_the_planner_the_last_day_of_reads() -> None:
    """The planner's break-even rule looks back over each node's reads (not its residual
    or per-pod split): the last day, built from the history and rolled by the updates."""
    history = seasonal(DAY + 40)
    history[1, -5:] = np.nan  # not sampled: no read
    pods = np.zeros_like(history)
    engine = DemandEngine.build(SETTINGS, 0.0, history[:, :DAY], pods[:, :DAY], pods[:, 0])
    assert engine is not None
    for k in range(DAY, DAY + 40):
        engine.update(history[:, k : k + 1], pods[:, k : k + 1], 60.0 * (k - DAY + 1))
    got = engine.demand(SPEC, pods[:, -1], previous_next=None, writes_per_min=0.0)
    want = np.nan_to_num(history[:, -DAY:])
    assert got.forecast.recent is not None
    np.testing.assert_array_equal(got.forecast.recent, want)
    full = forecast_demand(history, NODES, SPEC, generated_at=got.generated_at)
    assert full is not None and full.forecast.recent is not None
    np.testing.assert_array_equal(full.forecast.recent, want)
    ready = {"conditions": [{"type": "Ready", "status": "True"}]}
    nodes = [node_view({"metadata": {"name": n}, "status": ready}) for n in NODES[::-1]]
    planned = placement_input(SPEC, nodes[:2], set(NODES), [], got, now=NOW)
    assert planned.forecast.recent is not None  # the rows of the nodes planned over
    np.testing.assert_array_equal(planned.forecast.recent, want[1:])
    assert planned.latency == LatencyModel()  # the fixed figures unless measured ones come
    measured = LatencyModel(zone_ms=(("z1", "z2", 40.0),))
    assert (
        placement_input(SPEC, nodes, set(NODES), [], got, now=NOW, latency=measured).latency
        == measured
    )
    # the cluster's heat (the reactive rule's statistics) prices the default's copies
    assert planned.cluster_heat is None
    heat = ObservedHeat({}, HeatStats(2.0, 0.5, 12), 900.0)
    with_heat = placement_input(SPEC, nodes, set(NODES), [], got, now=NOW, heat=heat)
    assert with_heat.cluster_heat == (2.0, 0.5)


def node_mean(engine: ForecastEngine, pods_now: FloatArray) -> FloatArray:
    """The engine's point forecast per node, the per-pod row recombined if there is one."""
    mean = engine.forecast().mean
    if len(mean) == 3:
        return mean
    return mean[:3] + np.maximum(mean[3:], 0.0) * pods_now[:, None]


def assert_close(got: PredictedDemand, want: PredictedDemand | None) -> None:
    """Close to a full forecast: the same last miss, the means within 30 %, bands overlapping.

    Between rebuilds the parameters and calibration stay as fitted while a full forecast
    re-chooses them; on these noisy hour-long seasons the means part by up to ~25 %.
    """
    assert want is not None
    f, w = got.forecast, want.forecast
    np.testing.assert_array_equal(f.deviation, w.deviation)
    np.testing.assert_allclose(f.mean, w.mean, rtol=0.3)
    assert (f.lower <= w.upper).all() and (w.lower <= f.upper).all(), "the bands overlap"


def test_a_history_too_short_builds_no_engine() -> None:
    assert DemandEngine.build(SETTINGS, 0.0, seasonal(2), np.zeros((3, 2)), np.zeros(3)) is None


class Cluster:
    """Agents on node-1 and node-2 read every minute into a sampler, from ``NOW`` on."""

    def __init__(self) -> None:
        self.sampler = DemandSampler(lambda: [])
        self.counts = {"node-1": 0, "node-2": 0}
        self.minute = 0
        self.pattern = seasonal(2000)

    def run(self, minutes: int) -> dt.datetime:
        """Read ``minutes`` more; the time just after the last reading."""
        for _ in range(minutes):
            self.minute += 1
            at = NOW.timestamp() + 60 * self.minute
            for row, node in enumerate(self.counts):
                self.counts[node] += int(self.pattern[row, self.minute])
                counts = {("ns", "flags", "local"): self.counts[node]}
                self.sampler.record(AgentSample(node, NOW.timestamp(), at, counts))
        return NOW + dt.timedelta(seconds=60 * self.minute + 1)

    def reference(
        self,
        spec: SharedResourceSpec,
        at: dt.datetime,
        pods_now: tuple[int, ...] = (0, 0),
        said: PredictedDemand | None = None,
    ) -> PredictedDemand | None:
        """What :func:`forecast_demand` says from the sampler's whole history, on the nodes
        that history has demand or pods on (node-3 has neither: it is not forecast)."""
        nodes = tuple(sorted(self.sampler.nodes_of(REF) & set(NODES)))
        interval, _, _ = steps_of(spec)
        end = (at.timestamp() - 1) // interval * interval
        history = self.sampler.matrix(REF, list(nodes), interval, end, 4320)
        first = int(np.argmax(~np.isnan(history).all(axis=0)))
        pods = self.sampler.pod_matrix(REF, list(nodes), interval, end, 4320)[:, first:]
        return forecast_demand(
            history[:, first:], nodes, spec,
            generated_at=dt.datetime.fromtimestamp(end, dt.UTC),
            pods=pods, pods_now=np.array(pods_now, dtype=np.float64),
            previous_next=None if said is None else {
                n: float(said.forecast.mean[i, 0]) for i, n in enumerate(said.forecast.nodes)
            },
        )  # fmt: skip


def rebuilds(caplog: pytest.LogCaptureFixture) -> list[str]:
    reasons = [
        r.args[2]
        for r in caplog.records
        if isinstance(r.args, tuple) and r.msg.startswith("event=forecast-rebuilt")
    ]
    caplog.clear()
    return [str(reason) for reason in reasons]


def test_the_forecaster_updates_each_interval_and_rebuilds_when_the_series_change(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="statecast.controller.forecasting")
    cluster = Cluster()
    forecaster = DemandForecaster(cluster.sampler)
    at = cluster.run(120)
    first = forecaster.demand(REF, SPEC, NODES, at)
    assert first is not None
    assert rebuilds(caplog) == ["no-engine"]
    assert_agrees(first, cluster.reference(SPEC, at), rtol=1e-4)

    at = cluster.run(1)
    updated = forecaster.demand(REF, SPEC, NODES, at)
    assert updated is not None and updated.generated_at == first.generated_at + dt.timedelta(
        minutes=1
    )
    assert rebuilds(caplog) == [], "a new interval is an update"
    assert float(updated.forecast.deviation.max()) > 0, "the last forecast's miss is known"
    assert_close(updated, cluster.reference(SPEC, at, said=first))

    at = cluster.run(3)  # a resync slower than the interval: caught up on by updates
    caught_up = forecaster.demand(REF, SPEC, NODES, at)
    assert caught_up is not None
    assert rebuilds(caplog) == []

    cluster.sampler.record_pods(REF, {"node-1": 1}, at.timestamp())
    at = cluster.run(1)
    with_pods = forecaster.demand(REF, SPEC, NODES, at, {"node-1": 1})
    assert rebuilds(caplog) == ["pods-appeared"]
    assert with_pods is not None
    assert_agrees(with_pods, cluster.reference(SPEC, at, (1, 0), caught_up), rtol=1e-4)

    at = cluster.run(1)
    assert forecaster.demand(REF, SPEC, NODES, at, {"node-1": 1}) is not None
    assert rebuilds(caplog) == [], "pods are updates once the split is followed"

    slower = SPEC.model_copy(
        update={"prediction": SPEC.prediction.model_copy(update={"interval": "2m"})}
    )
    at = cluster.run(2)
    two_minutes = forecaster.demand(REF, slower, NODES, at, {"node-1": 1})
    assert two_minutes is not None and two_minutes.interval_s == 120.0
    assert rebuilds(caplog) == ["prediction-changed"]

    snapshot = cluster.sampler.snapshot(REF)
    assert snapshot is not None
    cluster.sampler.restore(REF, snapshot)  # as the history keeper does on a (re)load
    at = cluster.run(2)
    assert forecaster.demand(REF, slower, NODES, at, {"node-1": 1}) is not None
    assert rebuilds(caplog) == ["history-reloaded"]


def test_a_young_history_is_refitted_whenever_it_doubled(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="statecast.controller.forecasting")
    cluster = Cluster()
    forecaster = DemandForecaster(cluster.sampler)
    seen: list[str] = []
    for _ in range(40):
        assert forecaster.demand(REF, SPEC, NODES, cluster.run(1)) is not None or not seen
        seen += rebuilds(caplog)
    # Built at 3 intervals, then refitted at 6, 12, 24: updates in between.
    assert seen == ["no-engine", "refit-due", "refit-due", "refit-due"]


def test_the_history_generation_changes_when_the_history_is_replaced() -> None:
    cluster = Cluster()
    cluster.run(5)
    sampler, other = cluster.sampler, ("ns", "other")
    before = sampler.generation(REF)
    assert sampler.generation(REF) == before, "reading and sampling do not change it"
    snapshot = sampler.snapshot(REF)
    assert snapshot is not None
    sampler.restore(REF, snapshot)
    restored = sampler.generation(REF)
    assert restored != before
    assert sampler.generation(other) == before, "another resource's load is not this one's"
    sampler.reset()
    assert sampler.generation(REF) not in (before, restored)


def test_a_weekly_season_is_forecast_from_weeks_of_history_rolled_up() -> None:
    # Hourly intervals: the fine ring holds three days, the week comes from the coarse one.
    spec = SharedResourceSpec.model_validate(
        {
            "replicas": {"min": 2},
            "prediction": {"interval": "1h", "horizon": "6h", "seasonality": ["1d", "7d"]},
        }
    )
    sampler = DemandSampler(lambda: [])
    rng = np.random.default_rng(3)
    counts = {"node-1": 0, "node-2": 0}
    hours = 27 * 24 + 12  # from Saturday noon to the Saturday midnight four weeks later
    for hour in range(1, hours + 1):
        at = NOW.timestamp() + 3600 * hour
        weekend = dt.datetime.fromtimestamp(at - 1, dt.UTC).weekday() >= 5
        rate = 10.0 if weekend else 100.0 * (1 + 0.5 * np.sin(2 * np.pi * hour / 24))
        for node, so_far in list(counts.items()):
            counts[node] = so_far + int(rng.poisson(rate))
            reading = {("ns", "flags", "local"): counts[node]}
            sampler.record(AgentSample(node, NOW.timestamp(), at, reading))
    at = NOW + dt.timedelta(hours=hours, seconds=1)
    assert at.weekday() == 5 and at.hour == 0
    demand = DemandForecaster(sampler).demand(REF, spec, NODES[:2], at)
    assert demand is not None
    assert all("/168" in model for model in demand.models), demand.models
    # A Saturday after a week of busy days: forecast at the weekend's level.
    assert float(demand.forecast.mean.mean()) < 25.0


def test_only_the_nodes_with_demand_or_pods_are_forecast() -> None:
    """A node that never read the resource nor ran a consumer of it has no series in its
    engine (a resource read on 2 of 50 nodes costs 2 series), until it does."""
    cluster = Cluster()
    forecaster = DemandForecaster(cluster.sampler)
    many = NODES + tuple(f"idle-{i}" for i in range(47))
    at = cluster.run(120)
    demand = forecaster.demand(REF, SPEC, many, at)
    assert demand is not None and demand.forecast.nodes == ("node-1", "node-2")
    at = cluster.run(1)
    demand = forecaster.demand(REF, SPEC, many, at, {"idle-7": 1})
    assert demand is not None and demand.forecast.nodes == ("idle-7", "node-1", "node-2")


def test_an_engine_keeps_nothing_of_the_history_it_was_built_from() -> None:
    """The history matrix is sized for three days (4,320 intervals here) and the engine
    was built from its sampled part; a slice kept (the newest day, for the planner)
    kept the whole matrix alive: 16 MiB of 25 traced in a 100-resource heap profile."""
    import gc
    import weakref

    matrix = np.full((3, 4320), np.nan)
    matrix[:, -300:] = seasonal(300)
    pods = np.zeros((3, 4320))
    alive = weakref.ref(matrix)
    engine = DemandEngine.build(SETTINGS, 18_000.0, matrix[:, -300:], pods[:, -300:], pods[:, -1])
    assert engine is not None
    del matrix, pods
    gc.collect()
    assert alive() is None


def test_the_forecaster_hands_the_planner_what_its_forecasts_said_interval_by_interval() -> None:
    """The planner's test of demand that moved away (``DemandForecast.said``) compares the
    newest intervals' demand with what the forecasts said for them, one interval ahead:
    the forecaster keeps those, newest last, aligned with ``recent``; a gap starts over."""
    cluster = Cluster()
    forecaster = DemandForecaster(cluster.sampler)
    made = [forecaster.demand(REF, SPEC, NODES, cluster.run(120))]
    assert made[0] is not None and made[0].forecast.said is None, "nothing said before"
    for _ in range(4):
        made.append(forecaster.demand(REF, SPEC, NODES, cluster.run(1)))
    last = made[-1]
    assert last is not None and last.forecast.said is not None
    assert last.forecast.said.shape == (len(last.forecast.nodes), 4)
    said_before = [m.forecast.mean[:, 0] for m in made[:-1] if m is not None]
    np.testing.assert_allclose(last.forecast.said, np.column_stack(said_before))
    again = forecaster.demand(REF, SPEC, NODES, cluster.run(3))  # intervals skipped
    assert again is not None and again.forecast.said is None
