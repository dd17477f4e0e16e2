"""The simulator's planner prices a copy back on a warm node as the replay charges it.

A node keeps a removed copy's files for ``SimConfig.warm_retention_s`` (the agent's
warm retention): a copy added back there within it moves only the writes it missed
(:func:`statecast.core.warm.copy_bytes`), and the replay charges it so for every
policy. With ``warm_copies`` the planner-based policies pass the same price to the
planner (``PlanInput.copy_bytes``); without it (every earlier run) every copy is priced
in full.
"""

from __future__ import annotations

import numpy as np
import pytest

from statecast.core.placement import PlanInput
from statecast.core.warm import copy_bytes
from statecast.sim import SimConfig, Trace, replay
from statecast.sim.planned import PerfectForecast
from tests.unit._plan_spy import spy_on_plans

STEP_S = 300.0


def _trace() -> Trace:
    """One 64 MiB resource, 1 write a minute, min 1.

    n0 is read throughout; n1 is read, quiet 40 minutes (its copy goes), read again.
    """
    on = [5000.0] * 12 + [0.0] * 8 + [5000.0] * 12
    demand = np.zeros((1, 3, len(on)))
    demand[0, 1] = on
    demand[0, 0] = 5000.0
    return Trace(
        name="warm",
        demand=demand,
        resources=("r0",),
        nodes=("n0", "n1", "n2"),
        zones=("z0", "z0", "z1"),
        step_s=STEP_S,
        available=np.ones((3, len(on)), dtype=np.bool_),
        state_bytes=np.full(1, 64.0 * 2**20),
        writes_per_min=np.full(1, 1.0),
        min_replicas=np.ones(1, dtype=np.int64),
        max_replicas=np.zeros(1, dtype=np.int64),
    )


def _priced(monkeypatch: pytest.MonkeyPatch, warm: bool) -> tuple[list[PlanInput], float, float]:
    seen = spy_on_plans(monkeypatch)
    config = SimConfig(warm_retention_s=3600.0)
    result = replay(_trace(), PerfectForecast(demand_priced=False, warm_copies=warm), config)
    return seen, result.bytes_moved, result.bytes_full_copies


def test_a_copy_back_within_the_retention_is_priced_at_the_writes_it_missed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen, warm_bytes, full_bytes = _priced(monkeypatch, warm=True)
    priced = [dict(i.copy_bytes) for i in seen if i.copy_bytes]
    assert priced, "n1's copy was removed in the lull: the planner must see it warm"
    rate = 1.0 / 60.0 * SimConfig().bytes_per_write
    assert list(priced[0]) == ["n1"]
    price = priced[0]["n1"]
    # Handed off by the previous step's plan: it left one step before this plan.
    assert price == pytest.approx(copy_bytes(64.0 * 2**20, STEP_S, rate, 3600.0))
    assert price < 64.0 * 2**20
    assert warm_bytes < full_bytes  # the replay charged the copy back as warm too


def test_without_warm_copies_every_copy_is_priced_in_full(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen, _, _ = _priced(monkeypatch, warm=False)
    assert all(not i.copy_bytes for i in seen)
