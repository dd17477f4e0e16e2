"""Mutual TLS between the agents and from the operator, on the dev cluster (issue 15).

The real operator (``statecast operator --tls``, as the chart's ServiceAccount with the
chart's Roles) makes a CA, publishes its bundle and signs the agents' certificate
requests; real agents (``statecast agent --tls``, each with a token of the chart's
ServiceAccount bound to a Pod on its node, as a DaemonSet's pods have) make their own
keys, ask for certificates, serve their peers and the operator only on their
mutual-TLS listener, replicate and report. With lifetimes of seconds the certificates
are renewed and the CA rolls over (published beside the old one, then signing, then
the old one leaves the bundle) while a client writes and reads: no Replica leaves Ready
and no acknowledged write is lost. Callers without a certificate of the CA are refused;
a request for another node's certificate is denied; an agent's certificate speaking
for another node is refused.
"""

from __future__ import annotations

import base64
import contextlib
import re
import ssl
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from kubernetes import client

from statecast.agent.certificate import request_name
from statecast.agent.launcher import free_port
from statecast.api.lease import (
    AGENT_TLS_SECRET_PREFIX,
    AUTHORITY_SECRET,
    BUNDLE_CONFIGMAP,
    PEER_ENDPOINT_ANNOTATION,
    agent_lease_name,
)
from statecast.core.pki import SIGNER_NAME, agent_name
from statecast.devcluster.system import System, tls_agent_args
from statecast.pki.certs import KeyPair, issue, new_authority, new_request
from statecast.pki.contexts import TlsMaterial
from tests.integration.conftest import (
    INSTALL_NAMESPACE,
    TEST_OPERATOR_ENV,
    create_resource,
    wait_for,
)
from tests.integration.live import replicas_of

pytestmark = pytest.mark.integration

#: Certificates live 45 s (renewed after 30 s); a CA 90 s (a new one is published after
#: 60 s, signs 12 s later, and the old one leaves the bundle once every certificate moved).
LIFETIMES = [
    "--tls-certificate-lifetime", "45s",
    "--tls-authority-lifetime", "90s",
    "--tls-propagation", "12s",
]  # fmt: skip


@dataclass
class TlsSystem:
    urls: dict[str, str]
    """Node -> the agent's application URL."""
    operator_log: Path
    agent_logs: dict[str, Path]
    metrics: str
    node_tokens: dict[str, Path]
    """Node -> a kubeconfig with a token of the agents' ServiceAccount bound to a Pod there."""


def _forget_tls_secrets(core: client.CoreV1Api) -> None:
    """The CA, its bundle and every certificate request of our signer: a clean start."""
    for item in core.list_namespaced_secret(INSTALL_NAMESPACE).items:
        name = item.metadata.name
        if name == AUTHORITY_SECRET or name.startswith(AGENT_TLS_SECRET_PREFIX):
            core.delete_namespaced_secret(name, INSTALL_NAMESPACE)
    with contextlib.suppress(client.ApiException):
        core.delete_namespaced_config_map(BUNDLE_CONFIGMAP, INSTALL_NAMESPACE)
    certificates = client.CertificatesV1Api(core.api_client)
    found = certificates.list_certificate_signing_request(
        field_selector=f"spec.signerName={SIGNER_NAME}"
    )
    for item in found.items:
        with contextlib.suppress(client.ApiException):
            certificates.delete_certificate_signing_request(item.metadata.name)


@pytest.fixture
def tls_system(
    system: System,
    service_account_kubeconfig: Callable[[str], Path],
    namespace: str,
    api_client: client.ApiClient,
    tmp_path: Path,
) -> Iterator[TlsSystem]:
    core = client.CoreV1Api(api_client)
    _forget_tls_secrets(core)
    tag = uuid.uuid4().hex[:6]
    metrics = f"127.0.0.1:{free_port('127.0.0.1')}"
    (operator,) = system.start_operators(
        1,
        kubeconfig=service_account_kubeconfig("statecast-operator"),
        env={
            **TEST_OPERATOR_ENV,
            "STATECAST_METRICS_ADDRESS": metrics,
            "STATECAST_AGENT_NAMESPACE": INSTALL_NAMESPACE,
        },
        args=["--standalone", "--namespace", namespace, "--tls", *LIFETIMES],
        prefix=f"tls-operator-{tag}",
    )
    group = f"tls-agents-{tag}"

    urls: dict[str, str] = {}
    node_tokens = system.node_token_kubeconfigs(
        "statecast-agent", [node.name for node in system.nodes()], hours=6
    )
    try:
        urls = system.start_agents(
            group=group,
            lease_namespace=INSTALL_NAMESPACE,
            port=None,
            kubeconfig=node_tokens,
            data_root=tmp_path,
            extra_args=tls_agent_args,
        )
        yield TlsSystem(
            urls,
            system.log_path(operator),
            {node: system.log_path(f"{group}-{node}") for node in urls},
            metrics,
            node_tokens,
        )
    finally:
        system.stop_group(group)
        system.stop([operator])
        coordination = client.CoordinationV1Api(api_client)
        for node in urls:
            with contextlib.suppress(client.ApiException):
                coordination.delete_namespaced_lease(agent_lease_name(node), INSTALL_NAMESPACE)
        _forget_tls_secrets(core)


