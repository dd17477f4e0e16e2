"""The demand history's bytes: round trips, the size cap, and blobs that must be refused."""

from __future__ import annotations

import gzip
import json
import struct

import numpy as np
import pytest

from statecast.core.demand import AgentSample, DemandHistory
from statecast.core.demand_codec import (
    VERSION,
    HistoryFormatError,
    decode,
    encode,
    encode_within,
)
from statecast.core.demand_series import DemandSnapshot, ResourceDemand, Span, fine_capacity
from statecast.core.interval_ring import COUNT_SCALE, ROUNDING, RingSnapshot

#: The fine ring's intervals at 1-minute intervals (a day; three until session 16).
FINE = fine_capacity(60.0)

REF = ("apps", "flags")
DAY = 86_400.0


def filled(days: float, nodes: int = 3, seed: int = 1) -> DemandHistory:
    """A history of ``days`` of minutes on ``nodes`` nodes, pods on one, recent samples raw."""
    history = DemandHistory()
    rng = np.random.default_rng(seed)
    minutes = int(days * 1440)
    totals = {f"n{k}": 0 for k in range(nodes)}
    for m in range(minutes + 1):
        for node, so_far in list(totals.items()):
            totals[node] = so_far + int(rng.poisson(20))
            counts = {("apps", "flags", "local"): totals[node], ("apps", "flags", "remote"): 3 * m}
            history.add_sample(None, AgentSample(node, 0.0, 60.0 * m + 30, counts))
        if m % 90 == 0:
            history.add_pods(REF, 60.0 * m, {"n0": (m // 90) % 3})
    return history


def snapshot_of(history: DemandHistory) -> DemandSnapshot:
    snapshot = history.snapshot(REF)
    assert snapshot is not None
    return snapshot


def same(a: DemandHistory, b: DemandHistory, end: float, steps: int) -> None:
    nodes = ["n0", "n1", "n2", "elsewhere"]
    np.testing.assert_allclose(
        a.matrix(REF, nodes, 60.0, end, steps), b.matrix(REF, nodes, 60.0, end, steps), rtol=1e-6
    )
    np.testing.assert_allclose(
        a.pod_matrix(REF, nodes, 60.0, end, steps), b.pod_matrix(REF, nodes, 60.0, end, steps)
    )
    assert a.local_hit_ratio(REF, end - 300) == pytest.approx(b.local_hit_ratio(REF, end - 300))
    assert a.writes_per_minute(REF, end - 300, end) == b.writes_per_minute(REF, end - 300, end)


def test_a_history_round_trips_through_its_bytes() -> None:
    history = filled(0.5)
    restored = DemandHistory()
    restored.restore(REF, decode(encode(snapshot_of(history))))
    same(history, restored, end=0.5 * DAY + 60, steps=800)
    assert snapshot_of(restored).cursors == snapshot_of(history).cursors
    assert snapshot_of(restored).raw == snapshot_of(history).raw


def test_the_header_says_what_the_blob_holds() -> None:
    raw = gzip.decompress(encode(snapshot_of(filled(0.1))))
    (length,) = struct.unpack(">I", raw[:4])
    header = json.loads(raw[4 : 4 + length])
    assert header["version"] == VERSION
    assert header["interval"] == 60.0
    assert header["end"] == 0.1 * DAY  # the newest closed interval ends there
    assert header["rings"]["total"]["nodes"] == ["n0", "n1", "n2"]
    assert header["rings"]["total"]["steps"] == FINE == 1440


def test_a_blob_too_big_drops_its_oldest_intervals_to_fit() -> None:
    history = filled(0.5, nodes=4)
    full = encode(snapshot_of(history))
    blob, dropped = encode_within(snapshot_of(history), len(full) // 2)
    assert len(blob) <= len(full) // 2
    restored = DemandHistory()
    restored.restore(REF, decode(blob))
    held = 720  # half a day of minutes
    lost = held - (FINE - dropped)
    assert 0 < lost < held
    was = history.matrix(REF, ["n0"], 60.0, DAY / 2, held)[0]
    now = restored.matrix(REF, ["n0"], 60.0, DAY / 2, held)[0]
    assert np.isnan(now[:lost]).all(), "dropped intervals read as unknown, not idle"
    np.testing.assert_allclose(now[lost:], was[lost:], rtol=1e-6)
    assert encode_within(snapshot_of(history), len(full)) == (full, 0), "what fits is not cut"


def test_a_blob_that_cannot_fit_keeps_no_interval_but_stays_readable() -> None:
    blob, dropped = encode_within(snapshot_of(filled(0.2)), 10)
    assert dropped == FINE
    assert decode(blob).total.values.shape == (3, 0)


def _blob(header: object, arrays: bytes = b"") -> bytes:
    text = json.dumps(header).encode()
    return gzip.compress(struct.pack(">I", len(text)) + text + arrays)


GOOD = encode(snapshot_of(filled(0.05)))


def good_with(**changes: object) -> bytes:
    """GOOD with some header fields changed."""
    raw = gzip.decompress(GOOD)
    (length,) = struct.unpack(">I", raw[:4])
    header = {**json.loads(raw[4 : 4 + length]), **changes}
    return _blob(header, raw[4 + length :])


@pytest.mark.parametrize(
    ("sentence", "blob", "message"),
    [
        ("bytes that are not gzip", b"not a history", "not a demand history"),
        ("a blob cut short", GOOD[: len(GOOD) // 2], "not a demand history"),
        ("a header that is not JSON", gzip.compress(b"\x00\x00\x00\x03abc"), "not a demand"),
        ("another version", _blob({"version": VERSION + 1}), f"version {VERSION + 1}"),
        ("no version at all", _blob(["a list"]), "version None"),
        ("a ring missing", _blob({"version": VERSION, "rings": {}}), "malformed"),
        ("an interval of zero seconds", good_with(interval=0), "not a positive"),
        (
            "rings shorter than the header says",
            gzip.compress(gzip.decompress(GOOD)[:-8]),
            "malformed",
        ),
    ],
)
def test_a_blob_this_version_cannot_read_is_refused(
    sentence: str, blob: bytes, message: str
) -> None:
    with pytest.raises(HistoryFormatError, match=message):
        decode(blob)


def test_a_blob_that_expands_beyond_the_limit_is_refused() -> None:
    with pytest.raises(HistoryFormatError, match="expands beyond 1000 bytes"):
        decode(gzip.compress(b"\0" * 5000), max_bytes=1000)
    assert decode(GOOD, max_bytes=len(gzip.decompress(GOOD))).interval == 60.0


def weeks_of_hours(days: int = 10) -> DemandSnapshot:
    """``days`` of 1-minute intervals on two nodes, one sample per hour each."""
    demand = ResourceDemand(60.0)
    for hour in range(days * 24):
        for k, node in enumerate(("n0", "n1")):
            demand.add(node, Span(3600.0 * hour, 3600.0 * (hour + 1), 60.0 * (k + 1), 0.0))
    return demand.snapshot()


def test_the_weeks_of_the_coarse_ring_round_trip() -> None:
    snapshot = weeks_of_hours()
    restored = ResourceDemand.from_snapshot(decode(encode(snapshot)))
    original = ResourceDemand.from_snapshot(snapshot)
    end, steps = 10 * DAY, 10 * 1440
    matrix = restored.matrix(["n0", "n1"], 60.0, end, steps)
    assert not np.isnan(matrix).any()
    np.testing.assert_allclose(matrix, original.matrix(["n0", "n1"], 60.0, end, steps))


def test_a_version_1_blob_is_read_and_its_coarse_ring_rebuilt() -> None:
    blob = encode(weeks_of_hours())
    raw = gzip.decompress(blob)
    (length,) = struct.unpack(">I", raw[:4])
    header = json.loads(raw[4 : 4 + length])
    coarse = header["rings"].pop("coarse")
    header["version"] = 1
    del header["coarseInterval"]
    arrays = raw[4 + length : len(raw) - 4 * len(coarse["nodes"]) * coarse["steps"]]
    restored = ResourceDemand.from_snapshot(decode(_blob(header, arrays)))
    end = 10 * DAY
    matrix = restored.matrix(["n0"], 60.0, end, 4 * 1440)[0]
    assert np.isnan(matrix[: 4 * 1440 - FINE]).all(), "older than the fine ring: unknown"
    np.testing.assert_allclose(
        matrix[4 * 1440 - FINE :], 1.0, rtol=ROUNDING, atol=ROUNDING / COUNT_SCALE
    )
    within = pytest.approx(60.0, rel=ROUNDING, abs=60 * ROUNDING / COUNT_SCALE)  # 16 bits a minute
    assert restored.coarse.window("n0", 9 * 24, 1)[0] == within


def test_a_blob_too_big_drops_the_coarse_weeks_before_the_recent_days() -> None:
    snapshot = weeks_of_hours(days=20)
    full = encode(snapshot)
    without = encode(_coarse_cut(snapshot))
    blob, dropped = encode_within(snapshot, (len(full) + len(without)) // 2)
    assert dropped == 0, "the fine ring's days are all kept"
    kept = decode(blob).coarse.values.shape[1]
    assert 0 < kept < snapshot.coarse.values.shape[1]


def _coarse_cut(snapshot: DemandSnapshot) -> DemandSnapshot:
    ring = snapshot.coarse
    empty = RingSnapshot(ring.nodes, ring.last, ring.values[:, :0])
    return DemandSnapshot(**{**snapshot.__dict__, "coarse": empty})
