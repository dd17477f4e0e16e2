"""Which lost copies a reconcile marks Lost once its removals are made (a table)."""

from __future__ import annotations

import pytest

from statecast.core.reconcile.lapse import marks_due
from statecast.core.reconcile.status import LostReplica

A, B = LostReplica("r-a", "a", True), LostReplica("r-b", "b", False)


@pytest.mark.parametrize(
    ("lost", "removed", "marked"),
    [
        ((A, B), set(), (A, B)),  # nothing removed: every lost copy is marked
        ((A, B), {"a"}, (B,)),  # a's copy deleted: no PATCH after its deletion
        ((A, B), {"a", "b"}, ()),
        ((A,), {"c"}, (A,)),  # another node's removal changes nothing
        ((), {"a"}, ()),
    ],
)
def test_a_copy_removed_is_not_marked(
    lost: tuple[LostReplica, ...], removed: set[str], marked: tuple[LostReplica, ...]
) -> None:
    assert marks_due(lost, removed) == marked
