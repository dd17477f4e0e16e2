"""The generated CRDs on a real API server: accepted, defaulting, rejecting bad input."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

GROUP, VERSION = "statecast.io", "v1alpha1"
Kubectl = Callable[..., subprocess.CompletedProcess[str]]


def shared_resource(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "SharedResource",
        "metadata": {"name": name},
        "spec": spec,
    }


def test_crds_are_established(kubectl: Kubectl, crds: None) -> None:
    out = kubectl(
        "get",
        "crd",
        "sharedresources.statecast.io",
        "replicas.statecast.io",
        "-o",
        "jsonpath={range .items[*]}{.metadata.name}="
        "{.status.conditions[?(@.type=='Established')].status} {end}",
    ).stdout
    assert "sharedresources.statecast.io=True" in out
    assert "replicas.statecast.io=True" in out


def test_api_server_fills_defaults(api_client: client.ApiClient, namespace: str) -> None:
    custom = client.CustomObjectsApi(api_client)
    created = custom.create_namespaced_custom_object(
        GROUP, VERSION, namespace, "sharedresources", shared_resource("flags", {})
    )
    spec = created["spec"]
    assert spec["consistency"] == "eventual"
    assert spec["merge"] == "lww"
    assert spec["replicas"] == {"min": 2}
    assert spec["prediction"]["horizon"] == "15m"
    assert spec["replication"]["policy"] == "predictive"
    assert spec["replication"]["tuning"] == {"enabled": True, "window": "1h"}
    assert spec["replication"]["planner"] == {
        "copyWeight": 1,
        "trimInReactiveOrder": False,
        "fillInReactiveOrder": False,
        "releasePodCopies": False,
        "cooldownFromRead": False,
        "everywhereCopyDays": 0,
        "floorInZoneOrder": False,
        "holdWeight": 1,
        "costWeight": 1,
        "valueLocalHits": False,
        "bytePricesOnly": False,
        "handOffOnAdd": True,
        "changeSteps": 3,
        "movePersistence": "0s",
        "floorWindow": "0s",
        "floorObservedOnly": False,
        "moveRatio": 0,
        "copyFloor": False,
        "holdGraceSlots": True,
        "everywhereMinBytes": 0,
        "swapInReactiveOrder": False,
        "backgroundReadsPerHour": 0,
    }


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"consistency": "linearizable"}, 'spec.consistency: Unsupported value: "linearizable"'),
        (
            {"replicas": {"min": 3, "max": 2}},
            "replicas.min must be less than or equal to replicas.max",
        ),
        (
            {"replicas": {"min": -1}},
            "spec.replicas.min: Invalid value: -1: "
            "spec.replicas.min in body should be greater than or equal to 1",
        ),
        ({"placement": {"maxBytesPerNode": -5}}, "spec.placement.maxBytesPerNode"),
        (
            {"replication": {"budget": {"bytesStored": "lots"}}},
            "spec.replication.budget.bytesStored",
        ),
        (
            {"prediction": {"interval": "5m", "horizon": "1m"}},
            "prediction.horizon must be at least prediction.interval",
        ),
        ({"prediction": {"level": 1.5}}, "spec.prediction.level"),
        (
            {"consistency": "strong", "merge": "multi-value"},
            "merge multi-value needs consistency eventual",
        ),
        (
            {"source": {"inline": {"a": 1}, "configMapRef": {"name": "x"}}},
            "source takes at most one of",
        ),
        (
            {"replication": {"tuning": {"targetLocalHitRatio": 0}}},
            "spec.replication.tuning.targetLocalHitRatio: Invalid value: 0",
        ),
        (
            {"replication": {"tuning": {"targetLocalHitRatio": 1.5}}},
            "spec.replication.tuning.targetLocalHitRatio: Invalid value: 1.5",
        ),
        (
            {"replication": {"tuning": {"window": "30s"}}},
            "replication.tuning.window must be at least 1m",
        ),
        (
            {"replication": {"planner": {"copyWeight": 0.0005}}},
            "spec.replication.planner.copyWeight: Invalid value: 0.0005",
        ),
        (
            {"replication": {"planner": {"trimInReactiveOrder": "yes"}}},
            "spec.replication.planner.trimInReactiveOrder: Invalid value",
        ),
        (
            {"replication": {"planner": {"everywhereCopyDays": -1}}},
            "spec.replication.planner.everywhereCopyDays: Invalid value: -1",
        ),
        (
            {"replication": {"planner": {"everywhereMinBytes": -1}}},
            "spec.replication.planner.everywhereMinBytes: Invalid value: -1",
        ),
        (
            {"replication": {"planner": {"backgroundReadsPerHour": -1}}},
            "spec.replication.planner.backgroundReadsPerHour: Invalid value: -1",
        ),
        (
            {"replication": {"planner": {"holdWeight": -1}}},
            "spec.replication.planner.holdWeight: Invalid value: -1",
        ),
        (  # an integer below a fractional minimum (the server cuts bounds to integers)
            {"replication": {"planner": {"costWeight": 0}}},
            "spec.replication.planner.costWeight: Invalid value: 0: must be >= 1e-06",
        ),
        (
            {"replication": {"planner": {"holdWeight": 0}}},
            "spec.replication.planner.holdWeight: Invalid value: 0: must be >= 1e-10",
        ),
        (
            {"replication": {"planner": {"costWeight": 2000000}}},
            "spec.replication.planner.costWeight: Invalid value: 2000000",
        ),
        (
            {"replication": {"planner": {"changeSteps": -1}}},
            "spec.replication.planner.changeSteps: Invalid value: -1",
        ),
        (
            {"replication": {"planner": {"moveRatio": -0.5}}},
            "spec.replication.planner.moveRatio: Invalid value: -0.5",
        ),
        (
            {"replication": {"planner": {"zoneFloor": 0}}},
            "spec.replication.planner.zoneFloor: Invalid value: 0",
        ),
        (
            {"replication": {"planner": {"floorWindow": "an hour"}}},
            "spec.replication.planner.floorWindow: Invalid value",
        ),
        (
            {"replication": {"planner": {"holdPerReplica": "lots"}}},
            "spec.replication.planner.holdPerReplica",
        ),
        (
            {"replication": {"heat": {"window": "30s"}}},
            "replication.heat.window must be between 1m and 24h",
        ),
        (
            {"replication": {"heat": {"kSigma": 11}}},
            "spec.replication.heat.kSigma: Invalid value: 11",
        ),
    ],
)
def test_invalid_objects_are_rejected_with_a_clear_message(
    api_client: client.ApiClient, namespace: str, spec: dict[str, Any], message: str
) -> None:
    custom = client.CustomObjectsApi(api_client)
    with pytest.raises(ApiException) as err:
        custom.create_namespaced_custom_object(
            GROUP, VERSION, namespace, "sharedresources", shared_resource("bad", spec)
        )
    assert err.value.status == 422
    assert message in json.loads(err.value.body)["message"]


@pytest.mark.parametrize(
    ("spec", "field", "says"),
    [
        # a zero interval divided the operator's clock by zero (issue 19, item 4)
        ({"prediction": {"interval": "0s"}}, "spec.prediction.interval", "must be more than 0"),
        ({"prediction": {"interval": "0m0.0s", "horizon": "1m"}}, "spec.prediction.interval",
         "must be more than 0"),
        ({"prediction": {"interval": "1s", "horizon": "0s"}}, "spec.prediction.horizon",
         "must be more than 0"),
        # a malformed duration: the pattern's message only, not a CEL type conversion error
        ({"prediction": {"interval": "5x"}}, "spec.prediction.interval", "should match"),
        ({"prediction": {"horizon": "soon"}}, "spec.prediction.horizon", "should match"),
        ({"replication": {"tuning": {"window": "1 hour"}}}, "spec.replication.tuning.window",
         "should match"),
    ],
)  # fmt: skip
def test_a_zero_or_malformed_duration_gets_one_clear_message(
    api_client: client.ApiClient, namespace: str, spec: dict[str, Any], field: str, says: str
) -> None:
    custom = client.CustomObjectsApi(api_client)
    with pytest.raises(ApiException) as err:
        custom.create_namespaced_custom_object(
            GROUP, VERSION, namespace, "sharedresources", shared_resource("bad", spec)
        )
    assert err.value.status == 422
    causes = json.loads(err.value.body)["details"]["causes"]
    assert [c["field"] for c in causes] == [field], causes
    assert says in causes[0]["message"]
    assert "conversion" not in json.loads(err.value.body)["message"]


def test_durations_in_days_are_accepted(api_client: client.ApiClient, namespace: str) -> None:
    custom = client.CustomObjectsApi(api_client)
    spec = {"prediction": {"interval": "5m", "horizon": "1d", "seasonality": ["1d", "7d"]}}
    created = custom.create_namespaced_custom_object(
        GROUP, VERSION, namespace, "sharedresources", shared_resource("daily", spec)
    )
    assert created["spec"]["prediction"]["horizon"] == "1d"


def test_replica_requires_node_and_known_phase(
    api_client: client.ApiClient, namespace: str
) -> None:
    custom = client.CustomObjectsApi(api_client)
    with pytest.raises(ApiException) as err:
        custom.create_namespaced_custom_object(
            GROUP,
            VERSION,
            namespace,
            "replicas",
            {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": "Replica",
                "metadata": {"name": "r"},
                "spec": {"resource": "flags", "role": "king"},
            },
        )
    assert err.value.status == 422
    text = json.loads(err.value.body)["message"]
    assert "spec.nodeName: Required value" in text
    assert 'spec.role: Unsupported value: "king"' in text


def test_samples_are_accepted(kubectl: Kubectl, namespace: str) -> None:
    from pathlib import Path

    samples = Path(__file__).parents[2] / "manifests" / "samples"
    kubectl("apply", "--server-side", "-n", namespace, "-f", str(samples))
    names = kubectl("get", "sr", "-n", namespace, "-o", "name").stdout.split()
    assert len(names) == len(list(samples.glob("*.yaml")))


def test_the_tuning_guides_examples_are_accepted(
    api_client: client.ApiClient, namespace: str
) -> None:
    """Every YAML block of docs/tuning.md is a SharedResource the API server takes as is."""
    import re
    from pathlib import Path

    import yaml

    guide = (Path(__file__).parents[2] / "docs" / "tuning.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", guide, flags=re.DOTALL)
    assert blocks
    custom = client.CustomObjectsApi(api_client)
    for i, block in enumerate(blocks):
        manifest = {**yaml.safe_load(block), "metadata": {"name": f"guide-{i}"}}
        created = custom.create_namespaced_custom_object(
            GROUP, VERSION, namespace, "sharedresources", manifest
        )
        planner = created["spec"]["replication"]["planner"]
        assert planner.items() >= manifest["spec"]["replication"]["planner"].items()


@pytest.mark.parametrize(
    "replication",
    [
        {"policy": "reactive", "planner": {"copyWeight": 16}},
        {"policy": "static", "heat": {"kSigma": 2}, "tuning": {"targetLocalHitRatio": 0.9}},
        {"planner": {"everywhereMinBytes": 1024, "floorObservedOnly": True}},
        {"planner": {"bytePricesOnly": True, "copyFloor": True, "fillInReactiveOrder": True}},
    ],
)
def test_settings_that_do_nothing_are_accepted(
    api_client: client.ApiClient, namespace: str, replication: dict[str, Any]
) -> None:
    """Not refused: the operator reports them (ForecastReady, SettingsIgnored), loses nothing."""
    custom = client.CustomObjectsApi(api_client)
    created = custom.create_namespaced_custom_object(
        GROUP,
        VERSION,
        namespace,
        "sharedresources",
        shared_resource("noop", {"replication": replication}),
    )
    assert created["spec"]["replication"]["policy"] == replication.get("policy", "predictive")
