"""A leader that cannot open its epoch is reported isolated, so the operator replaces it.

Found in the 20-seed leader-partition runs (seed 6, failover 14.9 s against ~4 s for
the others): after an election during the cut, the partitioned old leader was chosen
again (its log was the most up to date); cut off, it never committed its opening no-op,
and ``isolated`` was reported only for a leader whose epoch was open - so the operator
waited for it to open until the cut healed.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from statecast.agent.config import ResourceSpec
from statecast.agent.strong import StrongReplica, StrongTimings
from statecast.core.strong.messages import AppendReply, AppendRequest

SPEC = ResourceSpec(namespace="apps", name="ledger", consistency="strong")


class Cut:
    """A link to peers that never answer (a partition)."""

    async def append(
        self, peer: str, ref: tuple[str, str], request: AppendRequest
    ) -> AppendReply | None:
        await asyncio.sleep(0.05)
        return None


async def test_a_leader_that_cannot_open_its_epoch_is_isolated_after_the_quorum_time(
    tmp_path: Path,
) -> None:
    replica = StrongReplica(SPEC, "a", tmp_path / "a", Cut(), StrongTimings(0.05, 1.0, 0.3))
    replica.open()
    await replica.fence(2)
    await replica.lead(2, ("a", "b", "c"), ())
    try:
        assert replica.progress()["leading"] is False  # its no-op is not committed
        assert replica.progress()["isolated"] is False  # it may still reach them
        await asyncio.sleep(0.45)
        progress = replica.progress()
        assert progress["leading"] is False
        assert progress["isolated"] is True
    finally:
        await replica.close()


async def test_a_follower_counts_the_leaders_silence_from_when_it_was_opened(
    tmp_path: Path,
) -> None:
    # Found in CI: right after start, a follower that had not heard from its leader yet
    # answered a forwarded write "no word from the leader for 1 s" at once.
    replica = StrongReplica(SPEC, "b", tmp_path / "b", Cut(), StrongTimings(0.05, 1.0, 0.3))
    replica.open()
    try:
        assert replica.leader_silent(60.0) is False  # just opened: not left without word
        replica.opened_at -= 120.0  # two minutes later, still nothing heard
        assert replica.leader_silent(60.0) is True
    finally:
        await replica.close()
