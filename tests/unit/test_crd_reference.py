"""docs/reference/crds.md: generated from the models, in step with them."""

from __future__ import annotations

from pathlib import Path

import pytest

from statecast.api.crdref import PATH, render_reference
from statecast.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_the_checked_in_reference_is_the_generated_one() -> None:
    assert (ROOT / PATH).read_text() == render_reference(), (
        f"{PATH} drifted from statecast.api: run `statecast crds`"
    )


def test_every_field_has_a_row_with_its_checks_and_defaults() -> None:
    text = render_reference()
    assert (
        "| `spec.replicas.min` | integer | `2` | >= 1; <= 1000 | Durability floor: never fewer"
        in text
    )
    assert "| `spec.replicas.max` | integer |  | >= 1; <= 1000 |" in text
    assert '| `spec.placement.tolerations[].effect` | string | `""` | one of `""`, ' in text
    assert "| `spec.nodeName` (required) | string |" in text  # the Replica's
    assert "| `status.conditions[].type` (required) | string |" in text
    assert "- `spec.replicas`: replicas.min must be less than or equal to replicas.max" in text


def test_crds_check_fails_when_the_reference_drifted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    stale = tmp_path / "crds.md"
    stale.write_text("old\n")
    assert main(["crds", "--check", "--reference", str(stale)]) == 1
    stale.write_text(render_reference())
    assert main(["crds", "--check", "--reference", str(stale)]) == 0
