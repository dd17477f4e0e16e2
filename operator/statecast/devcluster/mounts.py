"""File systems mounted inside a cluster's state directory (a chaos run's tmpfs).

``down --purge`` deletes the state directory; a file system still mounted in it (a
``disk-full`` run that was interrupted leaves its tmpfs) would make that fail with
"Device or resource busy" and keep the mount forever. :func:`mounts_under` reads the
mount table (``/proc/self/mounts``) and names them, deepest first, for :func:`unmount_under`.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

__all__ = ["mounts_under", "unmount_under"]

MOUNT_TABLE = Path("/proc/self/mounts")


def _decoded(field: str) -> str:
    """A mount table path field: spaces, tabs, newlines and backslashes come octal-escaped."""
    for escaped, plain in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(escaped, plain)
    return field


def mounts_under(table: str, root: Path) -> list[Path]:
    """The mount points strictly inside ``root`` in mount-table text, deepest first."""
    found = []
    for line in table.splitlines():
        fields = line.split()
        if len(fields) < 2:
            continue
        point = Path(_decoded(fields[1]))
        if point != root and point.is_relative_to(root):
            found.append(point)
    return sorted(set(found), key=lambda p: len(p.parts), reverse=True)


def unmount_under(root: Path) -> list[Path]:
    """Unmount (lazily) every file system mounted inside ``root``; the ones it tried.

    Without a mount table (not Linux) or the right to unmount, nothing happens here and
    the deletion that follows reports the busy directory.
    """
    try:
        table = MOUNT_TABLE.read_text()
    except OSError:
        return []
    points = mounts_under(table, root.resolve())
    for point in points:
        subprocess.run(["umount", "-l", str(point)], capture_output=True, check=False)
    return points
