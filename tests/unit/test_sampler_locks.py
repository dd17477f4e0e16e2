"""The demand sampler's locking: one resource's long read holds up no other resource."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from statecast.controller.sampling import DemandSampler
from statecast.core.demand import AgentSample, DemandHistory

SLOW, OTHER = ("ns", "slow"), ("ns", "other")


def sample(time: float, count: int) -> AgentSample:
    counts = {(*ref, "local"): count for ref in (SLOW, OTHER)}
    return AgentSample("n1", 1.0, time, counts, {SLOW: 0, OTHER: 0})


def finishes(call: Callable[[], Any]) -> bool:
    """Whether ``call`` returns (within a generous minute: it deadlocks otherwise)."""
    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    thread.join(timeout=60)
    return not thread.is_alive()


def test_a_long_read_of_one_resource_holds_up_no_other_and_no_recording(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A forecast rebuild reads days of one resource's history; meanwhile the other
    resources' reconciles read theirs and the sampler records new readings."""
    sampler = DemandSampler(lambda: [], period=3600.0)
    sampler.set_interval(SLOW, 10.0)
    sampler.set_interval(OTHER, 10.0)
    sampler.record(sample(1000.0, 0))
    sampler.record(sample(1010.0, 5))
    entered, release = threading.Event(), threading.Event()
    matrix = DemandHistory.matrix

    def slow_matrix(self: DemandHistory, ref: Any, *args: Any) -> Any:
        if ref == SLOW:
            entered.set()
            release.wait(timeout=120)
        return matrix(self, ref, *args)

    monkeypatch.setattr(DemandHistory, "matrix", slow_matrix)
    reader = threading.Thread(target=lambda: sampler.matrix(SLOW, ["n1"], 10.0, 1010.0, 1))
    reader.start()
    recording = threading.Thread(target=lambda: None)
    try:
        assert entered.wait(timeout=60)
        other: list[Any] = []
        assert finishes(lambda: other.append(sampler.matrix(OTHER, ["n1"], 10.0, 1010.0, 1)))
        assert np.array_equal(other[0], [[5.0]])
        assert finishes(lambda: sampler.writes_per_minute(OTHER, 60.0, 1020.0))
        assert finishes(lambda: sampler.record_pods(OTHER, {"n1": 1}, 1020.0))
        # A new reading: recorded for the other resource at once, for the slow one after.
        recording = threading.Thread(target=lambda: sampler.record(sample(1020.0, 9)))
        recording.start()
        recorded = threading.Event()

        def wait_recorded() -> None:
            while sampler.matrix(OTHER, ["n1"], 10.0, 1020.0, 2).tolist() != [[5.0, 4.0]]:
                pass
            recorded.set()

        assert finishes(wait_recorded) and recorded.is_set()
    finally:
        release.set()
        reader.join(timeout=60)
        recording.join(timeout=60)
    assert sampler.matrix(SLOW, ["n1"], 10.0, 1020.0, 2).tolist() == [[5.0, 4.0]]
    assert set(sampler.rates(20.0, 1020.0)) == {SLOW, OTHER}
