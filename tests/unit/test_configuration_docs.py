"""docs/configuration.md and statecast.environment against the code they describe."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from statecast.cli import main
from statecast.commands.docs import PATH, table, updated
from statecast.environment import ENVIRONMENT

ROOT = Path(__file__).resolve().parents[2]
#: A variable read from the environment: os.environ.get("X"), os.environ["X"], env.get("X").
READ = re.compile(r"""(?:environ|env)(?:\.get\(|\.pop\(|\[)\s*['"]([A-Z][A-Z0-9_]+)['"]""")
NAMED = re.compile(r"\bSTATECAST_[A-Z0-9_]+\b")
#: Set by statecast for others, never read by it.
SET_ONLY = {"PYTHONUNBUFFERED", "CGO_ENABLED", "GOFLAGS", "POD_ID"}


def read_in(paths: list[Path]) -> set[str]:
    found: set[str] = set()
    for path in paths:
        text = path.read_text()
        found |= set(READ.findall(text))
        found |= {n for n in NAMED.findall(text) if not n.endswith("_")}
    return found


def test_the_checked_in_table_is_current() -> None:
    current = (ROOT / PATH).read_text()
    assert updated(current) == current, f"{PATH} is out of date: run `statecast docs`"


def test_every_environment_variable_statecast_reads_is_listed() -> None:
    code = read_in(list((ROOT / "operator" / "statecast").rglob("*.py")))
    tests = read_in(list((ROOT / "tests").rglob("*.py")))
    listed = {v.name for v in ENVIRONMENT}
    missing = sorted((code | {n for n in tests if n.startswith("STATECAST_")}) - listed - SET_ONLY)
    assert not missing, f"add these to statecast/environment.py: {missing}"


def test_every_listed_variable_is_read_somewhere() -> None:
    everything = read_in(list((ROOT / "operator" / "statecast").rglob("*.py")))
    everything |= read_in(list((ROOT / "tests").rglob("*.py")))
    # The kubernetes client reads KUBECONFIG itself; the table says so.
    unread = sorted({v.name for v in ENVIRONMENT} - everything - {"KUBECONFIG"})
    assert not unread, f"listed in statecast/environment.py but read nowhere: {unread}"


def test_every_flag_of_the_operator_agent_and_plugin_has_a_row() -> None:
    text = table()
    for program, flag in [
        ("statecast operator", "--readiness"),
        ("statecast operator", "--metrics-port"),
        ("statecast agent", "--lease-seconds"),
        ("statecast agent", "--fsync"),
        ("kubectl statecast", "-o, --output"),
        ("kubectl statecast forecast", "--plot"),
    ]:
        assert re.search(rf"\| `{program}` \| `{re.escape(flag)}[ `]", text), (program, flag)
    assert "| `statecast agent` | `--node NODE` | `NODE_NAME` |" in text


def test_defaults_are_the_codes_not_the_shells(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STATECAST_LISTEN", "10.9.9.9:1")
    assert (
        "| `statecast agent` | `--listen LISTEN` | `STATECAST_LISTEN` | `0.0.0.0:7420` |" in table()
    )


def test_docs_check_fails_on_a_stale_table(tmp_path: Path) -> None:
    stale = tmp_path / "configuration.md"
    stale.write_text("# Configuration\n")
    assert main(["docs", "--check", "--path", str(stale)]) == 1
    assert main(["docs", "--path", str(stale)]) == 0
    assert main(["docs", "--check", "--path", str(stale)]) == 0


def test_every_chart_value_is_documented_in_the_install_guide() -> None:
    values = yaml.safe_load((ROOT / "manifests/chart/statecast/values.yaml").read_text())

    guide = (ROOT / "docs" / "install.md").read_text()

    def undocumented(node: object, key: str) -> list[str]:
        """``key`` if neither it nor (for a map) each of its children is documented."""
        if key and f"`{key}`" in guide:
            return []
        if isinstance(node, dict) and node:
            return [m for k, v in node.items() for m in undocumented(v, f"{key}.{k}".strip("."))]
        return [key]

    missing = undocumented(values, "")
    assert not missing, f"docs/install.md does not document: {missing}"
