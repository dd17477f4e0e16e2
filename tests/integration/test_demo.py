"""``statecast demo``, shortened: every act runs on a cluster of its own, the live view
prints plain lines (the output is not a terminal), and the summary, the picture and the
numbers come out. Two 12-second days are too few for the forecast to learn the day, so this
checks the machinery, not the prediction (make demo shows it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from statecast.devcluster import DevCluster

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_a_short_demo_runs_every_act_and_reports(tmp_path: Path) -> None:
    picture, numbers = tmp_path / "demo.png", tmp_path / "demo.json"
    cluster = f"statecast-demo-test-{os.getpid()}"
    try:
        result = _short_demo(cluster, picture, numbers)
    finally:
        # the demo stops its cluster but keeps its state for a look afterwards; a test's
        # is purged (a stopped cluster's directory keeps its ports on record)
        DevCluster(cluster).down(purge=True)
    out = result.stdout
    assert result.returncode == 0, out[-4000:] + result.stderr[-4000:]
    # the acts on feature-flags
    assert "the initial flags from spec.source.inline are on every replica" in out
    assert "(served remote: no local replica)" in out
    assert "the operator replaces the replica it held" in out
    assert "is bound to" in out and "consumer" in out
    # the follow-the-sun days and the summary
    assert "demand moves to zone-b" in out
    assert "  predictive (catalog) " in out and "  static (catalog-static) " in out
    assert "zone changes, a copy in the new zone: " in out
    assert "Name:           catalog\n" in out  # kubectl statecast status catalog
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    data = json.loads(numbers.read_text())
    everything = data["windows"]["all 2 days"]
    policies = {p["policy"]: p for p in everything["policies"]}
    assert set(policies) == {"predictive", "static"}
    assert policies["predictive"]["reads"] > 100 and policies["static"]["reads"] > 100
    assert len(everything["leads"]) == 5  # two days of three shifts: five changes


def _short_demo(cluster: str, picture: Path, numbers: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "statecast.cli",
            "demo",
            "--days",
            "2",
            "--day-seconds",
            "12",
            "--cluster",
            cluster,
            "--plot",
            str(picture),
            "--json",
            str(numbers),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
        check=False,
    )
