"""``statecast agent``: bad input exits non-zero with one line on stderr."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "statecast.cli", "agent", *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        (None, "--standalone needs --config FILE"),
        ("node: a\nlisten: nowhere\n", "listen must be HOST:PORT"),
        ("node: a\nresources:\n  - {namespace: d, name: r, merge: last}\n", "resources.0.merge"),
        ("node: a\npeers:\n  - {node: a, url: 'http://x:1'}\n", "peers must be distinct"),
        ("[not: a mapping", "not YAML line 1"),
        ("just text", "top level"),
    ],
)
def test_bad_standalone_configuration_is_one_line_on_stderr(tmp_path: Path, yaml_text, message):
    args = ["--standalone"]
    if yaml_text is not None:
        path = tmp_path / "agent.yaml"
        path.write_text(yaml_text)
        args += ["--config", str(path)]
    result = run(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_cluster_mode_needs_a_node_name():
    result = run(env={"PATH": "/usr/bin:/bin"})
    assert result.returncode == 2
    assert "NODE_NAME" in result.stderr
