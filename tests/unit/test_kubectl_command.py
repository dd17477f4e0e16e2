"""The `kubectl-statecast` command line: kubectl's flags, and finding credentials."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
import yaml

from statecast.kubectl.cluster import ClusterError, connect
from statecast.kubectl.main import build_parser, main


def kubeconfig(path: Path, server: str = "https://127.0.0.1:1") -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": server}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [
                    {"name": "plain", "context": {"cluster": "c", "user": "u"}},
                    {"name": "shop", "context": {"cluster": "c", "user": "u", "namespace": "shop"}},
                ],
                "current-context": "plain",
            }
        )
    )
    return path


@pytest.mark.parametrize(
    "argv",
    [
        ["-n", "shop", "-o", "json", "status", "flags"],
        ["status", "flags", "-n", "shop", "-o", "json"],
        ["--namespace=shop", "status", "--output=json", "flags"],
    ],
)
def test_kubectls_flags_go_before_or_after_the_command(argv: list[str]) -> None:
    args = build_parser().parse_args(argv)
    assert (args.command, args.resource, args.namespace, args.output) == (
        "status",
        "flags",
        "shop",
        "json",
    )


def test_a_flag_after_the_command_wins_over_one_before() -> None:
    args = build_parser().parse_args(["-n", "a", "explain", "flags", "-n", "b"])
    assert args.namespace == "b"


def test_only_json_and_yaml_are_outputs(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["status", "-o", "wide"])
    assert "invalid choice: 'wide'" in capsys.readouterr().err


def test_forecast_takes_a_plot_file_and_a_window() -> None:
    args = build_parser().parse_args(["forecast", "flags", "--plot", "f.png", "--window", "2h"])
    assert (args.plot, args.window) == (Path("f.png"), "2h")


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "status" in capsys.readouterr().out


def test_kubeconfig_from_the_environment_and_the_contexts_namespace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig(tmp_path / "kc")))
    _, namespace = connect(None, None)
    assert namespace == "default"
    client, namespace = connect(None, "shop")
    assert namespace == "shop"
    assert client.configuration.host == "https://127.0.0.1:1"


def test_kubeconfig_flag_wins_over_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    client, _ = connect(str(kubeconfig(tmp_path / "kc", "https://10.0.0.9:6443")), None)
    assert client.configuration.host == "https://10.0.0.9:6443"


def test_a_missing_kubeconfig_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(ClusterError, match="no kubeconfig"):
        connect(None, None)
    assert main(["status"]) == 1
    assert capsys.readouterr().err.startswith("error: no kubeconfig")


def test_an_unknown_context_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ClusterError, match="cannot load kubeconfig"):
        connect(str(kubeconfig(tmp_path / "kc")), "nowhere")


def test_the_plugin_is_installed_where_kubectl_finds_it() -> None:
    found = shutil.which("kubectl-statecast", path=str(Path(sys.executable).parent))
    assert found is not None