def _peer_urls(api_client: client.ApiClient) -> dict[str, str]:
    leases = client.CoordinationV1Api(api_client).list_namespaced_lease(INSTALL_NAMESPACE)
    return {
        lease.spec.holder_identity: lease.metadata.annotations[PEER_ENDPOINT_ANNOTATION]
        for lease in leases.items
        if lease.metadata.annotations and PEER_ENDPOINT_ANNOTATION in lease.metadata.annotations
    }


def _bundle(api_client: client.ApiClient) -> bytes:
    published = client.CoreV1Api(api_client).read_namespaced_config_map(
        BUNDLE_CONFIGMAP, INSTALL_NAMESPACE
    )
    return published.data["ca.crt"].encode()


def _authority(api_client: client.ApiClient) -> KeyPair:
    secret = client.CoreV1Api(api_client).read_namespaced_secret(
        AUTHORITY_SECRET, INSTALL_NAMESPACE
    )
    data = {k: base64.b64decode(v) for k, v in secret.data.items()}
    (key_id,) = [k.removesuffix(".key") for k in data if k.endswith(".key")]
    return KeyPair(data[f"{key_id}.crt"], data[f"{key_id}.key"])


def _samples_ok(metrics: str) -> float:
    text = httpx.get(f"http://{metrics}/metrics", timeout=5).text
    pattern = r'^statecast_agent_samples_total\{[^}]*outcome="ok"[^}]*\} ([0-9.e+]+)$'
    return sum(float(v) for v in re.findall(pattern, text, re.MULTILINE))


def _explain(tls_system: TlsSystem, seen: list[str]) -> None:
    """Print what the operator and the agents did (on a failure: the logs go with the
    cluster)."""
    print("\n".join(seen[:20]))
    for line in tls_system.operator_log.read_text().splitlines():
        if "event=authority" in line or "event=certificate" in line or "WARNING" in line:
            print("operator:", line[:300])
    for node, path in tls_system.agent_logs.items():
        for line in path.read_text().splitlines():
            if "tls" in line or "WARNING" in line or "ERROR" in line:
                print(f"{node}:", line[:300])


def _ready(custom: client.CustomObjectsApi, namespace: str, nodes: set[str]) -> bool:
    """Every replica Ready, having synced with a peer (a replica is Ready alone until
    its first peer shows up, and Stale from then until their first sync: a start, not
    a rotation, so the rotation is watched from a settled start)."""
    found = replicas_of(custom, namespace, "flags")
    statuses = {n: r.get("status") or {} for n, r in found.items()}
    return set(statuses) == nodes and all(
        s.get("phase") == "Ready" and s.get("lastSyncTime") for s in statuses.values()
    )


