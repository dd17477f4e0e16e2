"""The chaos checker and timeline: table tests on small hand-made histories."""

from __future__ import annotations

from typing import Any

import pytest

from statecast.chaos.checker import Partition, check_eventual, percentiles
from statecast.chaos.history import Operation
from statecast.chaos.observer import ReplicaEvent
from statecast.chaos.timeline import (
    actions_between,
    churn,
    lost_after,
    min_restored_after,
    read_recovery,
)


def write(
    key: str, n: int, start: float, outcome: str = "ok", wall: int | None = None,
    node: str = "node-1",
) -> Operation:  # fmt: skip
    version = (
        f"{wall if wall is not None else int(start * 1000)}.0.{node}" if outcome == "ok" else None
    )
    return Operation("write", f"{node}/writer-0", node, key, start, start + 0.01,
                     outcome, {"c": "w", "n": n}, version=version)  # type: ignore[arg-type]  # fmt: skip


def inc(key: str, start: float, outcome: str = "ok") -> Operation:
    return Operation("increment", "node-1/incrementer-0", "node-1", key, start, start + 0.01,
                     outcome, 1)  # type: ignore[arg-type]  # fmt: skip


def read(key: str, start: float, outcome: str = "ok", error: str | None = None,
         client: str = "node-1/reader-0", end: float | None = None) -> Operation:  # fmt: skip
    node = client.split("/", 1)[0]
    return Operation("read", client, node, key, start, end if end is not None else start + 0.01,
                     outcome, error=error)  # type: ignore[arg-type]  # fmt: skip


def states(*maps: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"node-{i}": m for i, m in enumerate(maps, 1)}


def test_the_latest_acknowledged_write_survives_nothing_is_lost() -> None:
    ops = [write("k", 1, 1.0), write("k", 2, 2.0)]
    verdict = check_eventual(ops, states({"k": {"c": "w", "n": 2}}, {"k": {"c": "w", "n": 2}}))
    assert verdict.ok and verdict.acked_writes == 2 and verdict.lost_writes == 0


def test_an_older_write_surviving_loses_the_newer_acknowledged_one() -> None:
    ops = [write("k", 1, 1.0), write("k", 2, 2.0)]
    verdict = check_eventual(ops, states({"k": {"c": "w", "n": 1}}))
    assert not verdict.ok and verdict.lost_writes == 1


def test_a_key_gone_loses_every_acknowledged_write_to_it() -> None:
    verdict = check_eventual([write("k", 1, 1.0), write("k", 2, 2.0)], states({}))
    assert verdict.lost_writes == 2 and not verdict.ok


def test_an_indeterminate_write_may_survive() -> None:
    ops = [write("k", 1, 1.0), write("k", 2, 2.0, outcome="info")]
    assert check_eventual(ops, states({"k": {"c": "w", "n": 2}})).ok


def test_a_value_nobody_wrote_is_a_phantom() -> None:
    verdict = check_eventual([write("k", 1, 1.0)], states({"k": "surprise"}))
    assert verdict.phantom_keys == ["k"] and not verdict.ok


def test_replicas_that_disagree_did_not_converge() -> None:
    ops = [write("k", 1, 1.0), write("k", 2, 2.0)]
    verdict = check_eventual(ops, states({"k": {"c": "w", "n": 2}}, {"k": {"c": "w", "n": 1}}))
    assert verdict.divergent_keys == ["k"] and not verdict.ok


def test_a_later_write_with_a_smaller_stamp_is_a_reorder_not_a_loss() -> None:
    # the first writer's clock ran 5 s ahead: its write wins although the second came later
    ops = [write("k", 1, 1.0, wall=6000), write("k", 2, 2.0, wall=2000)]
    verdict = check_eventual(ops, states({"k": {"c": "w", "n": 1}}))
    assert verdict.ok and verdict.reordered_writes == 1


