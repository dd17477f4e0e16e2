"""The ``statecast`` command: one entry point that lists every subcommand."""

from __future__ import annotations

import subprocess
import sys

import pytest

from statecast.cli import COMMANDS, main


def test_help_lists_every_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert name in out


def test_no_command_prints_help_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().out


def test_unknown_command_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["teleport"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'teleport'" in capsys.readouterr().err


def test_running_a_command_imports_only_that_command() -> None:
    code = (
        "import sys; from statecast.cli import main; main(['crds', '--check']); "
        "print('statsmodels' in sys.modules, 'kopf' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False False"
