"""The generated CRDs: structural, complete, and in step with the models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from statecast.api.crdgen import RESOURCES, crd, file_name, render
from statecast.cli import main

CRDS = Path(__file__).parents[2] / "crds"


def _walk(schema: dict[str, Any], path: str = "") -> list[tuple[str, dict[str, Any]]]:
    nodes = [(path, schema)]
    for name, prop in schema.get("properties", {}).items():
        nodes += _walk(prop, f"{path}.{name}")
    if isinstance(schema.get("items"), dict):
        nodes += _walk(schema["items"], f"{path}[]")
    if isinstance(schema.get("additionalProperties"), dict):
        nodes += _walk(schema["additionalProperties"], f"{path}{{}}")
    return nodes


@pytest.mark.parametrize("model", RESOURCES, ids=lambda m: m.kind)
def test_checked_in_crds_match_the_models(model: Any) -> None:
    path = CRDS / file_name(model)
    assert path.exists(), f"{path} missing: run `statecast crds`"
    assert path.read_text() == render(model), (
        f"{path} drifted from the models: run `statecast crds`"
    )


@pytest.mark.parametrize("model", RESOURCES, ids=lambda m: m.kind)
def test_schema_is_structural(model: Any) -> None:
    schema = crd(model)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    for path, node in _walk(schema):
        assert "$ref" not in node, path
        assert "$defs" not in node, path
        assert "anyOf" not in node or node.get("x-kubernetes-int-or-string"), path
        assert "title" not in node, path
        assert (
            "type" in node
            or node.get("x-kubernetes-preserve-unknown-fields")
            or node.get("x-kubernetes-int-or-string")
        ), path
        assert not ("properties" in node and "additionalProperties" in node), path
        for key in ("exclusiveMaximum", "exclusiveMinimum"):
            assert key not in node or isinstance(node[key], bool), path


def test_shared_resource_crd_has_the_designed_shape() -> None:
    doc = crd(RESOURCES[0])
    version = doc["spec"]["versions"][0]
    assert doc["metadata"]["name"] == "sharedresources.statecast.io"
    assert doc["spec"]["names"]["shortNames"] == ["sr"]
    assert version["subresources"] == {"status": {}}
    columns = [c["name"] for c in version["additionalPrinterColumns"]]
    assert columns[:4] == ["Consistency", "Ready", "Hit%", "Leader"] and columns[-1] == "Age"
    spec = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
    assert spec["properties"]["consistency"]["enum"] == ["eventual", "strong"]
    replicas = spec["properties"]["replicas"]
    assert replicas["properties"]["min"]["minimum"] == 1
    assert replicas["default"] == {}
    assert (
        replicas["x-kubernetes-validations"][0]["rule"] == "!has(self.max) || self.min <= self.max"
    )
    assert spec["properties"]["placement"]["properties"]["maxBytesPerNode"][
        "x-kubernetes-int-or-string"
    ]
    # field docstrings become descriptions
    assert "Durability floor" in replicas["properties"]["min"]["description"]


def test_replica_crd_has_selectable_node_field() -> None:
    version = crd(RESOURCES[1])["spec"]["versions"][0]
    assert {"jsonPath": ".spec.nodeName"} in version["selectableFields"]
    phase = version["schema"]["openAPIV3Schema"]["properties"]["status"]["properties"]["phase"]
    assert phase["enum"] == ["Pending", "Syncing", "Ready", "Stale", "Lost", "Draining"]


def test_crds_command_writes_and_checks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["crds", "--output-dir", str(tmp_path), "--check"]) == 1
    assert "out of date" in capsys.readouterr().err
    assert main(["crds", "--output-dir", str(tmp_path)]) == 0
    assert main(["crds", "--output-dir", str(tmp_path), "--check"]) == 0
    for model in RESOURCES:
        assert yaml.safe_load((tmp_path / file_name(model)).read_text())["kind"] == (
            "CustomResourceDefinition"
        )


def _rules_of(schema: dict[str, Any]) -> list[str]:
    return [rule["rule"] for rule in schema.get("x-kubernetes-validations", [])]


@pytest.mark.parametrize(
    ("field", "rules"),
    [
        ("copyWeight", ["self >= 0.001"]),  # fractional minimum: repeated as a rule
        ("holdWeight", ["self >= 1e-10"]),
        ("costWeight", ["self >= 1e-06"]),
        ("everywhereCopyDays", []),  # whole bounds: the server's own check is exact
        ("moveRatio", []),
    ],
)
def test_a_fractional_bound_is_repeated_as_a_rule_an_integer_cannot_pass(
    field: str, rules: list[str]
) -> None:
    # The API server checks an integer value against bounds cut to integers: without the
    # rule, costWeight: 0 passed its minimum of 1e-06 (test_crds_api).
    schema = crd(RESOURCES[0])["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    planner = schema["properties"]["spec"]["properties"]["replication"]["properties"]["planner"]
    assert _rules_of(planner["properties"][field]) == rules
