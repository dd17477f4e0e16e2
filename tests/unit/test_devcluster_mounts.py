"""The mount points ``down --purge`` unmounts before deleting a cluster's state."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from statecast.devcluster import mounts
from statecast.devcluster.cluster import DevCluster
from statecast.devcluster.mounts import mounts_under

TABLE = """\
/dev/vda / ext4 rw,relatime 0 0
tmpfs /root/.statecast/dev/workers/node-1-tmpfs tmpfs rw,size=1024k 0 0
tmpfs /root/.statecast/dev/workers/node-1-tmpfs/inner tmpfs rw 0 0
tmpfs /root/.statecast/dev tmpfs rw 0 0
tmpfs /root/.statecast/dev2/x tmpfs rw 0 0
tmpfs /root/.statecast/dev/with\\040space tmpfs rw 0 0
"""


@pytest.mark.parametrize(
    ("root", "expected"),
    [
        (
            "/root/.statecast/dev",
            [
                "/root/.statecast/dev/workers/node-1-tmpfs/inner",
                "/root/.statecast/dev/workers/node-1-tmpfs",
                "/root/.statecast/dev/with space",
            ],
        ),
        ("/root/.statecast/dev2", ["/root/.statecast/dev2/x"]),  # not dev's sibling "dev2"
        ("/srv", []),
    ],
)
def test_mounts_strictly_inside_the_root_deepest_first(root: str, expected: list[str]) -> None:
    found = mounts_under(TABLE, Path(root))
    assert found[0] == Path(expected[0]) if expected else found == []
    assert sorted(found) == sorted(Path(p) for p in expected)
    depths = [len(p.parts) for p in found]
    assert depths == sorted(depths, reverse=True)


def test_unmount_under_unmounts_each_point_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = tmp_path / "mounts"
    table.write_text(f"tmpfs {tmp_path}/state/a tmpfs rw 0 0\ntmpfs /elsewhere tmpfs rw 0 0\n")
    monkeypatch.setattr(mounts, "MOUNT_TABLE", table)
    ran: list[list[str]] = []
    monkeypatch.setattr(subprocess, "run", lambda args, **_: ran.append(args))
    assert mounts.unmount_under(tmp_path / "state") == [tmp_path / "state" / "a"]
    assert ran == [["umount", "-l", str(tmp_path / "state" / "a")]]


def test_without_a_mount_table_nothing_is_unmounted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mounts, "MOUNT_TABLE", tmp_path / "absent")
    assert mounts.unmount_under(tmp_path) == []


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="mounts need root")
def test_down_purge_removes_a_state_dir_with_a_tmpfs_mounted_in_it(tmp_path: Path) -> None:
    cluster = DevCluster("left", home=tmp_path)
    point = cluster.state_dir / "workers-tmpfs"
    point.mkdir(parents=True)
    mount = ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(point)]
    mounted = subprocess.run(mount, capture_output=True, check=False)
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    (point / "data").write_text("x")
    try:
        cluster.down(purge=True)
        assert not cluster.state_dir.exists()
    finally:
        subprocess.run(["umount", "-l", str(point)], capture_output=True, check=False)
