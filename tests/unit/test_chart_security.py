"""The install manifests (the chart rendered with its defaults) hold no cluster-wide
access to Secrets, and a NetworkPolicy guards the agents' port.

``manifests/install/statecast.yaml`` is what ``statecast manifests`` renders from the chart
(drift-checked by ``make test-integration``); the chart's other values are rendered and
dry-run against a real API server in tests/integration/test_install_manifests.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).parents[2]
OBJECTS: list[dict[str, Any]] = [
    d for d in yaml.safe_load_all((ROOT / "manifests/install/statecast.yaml").read_text()) if d
]
VALUES = yaml.safe_load((ROOT / "manifests/chart/statecast/values.yaml").read_text())


def _of(kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in OBJECTS if d["kind"] == kind}


def _reads_secrets(rule: dict[str, Any]) -> bool:
    groups, resources = rule.get("apiGroups", []), rule.get("resources", [])
    return bool({"", "*"} & set(groups)) and bool({"secrets", "*"} & set(resources))


def test_no_role_bound_cluster_wide_may_read_a_secret() -> None:
    roles = _of("ClusterRole")
    bound = [b["roleRef"]["name"] for b in _of("ClusterRoleBinding").values()]
    assert {"statecast-operator", "statecast-agent"} <= set(bound)
    for name in bound:
        assert not [r for r in roles[name]["rules"] if _reads_secrets(r)], name
    # the role a namespace binds to let the agents read its secretRef sources
    reader = roles["statecast-secret-source-reader"]["rules"]
    assert reader == [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]
    assert VALUES["agent"]["secretSources"] == []  # by default no namespace is opened


def test_no_role_grants_everything() -> None:
    for role in [*_of("ClusterRole").values(), *_of("Role").values()]:
        for rule in role.get("rules", []):
            assert "*" not in rule.get("verbs", []), role["metadata"]["name"]
            assert "*" not in rule.get("resources", []), role["metadata"]["name"]


def test_the_agents_port_is_reachable_only_as_the_network_policy_says() -> None:
    policy = _of("NetworkPolicy")["statecast-agent"]
    daemonset = _of("DaemonSet")["statecast-agent"]
    labels = daemonset["spec"]["template"]["metadata"]["labels"]
    selector = policy["spec"]["podSelector"]["matchLabels"]
    assert selector.items() <= labels.items()
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    ports = {
        p["name"]: p["containerPort"]
        for p in daemonset["spec"]["template"]["spec"]["containers"][0]["ports"]
    }
    agents_and_operator, clients = policy["spec"]["ingress"]
    assert [p["port"] for p in clients["ports"]] == [ports["http"]]  # never the peer port
    assert {p["port"] for p in agents_and_operator["ports"]} == set(ports.values())
    assert "hostNetwork" not in daemonset["spec"]["template"]["spec"]  # a pod policy applies


def _subjects(kind: str, role: str) -> set[str]:
    return {
        s["name"]
        for b in _of(kind).values()
        if b["roleRef"]["name"] == role
        for s in b.get("subjects", [])
    }


def test_the_agents_may_read_no_secret_of_the_install_namespace_and_ask_only_for_certificates():
    """Per-node identity (issue 15): the agents keep their keys, so no Role gives them a
    Secret; they may create and read certificate requests, and the operator may approve
    and sign for our signer only (not kubelet's)."""
    for name, role in _of("Role").items():
        if "statecast-agent" in _subjects("RoleBinding", name):
            assert not [r for r in role.get("rules", []) if _reads_secrets(r)], name
    agent = _of("ClusterRole")["statecast-agent-certificates"]["rules"]
    assert agent == [
        {
            "apiGroups": ["certificates.k8s.io"],
            "resources": ["certificatesigningrequests"],
            "verbs": ["create", "get"],
        }
    ]
    assert _subjects("ClusterRoleBinding", "statecast-agent-certificates") == {"statecast-agent"}
    signer = _of("ClusterRole")["statecast-operator-signer"]["rules"]
    (signing,) = [r for r in signer if "signers" in r["resources"]]
    assert signing["resourceNames"] == ["statecast.io/agent"]
    assert sorted(signing["verbs"]) == ["approve", "sign"]
    assert _subjects("ClusterRoleBinding", "statecast-operator-signer") == {"statecast-operator"}
