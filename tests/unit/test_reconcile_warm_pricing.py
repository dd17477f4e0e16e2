"""The operator prices a copy back on a warm node at the writes it missed (issue 11, bytes).

An agent keeps a removed copy's files for its warm retention (``statecast agent
--warm-retention``; the chart's ``agent.warmRetention`` sets ``STATECAST_AGENT_WARM_RETENTION``
for the operator too): a copy back on that node within it catches up on the writes it
missed (:func:`statecast.core.warm.copy_bytes`). The operator remembers removals that
long (``status.recentRemovals``, restarts included) and passes the planner that price
(``PlanInput.copy_bytes``); without a retention (0, the default) every copy is priced in
full, as before.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from statecast.api.shared_resource import SharedResourceSpec
from statecast.core.placement import DemandForecast, StateProfile
from statecast.core.reconcile.predicted import PredictedDemand
from statecast.core.reconcile.predictive import placement_input, warm_copies
from statecast.core.reconcile.removals import horizon, recent_removals, recently_removed
from statecast.core.reconcile.views import ReplicaView, node_view

NOW = dt.datetime(2026, 12, 5, 16, 0, tzinfo=dt.UTC)
SPEC = SharedResourceSpec.model_validate(
    {"replicas": {"min": 1}, "replication": {"cooldown": "5m"}}
)
MIB = 2**20
#: 64 MiB, 6 writes a minute of 1 KiB: 102.4 bytes a second.
STATE = StateProfile(64 * MIB, 6.0, 1024)


def test_removals_are_remembered_for_the_longer_of_two_cooldowns_and_the_retention() -> None:
    assert horizon(SPEC) == 600.0
    assert horizon(SPEC, 3600.0) == 3600.0
    assert horizon(SPEC, 60.0) == 600.0
    # status.recentRemovals keeps a removal 50 minutes old only under the retention
    status = {"recentRemovals": recent_removals({}, ["a"], NOW - dt.timedelta(minutes=50), 3600)}
    assert recently_removed(status, NOW, horizon(SPEC)) == {}
    assert recently_removed(status, NOW, horizon(SPEC, 3600.0)) == {"a": 3000.0}


@pytest.mark.parametrize(
    ("removed", "retention", "want"),
    [
        # 10 minutes away: the 61,440 bytes written meanwhile.
        ({"a": 600.0}, 3600.0, {"a": 61_440.0}),
        # Past the retention: a full copy (not named); at it, still warm.
        ({"a": 3601.0, "b": 7200.0}, 3600.0, {}),
        ({"a": 3600.0}, 3600.0, {"a": 368_640.0}),
        # No retention (the default): every copy in full.
        ({"a": 600.0}, 0.0, {}),
        # A clock that went backwards is no removal.
        ({"a": -5.0}, 3600.0, {}),
    ],
)
def test_a_warm_copy_costs_the_writes_it_missed(
    removed: dict[str, float], retention: float, want: dict[str, float]
) -> None:
    assert warm_copies(STATE, removed, retention) == pytest.approx(want)


def test_a_busy_resource_far_behind_is_priced_as_a_full_copy() -> None:
    busy = StateProfile(1 * MIB, 6_000.0, 1024)  # 100 KiB a second: a full MiB in 10 s
    assert warm_copies(busy, {"a": 600.0}, 3600.0) == {}  # the writes missed exceed it


def test_the_planners_input_carries_the_warm_price() -> None:
    nodes = [
        node_view(
            {
                "metadata": {"name": n},
                "status": {"conditions": [{"type": "Ready", "status": "True"}]},
            }
        )
        for n in ("a", "b")
    ]
    zeros = np.zeros((2, 5))
    demand = PredictedDemand(
        DemandForecast(("a", "b"), zeros, zeros, zeros, np.zeros(2)),
        ("naive", "naive"),
        60.0,
        NOW,
        0.9,
        writes_per_min=6.0,
    )

    held = ReplicaView("r-b", "ns", "flags", "b", "peer", "minimum", "Ready", 0.0, NOW, 64 * MIB)

    def built(retention: float) -> dict[str, float]:
        inputs = placement_input(
            SPEC, nodes, {"a", "b"}, [held], demand, now=NOW,
            recently_removed={"a": 600.0}, warm_retention_s=retention,
        )  # fmt: skip
        return dict(inputs.copy_bytes)

    assert built(0.0) == {}
    assert built(3600.0) == pytest.approx({"a": 61_440.0})
