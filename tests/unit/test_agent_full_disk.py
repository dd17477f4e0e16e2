"""A write refused because its log record failed says its outcome is unknown.

Defect (session 6 noticed, session 8 fixed): an eventual resource's agent whose data
directory is full answered a PUT, DELETE or increment ``500 persistence``, which says
"not applied" (the chaos checker counted it as indeterminate anyway). But the agent
joins a write into its state before its log record is written, and a join is never
taken back: the write
stays in the state, reads there see it, and a peer's sync takes it. Now such a write
answers ``503 outcome_unknown`` (the client raises it and resends nothing), and an
agent that forwarded the write passes that answer back rather than send it to the next
replica (where it would count twice).

Real agent processes over HTTP; the victim's data directory is a small tmpfs (root
only), filled as the disk-full chaos scenario does.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from statecast.agent.launcher import LocalAgents
from statecast.client import Client, RequestError
from tests.unit._agents import FAST, REF, eventually, url
from tests.unit.test_strong_full_disk import fill

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root"),
]

FLAGS = {"namespace": "default", "name": "flags"}


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[LocalAgents]:
    """Two agents; node-0's data directory is a 2 MiB tmpfs of its own."""
    made = LocalAgents(tmp_path, 2, [FLAGS], FAST)
    disk = tmp_path / made.agents[0].node
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)],
        capture_output=True, check=False,
    )  # fmt: skip
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        made.start_all()
        yield made
    finally:
        made.stop_all()
        subprocess.run(["umount", "-l", str(disk)], capture_output=True, check=False)


def _value(url: str, key: str) -> object:
    try:
        answer = httpx.get(f"{url}/v1/default/flags/{key}", timeout=5)
    except httpx.HTTPError:
        return None
    return answer.json() if answer.status_code == 200 else None


def _until_refused(write: Callable[[], object]) -> tuple[int, RequestError]:
    """Call ``write`` until it is refused (the log's last page may hold a few records)."""
    for acknowledged in range(1000):
        try:
            write()
        except RequestError as err:
            return acknowledged, err
    raise AssertionError("a full disk never refused a write")


def test_an_increment_on_a_full_disk_is_outcome_unknown_and_may_count(processes, tmp_path):
    full, peer = processes.agents
    with Client([full.url], discover_peers=False) as client:
        assert client.increment("default", "flags", "hits") == 1
        eventually(lambda: _value(peer.url, "hits") == 1, "the peer has the first increment")
        filler = fill(tmp_path / full.node)
        more, refused = _until_refused(lambda: client.increment("default", "flags", "hits"))
        # before: 500 persistence, "not applied" - yet both copies count it below
        assert (refused.status, refused.code) == (503, "outcome_unknown")
        _, put_refused = _until_refused(lambda: client.put("default", "flags", "flag", "on"))
        assert (put_refused.status, put_refused.code) == (503, "outcome_unknown")
        filler.unlink()
    counted = 1 + more + 1  # the refused increment too
    eventually(lambda: _value(peer.url, "hits") == counted, "the peer took the refused one")
    assert _value(full.url, "hits") == counted
    eventually(lambda: _value(peer.url, "flag") == "on", "the refused put arrived too")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs at ``tmp_path/a``: the data directory of the in-process agent a."""
    disk = tmp_path / "a"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)],
        capture_output=True, check=False,
    )  # fmt: skip
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], capture_output=True, check=False)


async def test_a_forwarded_increment_refused_on_a_full_disk_goes_to_no_other_replica(
    agents, small_disk
):
    full, other, outsider = await agents("a", "b", "x")
    for holder in (full, other):
        holder.open_replica(holder.specs[REF])
    for agent in (full, other, outsider):
        agent.locations[REF] = ("a", "b")
    filler = fill(small_disk)
    try:
        async with httpx.AsyncClient(timeout=5) as http:
            for _ in range(1000):  # a's log has room for a few records on its last page
                direct = await http.post(url(full, "hits/increment"), json={"by": 1})
                if direct.status_code != 200:
                    break
            # x holds no replica: it forwards, nearest first (unmeasured: by name, a first)
            answer = await http.post(url(outsider, "hits/increment"), json={"by": 1})
    finally:
        filler.unlink()
    assert (answer.status_code, answer.json()["error"]["code"]) == (503, "outcome_unknown")
    # not sent on to b, where it would have counted twice: b made no event of its own
    assert other.stores[REF].replica not in other.stores[REF].version_vector.entries
