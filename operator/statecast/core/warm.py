"""What a copy costs on a node that held one lately: warm copies.

An agent keeps the files of a copy it handed off for a while (``statecast agent
--warm-retention``, default :data:`WARM_RETENTION_S`): when a Replica of the same
resource comes back to that node within it, the old copy is reopened and catches up by
ordinary delta sync, receiving only the writes it missed, not the whole state
(docs/agent.md, *Warm copies*). The simulator charges every policy's copies by
:func:`copy_bytes`, and the planner may price a copy with it.

The writes missed are an upper bound of the delta: writes to one key while the copy was
away travel once, as one entry, and the bound counts each. It never exceeds the full
state: a copy far behind is sent whole.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

__all__ = ["WARM_RETENTION_S", "copy_bytes", "warm_prices"]

#: Seconds an agent keeps a handed-off copy's files by default (``--warm-retention``).
WARM_RETENTION_S = 3600.0


def copy_bytes(
    full_bytes: float,
    removed_ago_s: float | None,
    write_bytes_per_s: float,
    retention_s: float = WARM_RETENTION_S,
) -> float:
    """Bytes a new copy of a resource costs on a node.

    Args:
        full_bytes: The resource's whole state (what a fresh copy receives).
        removed_ago_s: Seconds since a copy of the same resource left this node (None:
            none did, or it was lost with the node, not handed off).
        write_bytes_per_s: Bytes the resource's writes carry per second.
        retention_s: How long the node keeps a removed copy's files (0: never; every
            copy is a full copy, the accounting before warm copies).

    Returns:
        ``full_bytes``, or, when the node's old copy is still kept (removed at most
        ``retention_s`` ago: the agent counts the retention from the hand-off, which comes
        after the removal, so a copy back exactly ``retention_s`` later still finds the
        files), the bytes of the writes it missed, at most ``full_bytes``.
    """
    if removed_ago_s is None or not math.isfinite(removed_ago_s) or removed_ago_s < 0:
        return full_bytes
    if retention_s <= 0 or removed_ago_s > retention_s:
        return full_bytes
    return min(full_bytes, max(0.0, write_bytes_per_s) * removed_ago_s)


def warm_prices(
    full_bytes: float,
    removed_ago_s: Mapping[str, float],
    write_bytes_per_s: float,
    retention_s: float = WARM_RETENTION_S,
) -> dict[str, float]:
    """Node -> bytes a copy back there moves, for the nodes where it is warm.

    :func:`copy_bytes` for every node a copy of the resource left ``removed_ago_s``
    seconds ago, kept where it is less than a full copy (the planner's
    ``PlanInput.copy_bytes``: a node not named costs a full copy).
    """
    if retention_s <= 0:
        return {}
    priced = {
        node: copy_bytes(full_bytes, ago, write_bytes_per_s, retention_s)
        for node, ago in removed_ago_s.items()
    }
    return {node: moved for node, moved in priced.items() if moved < full_bytes}
