"""The interval ring holds what a full-width ring would, in an array as wide as needed."""

from __future__ import annotations

import numpy as np
import pytest

from statecast.core.interval_ring import (
    _DECODED,
    COUNT_SCALE,
    LOG_STEP,
    ROUNDING,
    CompactRing,
    IntervalRing,
    resample,
)


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


def rounded(values: np.ndarray) -> np.ndarray:
    """What a compact ring holds of ``values``: the log of 1024 times them in 2**-11 steps."""
    codes = np.rint(np.log1p(np.asarray(values) * 1024.0) * 2048.0)
    return np.expm1(codes / 2048.0) / 1024.0


@pytest.mark.parametrize("seed", range(4))
def test_a_compact_ring_holds_two_bytes_a_value_within_a_fortieth_of_a_percent(seed: int) -> None:
    """A day of minutes per node took 5,760 bytes as float32; 16-bit codes of the log
    take half, each value within 0.025 % (and 1/4,000,000 of an access),
    zero exactly, from fractions of an access to ~1e13."""
    rng = np.random.default_rng(seed)
    capacity = 1440
    values = rng.lognormal(2.0, 4.0, size=(3, capacity)) * (rng.random((3, capacity)) > 0.2)
    values[0, :3] = (7e10, 0.5, 1.0)  # (the largest held: ~7.7e10)
    ring = CompactRing(capacity, fresh=1)  # all but the newest rounded when added
    for row in range(3):
        ring.add(f"n{row}", np.arange(5000, 5000 + capacity, dtype=np.int64), values[row])
    assert ring.data.dtype == np.uint16 and ring.nbytes == 3 * (capacity - 1) * 2 + 3 * 4
    assert LOG_STEP == 2.0**-11
    for row in range(3):
        got = ring.series(f"n{row}")
        assert np.all(got[values[row] == 0] == 0.0), "zero is held exactly"
        assert np.all(np.abs(got - values[row]) <= ROUNDING * (values[row] + 1 / COUNT_SCALE))
    copy = CompactRing(capacity, fresh=1)
    copy.restore(ring.snapshot())  # a snapshot is float32: restored to the same codes
    for node in ring.rows:
        assert np.array_equal(copy.series(node), ring.series(node))
    total = pytest.approx(values.sum(), rel=ROUNDING, abs=ROUNDING * values.size / COUNT_SCALE)
    assert ring.total_of(5000, capacity) == total


def test_a_node_s_parts_folded_at_once_round_each_interval_once() -> None:
    """Six 10 s readings into one minute: added one by one each would be rounded six
    times (up to 0.15 %); :meth:`IntervalRing.spans` rounds their sum once. On a float32
    ring it adds exactly what one span after the other adds."""
    parts = [(60.0 * k + 10.0 * j, 60.0 * k + 10.0 * j + 10.0, 1000.0 + 7.3 * j + k)
             for k in range(30) for j in range(6)]  # fmt: skip
    want = np.array([sum(p[2] for p in parts[6 * k : 6 * k + 6]) for k in range(30)])
    compact, exact, one_by_one = CompactRing(40, fresh=1), IntervalRing(40), IntervalRing(40)
    compact.spans("n", parts, 60.0)
    exact.spans("n", parts, 60.0)
    for start, end, amount in parts:
        one_by_one.span("n", start, end, amount, 60.0)
    assert np.array_equal(exact.window("n", 0, 30), one_by_one.window("n", 0, 30))
    got = compact.window("n", 0, 30)
    assert np.array_equal(got[:-1], rounded(want[:-1])), "the sum, rounded once"
    assert got[-1] == exact.window("n", 29, 1)[0], "the newest (fresh): as a float32 ring"


