"""The rendered install manifests against the real API server."""

from __future__ import annotations

import asyncio
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from statecast.devcluster.system import not_established

INSTALL = Path(__file__).parents[2] / "manifests" / "install"
Kubectl = Callable[..., subprocess.CompletedProcess[str]]


def test_every_rendered_object_is_accepted_by_the_api_server(kubectl: Kubectl, crds: None) -> None:
    objects = [d for d in yaml.safe_load_all((INSTALL / "statecast.yaml").read_text()) if d]
    kinds = {d["kind"] for d in objects}
    assert {
        "Namespace",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "ClusterKopfPeering",
        "Deployment",
        "DaemonSet",
    } <= kinds
    namespace = next(d["metadata"]["name"] for d in objects if d["kind"] == "Namespace")
    kubectl("create", "namespace", namespace, check=False)
    result = kubectl(
        "apply",
        "--server-side",
        "--dry-run=server",
        "--field-manager=statecast-tests",
        "-f",
        str(INSTALL / "statecast.yaml"),
    )
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


HELM_CHART = Path(__file__).parents[2] / "manifests" / "chart" / "statecast"
PROMETHEUS_OPERATOR = "github.com/prometheus-operator/prometheus-operator"
#: Values a platform team would set: a digest-pinned image from a private registry,
#: three operator pods on dedicated nodes, monitoring by Prometheus Operator.
CUSTOM_VALUES = {
    "image": {
        "repository": "registry.example/platform/statecast",
        "digest": "sha256:" + "ab" * 32,
        "pullPolicy": "Always",
    },
    "imagePullSecrets": [{"name": "registry-credentials"}],
    "createNamespace": True,
    "operator": {
        "replicas": 3,
        "resyncSeconds": 5,
        "sampleSeconds": 15,
        "env": [{"name": "STATECAST_HISTORY_SAVE_SECONDS", "value": "120"}],
        "podDisruptionBudget": {"minAvailable": 2},
        "priorityClassName": "system-cluster-critical",
        "nodeSelector": {"node-role.example/platform": "true"},
        "tolerations": [{"key": "platform", "operator": "Exists", "effect": "NoSchedule"}],
        "affinity": {
            "podAntiAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "topologyKey": "topology.kubernetes.io/zone",
                        "labelSelector": {
                            "matchLabels": {"app.kubernetes.io/name": "statecast-operator"}
                        },
                    }
                ]
            }
        },
        "podAnnotations": {"example/team": "platform"},
    },
    "agent": {
        "port": 7500,
        "dataDir": "/srv/statecast",
        "leaseSeconds": 1,
        "fsync": "always",
        "priorityClassName": "system-node-critical",
        "nodeSelector": {"kubernetes.io/os": "linux"},
    },
    "metrics": {
        "serviceMonitor": {"enabled": True, "interval": "15s", "labels": {"release": "prometheus"}}
    },
}