def test_agents_with_tls_replicate_refuse_strangers_and_roll_certificates_over_under_load(
    api_client: client.ApiClient, namespace: str, tls_system: TlsSystem
) -> None:
    custom = client.CustomObjectsApi(api_client)
    nodes = set(tls_system.urls)
    spec = {"replicas": {"min": len(nodes), "max": len(nodes)}, "replication": {"policy": "static"}}
    create_resource(custom, namespace, "flags", spec)
    try:
        wait_for(lambda: _ready(custom, namespace, nodes), timeout=120, what="every replica Ready")
    except pytest.fail.Exception:  # say where each copy stood (session 15: once at load 14)
        found = replicas_of(custom, namespace, "flags")
        _explain(tls_system, [f"{n} {r.get('status')}" for n, r in sorted(found.items())])
        raise
    peers = wait_for(
        lambda: len(p := _peer_urls(api_client)) >= len(nodes) and p, what="peer endpoints"
    )
    first, second = sorted(nodes)[:2]
    base = f"/v1/{namespace}/flags"

    # --- strangers are refused ------------------------------------------------------
    sync = f'{{"from": "{second}", "vv": {{}}}}'.encode()
    plain = httpx.post(f"{tls_system.urls[first]}/v1/peer/sync/{namespace}/flags", content=sync)
    assert plain.status_code == 403 and plain.json()["error"]["code"] == "mutual_tls_required"
    bundle = _bundle(api_client)
    no_certificate = ssl.create_default_context(cadata=bundle.decode())
    impostor = new_authority(time.time(), 3600)
    forged = issue(impostor, agent_name(second), time.time(), 3600)
    self_signed = TlsMaterial()
    self_signed.load(forged.cert, forged.key, bundle)
    for context in (no_certificate, self_signed.client_context()):
        with pytest.raises(httpx.HTTPError), httpx.Client(verify=context, timeout=5) as http:
            http.post(
                f"{peers[first]}/v1/peer/sync/{namespace}/flags",
                content=sync,
                extensions={"sni_hostname": agent_name(first)},
            ).raise_for_status()

    # --- rotation while a client writes and reads -----------------------------------
    first_ca = _authority(api_client)
    samples_before = _samples_ok(tls_system.metrics)
    acked: list[tuple[str, int]] = []
    errors: list[str] = []
    not_ready: Counter[str] = Counter()
    seen: list[str] = []
    stop = threading.Event()

    def write() -> None:
        order = sorted(nodes)
        with httpx.Client(timeout=10) as http:
            i = 0
            while not stop.is_set():
                node = order[i % len(order)]
                try:
                    reply = http.put(f"{tls_system.urls[node]}{base}/w{i}", json=i)
                    if reply.status_code == 200:
                        acked.append((node, i))
                    else:
                        errors.append(f"PUT {node}: {reply.status_code} {reply.text[:200]}")
                    # a write made on one node is read on the next (replicated over TLS)
                    http.get(f"{tls_system.urls[order[(i + 1) % len(order)]]}{base}/w{i}")
                except httpx.HTTPError as err:
                    errors.append(f"{node}: {err!r}")
                i += 1
                time.sleep(0.05)

    def watch() -> None:
        while not stop.is_set():
            try:
                found = replicas_of(custom, namespace, "flags")
            except client.ApiException:
                continue
            for node in nodes:
                phase = ((found.get(node) or {}).get("status") or {}).get("phase")
                if phase != "Ready":
                    not_ready[f"{node}:{phase}"] += 1
                    status = (found.get(node) or {}).get("status") or {}
                    seen.append(f"{time.strftime('%H:%M:%S')} {node} {phase} {status}")
            time.sleep(0.5)

    def rolled_over() -> bool:
        log = tls_system.operator_log.read_text()
        return log.count("event=authority-made") >= 2 and "event=authority-dropped" in log

    threads = [threading.Thread(target=write), threading.Thread(target=watch)]
    for thread in threads:
        thread.start()
    try:
        wait_for(
            rolled_over, timeout=240, interval=1, what="the CA rolled over and the old one left"
        )
        time.sleep(5)  # and a little after
    finally:
        stop.set()
        for thread in threads:
            thread.join()

    if not_ready:
        _explain(tls_system, seen)
    assert not_ready == Counter(), f"replicas left Ready during the rotation: {not_ready}"
    assert errors == []
    assert len(acked) > 100
    for node in nodes:  # every agent loaded new material several times
        loads = tls_system.agent_logs[node].read_text().count("event=tls_loaded")
        assert loads >= 3, f"{node} loaded new TLS material {loads} times"

    def everywhere() -> bool:
        for url in tls_system.urls.values():
            held = httpx.get(f"{url}{base}", timeout=10).json()
            if any(held.get(f"w{i}") != i for _, i in acked):
                return False
        return True

    wait_for(everywhere, timeout=60, what="every acknowledged write on every agent")
    # the operator read the agents' counters over mutual TLS through the rotation
    assert _samples_ok(tls_system.metrics) > samples_before
    # after the rollover a certificate of the first CA is refused
    old = issue(first_ca, agent_name(second), time.time(), 60)
    refused = TlsMaterial()
    refused.load(old.cert, old.key, _bundle(api_client))
    with pytest.raises(httpx.HTTPError), httpx.Client(verify=refused.client_context()) as http:
        http.post(
            f"{peers[first]}/v1/peer/sync/{namespace}/flags",
            content=sync,
            extensions={"sni_hostname": agent_name(first)},
        ).raise_for_status()


