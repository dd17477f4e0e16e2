"""A small file system that fills up: what the ``disk-full`` scenario and the tests use.

A tmpfs mounted on an agent's data directory (root only), filled with a file until
``ENOSPC``, then unmounted lazily.
"""

from __future__ import annotations

import errno
import subprocess
from pathlib import Path

from statecast.chaos.target import TargetError

__all__ = ["fill_file_system", "mount_tmpfs", "unmount"]


def mount_tmpfs(path: Path, size: int) -> None:
    """Mount a tmpfs of ``size`` bytes on ``path`` (raises :class:`TargetError` if refused)."""
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise TargetError(f"cannot mount a tmpfs (needs root): {done.stderr.strip()}")


def unmount(path: Path) -> None:
    """Unmount ``path`` (lazily: nothing may hold it by then, but never hang)."""
    subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)


def fill_file_system(filler: Path) -> None:
    """Write ``filler`` until its file system is full.

    The agent's own writes may have filled it already: then the filler cannot even open,
    which is as full as it gets.
    """
    try:
        with filler.open("wb") as out:
            while True:
                out.write(b"\0" * (1 << 20))
                out.flush()
    except OSError as err:
        if err.errno != errno.ENOSPC:
            raise