@pytest.mark.parametrize("seed", range(6))
def test_a_compact_ring_is_exact_while_fresh_and_rounds_an_interval_once_as_it_ages(
    seed: int,
) -> None:
    """The newest ``fresh`` intervals read what an :class:`IntervalRing` reads (the
    forecast's update, the hit ratio's hour); each older one what it read when it aged
    past them, rounded once - wherever the ring's columns wrap, grow or restart."""
    rng = np.random.default_rng(seed)
    capacity = int(rng.integers(20, 300))
    fresh = int(rng.integers(1, capacity))
    compact, exact = CompactRing(capacity, fresh), IntervalRing(capacity)
    now = int(rng.integers(0, 10_000))
    for _ in range(200):
        now += int(rng.choice([0, 1, 1, 2, fresh, capacity // 2 + 1, 2 * capacity]))
        node = f"n{rng.integers(0, 3)}"
        index = (now - rng.integers(0, fresh, size=int(rng.integers(1, 4)))).astype(np.int64)
        amount = rng.lognormal(3.0, 2.0, size=len(index))
        compact.add(node, index, amount)
        exact.add(node, index, amount)
        assert compact.last == exact.last and compact.width <= capacity
        for name in exact.rows:
            want, got = exact.series(name), compact.series(name)
            assert np.array_equal(got[-fresh:], want[-fresh:]), "fresh: as added"
            assert np.allclose(got[:-fresh], rounded(want[:-fresh]), rtol=1e-12, atol=0), "once"
    copy = CompactRing(capacity, fresh)
    copy.restore(compact.snapshot())
    for name in compact.rows:
        assert np.array_equal(copy.series(name), compact.series(name))


def _decoded_one_by_one(ring: CompactRing, row: int, index: np.ndarray) -> np.ndarray:
    """What ``ring`` holds at each of ``index``, read element by element: the float32
    value for a fresh interval, the code's value for an older one, 0 where not held."""
    assert ring.last is not None
    out = np.zeros(len(index))
    for k, i in enumerate(index.tolist()):
        if i > ring.last or i <= ring.last - ring.width:
            continue
        if i > ring.last - ring.fresh:
            out[k] = float(ring.recent[row, i % ring.recent.shape[1]])
        else:
            code = int(ring.data[row, i % ring.data.shape[1]])  # a column per older interval
            out[k] = float(np.expm1(code * LOG_STEP) / COUNT_SCALE)
    return out


@pytest.mark.parametrize("seed", range(6))
def test_a_compact_ring_reads_the_same_values_whichever_of_its_arrays_a_read_touches(
    seed: int,
) -> None:
    """Reads of fresh intervals only, of older ones only, or of both (each read from the
    one array it needs) give every value bit for bit as read one interval at a time;
    adding to fresh intervals only (the sampling round's case) adds what a mixed add
    adds to them."""
    rng = np.random.default_rng(seed)
    capacity = int(rng.integers(30, 200))
    fresh = int(rng.integers(2, capacity // 2))
    ring, mixed = CompactRing(capacity, fresh), CompactRing(capacity, fresh)
    now = 1_000
    for _ in range(150):
        now += int(rng.choice([0, 1, 1, 3]))
        node = f"n{rng.integers(0, 3)}"
        index = (now - rng.integers(0, fresh, size=int(rng.integers(1, 4)))).astype(np.int64)
        amount = rng.lognormal(2.0, 2.0, size=len(index))
        ring.add(node, index, amount)
        # the same values, with one more interval far back of no amount: the general path
        mixed.add(node, np.append(index, now - capacity + 1), np.append(amount, 0.0))
    assert ring.last == mixed.last and np.array_equal(ring.recent, mixed.recent)
    assert ring.last is not None
    nodes = sorted(ring.rows)
    assert len(nodes) == 3
    spans = {
        "fresh": (ring.last - fresh + 1, fresh),
        "older": (ring.last - capacity + 1, capacity - fresh),
        "both": (ring.last - capacity + 1, capacity),
        "beyond": (ring.last - 2 * capacity, 3 * capacity),
    }
    for name, (first, count) in spans.items():
        index = np.arange(first, first + count)
        block = ring.block(nodes, first, count)
        for k, node in enumerate(nodes):
            want = _decoded_one_by_one(ring, ring.rows[node], index)
            assert np.array_equal(block[k], want), name
            assert np.array_equal(ring.window(node, first, count), want), name
        # summed as the general path lays them out (a sum's order follows the layout)
        held = index[(index <= ring.last) & (index > ring.last - ring.width)]
        stored = _DECODED[ring.data[:, held % max(1, ring.data.shape[1])]]
        fresh_held = held > ring.last - fresh
        stored[:, fresh_held] = ring.recent[:, held[fresh_held] % ring.recent.shape[1]]
        assert ring.total_of(first, count) == float(np.sum(stored, dtype=np.float64)), name
