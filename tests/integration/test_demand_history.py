"""The demand history's ConfigMap against the real API server: written with the operator's
own ServiceAccount, read back by a fresh keeper, garbage-collected with its resource."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from statecast.controller.gateway import KubeGateway
from statecast.controller.history_keeper import Activity, HistoryKeeper, Owner
from statecast.controller.sampling import DemandSampler
from statecast.core.demand import AgentSample
from tests.integration.conftest import create_resource, wait_for

GROUP, VERSION = "statecast.io", "v1alpha1"


def keeper_as_operator(kubeconfig: Path) -> HistoryKeeper:
    """A keeper with a sampler of its own, writing through a gateway as the operator."""
    gateway = KubeGateway(config.new_client_from_config(config_file=str(kubeconfig)))
    activity = Activity(window=60.0)
    return HistoryKeeper(DemandSampler(list, active=activity.active), gateway, activity)


def test_history_saved_by_one_operator_is_read_by_the_next_and_goes_with_its_resource(
    api_client: client.ApiClient,
    namespace: str,
    service_account_kubeconfig: Callable[[str], Path],
) -> None:
    custom, core = client.CustomObjectsApi(api_client), client.CoreV1Api(api_client)
    create_resource(custom, namespace, "flags", {"replicas": {"min": 1}})
    uid = custom.get_namespaced_custom_object(
        GROUP, VERSION, namespace, "sharedresources", "flags"
    )["metadata"]["uid"]
    owner, ref = Owner(namespace, "flags", uid), (namespace, "flags")
    operator = service_account_kubeconfig("statecast-operator")

    first = keeper_as_operator(operator)
    first.observe(owner, 60.0)  # nothing saved yet: starts empty
    rng = np.random.default_rng(11)
    totals = {"node-1": 0, "node-2": 0}
    for minute in range(1, 2 * 1440 + 1):  # two days of minutes
        for node, so_far in list(totals.items()):
            totals[node] = so_far + int(rng.poisson(30 if node == "node-1" else 3))
            counts = {(namespace, "flags", "local"): totals[node]}
            first.sampler.record(AgentSample(node, 0.0, 60.0 * minute, counts))
    assert first.save() == 1
    assert first.save() == 1, "the second save replaces the ConfigMap"

    saved = core.read_namespaced_config_map("statecast-history-flags", namespace)
    assert saved.metadata.labels["statecast.io/history"] == "demand"
    assert [(o.kind, o.name, o.uid) for o in saved.metadata.owner_references] == [
        ("SharedResource", "flags", uid)
    ]

    gateway = KubeGateway(config.new_client_from_config(config_file=str(operator)))
    assert gateway.read_history(namespace, "flags", "another-uid") is None, (
        "a ConfigMap owned by an earlier resource of the same name is not its history"
    )
    second = keeper_as_operator(operator)  # a fresh operator process
    second.observe(owner, 60.0)
    args = (ref, ["node-1", "node-2"], 60.0, 2 * 86_400.0, 2 * 1440)
    loaded = second.sampler.matrix(*args)
    np.testing.assert_allclose(loaded, first.sampler.matrix(*args), rtol=1e-6)
    assert not np.isnan(loaded[:, 1:]).any(), "two whole days came back"

    custom.delete_namespaced_custom_object(GROUP, VERSION, namespace, "sharedresources", "flags")

    def collected() -> bool:
        try:
            core.read_namespaced_config_map("statecast-history-flags", namespace)
        except ApiException as err:
            return err.status == 404
        return False

    wait_for(collected, timeout=30, what="the history ConfigMap garbage-collected")
