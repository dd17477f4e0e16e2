"""The interval ring holds what a full-width ring would, in an array as wide as needed."""

from __future__ import annotations

import numpy as np
import pytest

from statecast.core.interval_ring import IntervalRing, resample


class Reference:
    """Sums per (node, interval) in a dict: the last ``capacity`` intervals before ``last``."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.last: int | None = None
        self.sums: dict[tuple[str, int], float] = {}

    def add(self, node: str, index: np.ndarray, amount: np.ndarray) -> None:
        last = max(int(index.max()), self.last if self.last is not None else -(10**9))
        self.last = last
        for i, a in zip(index.tolist(), np.broadcast_to(amount, index.shape).tolist(), strict=True):
            if i > last - self.capacity:
                self.sums[(node, i)] = self.sums.get((node, i), 0.0) + a

    def series(self, node: str) -> np.ndarray:
        assert self.last is not None
        span = range(self.last - self.capacity + 1, self.last + 1)
        return np.array([self.sums.get((node, i), 0.0) for i in span])


@pytest.mark.parametrize("seed", range(8))
def test_the_ring_matches_a_full_record_whatever_order_intervals_come_in(seed: int) -> None:
    rng = np.random.default_rng(seed)
    capacity = int(rng.integers(3, 200))
    ring, reference = IntervalRing(capacity), Reference(capacity)
    now = int(rng.integers(0, 10_000))
    for _ in range(300):
        now += int(rng.choice([0, 1, 1, 2, 5, capacity // 2 + 1, 3 * capacity]))
        node = f"n{rng.integers(0, 4)}"
        index = now - rng.integers(0, capacity + 5, size=int(rng.integers(1, 4)))
        amount = rng.integers(1, 9, size=len(index)).astype(float)
        ring.add(node, index.astype(np.int64), amount)
        reference.add(node, index, amount)
        assert ring.width <= capacity
        for name in ("n0", "n1", "n2", "n3"):
            if name in ring.rows:
                np.testing.assert_allclose(ring.series(name), reference.series(name))
        first = now - int(rng.integers(0, 2 * capacity))
        for name in ring.rows:
            last = reference.last
            assert last is not None
            expected = [reference.sums.get((name, i), 0.0) if last - capacity < i <= last else 0.0
                        for i in range(first, first + 7)]  # fmt: skip
            np.testing.assert_allclose(ring.window(name, first, 7), expected)
    copy = IntervalRing(capacity)
    copy.restore(ring.snapshot())
    for name in ring.rows:
        np.testing.assert_allclose(copy.series(name), ring.series(name))


def test_a_young_ring_is_as_wide_as_its_history_not_its_capacity() -> None:
    ring = IntervalRing(4320)  # three days of 10 s intervals
    for i in range(78):
        ring.add("n1", np.array([1000 + i]), 1.0)
    assert 78 <= ring.width < 78 * 3 // 2  # grown by half each time (session 14; was doubled)
    assert ring.data.nbytes == ring.width * 4
    assert ring.series("n1")[-78:].tolist() == [1.0] * 78
    restored = IntervalRing(4320)
    restored.restore(ring.snapshot())  # a saved history's leading zeros take no room
    assert restored.width == 78  # as wide as the 78 intervals it holds
    assert restored.series("n1").tolist() == ring.series("n1").tolist()


@pytest.mark.parametrize("seed", range(6))
def test_resampling_spreads_what_is_held_and_widens_the_new_ring_no_further(seed: int) -> None:
    rng = np.random.default_rng(seed)
    old, capacity = IntervalRing(4320), int(rng.integers(4, 40))
    start = int(rng.integers(1_000, 50_000))
    for i in range(start, start + capacity):
        old.add(f"n{i % 3}", np.array([i]), float(rng.integers(0, 9)))
    new = IntervalRing(4320 * 6)  # a sixth of the interval: the same three days
    resample(old, 60.0, new, 10.0)
    for node in old.rows:
        before = old.window(node, start, capacity)
        after = new.window(node, 6 * start, 6 * capacity).reshape(capacity, 6)
        assert np.allclose(after, before[:, None] / 6)
    assert new.width <= 2 * 6 * capacity, "as wide as the intervals held, not the capacity"
