"""What an agent reports for one of its Replicas: a pure decision over observed facts."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from statecast.api.replica import ReplicaStatus, StrongProgress
from statecast.api.shared_resource import ReplicaPhase
from statecast.api.types import Condition, transition_time
from statecast.core.storage import STORAGE_CONDITION, STORAGE_UNAVAILABLE

__all__ = ["ReplicaFacts", "build_status", "caught_up", "decide_phase"]


def caught_up(
    opened_at: float,
    live_peers: Collection[str],
    pulled: Mapping[str, tuple[float, bool]],
    *,
    others_held: bool = False,
    holds_state: bool = True,
) -> bool:
    """Whether a replica opened at ``opened_at`` holds what its resource holds.

    It has caught up when, since it was opened, it

    - pulled from a peer that had caught up itself (that peer held everything); or
    - pulled from every live peer, having no live peer at all counting too (it holds the
      join of every reachable copy, which is the state even when all of them are new),
      unless it holds no state of its own while other replicas of the resource have held
      some: then those replicas are the state, and only one of them that has caught up
      can vouch for it. An empty new copy whose resource's holders are all unreachable
      (or not caught up yet) therefore waits, and answers nothing, rather than answer
      "not found" for keys they hold; a copy the operator placed to stand in for lost
      holders counts as holding state (it was seeded from the source, or has nothing to
      seed).

    A pull from a peer that is itself still catching up is not enough while another
    peer has not answered: that peer may be empty too.

    Args:
        opened_at: When the replica was opened (epoch seconds).
        live_peers: The other replicas whose agents are alive.
        pulled: Peer -> (time of the last successful pull, whether it had caught up).
        others_held: Another replica of the resource has reported holding state (a
            non-empty version vector).
        holds_state: This replica holds state of its own (a non-empty version vector,
            recovered from disk or seeded), or stands in for lost holders.
    """
    recent = {peer: ok for peer, (when, ok) in pulled.items() if when >= opened_at}
    if any(recent.values()):
        return True
    if others_held and not holds_state:
        return False
    return all(peer in recent for peer in live_peers)


@dataclass(frozen=True)
class ReplicaFacts:
    """What the agent observes about one replica it holds.

    Attributes:
        live_peers: Other replicas whose agents are alive (fresh Lease, known endpoint).
        caught_up: It has caught up with its peers since it was opened (see :func:`caught_up`).
        seconds_since_sync: Seconds since the last successful sync (None: never).
        lag_seconds: Age of the newest change the last sync had to bring in.
        awaiting_seed: It is to be seeded from the resource's source and has not been
            yet (the source cannot be read): it is not Ready until it is.
        seconds_with_peers: Seconds since it last went from no live peer to some (None:
            not known). A replica that never synced is judged from then: before that it
            had nobody to sync with.
    """

    live_peers: int
    caught_up: bool
    seconds_since_sync: float | None
    lag_seconds: float
    awaiting_seed: bool = False
    seconds_with_peers: float | None = None


def decide_phase(facts: ReplicaFacts, stale_after: float) -> ReplicaPhase:
    """The replica's phase.

    - waiting for its source to seed it, or not caught up since it was opened (see
      :func:`caught_up`): Syncing;
    - alone (no live peer), caught up: Ready, there is nothing to copy from;
    - last successful sync, or the lag it revealed, older than ``stale_after``: Stale;
      never synced, it is judged from when its first live peer appeared (a copy that
      turned Ready alone stays Ready while its first sync with a newcomer is due);
    - otherwise Ready.
    """
    if facts.awaiting_seed or not facts.caught_up:
        return "Syncing"
    if facts.live_peers == 0:
        return "Ready"
    since = facts.seconds_since_sync
    if since is None:
        since = facts.seconds_with_peers
    if since is None or since > stale_after:
        return "Stale"
    if facts.lag_seconds > stale_after:
        return "Stale"
    return "Ready"


_REASONS: dict[str, tuple[str, str]] = {
    "Ready": ("True", "Synchronised"),
    "Syncing": ("False", "Syncing"),
    "Stale": ("False", "FallingBehind"),
    "Pending": ("False", "NotMaterialised"),
}


def _time(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC)


def build_status(
    *,
    phase: ReplicaPhase,
    consistency: str,
    version_vector: dict[str, int],
    bytes_held: int,
    last_modified: float | None,
    last_sync_mode: str | None,
    last_sync_time: float | None,
    lag_seconds: float,
    generation: int | None,
    previous: dict[str, Any] | None,
    now: datetime | None = None,
    ready_reason: tuple[str, str] | None = None,
    stand_in_for: tuple[str, ...] = (),
    strong: dict[str, Any] | None = None,
    storage_failure: str | None = None,
) -> dict[str, Any]:
    """The Replica status body (camelCase JSON).

    Conditions keep their transition time while their status does not change.

    Args:
        phase: The replica's phase.
        consistency: The consistency it is served with.
        version_vector: The events it holds.
        bytes_held: The size of its state.
        last_modified: When a change was last applied (epoch seconds).
        last_sync_mode: How the last sync copied state.
        last_sync_time: When the last sync finished (epoch seconds).
        lag_seconds: Age of the newest change the last sync had to bring in.
        generation: The Replica's spec generation this status describes.
        previous: The status written before (transition times are kept from it).
        now: The current time.
        ready_reason: The Ready condition's reason and message when the phase alone
            does not say why (e.g. ``AwaitingSource``).
        stand_in_for: The lost copies the replica stands in for: a ``StandIn``
            condition says so (none when empty).
        strong: A strong replica's protocol progress (``status.strong``).
        storage_failure: Why its files cannot be written or opened here (a full disk):
            a ``StorageAvailable`` condition, False with reason ``StorageUnavailable``,
            says so and since when (none while its files are written). The operator
            replaces a copy that says so for long (:mod:`statecast.core.storage`).
    """
    status_word, reason = _REASONS.get(phase, ("Unknown", phase))
    message = f"replica is {phase}"
    if ready_reason is not None:
        reason, message = ready_reason
    now = now or datetime.now(UTC)
    previous_conditions = (previous or {}).get("conditions")
    conditions = [
        Condition(
            type="Ready",
            status=status_word,
            reason=reason,
            message=message,
            observed_generation=generation,
            last_transition_time=transition_time(previous_conditions, "Ready", status_word, now),
        )
    ]
    if stand_in_for:
        conditions.append(
            Condition(
                type="StandIn",
                status="True",
                reason="StandsInForLostCopies",
                message=(
                    f"stands in for the lost copies on {', '.join(stand_in_for)}: it started"
                    " from the resource's source, not from their state; their writes are"
                    " merged into it when their agents return"
                ),
                observed_generation=generation,
                last_transition_time=transition_time(previous_conditions, "StandIn", "True", now),
            )
        )
    if storage_failure is not None:
        conditions.append(
            Condition(
                type=STORAGE_CONDITION,
                status="False",
                reason=STORAGE_UNAVAILABLE,
                message=f"its files cannot be written here: {storage_failure}"[:1024],
                observed_generation=generation,
                last_transition_time=transition_time(
                    previous_conditions, STORAGE_CONDITION, "False", now
                ),
            )
        )
    status = ReplicaStatus(
        phase=phase,
        consistency="strong" if consistency == "strong" else "eventual",
        version_vector=version_vector,
        last_modified=_time(last_modified),
        bytes=bytes_held,
        last_sync_mode=last_sync_mode if last_sync_mode in ("full", "delta") else None,
        last_sync_time=_time(last_sync_time),
        lag_seconds=round(lag_seconds, 3),
        observed_generation=generation,
        strong=StrongProgress.model_validate(strong) if strong is not None else None,
        conditions=conditions,
    )
    dumped: dict[str, Any] = status.model_dump(mode="json", by_alias=True, exclude_none=True)
    return dumped
