"""A resource's initial state (its ``source``) as events of a virtual replica.

Every replica that seeds a map from the same source builds exactly the same entries:
event ``i`` of the replica :data:`SEED_REPLICA` writes the ``i``-th key in sorted order
at hybrid stamp ``(0, 0)``. Seeding twice, or on two replicas at once, therefore joins
to one state (the join is idempotent), and any real write, stamped with a real clock,
wins over a seeded value. A replica whose version vector already holds
:data:`SEED_REPLICA` has the seed (or what became of it) and must not seed again.
"""

from __future__ import annotations

from collections.abc import Mapping

from statecast.core.clock import Stamp
from statecast.core.crdt import entry as ops
from statecast.core.crdt.entry import Entry

__all__ = ["SEED_REPLICA", "seed_entries"]

#: The id of the virtual replica that writes a source's values ("~" is never in a node name).
SEED_REPLICA = "~source"

_SEED_STAMP = Stamp(0, 0, SEED_REPLICA)


def seed_entries(values: Mapping[str, bytes], *, multi_value: bool) -> dict[str, Entry]:
    """The entries of a map seeded with ``values`` (key -> JSON-encoded value).

    Events are numbered ``1..len(values)`` in key order, so the result is a delta that
    holds every event of :data:`SEED_REPLICA`.
    """
    return {
        key: ops.put(None, _SEED_STAMP, seq, values[key], multi_value)
        for seq, key in enumerate(sorted(values), start=1)
    }
