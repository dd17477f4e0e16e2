"""What an agent reports for one of its Replicas: a pure decision over observed facts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from statecast.api.replica import ReplicaStatus
from statecast.api.shared_resource import ReplicaPhase
from statecast.api.types import Condition

__all__ = ["ReplicaFacts", "build_status", "decide_phase"]


@dataclass(frozen=True)
class ReplicaFacts:
    """What the agent observes about one replica it holds.

    Attributes:
        live_peers: Other replicas whose agents are alive (fresh Lease, known endpoint).
        synced_since_open: A sync with a peer succeeded since the replica was opened.
        seconds_since_sync: Seconds since the last successful sync (None: never).
        lag_seconds: Age of the newest change the last sync had to bring in.
    """

    live_peers: int
    synced_since_open: bool
    seconds_since_sync: float | None
    lag_seconds: float


def decide_phase(facts: ReplicaFacts, stale_after: float) -> ReplicaPhase:
    """The replica's phase.

    - alone (no live peer): Ready, there is nothing to copy from;
    - not yet synced with a live peer since it was opened: Syncing;
    - last successful sync, or the lag it revealed, older than ``stale_after``: Stale;
    - otherwise Ready.
    """
    if facts.live_peers == 0:
        return "Ready"
    if not facts.synced_since_open:
        return "Syncing"
    if facts.seconds_since_sync is None or facts.seconds_since_sync > stale_after:
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
) -> dict[str, Any]:
    """The Replica status body (camelCase JSON).

    The Ready condition keeps its transition time while its status does not change.
    """
    status_word, reason = _REASONS.get(phase, ("Unknown", phase))
    transition = now or datetime.now(UTC)
    for condition in (previous or {}).get("conditions") or []:
        if condition.get("type") == "Ready" and condition.get("status") == status_word:
            raw = condition.get("lastTransitionTime")
            if isinstance(raw, str):
                transition = datetime.fromisoformat(raw.replace("Z", "+00:00"))
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
        conditions=[
            Condition(
                type="Ready",
                status=status_word,
                reason=reason,
                message=f"replica is {phase}",
                observed_generation=generation,
                last_transition_time=transition,
            )
        ],
    )
    dumped: dict[str, Any] = status.model_dump(mode="json", by_alias=True, exclude_none=True)
    return dumped
