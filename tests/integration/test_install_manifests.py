"""The rendered install manifests against the real API server."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import yaml

INSTALL = Path(__file__).parents[2] / "manifests" / "install"
Kubectl = Callable[..., subprocess.CompletedProcess[str]]


def test_every_rendered_object_is_accepted_by_the_api_server(kubectl: Kubectl, crds: None) -> None:
    objects = [d for d in yaml.safe_load_all((INSTALL / "statecast.yaml").read_text()) if d]
    kinds = {d["kind"] for d in objects}
    assert {"Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding",
            "ClusterKopfPeering", "Deployment", "DaemonSet"} <= kinds  # fmt: skip
    namespace = next(d["metadata"]["name"] for d in objects if d["kind"] == "Namespace")
    kubectl("create", "namespace", namespace, check=False)
    result = kubectl(
        "apply", "--server-side", "--dry-run=server", "--field-manager=statecast-tests",
        "-f", str(INSTALL / "statecast.yaml"),
    )  # fmt: skip
    assert result.stdout.count("(server dry run)") == len(objects)


def test_rendered_crds_are_the_generated_ones() -> None:
    rendered = {
        d["metadata"]["name"]: d
        for d in yaml.safe_load_all((INSTALL / "crds.yaml").read_text())
        if d
    }
    crds = Path(__file__).parents[2] / "crds"
    for path in crds.glob("*.yaml"):
        generated = yaml.safe_load(path.read_text())
        assert rendered[generated["metadata"]["name"]] == generated
    assert "clusterkopfpeerings.kopf.dev" in rendered
