"""A resource's initial state (its ``source``) as events of a virtual replica.

Every replica that seeds a map from the same source builds exactly the same entries:
event ``i`` of the virtual replica :func:`seed_origin` names writes the ``i``-th key in
sorted order at hybrid stamp ``(0, 0)``. Seeding twice, or on two replicas at once,
therefore joins to one state (the join is idempotent), and any real write, stamped with
a real clock, wins over a seeded value.

The virtual replica's id is ``~source.<digest of the values>`` ("~" is never in a node
name). A source read at two different times (a ConfigMap edited in between: a replica
placed much later to stand in for lost copies seeds from what the source says then)
gives two different ids, so the two seeds are two sets of events, joined like any
concurrent writes (the larger id wins a key under LWW; both stay as siblings under
multi-value) rather than one event with two different values, which replicas would
never agree on. A replica whose version vector holds a seed origin
(:func:`is_seed_origin`) has been seeded (or holds what became of the seed) and must not
seed again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from statecast.core.clock import Stamp
from statecast.core.crdt import entry as ops
from statecast.core.crdt.entry import Entry

__all__ = ["SEED_REPLICA", "is_seed_origin", "seed_entries", "seed_origin"]

#: The prefix of every seed origin (seeds written before digests were added used it alone).
SEED_REPLICA = "~source"


def seed_origin(values: Mapping[str, bytes]) -> str:
    """The virtual replica that seeds ``values``: ``~source.<12 hex digits of their digest>``."""
    digest = hashlib.sha256()
    for key in sorted(values):
        encoded = key.encode()
        digest.update(len(encoded).to_bytes(4, "big") + encoded)
        digest.update(len(values[key]).to_bytes(4, "big") + values[key])
    return f"{SEED_REPLICA}.{digest.hexdigest()[:12]}"


def is_seed_origin(replica: str) -> bool:
    """Whether ``replica`` is a virtual replica that seeds maps from their source."""
    return replica == SEED_REPLICA or replica.startswith(SEED_REPLICA + ".")


def seed_entries(
    values: Mapping[str, bytes], *, multi_value: bool, origin: str | None = None
) -> dict[str, Entry]:
    """The entries of a map seeded with ``values`` (key -> JSON-encoded value).

    Events of ``origin`` (default :func:`seed_origin` of the values) are numbered
    ``1..len(values)`` in key order, so the result is a delta that holds every event of
    that origin.
    """
    stamp = Stamp(0, 0, origin or seed_origin(values))
    return {
        key: ops.put(None, stamp, seq, values[key], multi_value)
        for seq, key in enumerate(sorted(values), start=1)
    }