def helm_template(namespace: str, values: dict[str, object] | None, tmp_path: Path) -> list[dict]:
    """``helm template`` of the chart (linted with the same values first)."""
    from statecast.devcluster import build

    args = []
    if values is not None:
        path = tmp_path / "values.yaml"
        path.write_text(yaml.safe_dump(values))
        args = ["--values", str(path)]
    helm = str(build.binary("helm"))
    lint = subprocess.run(
        [helm, "lint", "--strict", str(HELM_CHART), *args],
        capture_output=True,
        text=True,
        check=False,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
    rendered = subprocess.run(
        [helm, "template", "statecast", str(HELM_CHART), "--namespace", namespace, *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return [d for d in yaml.safe_load_all(rendered.stdout) if d]


@pytest.fixture(scope="session")
def service_monitor_crd(kubectl: Kubectl) -> None:
    """Prometheus Operator's ServiceMonitor CRD, from its Go module (pinned, checksummed)."""
    from statecast.devcluster import build

    source = build.module_dir("prometheus-operator", PROMETHEUS_OPERATOR)
    crd = (
        source
        / "example"
        / "prometheus-operator-crd"
        / "monitoring.coreos.com_servicemonitors.yaml"
    )
    kubectl("apply", "--server-side", "--field-manager=statecast-tests", "-f", str(crd))
    # Polled, not `kubectl wait`: it fails at once on a CRD whose conditions are still null.
    name = "servicemonitors.monitoring.coreos.com"
    deadline = time.monotonic() + 60
    while not_established(kubectl("get", "crd", name, "-o", "json", check=False).stdout, [name]):
        assert time.monotonic() < deadline, f"{name} not Established after 60 s"
        time.sleep(0.2)


def dry_run(kubectl: Kubectl, objects: list[dict], tmp_path: Path) -> str:
    path = tmp_path / "objects.yaml"
    path.write_text(yaml.safe_dump_all(objects))
    result = kubectl(
        "apply",
        "--server-side",
        "--dry-run=server",
        "--field-manager=statecast-tests",
        "-f",
        str(path),
    )
    assert result.stdout.count("(server dry run)") == len(objects), result.stdout
    return result.stdout


def test_the_chart_with_its_defaults_dry_runs_and_has_a_pdb_and_a_readiness_probe(
    kubectl: Kubectl, crds: None, tmp_path: Path
) -> None:
    kubectl("create", "namespace", "statecast-defaults", check=False)
    objects = helm_template("statecast-defaults", None, tmp_path)
    kinds = sorted(d["kind"] for d in objects)
    assert "PodDisruptionBudget" in kinds and "ServiceMonitor" not in kinds
    operator = next(d for d in objects if d["kind"] == "Deployment")
    container = operator["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "ready"}
    assert "--readiness=http://0.0.0.0:8082/readyz" in container["args"]
    dry_run(kubectl, objects, tmp_path)


def test_the_chart_with_a_platform_teams_values_dry_runs(
    kubectl: Kubectl, crds: None, service_monitor_crd: None, tmp_path: Path
) -> None:
    objects = helm_template("statecast-custom", CUSTOM_VALUES, tmp_path)
    by_kind: dict[str, list[dict]] = {}
    for d in objects:
        by_kind.setdefault(d["kind"], []).append(d)
    assert len(by_kind["ServiceMonitor"]) == 2 and len(by_kind["Service"]) == 2
    assert by_kind["ServiceMonitor"][0]["metadata"]["labels"]["release"] == "prometheus"
    assert by_kind["PodDisruptionBudget"][0]["spec"]["minAvailable"] == 2
    agent = by_kind["DaemonSet"][0]["spec"]["template"]["spec"]
    assert (
        agent["containers"][0]["image"] == "registry.example/platform/statecast@sha256:" + "ab" * 32
    )
    assert agent["containers"][0]["ports"][0]["hostPort"] == 7500
    assert by_kind["Namespace"][0]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == (
        "privileged"
    )
    # A dry run creates nothing: the namespace must exist for the objects in it.
    kubectl("create", "namespace", "statecast-custom", check=False)
    dry_run(kubectl, objects, tmp_path)


def test_one_operator_pod_renders_no_disruption_budget(
    kubectl: Kubectl, crds: None, tmp_path: Path
) -> None:
    objects = helm_template("statecast-single", {"operator": {"replicas": 1}}, tmp_path)
    assert "PodDisruptionBudget" not in {d["kind"] for d in objects}
    kubectl("create", "namespace", "statecast-single", check=False)
    dry_run(kubectl, objects, tmp_path)


@pytest.mark.parametrize(
    ("values", "complaint"),
    [
        ({"operator": {"replicas": 0}}, "minimum: got 0, want 1"),
        ({"agent": {"fsync": "sometimes"}}, "agent/fsync"),
        ({"image": {"digest": "latest"}}, "image/digest"),
        ({"operater": {"replicas": 2}}, "additional properties 'operater' not allowed"),
    ],
)
def test_values_the_schema_refuses(
    values: dict[str, object], complaint: str, tmp_path: Path
) -> None:
    from statecast.devcluster import build

    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump(values))
    result = subprocess.run(
        [str(build.binary("helm")), "template", "statecast", str(HELM_CHART), "-f", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert complaint in result.stderr


def _grants_secrets(rule: dict) -> bool:
    return rule.get("apiGroups") in ([""], ["*"]) and bool(
        {"secrets", "*"} & set(rule.get("resources", []))
    )


def test_no_cluster_wide_secret_access_and_secret_sources_by_namespace_and_name(
    kubectl: Kubectl,
    install_rbac: None,
    service_account_kubeconfig: Callable[[str], Path],
    tmp_path: Path,
) -> None:
    from statecast.agent.kube_gateway import KubernetesGateway
    from statecast.agent.seeding import SourceError
    from statecast.devcluster.system import INSTALL_NAMESPACE

    suffix = uuid.uuid4().hex[:6]
    named, whole, other = (f"seeds-{k}-{suffix}" for k in ("named", "whole", "other"))
    values = {
        "agent": {"secretSources": [{"namespace": named, "names": ["seed"]}, {"namespace": whole}]}
    }
    objects = helm_template(INSTALL_NAMESPACE, values, tmp_path)
    cluster_roles = {d["metadata"]["name"]: d for d in objects if d["kind"] == "ClusterRole"}
    bound = {d["roleRef"]["name"] for d in objects if d["kind"] == "ClusterRoleBinding"}
    for name in bound:  # no role bound cluster-wide may read a Secret
        assert not any(_grants_secrets(r) for r in cluster_roles[name]["rules"]), name
    assert "statecast-secret-source-reader" not in bound
    for namespace in (named, whole, other):
        kubectl("create", "namespace", namespace)
    try:
        rbac = [
            d
            for d in objects
            if d["kind"] in ("Role", "RoleBinding")
            or d["metadata"]["name"] == "statecast-secret-source-reader"
        ]
        path = tmp_path / "rbac.yaml"
        path.write_text(yaml.safe_dump_all(rbac))
        kubectl("apply", "--server-side", "--field-manager=statecast-tests", "-f", str(path))
        agent = f"system:serviceaccount:{INSTALL_NAMESPACE}:statecast-agent"
        operator = f"system:serviceaccount:{INSTALL_NAMESPACE}:statecast-operator"

        def can(who: str, *what: str) -> bool:
            result = kubectl("auth", "can-i", f"--as={who}", *what, check=False)
            return result.stdout.strip() == "yes"

        assert can(agent, "get", "secret/seed", "-n", named)
        assert not can(agent, "get", "secret/another", "-n", named)
        assert can(agent, "get", "secret/anything", "-n", whole)
        assert not can(agent, "get", "secret/seed", "-n", other)
        assert not can(agent, "list", "secrets", "-n", whole)
        assert not can(agent, "get", "secrets", "--all-namespaces")
        assert not can(operator, "get", "secret/seed", "-n", named)
        assert can(agent, "get", "configmap/seed", "-n", other)  # configMapRef: as before
        # The agent itself, with its ServiceAccount's token: the seed it may read, and a
        # refusal that says how to allow one it may not.
        for namespace in (named, other):
            kubectl("create", "secret", "generic", "seed", "-n", namespace, "--from-literal=k=v")
        gateway = KubernetesGateway(str(service_account_kubeconfig("statecast-agent")))
        assert asyncio.run(gateway.get_source_data(named, "Secret", "seed")) == {"k": b"v"}
        with pytest.raises(SourceError, match=r"agent\.secretSources"):
            asyncio.run(gateway.get_source_data(other, "Secret", "seed"))
    finally:
        for namespace in (named, whole, other):
            kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def test_the_agents_port_has_a_network_policy(kubectl: Kubectl, crds: None, tmp_path: Path) -> None:
    values = {"agent": {"port": 7500, "networkPolicy": {"clients": [
        {"namespaceSelector": {"matchLabels": {"statecast.io/clients": "true"}}}
    ]}}}  # fmt: skip
    objects = helm_template("statecast-netpol", values, tmp_path)
    (policy,) = [d for d in objects if d["kind"] == "NetworkPolicy"]
    assert policy["spec"]["podSelector"]["matchLabels"] == {
        "app.kubernetes.io/name": "statecast-agent"
    }
    peers, clients = policy["spec"]["ingress"]
    assert [p["podSelector"]["matchLabels"]["app.kubernetes.io/name"] for p in peers["from"]] == [
        "statecast-agent",
        "statecast-operator",
    ]
    assert clients["from"] == values["agent"]["networkPolicy"]["clients"]  # type: ignore[index]
    assert [p["port"] for p in clients["ports"]] == [7500]
    assert 7500 in {p["port"] for p in peers["ports"]}
    kubectl("create", "namespace", "statecast-netpol", check=False)
    dry_run(kubectl, [policy], tmp_path)
    off = helm_template(
        "statecast-netpol", {"agent": {"networkPolicy": {"enabled": False}}}, tmp_path
    )
    assert "NetworkPolicy" not in {d["kind"] for d in off}
