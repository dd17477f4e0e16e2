"""Consumer pods as a leading signal: split demand by pods and recombine the forecasts."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from statecast.core.forecast import HistoryError
from statecast.core.forecast.pods import Band, recombine, split_by_pods, split_step


def one(*rows: list[float]) -> npt.NDArray[np.float64]:
    """One resource's (nodes, steps) rows as a (1, nodes, steps) array."""
    return np.array([rows], dtype=np.float64)


def at_step(values: npt.NDArray[np.float64]) -> Band:
    """A one-step band whose bounds are the values themselves."""
    return Band(values, values, values)


def test_a_job_pod_on_a_node_splits_into_its_background_and_the_per_pod_rate() -> None:
    # node-a reads 5 a step on its own and a job pod on it reads 100 more for two steps.
    demand = one([5, 5, 105, 105, 5, 5], [20, 20, 20, 20, 20, 20])
    pods = one([0, 0, 1, 1, 0, 0], [0, 0, 0, 0, 0, 0])
    split = split_by_pods(demand, pods)
    assert split.per_pod.tolist() == [[0, 0, 100, 100, 100, 100]]
    assert split.residual.tolist() == [[[5] * 6, [20] * 6]]
    for t in range(6):
        back = recombine(
            at_step(split.residual[:, :, t : t + 1]),
            at_step(split.per_pod[:, t : t + 1]),
            pods[:, :, t],
        )
        assert back.mean[:, :, 0].tolist() == demand[:, :, t].tolist(), f"step {t}"


def test_the_per_pod_rate_is_carried_through_steps_without_pods() -> None:
    demand = one([0, 50, 0, 0, 140, 0], [10, 10, 10, 90, 10, 10])
    pods = one([0, 1, 0, 0, 2, 0], [0, 0, 0, 1, 0, 0])
    split = split_by_pods(demand, pods)
    # 0 before the first pod; 50 from one pod; kept; 80 above node-b's 10; 140 / 2 pods.
    assert split.per_pod.tolist() == [[0, 50, 50, 80, 70, 70]]
    assert split.residual.tolist() == [[[0] * 6, [10] * 6]]


def test_a_bound_pod_brings_the_per_pod_forecast_to_a_node_without_history() -> None:
    residual = Band(np.zeros((1, 2, 3)), np.zeros((1, 2, 3)), np.ones((1, 2, 3)))
    per_pod = Band(np.full((1, 3), 40.0), np.full((1, 3), 30.0), np.full((1, 3), 55.0))
    band = recombine(residual, per_pod, np.array([[0.0, 2.0]]))
    assert band.mean[0].tolist() == [[0, 0, 0], [80, 80, 80]]
    assert band.lower[0].tolist() == [[0, 0, 0], [60, 60, 60]]
    assert band.upper[0].tolist() == [[1, 1, 1], [111, 111, 111]]


@pytest.mark.parametrize(
    ("demand", "pods", "message"),
    [
        pytest.param(np.zeros((2, 5)), np.zeros((2, 5)), "must both be",
                     id="demand without the resources axis"),
        pytest.param(np.zeros((1, 2, 5)), np.zeros((1, 3, 5)), "must both be",
                     id="pods of another shape than demand"),
        pytest.param(np.zeros((1, 2, 5)), np.full((1, 2, 5), -1.0), ">= 0",
                     id="a negative pod count"),
        pytest.param(np.full((1, 2, 5), -3.0), np.zeros((1, 2, 5)), ">= 0",
                     id="negative demand"),
    ],
)  # fmt: skip
def test_histories_that_cannot_be_split_are_refused(
    demand: npt.NDArray[np.float64], pods: npt.NDArray[np.float64], message: str
) -> None:
    with pytest.raises(HistoryError, match=message):
        split_by_pods(demand, pods)


@st.composite
def histories(draw: st.DrawFn) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    shape = draw(st.tuples(st.integers(1, 2), st.integers(1, 4), st.integers(1, 8)))
    demand = draw(hnp.arrays(np.float64, shape, elements=st.integers(0, 300).map(float)))
    pods = draw(hnp.arrays(np.float64, shape, elements=st.integers(0, 3).map(float)))
    return demand, pods


@settings(max_examples=200, deadline=None)
@given(histories())
def test_recombining_a_step_with_its_own_pods_gives_back_its_demand_up_to_the_clip(
    history: tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]],
) -> None:
    demand, pods = history
    split = split_by_pods(demand, pods)
    assert (split.residual >= 0).all() and (split.per_pod >= 0).all()
    for t in range(demand.shape[2]):
        back = recombine(
            at_step(split.residual[:, :, t : t + 1]),
            at_step(split.per_pod[:, t : t + 1]),
            pods[:, :, t],
        ).mean[:, :, 0]
        d, busy, r = demand[:, :, t], pods[:, :, t] > 0, split.residual[:, :, t]
        # Nodes without pods: their own demand, exactly.
        np.testing.assert_array_equal(back[~busy], d[~busy])
        # Nodes with pods share the demand above their residual, none of it lost; what
        # is more is the clip: a pod node reading less than its residual is not negative.
        clipped = np.maximum(d, r)
        for res in range(demand.shape[0]):
            on = busy[res]
            np.testing.assert_allclose(back[res, on].sum(), clipped[res, on].sum(), atol=1e-6)
            if on.sum() == 1:  # a single pod node gets exactly its own
                np.testing.assert_allclose(back[res, on], clipped[res, on], atol=1e-9)


def test_splitting_step_by_step_gives_what_splitting_the_whole_history_gives() -> None:
    rng = np.random.default_rng(11)
    demand = rng.poisson(20.0, (1, 4, 200)).astype(np.float64)
    busy = rng.random((1, 4, 200)) < 0.2
    pods = np.where(busy, rng.integers(1, 3, (1, 4, 200)), 0).astype(np.float64)
    demand += 50.0 * pods
    demand[0, 1, 30:60] = np.nan  # a node unread for a while, with and without pods
    demand[0, 3, :80] = np.nan  # a node sampled late
    whole = split_by_pods(demand, pods)
    residual, rate = np.zeros(4), 0.0
    for t in range(200):
        residual, rate = split_step(demand[0, :, t], pods[0, :, t], residual, rate)
        np.testing.assert_array_equal(residual, whole.residual[0, :, t], err_msg=f"step {t}")
        assert rate == pytest.approx(float(whole.per_pod[0, t]), rel=1e-12), f"step {t}"