@pytest.mark.parametrize(
    ("final", "ok"),
    [(2, True), (3, True), (1, False), (4, False), (None, False)],
)
def test_a_counter_lies_between_the_acknowledged_and_the_attempted_sums(
    final: int | None, ok: bool
) -> None:
    ops = [inc("c", 1.0), inc("c", 2.0), inc("c", 3.0, outcome="info"), inc("c", 4.0, "fail")]
    got = {} if final is None else {"c": final}
    verdict = check_eventual(ops, states(got), counter_keys={"c"})
    assert verdict.counters["c"]["ok"] is (ok if final is not None else False)


def test_a_404_for_a_key_written_before_the_read_began_is_counted() -> None:
    ops = [
        read("k", 0.5, "fail", "404"),  # before the first write: an honest 404
        write("k", 1, 1.0),
        read("k", 2.0, "fail", "404"),  # within the replication-lag grace
        read("k", 4.0, "fail", "404"),
    ]
    verdict = check_eventual(ops, states({"k": {"c": "w", "n": 1}}))
    assert verdict.not_found_existing == 1 and not verdict.ok


# a cut from 10 s to 20 s between node-1 and node-2; heal grace 5 s, replication grace 2 s
CUT = Partition(10.0, 20.0, frozenset({"node-1"}))


@pytest.mark.parametrize(
    ("written_on", "written_at", "read_at", "counted"),
    [
        ("node-2", 12.0, 15.0, False),  # written across the cut while it lasted
        ("node-2", 12.0, 24.0, False),  # ... read within the heal grace
        ("node-2", 12.0, 26.0, True),  # ... read after the sides caught up
        ("node-2", 9.0, 15.0, False),  # written just before the cut: it may not have crossed
        ("node-2", 5.0, 15.0, True),  # written long before the cut: every replica had it
        ("node-1", 12.0, 15.0, True),  # written on the reader's own side
    ],
)
def test_a_404_across_a_partition_for_a_write_made_on_the_other_side_is_honest(
    written_on: str, written_at: float, read_at: float, counted: bool
) -> None:
    ops = [
        write("k", 1, written_at, node=written_on),
        read("k", read_at, "fail", "404", client="node-1/reader-0"),
    ]
    verdict = check_eventual(ops, states({"k": {"c": "w", "n": 1}}), partition=CUT)
    assert verdict.not_found_existing == int(counted)
    unpartitioned = check_eventual(ops, states({"k": {"c": "w", "n": 1}}))
    assert unpartitioned.not_found_existing == 1  # without the cut every one of them counts


def test_an_earlier_write_on_the_readers_side_still_counts_under_a_partition() -> None:
    ops = [
        write("k", 1, 3.0, node="node-1"),  # before the cut, on the reader's side
        write("k", 2, 12.0, node="node-2"),
        read("k", 15.0, "fail", "404", client="node-1/reader-0"),
    ]
    verdict = check_eventual(ops, states({"k": {"c": "w", "n": 2}}), partition=CUT)
    assert verdict.not_found_existing == 1
    assert verdict.not_found_examples[0]["written_on"] == "node-1"


def test_percentiles_by_nearest_rank() -> None:
    assert percentiles([]) == {"p50": None, "p99": None, "max": None}
    assert percentiles(range(1, 101)) == {"p50": 50, "p99": 99, "max": 100}


def event(
    at: float, change: str, name: str, node: str, phase: str = "", reason: str = "minimum"
) -> ReplicaEvent:
    return ReplicaEvent(at, change, name, node, reason, phase)


INITIAL = {
    "r1": {"node": "node-1", "reason": "minimum", "phase": "Ready"},
    "r2": {"node": "node-2", "reason": "minimum", "phase": "Ready"},
}


def test_time_to_lost_and_to_min_ready_again_after_an_agent_dies() -> None:
    events = [
        event(12.0, "phase", "r1", "node-1", "Lost"),
        event(12.2, "added", "r3", "node-3", "Pending", "failover"),
        event(14.0, "phase", "r3", "node-3", "Ready", "failover"),
        event(15.0, "removed", "r1", "node-1"),
    ]
    assert lost_after(events, 10.0, {"node-1"}) == 2.0
    assert min_restored_after(INITIAL, events, 10.0, 2, {"node-1"}) == 4.0
    assert min_restored_after(INITIAL, events, 10.0, 1, {"node-1"}) == 0.0
    assert actions_between(events, 10.0, 20.0) == {"added:failover": 1, "removed:minimum": 1}
    assert churn(events, 10.0, 20.0) == 0


