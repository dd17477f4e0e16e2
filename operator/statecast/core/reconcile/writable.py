"""Whether a strong resource takes writes now, said in its status (issue 19, item 6).

A strong resource takes a write only through the leader of an open epoch that reaches a
majority of its voters; otherwise every agent refuses it (``503 no_leader``, ``not
leader``, ``no quorum``). Its copies may all be Ready meanwhile, so ``Ready 3/3`` alone
would say writes work when they do not: the ``Writable`` condition says what is true.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

from statecast.core.reconcile.policies import ConditionState
from statecast.core.reconcile.views import ReplicaView
from statecast.core.strong.election import StrongConfig

__all__ = ["writable"]

_REFUSED = "writes are refused (503) until"


def writable(
    previous_status: Mapping[str, Any],
    replicas: Iterable[ReplicaView],
    reachable: Collection[str],
) -> ConditionState:
    """The ``Writable`` condition of a strong resource.

    Args:
        previous_status: the resource's status (the election records epoch and leader
            there; a reconcile never writes them).
        replicas: its Replicas.
        reachable: nodes whose copy can be reached (node Ready, agent's Lease fresh).
    """
    config = StrongConfig.from_status(previous_status)
    leader = config.leader
    if not leader:
        return ConditionState(False, "NoLeader", f"{_REFUSED} a leader is elected")
    if leader not in reachable:
        message = f"the leader on {leader} is unreachable: {_REFUSED} another is elected"
        return ConditionState(False, "LeaderLost", message)
    copy = next((r for r in replicas if r.node == leader), None)
    progress = copy.strong if copy is not None else None
    if progress is None or not progress.leading or progress.epoch != config.epoch:
        return ConditionState(
            False,
            "EpochNotOpen",
            f"the leader on {leader} has not opened epoch {config.epoch}: {_REFUSED} it has",
        )
    if progress.isolated:
        return ConditionState(
            False,
            "NoQuorum",
            f"the leader on {leader} reaches no majority of its voters: {_REFUSED} it does"
            " or another is elected",
        )
    message = f"writes go to the leader on {leader} (epoch {config.epoch})"
    return ConditionState(True, "LeaderServing", message)
