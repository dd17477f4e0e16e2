"""Copies this node holds no Replica for any more: merged into a live replica, then deleted.

When a Replica is removed (the operator moved the copy, scaled down, or gave up a lost
copy while this agent was away), its files stay: they may hold writes no other replica
has, acknowledged here just before the removal, or while this node was cut off. Such a
directory is a *retired copy*, marked by a ``retired.json`` beside its log
(``{"since": epoch seconds, "uid": the resource's uid}``). The agent hands it off:

1. it asks a live replica of the same resource for its version vector
   (``POST /v1/peer/handoff/{ns}/{res}`` with only ``from``);
2. it sends what that replica lacks, the delta against that vector, with its own
   vector (the same body as a sync answer); the receiver joins it like a sync answer
   (a CRDT join, so nothing there is overwritten or lost, and a key collected there
   since is not brought back) and answers its new vector;
3. once that vector covers the copy's, the directory is deleted.

A copy whose resource still exists (same uid) is kept until that succeeds, however
long it takes. A copy whose resource is gone, or was deleted and made anew under the
same name (another uid: it must not be merged into a different resource), is deleted
after the retention (``--retired-retention``, default 24 h) counted from when it was
retired. When a Replica of the same resource comes back to this node, its retired copy
is opened again (marker removed) and rejoins through sync - as a warm copy does (below),
since session 12: its peers stopped counting it when they collect tombstones, so it may
hold a key whose deletion they collected; its pulls ask a delta only, and a refusal
hands its writes to a live replica before its files make way for a fresh copy (until
then it answers no peer's sync). Before, it was opened as a replica's own files and such
a key came back.

**Warm copies.** A copy handed off is not deleted at once: with ``--warm-retention``
(default 1 h; 0 deletes it at once, as before session 11) its files stay, the marker
noting when (``"handed_off"``). They hold no write a live replica lacks (it is not in the
:class:`RetiredLedger`); they are a head start. When a Replica of the same resource (same
uid: ``resource.json``) comes back within the retention, :func:`adopt` reopens them and
says so: the replica then catches up by a delta of what it missed (its first pulls ask
for a delta only: a peer that collected a deletion it has not seen refuses, and it gets
a fresh copy instead, see ``DeltaMap.behind_collection``) and is not Ready before a peer
that had caught up answered it. Warm copies are deleted once the retention is over, and
earlier, oldest first, to keep them within their disk budget (:func:`warm_evictions`). A replica's
directory also holds ``resource.json`` (``{"uid": ...}``) so that a resource made anew
never opens the files of the one before: those are moved aside to
``<data-dir>/.retired/<ns>/<name>.<uid>`` and retired there.

A **strong** replica's files (``<ns>/<name>/strong/``, see ``agent.strong_files``) are
never handed off: every committed entry is on a majority of the voters. When its Replica
is removed the directory is marked retired the same way, and deleted (:func:`strong_fate`)

- never while the replica is open here or this node has a Replica of the resource (the
  reconciler opens a returning replica from its files, marker removed);
- never while this node is among the voters of the resource's newest configuration (its
  status ``voters``, written by the operator before it fences an epoch): a voter's
  promise and log count in the majorities that decide and commit, so they must outlive
  any removal of its Replica (the operator removes a voter's Replica only after a
  membership step took it out, but a status read is the proof, not that habit);
- for a resource that still exists (same uid): once it has been retired
  :data:`STRONG_GRACE` seconds, so a copy moved away and straight back (within the
  operator's cooldown) catches up from its own log; a node that is not a voter joins any
  later configuration only as a learner the leader brings up to date, so no later
  epoch needs the files;
- for a resource that is gone, or was made anew under the same name: after the
  retention, as an eventual copy. A strong directory records its resource's uid
  (``resource.json``): the files of a resource made anew are set aside beside it as
  ``strong.<uid>`` (retired) and never opened by the new one.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import time
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from statecast.agent.incarnation import forget_replica_id

__all__ = [
    "IDENTITY",
    "MARKER",
    "RETIRED_DIR",
    "STRONG_DIR",
    "STRONG_GRACE",
    "VOTER_RECHECK",
    "Fate",
    "Reopened",
    "RetiredCopy",
    "RetiredLedger",
    "adopt",
    "adopt_strong",
    "covers",
    "delete_copy",
    "disk_bytes",
    "fate",
    "find_retired",
    "mark_retired",
    "mark_warm",
    "replica_directories",
    "set_aside",
    "strong_directories",
    "strong_fate",
    "warm_evictions",
    "warm_expired",
]

log = logging.getLogger(__name__)

#: The marker of a retired copy.
MARKER = "retired.json"
#: The resource a replica directory belongs to.
IDENTITY = "resource.json"
#: Where copies of resources made anew under the same name are set aside.
RETIRED_DIR = ".retired"
#: A strong replica's directory in its resource's (``strong.<uid>``: one set aside).
STRONG_DIR = "strong"
#: Seconds a retired strong copy of a resource that exists is kept (not a voter).
STRONG_GRACE = 600.0
#: Seconds before the sweep reads the voters again for a copy kept as a voter's.
VOTER_RECHECK = 60.0

Ref = tuple[str, str]
Fate = Literal["merge", "keep", "delete"]


@dataclass(frozen=True)
class RetiredCopy:
    """A retired copy on disk.

    Attributes:
        ref: The resource (namespace, name) it is a copy of.
        directory: Its directory.
        since: When it was retired (epoch seconds).
        uid: The uid of the resource it belonged to ("" when unknown: an older agent's).
        handed_off: When a live replica took its writes and its files were kept warm
            (None: not handed off yet).
    """

    ref: Ref
    directory: Path
    since: float
    uid: str
    handed_off: float | None = None


class RetiredLedger:
    """The retired copies this agent holds and has not handed off yet.

    What ``/v1/stats`` (``retired``) and the ``statecast_agent_retired_copies`` gauge
    show: a copy here may hold writes no live replica has, so whoever reads the
    resource's final state (a chaos check, a drain) waits until none is left.
    """

    def __init__(self) -> None:
        self._copies: dict[Path, tuple[Ref, float]] = {}
        #: Whether every retired copy on disk is here. An agent started beside an
        #: orchestrator learns of the copies left by its earlier run only when it first
        #: looks at its data directory (after its first pass over the Replicas): until
        #: then an empty ledger says nothing, and whoever waits for the hand-offs waits.
        self.complete = True

    def hold(self, ref: Ref, directory: Path, since: float) -> None:
        """Note a retired copy of ``ref`` in ``directory`` (retired at ``since``)."""
        self._copies[directory] = (ref, since)

    def drop(self, directory: Path) -> None:
        """The copy in ``directory`` was merged, deleted or taken back into use."""
        self._copies.pop(directory, None)

    def directories(self) -> set[Path]:
        """The directories of the copies held."""
        return set(self._copies)

    def rows(self) -> list[tuple[str, str, float]]:
        """(namespace, resource, retired since) per copy, sorted."""
        return sorted((ref[0], ref[1], since) for ref, since in self._copies.values())

    def counts(self) -> dict[Ref, int]:
        """Retired copies held per resource."""
        counts: dict[Ref, int] = {}
        for ref, _ in self._copies.values():
            counts[ref] = counts.get(ref, 0) + 1
        return counts


#: The files of a replica's state (statecast.agent.persistence: the binary format, and
#: the JSON one of before, which recovery still reads).
_STATE_FILES = ("snapshot.bin", "log-*.bin", "snapshot.json", "wal-*.log")


def _holds_a_copy(directory: Path, files: tuple[str, ...] = _STATE_FILES) -> bool:
    return any(any(directory.glob(pattern)) for pattern in files)


#: The files of a strong replica (statecast.agent.strong_files).
_STRONG_FILES = ("log.jsonl", "snapshot.json")


def _resource_directories(data_dir: Path) -> Iterator[tuple[Ref, Path]]:
    """Every ``<ns>/<name>`` directory under ``data_dir`` (the set-aside folder excluded)."""
    if not data_dir.is_dir():
        return
    for namespace in sorted(data_dir.iterdir()):
        if not namespace.is_dir() or namespace.name == RETIRED_DIR:
            continue
        for resource in sorted(namespace.iterdir()):
            if resource.is_dir():
                yield (namespace.name, resource.name), resource


def replica_directories(data_dir: Path) -> Iterator[tuple[Ref, Path]]:
    """Every replica directory under ``data_dir``: ``<ns>/<name>`` holding a log or snapshot."""
    for ref, resource in _resource_directories(data_dir):
        if _holds_a_copy(resource):
            yield ref, resource
    aside = data_dir / RETIRED_DIR
    if aside.is_dir():
        for namespace in sorted(aside.iterdir()):
            for copy in sorted(namespace.iterdir()) if namespace.is_dir() else ():
                if copy.is_dir() and _holds_a_copy(copy):
                    yield (namespace.name, copy.name.rpartition(".")[0]), copy


def _read(path: Path) -> dict[str, object]:
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return raw if isinstance(raw, dict) else {}


def identity(directory: Path) -> str:
    """The uid of the resource a replica directory belongs to ("" when not recorded)."""
    return str(_read(directory / IDENTITY).get("uid") or "")


def _since(marker: dict[str, object]) -> float | None:
    since = marker.get("since")
    return float(since) if isinstance(since, int | float) else None


def mark_retired(ref: Ref, directory: Path, uid: str, now: float | None = None) -> RetiredCopy:
    """Mark ``directory`` a retired copy (keeping an earlier mark's time)."""
    since = _since(_read(directory / MARKER))
    copy = RetiredCopy(ref, directory, since if since is not None else now or time.time(), uid)
    if since is None:
        (directory / MARKER).write_text(json.dumps({"since": copy.since, "uid": uid}))
    return copy


def find_retired(ref: Ref, directory: Path) -> RetiredCopy | None:
    """The retired copy in ``directory``, or None when it is not marked."""
    marker = _read(directory / MARKER)
    since = _since(marker)
    if since is None:
        return None
    handed = marker.get("handed_off")
    handed_off = float(handed) if isinstance(handed, int | float) else None
    return RetiredCopy(ref, directory, since, str(marker.get("uid") or ""), handed_off)


def mark_warm(copy: RetiredCopy, now: float) -> RetiredCopy:
    """Mark a retired copy handed off at ``now`` and kept warm (see the module docstring)."""
    marker = {"since": copy.since, "uid": copy.uid, "handed_off": now}
    (copy.directory / MARKER).write_text(json.dumps(marker))
    return RetiredCopy(copy.ref, copy.directory, copy.since, copy.uid, now)


#: What :func:`adopt` took back: nothing retired (``""``), a warm copy (handed off,
#: kept), or a retired copy not handed off yet (``"unmerged"``: it may hold writes no
#: live replica has, and miss deletions its peers have collected since).
Reopened = Literal["", "warm", "unmerged"]


def adopt(
    directory: Path, uid: str, data_dir: Path, now: float | None = None, *, handing: bool = False
) -> Reopened:
    """Make ``directory`` the replica directory of the resource ``uid`` before it is opened.

    Files of another resource of the same name (a uid recorded and different) are set
    aside as a retired copy; a retired copy of this resource is taken back (its marker
    removed), so that it rejoins through sync. ``handing``: the copy's hand-off after
    its retirement is still under way (not marked yet): it is a retired copy too.

    Returns:
        ``"warm"`` when the files taken back are a warm copy (handed off, kept; its
        resource's uid recorded and the same): the replica is behind its resource by
        what it missed. ``"unmerged"`` when they are a retired copy of the same resource
        not handed off: behind as well (its peers stopped counting it when they collect
        tombstones), and ahead by writes of its own. ``""`` otherwise.
    """
    recorded = identity(directory)
    if recorded and uid and recorded != uid and _holds_a_copy(directory):
        set_aside(directory, recorded, data_dir, now)
    found = find_retired((directory.parent.name, directory.name), directory)
    same = bool(uid) and recorded == uid
    kind: Reopened = ""
    if same and found is not None:
        kind = "warm" if found.handed_off is not None else "unmerged"
    elif same and handing:
        kind = "unmerged"
    with contextlib.suppress(FileNotFoundError):
        (directory / MARKER).unlink()
    if uid:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / IDENTITY).write_text(json.dumps({"uid": uid}))
    return kind


def warm_expired(copy: RetiredCopy, now: float, retention: float) -> bool:
    """Whether a warm copy's retention is over (a copy not handed off never expires here)."""
    return copy.handed_off is not None and now - copy.handed_off >= retention


def warm_evictions(
    copies: Iterable[tuple[Path, float, int]], *, budget: float, free: float
) -> list[Path]:
    """The warm copies to delete so that they never crowd out live replicas.

    Oldest hand-off first, until the warm copies take at most ``budget`` bytes and the
    filesystem has at least ``budget`` bytes free (a live replica always has that much
    room the warm copies do not take).

    Args:
        copies: (directory, handed off at, bytes on disk) per warm copy.
        budget: Bytes warm copies may take, and the free space they leave at least.
        free: Bytes free on the data directory's filesystem now.
    """
    ordered = sorted(copies, key=lambda copy: (copy[1], str(copy[0])))
    total = sum(size for _, _, size in ordered)
    evicted = []
    for directory, _, size in ordered:
        if total <= budget and free >= budget:
            break
        evicted.append(directory)
        total -= size
        free += size
    return evicted


def delete_copy(directory: Path) -> None:
    """Delete an eventual copy's files, its replica id first; never a strong directory.

    The replica id first, so that files cut short by a crash here never lend that id to a
    new copy. A strong replica lives in ``<ns>/<name>/strong`` (and ``strong.<uid>`` set
    aside): inside the directory of an eventual copy of a resource of the same name.
    Until session 11 the whole tree went, the strong promise, log and snapshot with it,
    whatever :func:`strong_fate` had decided for them; they are the strong sweep's.
    """
    forget_replica_id(directory)
    try:
        entries = list(directory.iterdir())
    except OSError:
        return
    for entry in entries:
        if entry.name == STRONG_DIR or entry.name.startswith(f"{STRONG_DIR}."):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                entry.unlink()
    with contextlib.suppress(OSError):
        directory.rmdir()  # (kept while a strong directory is in it)


def disk_bytes(directory: Path) -> int:
    """Bytes of the files in ``directory`` (not below it; a replica directory is flat)."""
    total = 0
    with contextlib.suppress(OSError), os.scandir(directory) as entries:
        for entry in entries:
            with contextlib.suppress(OSError):
                if entry.is_file(follow_symlinks=False):
                    total += entry.stat(follow_symlinks=False).st_size
    return total


def set_aside(directory: Path, uid: str, data_dir: Path, now: float | None = None) -> Path:
    """Move a copy of an earlier resource to ``.retired/<ns>/<name>.<uid>``, retired."""
    namespace, name = directory.parent.name, directory.name
    target = data_dir / RETIRED_DIR / namespace / f"{name}.{uid or 'unknown'}"
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        shutil.rmtree(target)
    directory.rename(target)
    mark_retired((namespace, name), target, uid, now)
    log.warning(
        "event=retired_copy_set_aside resource=%s/%s uid=%s path=%s", namespace, name, uid, target
    )
    return target


def fate(
    copy: RetiredCopy,
    *,
    resource_uid: str | None,
    has_target: bool,
    now: float,
    retention: float,
) -> Fate:
    """What to do with a retired copy now.

    Args:
        copy: The retired copy.
        resource_uid: The uid of the resource of its name now (None: it does not exist).
        has_target: A live replica of that resource can take the copy's writes.
        now: The current time (epoch seconds).
        retention: Seconds a copy of a gone resource is kept.

    Returns:
        ``merge`` (hand it off now), ``keep`` (wait), or ``delete``.
    """
    same = resource_uid is not None and copy.uid in ("", resource_uid)
    if same:
        return "merge" if has_target else "keep"
    return "delete" if now - copy.since >= retention else "keep"


def covers(vector: Mapping[str, int], copy: Mapping[str, int]) -> bool:
    """Whether ``vector`` holds every event of ``copy``."""
    return all(vector.get(origin, 0) >= seq for origin, seq in copy.items())


def strong_directories(data_dir: Path) -> Iterator[tuple[Ref, Path]]:
    """Every strong replica directory: ``<ns>/<name>/strong`` and ``strong.<uid>`` set aside."""
    for ref, resource in _resource_directories(data_dir):
        for copy in sorted(resource.glob(f"{STRONG_DIR}*")):
            named = copy.name == STRONG_DIR or copy.name.startswith(f"{STRONG_DIR}.")
            if named and copy.is_dir() and _holds_a_copy(copy, _STRONG_FILES):
                yield ref, copy


def adopt_strong(ref: Ref, directory: Path, uid: str, now: float | None = None) -> None:
    """Make ``directory`` the strong replica directory of the resource ``uid``, before it opens.

    The files of another resource of the same name (a uid recorded and different) are set
    aside beside it as ``strong.<their uid>``, retired: a resource made anew must not take
    the promise and log of the one before (its first epochs would be refused, or the old
    entries read as its own). A retired copy of this resource is taken back into use.
    """
    recorded = identity(directory)
    if recorded and uid and recorded != uid and _holds_a_copy(directory, _STRONG_FILES):
        target = directory.with_name(f"{STRONG_DIR}.{recorded}")
        if target.exists():
            shutil.rmtree(target)
        directory.rename(target)
        mark_retired(ref, target, recorded, now)
        log.warning(
            "event=strong_copy_set_aside resource=%s/%s uid=%s path=%s", *ref, recorded, target
        )
    with contextlib.suppress(FileNotFoundError):
        (directory / MARKER).unlink()
    if uid:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / IDENTITY).write_text(json.dumps({"uid": uid}))


def strong_fate(
    copy: RetiredCopy,
    *,
    resource_uid: str | None,
    voters: Collection[str],
    node: str,
    now: float,
    retention: float,
    grace: float = STRONG_GRACE,
) -> tuple[Literal["keep", "delete"], float]:
    """Whether a retired strong copy on ``node`` (no Replica, not open) is deleted now.

    Args:
        copy: The retired copy.
        resource_uid: The uid of the resource of its name now (None: it does not exist).
        voters: The voters of that resource's newest configuration (its status).
        node: This node.
        now: The current time (epoch seconds).
        retention: Seconds a copy of a gone resource is kept.
        grace: Seconds a copy of a resource that exists is kept.

    Returns:
        ``delete`` or ``keep``, and for ``keep`` when the answer may change (epoch
        seconds): the sweep reads the resource again only then, not every sweep (a copy
        of a gone resource is kept a day).
    """
    if resource_uid is None or copy.uid not in ("", resource_uid):
        due = copy.since + retention
    elif node in voters:
        return "keep", now + VOTER_RECHECK  # a voter's promise and log count: never now
    else:
        due = copy.since + grace
    return ("delete", now) if now >= due else ("keep", due)
