"""Every price of a copy back is the warm copy's where there is one (issue 11, bytes).

Session 11 priced adds and moves at what a copy moves (``PlanInput.copy_bytes``: the
writes a warm copy missed) but left two prices at a full copy: the break-even rule
weighed a lull against copying the copy back in full although the node keeps its files
(``PlanInput.warm_retention_s``), and the bytes-moved budget counted every copy in full.
And the operator priced a copy lost with its node (reason ``failover``: never handed
off, its files may be gone) as warm. Each case here failed before.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pytest

from statecast.api.shared_resource import SharedResourceSpec
from statecast.core.placement import (
    ActionKind,
    CurrentReplica,
    DemandForecast,
    PlanInput,
    StateProfile,
    plan,
)
from statecast.core.placement.costs import latency_matrix, unpaid_beyond, unpaid_holding
from statecast.core.placement.types import LatencyModel
from statecast.core.reconcile.predicted import PredictedDemand
from statecast.core.reconcile.predictive import placement_input
from statecast.core.reconcile.removals import lost_removals, recent_removals, recently_removed
from statecast.core.reconcile.views import ReplicaView, node_view
from tests.unit._placement_helpers import MIB, history_forecast, make_input, old

HOT = 400.0
NOW = dt.datetime(2026, 12, 5, 19, 0, tzinfo=dt.UTC)


def _lull(c_history: list[float], writes_per_min: float, retention: float) -> str:
    """What the plan does with c's copy: a reads all along, the forecast sees none on c.

    With the helpers' prices a minute of holding 64 MiB costs ~104 ms (its bytes) plus
    its writes' sync, and a full copy 625 ms: five idle steps (~521 ms) stay under a
    full copy back (kept, session 10's rule). Warm, the copy back after a lull as long
    again moves only the writes missed meanwhile: what the sync would have cost.
    """
    inputs = make_input("a:z1,c:z2", replicas=(old("a"), old("c")), min_replicas=1, cooldown_s=60.0)
    forecast = history_forecast(inputs.nodes, {"a": [HOT] * 15, "c": c_history}, {"a": HOT})
    state = StateProfile(64 * MIB, writes_per_min, 1024)
    warm = dataclasses.replace(inputs, forecast=forecast, state=state, warm_retention_s=retention)
    return {a.node: a.kind.value for a in plan(warm).actions}["c"]


LULL = [500.0] * 10 + [0.0] * 5
BUSY_NOW = [0.0] * 5 + [500.0] * 10


@pytest.mark.parametrize(
    ("c_history", "writes_per_min", "retention", "expected"),
    [
        # No retention: a full copy back; five idle steps are still under it.
        (LULL, 100.0, 0.0, "keep"),
        # Kept an hour: the copy back moves the ~100 KiB a minute missed, 0.95 ms a minute
        # of a 625 ms copy: every stretch of the lull has cost more than its copy back.
        (LULL, 100.0, 3600.0, "remove"),
        (LULL, 0.0, 60.0, "remove"),
        # Read in the newest steps: it saved more than it cost over every stretch.
        (BUSY_NOW, 100.0, 3600.0, "keep"),
        (BUSY_NOW, 100.0, 0.0, "keep"),
    ],
)
def test_the_break_even_prices_the_copy_back_as_the_node_keeps_it(
    c_history: list[float], writes_per_min: float, retention: float, expected: str
) -> None:
    assert _lull(c_history, writes_per_min, retention) == expected


def test_one_price_for_every_stretch_is_the_unpaid_holding_less_it() -> None:
    matrix = latency_matrix(("z1", "z2", "z2"), LatencyModel())
    holders = np.array([True, True, False])
    recent = np.array([[5.0, 0.0, 1.0], [0.0, 2.0, 0.0], [3.0, 3.0, 3.0]])
    unpaid = unpaid_holding(matrix, holders, recent, 4.0, 50.0)
    beyond = unpaid_beyond(matrix, holders, recent, 4.0, 50.0, np.full(3, 100.0))
    owed = unpaid > 0  # where the copy cost more than it saved over some stretch
    assert owed.any()
    assert beyond[owed] == pytest.approx(unpaid[owed] - 100.0)
    assert (beyond[holders & ~owed] <= -100.0).all()
    assert beyond[2] == -np.inf


def _budgeted(copy_bytes: dict[str, float], **kw: object) -> dict[str, str]:
    inputs = make_input(
        "a:z1,b:z1,c:z2",
        mean={"c": 4_000.0},
        replicas=(old("a"),),
        min_replicas=1,
        budget_bytes_moved_per_hour=8 * MIB,
        **kw,
    )
    priced = dataclasses.replace(inputs, copy_bytes=copy_bytes)
    return {a.node: a.kind.value for a in plan(priced).actions}


def test_the_bytes_moved_budget_counts_what_a_warm_copy_moves() -> None:
    # 8 MiB an hour never affords a 64 MiB copy: the budget stops the add (and the move)
    assert "c" not in _budgeted({})
    assert "c" not in _budgeted({}, max_replicas=1)
    # ... but a copy back on c missing 1 MiB of writes fits it: added, or moved to.
    assert _budgeted({"c": 1 * MIB})["c"] == "add"
    assert _budgeted({"c": 1 * MIB}, max_replicas=1) == {"a": "remove", "c": "add"}


def _spec() -> SharedResourceSpec:
    return SharedResourceSpec.model_validate(
        {"replicas": {"min": 1}, "replication": {"cooldown": "5m"}}
    )


def test_status_remembers_which_removals_lost_the_copy_with_the_node() -> None:
    earlier = NOW - dt.timedelta(minutes=10)
    status = {"recentRemovals": recent_removals({}, ["a", "b"], earlier, 3600.0, lost=["b"])}
    assert status["recentRemovals"] == [
        {"node": "a", "time": "2026-12-05T18:50:00Z"},
        {"node": "b", "time": "2026-12-05T18:50:00Z", "lost": True},
    ]
    assert recently_removed(status, NOW, 3600.0) == {"a": 600.0, "b": 600.0}
    assert lost_removals(status, NOW, 3600.0) == {"b"}
    # handed off from b later (it came back and went again): warm again
    again = {"recentRemovals": recent_removals(status, ["b"], NOW, 3600.0)}
    assert lost_removals(again, NOW, 3600.0) == frozenset()


def test_a_copy_lost_with_its_node_is_priced_as_a_full_copy() -> None:
    nodes = [
        node_view(
            {
                "metadata": {"name": n},
                "status": {"conditions": [{"type": "Ready", "status": "True"}]},
            }
        )
        for n in ("a", "b", "c")
    ]
    zeros = np.zeros((3, 5))
    demand = PredictedDemand(
        DemandForecast(("a", "b", "c"), zeros, zeros, zeros, np.zeros(3)),
        ("naive",) * 3,
        60.0,
        NOW,
        0.9,
        writes_per_min=6.0,
    )
    held = ReplicaView("r-c", "ns", "flags", "c", "peer", "minimum", "Ready", 0.0, NOW, 64 * MIB)
    inputs: PlanInput = placement_input(
        _spec(), nodes, {"a", "b", "c"}, [held], demand, now=NOW,
        recently_removed={"a": 600.0, "b": 600.0}, warm_retention_s=3600.0, lost={"b"},
    )  # fmt: skip
    assert dict(inputs.copy_bytes) == pytest.approx({"a": 61_440.0})  # b: a full copy
    assert inputs.warm_retention_s == 3600.0


def test_no_retention_no_warm_break_even() -> None:
    inputs = make_input("a:z1", replicas=(CurrentReplica("a"),))
    assert inputs.warm_retention_s == 0.0


@pytest.mark.parametrize(
    ("copy_bytes", "removed"),
    [
        # n3's copy came back warm (nobody writes: free): its youth does not protect it
        # over n0's busy copy; the trim to reactive's one copy drops it (failed before).
        ({"n3": 0.0}, "n3"),
        ({"n3": 1 * MIB}, "n3"),
        # Nor does a full copy's youth (session 13: the trim by loss alone; session 11
        # and 12 kept the young full copy and dropped n0's busy one).
        ({}, "n3"),
    ],
)
def test_the_trim_to_reactives_count_does_not_keep_a_copy_for_its_youth(
    copy_bytes: dict[str, float], removed: str
) -> None:
    inputs = make_input(
        "n0:z1,n3:z1",
        mean={"n0": 300.0, "n3": 1.0},
        replicas=(old("n0"), CurrentReplica("n3", age_s=60.0)),
        min_replicas=1,
        cooldown_s=300.0,
    )
    priced = dataclasses.replace(inputs, copy_bytes=copy_bytes, reactive_copies=1)
    actions = {a.node: a.kind for a in plan(priced).actions}
    assert actions[removed] == ActionKind.REMOVE
    assert actions[({"n0", "n3"} - {removed}).pop()] == ActionKind.KEEP