def _ask(kubeconfig: Path, name: str) -> tuple[str, KeyPair]:
    """A certificate request for ``name``, made with the credentials of ``kubeconfig``."""
    from kubernetes import config

    made = new_request(name)
    request = request_name(f"test-{uuid.uuid4().hex[:6]}", made.cert)
    with config.new_client_from_config(config_file=str(kubeconfig)) as api:
        client.CertificatesV1Api(api).create_certificate_signing_request(
            {
                "apiVersion": "certificates.k8s.io/v1",
                "kind": "CertificateSigningRequest",
                "metadata": {"name": request},
                "spec": {
                    "request": base64.b64encode(made.cert).decode(),
                    "signerName": SIGNER_NAME,
                    "usages": ["digital signature", "server auth", "client auth"],
                },
            }
        )
    return request, made


def _answer(api_client: client.ApiClient, request: str) -> tuple[bytes, str]:
    """The operator's answer to a request: its certificate, or why it was denied."""
    certificates = client.CertificatesV1Api(api_client)

    def answered() -> tuple[bytes, str] | None:
        status = certificates.read_certificate_signing_request(request).status
        for condition in (status.conditions if status else None) or []:
            if condition.type == "Denied":
                return b"", condition.message or ""
        if status and status.certificate:
            return base64.b64decode(status.certificate), ""
        return None

    found = wait_for(answered, timeout=30, what=f"the operator's answer to {request}")
    assert found is not None
    return found


def test_an_agent_gets_a_certificate_for_its_own_node_only_and_cannot_speak_for_another(
    api_client: client.ApiClient,
    namespace: str,
    tls_system: TlsSystem,
    service_account_kubeconfig: Callable[[str], Path],
) -> None:
    first, second, third = sorted(tls_system.urls)[:3]
    # no agent key is in a Secret any more, and the agents may read none of this
    # namespace's Secrets (before: every agent could read every agent's key)
    agents = f"system:serviceaccount:{INSTALL_NAMESPACE}:statecast-agent"
    authorization = client.AuthorizationV1Api(api_client)
    for secret in (AUTHORITY_SECRET, f"{AGENT_TLS_SECRET_PREFIX}{second}"):
        review = authorization.create_subject_access_review(
            {
                "spec": {
                    "user": agents,
                    "groups": ["system:serviceaccounts", "system:authenticated"],
                    "resourceAttributes": {
                        "namespace": INSTALL_NAMESPACE,
                        "verb": "get",
                        "resource": "secrets",
                        "name": secret,
                    },
                }
            }
        )
        assert not review.status.allowed, secret
    secrets = client.CoreV1Api(api_client).list_namespaced_secret(INSTALL_NAMESPACE).items
    assert not [s for s in secrets if s.metadata.name.startswith(AGENT_TLS_SECRET_PREFIX)]
    peers = wait_for(
        lambda: len(p := _peer_urls(api_client)) >= len(tls_system.urls) and p,
        what="peer endpoints",
    )
    # a token bound to the agent's Pod on `first` (what a compromised agent there holds)
    on_first = tls_system.node_tokens[first]
    denied = _answer(api_client, _ask(on_first, agent_name(second))[0])
    assert denied[0] == b"" and f"may hold only {agent_name(first)}" in denied[1]
    # the agents' ServiceAccount with a token bound to no Pod: no node, no certificate
    unbound = service_account_kubeconfig("statecast-agent")
    denied = _answer(api_client, _ask(unbound, agent_name(first))[0])
    assert denied[0] == b"" and "names no node" in denied[1]
    # its own node's certificate it gets ...
    request, made = _ask(on_first, agent_name(first))
    certificate, reason = _answer(api_client, request)
    assert certificate and reason == ""
    mine = TlsMaterial()
    mine.load(certificate, made.key, _bundle(api_client))
    target = f"{peers[third]}/v1/peer/sync/{namespace}/flags"
    with httpx.Client(verify=mine.client_context(), timeout=10) as http:
        for sender, refused in ((second, True), (first, False)):
            reply = http.post(
                target,
                content=f'{{"from": "{sender}", "vv": {{}}}}'.encode(),
                extensions={"sni_hostname": agent_name(third)},
            )
            code = reply.json()["error"]["code"] if reply.status_code >= 400 else ""
            # ... and with it, it speaks for that node only
            assert (code == "peer_mismatch") is refused, (sender, reply.status_code, reply.text)
            assert refused == (reply.status_code == 403)
