"""The resource models: defaults, bounds, cross-field rules, samples."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from statecast.api.replica import Replica, ReplicaSpec
from statecast.api.shared_resource import LabelSelector, SharedResource, SharedResourceSpec
from statecast.api.units import (
    format_duration,
    parse_duration,
    parse_quantity,
    parse_quantity_fraction,
)

SAMPLES = sorted((Path(__file__).parents[2] / "manifests" / "samples").glob("*.yaml"))


def test_defaults_follow_the_design() -> None:
    spec = SharedResourceSpec()
    assert spec.consistency == "eventual"
    assert spec.merge == "lww"
    assert spec.replicas.min == 2
    assert spec.replicas.max is None
    assert spec.placement.spread_across == "topology.kubernetes.io/zone"
    assert spec.prediction.interval == "1m"
    assert spec.prediction.horizon == "15m"
    assert spec.prediction.level == 0.9
    assert spec.replication.policy == "predictive"
    assert spec.replication.tuning.enabled is True
    assert spec.replication.tuning.target_local_hit_ratio is None
    assert spec.replication.tuning.window == "1h"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"consistency": "linearizable"}, "consistency"),
        ({"replicas": {"min": 3, "max": 2}}, "replicas.min must be less than or equal"),
        ({"replicas": {"min": -1}}, "greater than or equal to 1"),
        ({"replicas": {"min": 0}}, "greater than or equal to 1"),
        ({"consistency": "strong", "merge": "multi-value"}, "multi-value needs consistency"),
        ({"prediction": {"interval": "5m", "horizon": "1m"}}, "horizon must be at least"),
        ({"prediction": {"interval": "soon"}}, "String should match pattern"),
        ({"prediction": {"interval": "0s"}}, "must be more than 0"),
        ({"prediction": {"interval": "0m0.0s", "horizon": "1m"}}, "must be more than 0"),
        ({"prediction": {"seasonality": ["0d"]}}, "must be more than 0"),
        ({"prediction": {"level": 1.0}}, "less than 1"),
        ({"placement": {"maxBytesPerNode": "lots"}}, "invalid quantity"),
        ({"placement": {"maxBytesPerNode": -5}}, "must not be negative"),
        ({"source": {"inline": {"a": 1}, "configMapRef": {"name": "x"}}}, "at most one of"),
        ({"replication": {"thresholds": {"confidence": 1.5}}}, "less than or equal to 1"),
        ({"unknownField": 1}, "Extra inputs are not permitted"),
        ({"replication": {"tuning": {"targetLocalHitRatio": 0}}}, "greater than 0"),
        ({"replication": {"tuning": {"targetLocalHitRatio": 1.2}}}, "less than or equal to 1"),
        ({"replication": {"tuning": {"window": "30s"}}}, "window must be at least 1m"),
        ({"replication": {"tuning": {"window": "hourly"}}}, "String should match pattern"),
    ],
)
def test_invalid_specs_are_rejected_with_a_reason(spec: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        SharedResourceSpec.model_validate(spec)


def test_spec_round_trips_through_the_kubernetes_shape() -> None:
    spec = SharedResourceSpec.model_validate(
        {"replicas": {"min": 3, "max": 5}, "placement": {"maxBytesPerNode": "512Mi"}}
    )
    dumped = spec.to_k8s()
    assert dumped["replicas"] == {"min": 3, "max": 5}
    assert dumped["placement"]["maxBytesPerNode"] == "512Mi"
    assert SharedResourceSpec.model_validate(dumped) == spec


def test_replica_spec_requires_resource_and_node() -> None:
    with pytest.raises(ValidationError, match="nodeName"):
        ReplicaSpec.model_validate({"resource": "flags"})
    spec = ReplicaSpec.model_validate({"resource": "flags", "nodeName": "node-1"})
    assert (spec.role, spec.reason, spec.sync_mode, spec.epoch) == ("peer", "minimum", "auto", 0)


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_samples_validate_against_the_models(path: Path) -> None:
    for doc in yaml.safe_load_all(path.read_text()):
        model = {"SharedResource": SharedResource, "Replica": Replica}[doc["kind"]]
        model.model_validate(doc)


def test_there_are_samples() -> None:
    assert len(SAMPLES) >= 3


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("5m", timedelta(minutes=5)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1d", timedelta(days=1)),
        ("250ms", timedelta(milliseconds=250)),
        ("1.5h", timedelta(minutes=90)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "5", "m5", "5 m", "-5m", "5w"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    "value", [timedelta(seconds=30), timedelta(hours=1, minutes=5), timedelta(0)]
)
def test_format_duration_round_trips(value: timedelta) -> None:
    assert parse_duration(format_duration(value)) == value


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1000, 1000),
        ("1000", 1000),
        ("1Ki", 1024),
        ("512Mi", 512 * 2**20),
        ("1G", 10**9),
        ("1.5Gi", 3 * 2**29),
    ],
)
def test_parse_quantity(value: int | str, expected: int) -> None:
    assert parse_quantity(value) == expected


@pytest.mark.parametrize("value", ["1 Gi", "Gi", "-1", "1GB", True, -1])
def test_parse_quantity_rejects(value: int | str) -> None:
    with pytest.raises(ValueError, match="invalid quantity"):
        parse_quantity(value)
    with pytest.raises(ValueError, match="invalid quantity"):
        parse_quantity_fraction(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1024, 1024.0), ("20253369.333333332", 20253369.333333332), ("1.5Ki", 1536.0), ("0.5", 0.5)],
)
def test_a_quantity_that_scales_a_price_keeps_its_fraction(
    value: int | str, expected: float
) -> None:
    assert parse_quantity_fraction(value) == expected
    assert parse_quantity(value) == int(expected)


@pytest.mark.parametrize(
    ("selector", "labels", "selected"),
    [
        ({}, {"app": "web"}, True),  # an empty selector selects everything
        ({"matchLabels": {"app": "web"}}, {"app": "web", "tier": "1"}, True),
        ({"matchLabels": {"app": "web"}}, {"app": "api"}, False),
        ({"matchExpressions": [{"key": "app", "operator": "In", "values": ["web", "api"]}]},
         {"app": "api"}, True),
        ({"matchExpressions": [{"key": "app", "operator": "In", "values": ["web"]}]}, {}, False),
        ({"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["web"]}]}, {}, True),
        ({"matchExpressions": [{"key": "canary", "operator": "Exists"}]}, {"canary": ""}, True),
        ({"matchExpressions": [{"key": "canary", "operator": "DoesNotExist"}]},
         {"canary": "y"}, False),
        ({"matchLabels": {"app": "web"},
          "matchExpressions": [{"key": "canary", "operator": "DoesNotExist"}]},
         {"app": "web", "canary": "y"}, False),
    ],
)  # fmt: skip
def test_label_selector_follows_kubernetes_semantics(
    selector: dict[str, object], labels: dict[str, str], selected: bool
) -> None:
    assert LabelSelector.model_validate(selector).matches(labels) is selected
