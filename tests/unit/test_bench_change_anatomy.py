"""Where a spec change's time goes: the audit log's and the operator log's records joined."""

from __future__ import annotations

import datetime as dt

from bench.apiserver_audit import Write
from bench.change_anatomy import anatomy, log_times, needing_a_copy

OPERATOR = "system:serviceaccount:statecast-system:statecast-operator"


def stamp(seconds: float) -> str:
    """The operator log's local time of ``seconds`` since the epoch (milliseconds)."""
    return dt.datetime.fromtimestamp(seconds).strftime("%Y-%m-%d %H:%M:%S,%f")[:-3]


def test_each_phase_is_measured_between_its_own_records() -> None:
    t = 1_796_000_000.0
    lines = [
        f"time={stamp(t + 0.100)} level=INFO logger=x event=spec-seen resource=scale/res-0 "
        "generation=2",
        f"time={stamp(t + 1.600)} level=INFO logger=x event=spec-reconcile resource=scale/res-0 "
        "generation=2 lock_s=0.100 plan_s=0.300 finish_s=0.400 adds=1",
        f"time={stamp(t + 9.000)} level=INFO logger=x event=spec-reconcile resource=scale/res-0 "
        "generation=2 lock_s=0.000 plan_s=0.001 finish_s=0.001 adds=0",  # a later one: not it
        "a line of something else",
    ]
    logged = log_times(lines)
    assert logged["res-0"]["seen"] == t + 0.1
    assert abs(logged["res-0"]["started"] - (t + 0.9)) < 1e-6  # 1.6 - 0.4 - 0.3 (the lock first)
    writes = [
        Write("patch", "sharedresources", "res-0", "admin", 200, t, t - 0.01),
        Write("create", "replicas", "res-0-node-9", OPERATOR, 201, t + 1.5, t + 1.3),
        Write("create", "replicas", "res-1-node-9", OPERATOR, 201, t - 0.5, t - 0.6),
    ]
    result = anatomy(writes, logged, {"res-0": t + 0.02, "res-1": t + 0.02})
    row = result["changes"]["res-0"]
    assert row == {
        "seen": 0.1, "queued": 0.8, "plan": 0.3, "sent": 0.1, "answered": 0.2, "total": 1.5,
    }  # fmt: skip
    assert result["changes"]["res-1"] == {}  # no Replica after its change, no log: nothing
    assert result["phases"]["total"] == {"p50": 1.5, "p99": 1.5, "max": 1.5, "n": 1}


def test_a_change_reconciled_in_the_spec_change_lane_started_when_its_batch_did() -> None:
    t = 1_796_000_000.0
    logged = log_times([
        f"time={stamp(t + 0.5)} level=INFO logger=x event=spec-reconcile resource=scale/res-0 "
        "lane=urgent batch=2 run_s=0.200",
    ])  # fmt: skip
    assert abs(logged["res-0"]["started"] - (t + 0.3)) < 1e-6
    assert "plan_s" not in logged["res-0"]


def test_a_change_whose_raised_minimum_was_met_at_the_patch_needed_no_replica() -> None:
    """The benchmark's watch had not seen a copy created 80 ms before the PATCH: the raised
    minimum was met already and the next, unrelated, creation came 107 s later."""
    t = 1_796_000_000.0
    writes = [
        Write("create", "replicas", "res-0-node-1", OPERATOR, 201, t - 60, t - 60),
        Write("create", "replicas", "res-0-node-2", OPERATOR, 201, t - 60, t - 60),
        Write("create", "replicas", "res-0-node-3", OPERATOR, 201, t - 0.08, t - 0.1),
        Write("patch", "sharedresources", "res-0", "admin", 200, t, t - 0.01),
        Write("create", "replicas", "res-1-node-1", OPERATOR, 201, t - 60, t - 60),
        Write("create", "replicas", "res-1-node-2", OPERATOR, 201, t - 60, t - 60),
        Write("patch", "sharedresources", "res-1", "admin", 200, t + 1, t + 0.99),
    ]
    needed, met = needing_a_copy(
        writes, {"res-0": t + 0.01, "res-1": t + 1.01}, {"res-0": 3, "res-1": 3}
    )
    assert needed == {"res-1": t + 1.01}
    assert met == ["res-0"]