def test_a_replica_added_and_removed_again_is_churn() -> None:
    events = [
        event(1.0, "added", "r3", "node-3", "Pending", "failover"),
        event(2.0, "removed", "r3", "node-3"),
        event(3.0, "removed", "r2", "node-2"),
        event(4.0, "added", "r4", "node-2", "Pending"),
    ]
    assert churn(events, 0.0, 10.0) == 2


# The CI run that failed (session 6): min raised to 3 at 2.06 s, the operator restarted at
# 3.12 s and added the third copy; the heal set min back to 2 at 8.0 s and that copy went.
RAISED_AND_RESTORED = [
    event(3.5, "added", "state-node-3", "node-3", "Pending", "rebalance"),
    event(9.0, "removed", "state-node-3", "node-3", reason="rebalance"),
]
RUN_INPUTS = [2.06, 4.0, 8.0, 8.0]  # min raised, agent killed, agent started, min restored


@pytest.mark.parametrize(
    ("events", "inputs", "undone"),
    [
        pytest.param(RAISED_AND_RESTORED, [], 1, id="without-inputs-as-ci-counted"),
        pytest.param(RAISED_AND_RESTORED, RUN_INPUTS, 0, id="removed-after-min-restored"),
        pytest.param(  # two copies for one raised min, one taken back: extra
            [
                event(3.5, "added", "state-node-3", "node-3", "Pending", "rebalance"),
                event(3.6, "added", "state-node-2", "node-2", "Pending", "rebalance"),
                event(3.9, "removed", "state-node-2", "node-2", reason="rebalance"),
            ],
            RUN_INPUTS, 1, id="added-and-removed-before-any-input",
        ),
        pytest.param(  # a copy removed and put back on its node after the last input
            [
                event(9.0, "removed", "state-node-1", "node-1"),
                event(12.0, "added", "state-node-1", "node-1", "Pending", "failover"),
            ],
            RUN_INPUTS, 1, id="removed-and-re-added-after-the-heal",
        ),
        pytest.param(  # removed for the restored min, then back on its node: an undo
            [
                event(3.5, "added", "state-node-3", "node-3", "Pending", "rebalance"),
                event(9.0, "removed", "state-node-3", "node-3", reason="rebalance"),
                event(11.0, "added", "state-node-3b", "node-3", "Pending", "rebalance"),
            ],
            RUN_INPUTS, 1, id="answer-to-an-input-undone-later",
        ),
        pytest.param(  # the copy lost with its agent replaced after the kill: an answer
            [
                event(3.0, "removed", "state-node-1", "node-1"),
                event(5.0, "added", "state-node-1b", "node-1", "Pending", "failover"),
            ],
            RUN_INPUTS, 0, id="removed-then-added-across-an-input",
        ),
    ],
)  # fmt: skip
def test_an_action_undone_counts_only_without_an_input_of_the_run_between(
    events: list[ReplicaEvent], inputs: list[float], undone: int
) -> None:
    assert churn(events, 3.12, 18.12, inputs) == undone


def test_read_recovery_is_per_client_from_the_fault_to_reads_served_again() -> None:
    reads = [
        read("k", 9.0),  # before the fault
        read("k", 10.1, end=10.2),  # a client that never saw an error: 0.2 s
        read("k", 10.0, client="node-2/reader-0", end=11.5),  # retried through the outage
        read("k", 11.6, client="node-2/reader-0", end=11.7),
    ]
    errors = [(10.5, "node-2/reader-0", "0 no_agent"), (11.2, "node-2/reader-0", "503 x")]
    assert read_recovery(reads, errors, 10.0, 20.0) == pytest.approx([0.2, 1.5])
