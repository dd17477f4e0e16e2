"""The replica id a copy's files carry (see :mod:`statecast.core.crdt.replica_id`).

A replica directory holds ``replica-id``: the id under which this copy numbers its
events and counts its increments. It is written (and fsynced, the directory too)
before the copy makes any event, and deleted before any other file of the copy, so
that whenever it is there the files beside it hold every event of that id. An id is
reused only then: a copy that starts with no files, or with files an agent of before
wrote (no ``replica-id``: their own events stay under the plain node name), or with
a ``replica-id`` beside no state, takes a fresh one. A fresh id is always safe: the
state it starts from (recovered or pulled from peers) is joined with, never
overwritten by, its new events.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from statecast.agent.errors import PersistenceError
from statecast.core.crdt.replica_id import is_replica_id, new_replica_id

__all__ = ["REPLICA_ID", "forget_replica_id", "replica_id"]

#: The file, in a replica directory, that names the copy's replica id.
REPLICA_ID = "replica-id"

#: Files that hold a copy's state (its log and snapshot, either format).
_STATE_FILES = ("snapshot.bin", "log-*.bin", "snapshot.json", "wal-*.log")


def _token() -> str:
    return secrets.token_hex(6)


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


def replica_id(directory: Path, node: str, token: Callable[[], str] = _token) -> str:
    """The replica id of the copy in ``directory`` on ``node``; a fresh one is written.

    Raises:
        PersistenceError: A fresh id could not be written (the copy must not start).
    """
    path = directory / REPLICA_ID
    with contextlib.suppress(OSError, UnicodeDecodeError):
        recorded = path.read_text().strip()
        # only an incarnation id is ever recorded; the files must be beside it
        if recorded != node and is_replica_id(recorded, node) and _holds_state(directory):
            return recorded
    fresh = new_replica_id(node, token())
    try:
        _write(directory, fresh)
    except OSError as err:
        raise PersistenceError(f"cannot record the replica id in {directory}: {err}") from err
    return fresh


def forget_replica_id(directory: Path) -> None:
    """Delete ``directory``'s replica id: the first step of deleting a copy's files."""
    with contextlib.suppress(FileNotFoundError):
        (directory / REPLICA_ID).unlink()
