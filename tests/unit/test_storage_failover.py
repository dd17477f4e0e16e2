"""A copy whose agent cannot write its files is replaced on another node (issue 13).

Before, a copy on a full disk stayed (Ready for reads, refusing writes with 500) and
the operator placed nothing for it: its agent was alive, so it was not Lost, and the
resource held one usable copy fewer than ``replicas.min`` for as long as the disk stayed
full (the disk-full runs: ``replicas.min`` Ready off the victim: never).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from statecast.agent.replica_status import build_status
from statecast.core.reconcile import Observed, reconcile
from statecast.core.reconcile.views import replica_view
from statecast.core.storage import (
    STORAGE_GRACE_SECONDS,
    StorageReport,
    storage_failed,
    storage_recheck_after,
)
from tests.unit.test_controller_reconcile import NODES, NOW, replica, resource


def ago(seconds: float | None) -> dt.datetime | None:
    return None if seconds is None else NOW - dt.timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("failing_for", "failed", "recheck"),
    [
        (None, False, None),  # its files are written: nothing to do
        (0.0, False, STORAGE_GRACE_SECONDS),  # just began: look again once the grace is over
        (STORAGE_GRACE_SECONDS - 1, False, 1.0),
        (STORAGE_GRACE_SECONDS, True, None),  # for the whole grace: replaced
        (600.0, True, None),
        (-3.0, False, STORAGE_GRACE_SECONDS + 3),  # an agent clock ahead of ours: later
    ],
)
def test_a_copy_is_storage_failed_once_it_reported_so_for_the_grace(
    failing_for: float | None, failed: bool, recheck: float | None
) -> None:
    reports = [StorageReport("node-1", ago(failing_for)), StorageReport("node-2", None)]
    assert storage_failed(reports, NOW) == (frozenset({"node-1"}) if failed else frozenset())
    assert storage_recheck_after(reports, NOW) == pytest.approx(recheck)


def test_the_soonest_grace_to_end_is_the_recheck() -> None:
    reports = [StorageReport("a", ago(1.0)), StorageReport("b", ago(4.0)), StorageReport("c", None)]
    assert storage_recheck_after(reports, NOW, grace=5.0) == pytest.approx(1.0)


def full_disk(node_name: str, failing_for: float, phase: str = "Ready") -> Any:
    """A Replica whose agent reports (with the agent's own status builder) a full disk."""
    status = build_status(
        phase=phase,  # type: ignore[arg-type]
        consistency="eventual",
        version_vector={node_name: 7},
        bytes_held=10,
        last_modified=None,
        last_sync_mode=None,
        last_sync_time=None,
        lag_seconds=0.0,
        generation=1,
        previous=None,
        now=NOW - dt.timedelta(seconds=failing_for),
        storage_failure="log write failed: [Errno 28] No space left on device",
    )
    return replica_view(
        {
            "metadata": {"name": f"flags-{node_name}", "namespace": "ns"},
            "spec": {"resource": "flags", "nodeName": node_name, "reason": "minimum"},
            "status": status,
        }
    )


def test_a_copy_on_a_full_disk_is_replaced_elsewhere_and_goes_once_that_is_ready() -> None:
    replicas = [full_disk("node-1", 30.0), replica("node-2")]
    result = reconcile(Observed(resource(), NODES, replicas, now=NOW))
    assert [(c.action, c.node, c.reason) for c in result.changes] == [("add", "node-3", "failover")]
    assert result.lost == (), "its agent is alive: not marked Lost"
    assert [e.reason for e in result.events] == ["StorageUnavailable"]
    assert "flags-node-1" in result.events[0].message
    # the replacement syncing: the full copy stays (it may hold writes only it has)
    syncing = reconcile(
        Observed(resource(), NODES, [*replicas, replica("node-3", "Syncing")], now=NOW)
    )
    assert syncing.changes == ()
    ready = reconcile(Observed(resource(), NODES, [*replicas, replica("node-3")], now=NOW))
    assert [(c.action, c.node, c.reason) for c in ready.changes] == [
        ("remove", "node-1", "failover")
    ]


def test_a_copy_that_cannot_be_opened_is_replaced_too() -> None:
    replicas = [full_disk("node-1", 30.0, phase="Pending"), replica("node-2")]
    result = reconcile(Observed(resource(), NODES, replicas, now=NOW))
    assert [(c.action, c.node) for c in result.changes] == [("add", "node-3")]


def test_a_short_trouble_moves_nothing_and_asks_to_look_again() -> None:
    replicas = [full_disk("node-1", 1.0), replica("node-2")]
    result = reconcile(Observed(resource(), NODES, replicas, now=NOW))
    assert result.changes == ()
    assert result.events == ()
    assert result.recheck_after == pytest.approx(STORAGE_GRACE_SECONDS - 1.0)
    healthy = reconcile(
        Observed(resource(), NODES, [replica("node-1"), replica("node-2")], now=NOW)
    )
    assert healthy.recheck_after is None


def test_the_node_of_a_full_disk_takes_no_new_copy() -> None:
    spec = {"replicas": {"min": 3}}
    replicas = [full_disk("node-1", 30.0), replica("node-2")]
    result = reconcile(Observed(resource(spec), NODES, replicas, now=NOW))
    added = {c.node for c in result.changes if c.action == "add"}
    assert "node-1" not in added and added == {"node-3", "node-4"}
