"""The replica id a copy's files carry (see :mod:`statecast.core.crdt.replica_id`).

A replica directory holds ``replica-id``: the id under which this copy numbers its
events and counts its increments, and the id of the machine's boot in which it was
recorded (``boot <id>``, Linux's ``/proc/sys/kernel/random/boot_id``). It is written
(and fsynced, the directory too) before the copy makes any event, and deleted before
any other file of the copy, so that whenever it is there the files beside it hold
every event of that id that this machine has not lost since. An id is reused only
when that is all of them: a restart in the same boot of the machine (an agent killed,
even with ``kill -9``, loses nothing the kernel took: the page cache outlives it).

After the machine restarted (a power loss, a crash of the kernel), log records
written but not yet fsynced (``fsync: interval`` or ``never``) may be gone, while
peers and clients already had those events: numbering on from the recovered files
would give out the same (id, seq) again for other changes, which a peer holding the
old ones takes for known, and a PN-counter's slot would count on from a stale total
that a per-slot maximum hides. So a copy takes a fresh id when it starts with no
files, or with files an agent of before wrote (no ``replica-id``: their own events stay
under the plain node name), or with a ``replica-id`` beside no state, or recorded in
another boot or in none (session 7's files: no boot line), or when the boot cannot be
known. A fresh id is always safe: the state it starts from (recovered or pulled from
peers) is joined with, never overwritten by, its new events. Its price is one more
entry in the version vectors; under ``fsync: always`` (nothing acknowledged or sent
is ever unfsynced) the id taken after a restart of the machine is one such needless
entry, kept for simplicity: the files do not say which policy wrote them.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from statecast.agent.errors import PersistenceError
from statecast.core.crdt.replica_id import is_replica_id, new_replica_id

__all__ = ["BOOT_ID", "REPLICA_ID", "boot_id", "forget_replica_id", "replica_id"]

#: The file, in a replica directory, that names the copy's replica id.
REPLICA_ID = "replica-id"
#: Where Linux gives the id of the machine's current boot (a new one at every boot;
#: the host's in a container).
BOOT_ID = Path("/proc/sys/kernel/random/boot_id")

#: Files that hold a copy's state (its log and snapshot, either format).
_STATE_FILES = ("snapshot.bin", "log-*.bin", "snapshot.json", "wal-*.log")


def _token() -> str:
    return secrets.token_hex(6)


def boot_id(path: Path = BOOT_ID) -> str:
    """The id of this boot of the machine ("" when unknown: never the same as a recorded one)."""
    try:
        return path.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return ""


def _recorded(path: Path) -> tuple[str, str]:
    """The replica id and the boot recorded in ``path`` ("" for a missing boot)."""
    first, *rest = path.read_text().split("\n")
    boot = ""
    for line in rest:
        key, _, value = line.partition(" ")
        if key == "boot":
            boot = value.strip()
    return first.strip(), boot


def _holds_state(directory: Path) -> bool:
    return any(any(directory.glob(pattern)) for pattern in _STATE_FILES)


def _write(directory: Path, text: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / f"{REPLICA_ID}.tmp"
    with tmp.open("w") as out:
        out.write(text + "\n")
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, directory / REPLICA_ID)
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replica_id(
    directory: Path,
    node: str,
    token: Callable[[], str] = _token,
    boot: Callable[[], str] = boot_id,
) -> str:
    """The replica id of the copy in ``directory`` on ``node``; a fresh one is written.

    Args:
        directory: The copy's directory.
        node: This node.
        token: Makes a fresh id's token.
        boot: The id of this boot of the machine.

    Raises:
        PersistenceError: A fresh id could not be written (the copy must not start).
    """
    path = directory / REPLICA_ID
    now = boot()
    with contextlib.suppress(OSError, UnicodeDecodeError):
        recorded, recorded_boot = _recorded(path)
        # only an incarnation id is ever recorded; the files must be beside it, and
        # have lost nothing since (no restart of the machine: see the module)
        if (
            recorded != node
            and is_replica_id(recorded, node)
            and now
            and recorded_boot == now
            and _holds_state(directory)
        ):
            return recorded
    fresh = new_replica_id(node, token())
    try:
        _write(directory, f"{fresh}\nboot {now}" if now else fresh)
    except OSError as err:
        raise PersistenceError(f"cannot record the replica id in {directory}: {err}") from err
    return fresh


def forget_replica_id(directory: Path) -> None:
    """Delete ``directory``'s replica id: the first step of deleting a copy's files."""
    with contextlib.suppress(FileNotFoundError):
        (directory / REPLICA_ID).unlink()
