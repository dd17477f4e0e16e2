"""The operator's own status writes, until kopf's bodies show them."""

from __future__ import annotations

from statecast.controller.status_writes import StatusWrites
from tests.unit._clock import ManualClock


def test_a_body_that_does_not_show_a_write_yet_is_read_with_it() -> None:
    clock = ManualClock(0.0)
    writes = StatusWrites(lag=30.0, clock=clock)
    ref = ("ns", "flags")
    old = {"phase": "Pending", "ready": "0/2", "observedGeneration": 1}
    assert writes.current(ref, old) == old  # nothing written: the body as it is
    writes.wrote(ref, {"phase": "Ready", "ready": "2/2"})
    writes.wrote(ref, {"tuning": None})
    assert writes.current(ref, old) == {
        "phase": "Ready", "ready": "2/2", "observedGeneration": 1, "tuning": None,
    }  # fmt: skip
    # once a body shows the writes (as the server stores them) they are dropped
    shown = {"phase": "Ready", "ready": "2/2", "observedGeneration": 1}
    assert writes.current(ref, shown) == shown
    assert writes.current(ref, old) == old


def test_a_write_counts_as_seen_after_the_lag_and_a_deleted_resource_is_forgotten() -> None:
    clock = ManualClock(0.0)
    writes = StatusWrites(lag=30.0, clock=clock)
    a, b = ("ns", "a"), ("ns", "b")
    writes.wrote(a, {"phase": "Ready"})
    writes.wrote(b, {"phase": "Ready"})
    clock.now = 31.0  # someone else's newer write, not a lagging body
    assert writes.current(a, {"phase": "Failed"}) == {"phase": "Failed"}
    writes.forget(b)
    assert writes.current(b, {"phase": "Failed"}) == {"phase": "Failed"}
