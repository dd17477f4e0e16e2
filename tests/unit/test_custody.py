"""Custody of a resource's state: which lost copies are kept, given up, stood in for."""

from __future__ import annotations

import pytest

from statecast.core.custody import Copy, custody, join_vectors, missing_events

DAY = 86400.0
NOW = 10 * DAY


def lost(node: str, vv: dict[str, int], since: float | None = NOW - 60) -> Copy:
    return Copy(node, reachable=False, version_vector=vv, lost_since=since)


def up(node: str, vv: dict[str, int], stand_in_for: tuple[str, ...] = ()) -> Copy:
    return Copy(node, reachable=True, version_vector=vv, stand_in_for=stand_in_for)


SEED = "~source.abc"


@pytest.mark.parametrize(
    ("copies", "unmerged", "last_copy_lost", "new_stand_in_for"),
    [
        # the sole copy is lost with a write beyond the seed: it is the last copy
        ([lost("n4", {SEED: 1, "n4": 1})], ("n4",), True, ("n4",)),
        # ... and a stand-in seeded from the source does not hold that write
        ([lost("n4", {SEED: 1, "n4": 1}), up("n5", {SEED: 1}, ("n4",))], ("n4",), True, ("n4",)),
        # a stand-in's seed is no evidence: the lost copy may hold unreported writes
        ([lost("n4", {SEED: 1}), up("n5", {SEED: 1}, ("n4",))], ("n4",), True, ("n4",)),
        # a reachable holder covering the lost copy's report: nothing is kept
        ([lost("n4", {SEED: 1}), up("n5", {SEED: 1})], (), False, ()),
        # two copies in step: losing one loses nothing
        ([lost("a", {"a": 5, "b": 3}), up("b", {"a": 5, "b": 3})], (), False, ()),
        # the lost copy took a write the other had not received: kept, but others hold state
        ([lost("a", {"a": 6, "b": 3}), up("b", {"a": 5, "b": 3})], ("a",), False, ()),
        # reachable copies together cover it (each has part): nothing is lost
        (
            [lost("a", {"a": 6, "b": 3}), up("b", {"a": 5, "b": 3}), up("c", {"a": 6})],
            (),
            False,
            (),
        ),
        # a copy lost before it held anything holds nothing to wait for
        ([lost("a", {}), up("b", {})], (), False, ()),
        # both copies lost, nothing reachable: last copies lost
        ([lost("a", {"a": 2}), lost("b", {"b": 1})], ("a", "b"), True, ("a", "b")),
    ],
)
def test_lost_copies_are_kept_while_they_hold_writes_no_reachable_copy_holds(
    copies, unmerged, last_copy_lost, new_stand_in_for
):
    decided = custody(copies, now=NOW, retention=DAY)
    assert decided.unmerged == unmerged
    assert decided.kept == frozenset(unmerged)
    assert decided.last_copy_lost is last_copy_lost
    assert decided.new_stand_in_for == new_stand_in_for


def test_an_unmerged_copy_lost_longer_than_the_retention_is_abandoned():
    copies = [lost("a", {"a": 2}, since=NOW - 2 * DAY), lost("b", {"b": 1}), up("c", {"c": 1})]
    decided = custody(copies, now=NOW, retention=DAY)
    assert decided.unmerged == ("a", "b")
    assert decided.abandoned == ("a",)
    assert decided.kept == {"b"}
    assert decided.missing == {"a": {"a": 2}, "b": {"b": 1}}


def test_a_copy_whose_loss_is_not_recorded_yet_is_not_abandoned():
    decided = custody([lost("a", {"a": 1}, since=None)], now=NOW, retention=0)
    assert decided.abandoned == ()


def test_a_stand_in_stops_standing_in_once_the_lost_copy_is_merged_or_given_up():
    merged = custody(
        [up("n4", {SEED: 1, "n4": 1}), up("n5", {SEED: 1, "n4": 1}, ("n4",))],
        now=NOW,
        retention=DAY,
    )
    assert merged.stand_in_for == {"n5": ()}
    assert merged.last_copy_lost is False
    given_up = custody(
        [lost("n4", {"n4": 1}, since=NOW - 2 * DAY), up("n5", {SEED: 1}, ("n4",))],
        now=NOW,
        retention=DAY,
    )
    assert given_up.stand_in_for == {"n5": ()}
    assert given_up.last_copy_lost is False  # nothing kept any more: the loss is accepted
    waiting = custody([lost("n4", {"n4": 1}), up("n5", {SEED: 1}, ("n4",))], now=NOW, retention=DAY)
    assert waiting.stand_in_for == {}  # unchanged


def test_vectors_join_pointwise_and_gaps_name_the_origins_beyond():
    assert join_vectors([{"a": 1, "b": 4}, {"a": 3}]) == {"a": 3, "b": 4}
    assert missing_events({"a": 3, "b": 1}, {"a": 3}) == {"b": 1}
