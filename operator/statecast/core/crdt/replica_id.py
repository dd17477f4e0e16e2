"""Replica ids: one per incarnation of a copy, never reused.

Every event of the map is named ``(replica id, seq)``, and a PN-counter keeps one slot
per replica id whose totals only grow at their owner (the join is a per-slot maximum).
Both rest on the delta-CRDT model's assumption (Almeida, Shoker, Baquero): a replica id
belongs to one replica whose own state is *durable*, so that its next event and its
next slot value always follow everything it ever sent. A copy made anew on a node
where an earlier copy lived (handed off and deleted, then placed there again) has
none of that state: it learns the earlier copy's events only from peers, which may
lag the hand-off. Under the node's name it would number events the earlier copy
already used (a peer that holds those takes the new ones for old, and a delta never
carries them) and count from a stale slot that a per-slot maximum hides behind the
earlier, larger one: lost increments.

So a copy that starts without files takes a fresh id, ``<node>#<token>``, kept with
its files for as long as they live (a restart that recovers the files keeps it). The
files of an agent of before, and the events they hold, stay under the plain node name:
a node name is also a valid id, and the two never meet in one slot. Node names are DNS
subdomain names, so ``#`` cannot occur in one and :func:`node_of` is exact.
"""

from __future__ import annotations

import re

__all__ = ["SEPARATOR", "is_replica_id", "new_replica_id", "node_of"]

#: Between the node name and the incarnation token.
SEPARATOR = "#"

_TOKEN = re.compile(r"^[0-9a-z]{1,32}$")


def new_replica_id(node: str, token: str) -> str:
    """The id of a new incarnation of a copy on ``node``.

    Args:
        node: The node name.
        token: A token unique to this incarnation (lowercase letters and digits).

    Raises:
        ValueError: ``node`` already holds the separator, or ``token`` is not a token.
    """
    if SEPARATOR in node or not _TOKEN.match(token):
        raise ValueError(f"not a node name and an incarnation token: {node!r}, {token!r}")
    return f"{node}{SEPARATOR}{token}"


def node_of(replica: str) -> str:
    """The node of a replica id (an id of before is the node name itself)."""
    return replica.split(SEPARATOR, 1)[0]


def is_replica_id(text: str, node: str) -> bool:
    """Whether ``text`` is the node name ``node`` or an incarnation id of a copy on it."""
    if text == node:
        return True
    head, sep, token = text.partition(SEPARATOR)
    return bool(sep) and head == node and bool(_TOKEN.match(token))
