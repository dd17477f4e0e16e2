"""kopf's diff base is not built: no handler of the operator reads it (a deep copy per event)."""

from __future__ import annotations

import copy
from typing import Any

import kopf
import pytest

from statecast.api.types import GROUP, VERSION
from statecast.controller import handlers, readiness
from statecast.controller.kopf_diffbase import UnbuiltDiffBase


def _replica() -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Replica",
        "metadata": {"name": "res-node-1", "namespace": "ns", "labels": {"a": "b"}},
        "spec": {"resource": "res", "node": "node-1", "reason": "minimum"},
        "status": {"phase": "Ready"},
    }


def test_the_operator_builds_kopfs_diff_base_of_no_event(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = kopf.OperatorSettings()
    handlers.configure(settings=settings, memo=kopf.Memo())
    storage = settings.persistence.diffbase_storage
    copies: list[object] = []
    real = copy.deepcopy

    def counted(value: Any, memo: Any = None) -> Any:
        copies.append(value)
        return real(value, memo)

    monkeypatch.setattr(copy, "deepcopy", counted)
    # before: kopf's AnnotationsDiffBaseStorage copied the whole body for every event
    assert storage.build(body=kopf.Body(_replica())) == {}
    assert copies == []
    # still kopf's annotations under the operator's prefix, should a handler store one
    assert isinstance(storage, kopf.AnnotationsDiffBaseStorage)
    assert storage.prefix == GROUP


def test_no_handler_reads_the_diff_base() -> None:
    """What an unbuilt diff base requires: no changing handler, no idle or field timer."""
    registry = kopf.get_default_registry()
    assert handlers.configure and readiness  # both modules register into it
    assert registry._changing.get_all_handlers() == []
    for handler in registry._spawning.get_all_handlers():
        assert getattr(handler, "idle", None) is None
        assert handler.field is None
    assert isinstance(UnbuiltDiffBase(prefix=GROUP).build(body=kopf.Body(_replica())), dict)
