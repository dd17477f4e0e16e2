"""Every environment variable statecast reads, in one place.

The code reads each variable where it is used (``os.environ.get``); this table says
what each one means for users. ``docs/configuration.md`` is generated from it and
from the command-line parsers (``statecast docs``), and a unit test scans the source
for variables read that are missing here, or listed here and read nowhere.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ENVIRONMENT", "EnvVar"]


@dataclass(frozen=True)
class EnvVar:
    """One environment variable.

    Attributes:
        name: the variable.
        read_by: the program or library that reads it.
        default: what holds when it is unset.
        meaning: what it sets.
        flag: the command-line flag whose default it gives, if any (the flag wins).
    """

    name: str
    read_by: str
    default: str
    meaning: str
    flag: str = ""


ENVIRONMENT: tuple[EnvVar, ...] = (
    # The operator.
    EnvVar("STATECAST_RESYNC_SECONDS", "statecast operator", "60",
           "seconds between two safety-net reconciles of each SharedResource; changes "
           "wake it at once (the chart's operator.resyncSeconds)"),
    EnvVar("STATECAST_RECONCILE_THREADS", "statecast operator", "8",
           "threads that run the woken reconciles and the safety-net resyncs"),
    EnvVar("STATECAST_PLAN_SLOTS", "statecast operator", "8",
           "reconcile threads that observe and decide (forecasts: CPU) at once; the others "
           "wait, leaving the interpreter to kopf's event loop (default: as many as "
           "STATECAST_RECONCILE_THREADS; see docs/scale.md)"),
    EnvVar("STATECAST_IO_THREADS", "statecast operator", "0",
           "threads that create a reconcile's new Replicas at once, and as many that read "
           "saved demand histories in the background (0: in the reconcile; see docs/scale.md)"),
    EnvVar("STATECAST_WAVE_WRITES", "statecast operator", "16",
           "requests in flight at once for the resources an agent's lapse leaves short: "
           "their Replica creations first, then their other writes (see docs/scale.md)"),
    EnvVar("STATECAST_URGENT_WRITES", "statecast operator", "4",
           "requests in flight at once for the resources whose spec changed, reconciled at "
           "once in their own lane: their Replica creations first (see docs/scale.md)"),
    EnvVar("STATECAST_FORECAST_STATUS_SECONDS", "statecast operator", "300",
           "seconds a resource's status.forecast may age while nothing else in its status "
           "changes: a new forecast with the same model and busiest node waits that long, "
           "or for the status's next change, to be written (see docs/scale.md)"),
    EnvVar("STATECAST_STATUS_HOLD_SECONDS", "statecast operator", "5",
           "seconds a status write may wait for the Ready report of a copy its reconcile "
           "created, to be written once with it (0: never held; news such as a spec change, "
           "a lost copy or Degraded is never held; see docs/operator.md)"),
    EnvVar("STATECAST_ROUTINE_EVENTS", "statecast operator", "0",
           "1: post ReplicaAdded/ReplicaRemoved Events for the policies' routine moves too "
           "(reasons predicted, hedge, cost, rebalance; by default they are logged and "
           "counted only; see docs/operator.md)"),
    EnvVar("STATECAST_HEAP_PROFILE", "statecast operator", "",
           "a directory: the first SIGUSR2 starts tracing Python allocations, each later "
           "one writes a heap snapshot there (profiling runs only; bench.heap_diff reads them)"),
    EnvVar("STATECAST_AGENT_WARM_RETENTION", "statecast operator", "0s",
           "how long the agents keep a removed replica's files (the chart sets it from "
           "agent.warmRetention): removals are remembered that long, and the planner prices "
           "a copy back on such a node at the writes it missed; 0s: every copy priced in full"),
    EnvVar("STATECAST_SAMPLE_SECONDS", "statecast operator", "10",
           "seconds between two reads of every agent's access counters (/v1/stats) into the "
           "demand history (the chart's operator.sampleSeconds)"),
    EnvVar("STATECAST_HISTORY_SAVE_SECONDS", "statecast operator", "300",
           "seconds between two saves of each resource's demand history to its ConfigMap "
           "statecast-history-<resource> (also saved on a clean shutdown)"),
    EnvVar("STATECAST_METRICS_ADDRESS", "statecast operator", "127.0.0.1:9090",
           "HOST:PORT the operator serves /metrics on, or off (the chart sets the pod's IP)",
           "statecast operator --metrics-address"),
    EnvVar("STATECAST_AGENT_NAMESPACE", "statecast operator, kubectl statecast",
           "statecast-system",
           "namespace of the agents' Leases (the chart sets it to the release namespace)"),
    EnvVar("STATECAST_AGENT_SERVICE_ACCOUNT", "statecast operator", "statecast-agent",
           "the agents' ServiceAccount (in STATECAST_AGENT_NAMESPACE): with --tls the "
           "operator signs certificate requests of this account only"),
    EnvVar("KUBECONFIG", "statecast operator, statecast agent, kubectl statecast",
           "~/.kube/config, else the pod's service account",
           "kubeconfig file(s) to reach the API server; a pod uses its service account",
           "statecast agent --kubeconfig, kubectl statecast --kubeconfig"),
    # The agent.
    EnvVar("STATECAST_RETIRED_RETENTION", "statecast agent", "24h",
           "how long the files of a removed replica of a resource that is gone (or was made "
           "anew) are kept; those of a resource that exists stay until a live replica merged "
           "them", "statecast agent --retired-retention"),
    EnvVar("STATECAST_WARM_RETENTION", "statecast agent", "1h",
           "how long a removed replica's files are kept once a live replica merged them: a "
           "Replica back on the node meanwhile catches up by a delta; 0s deletes them at once",
           "statecast agent --warm-retention"),
    EnvVar("STATECAST_WARM_BUDGET", "statecast agent", "a tenth of the filesystem",
           "bytes the files kept warm may take and must leave free on the data directory's "
           "filesystem (oldest first)", "statecast agent --warm-budget"),
    EnvVar("NODE_NAME", "statecast agent", "(required in a cluster)",
           "the node the agent serves (the chart sets it from spec.nodeName)",
           "statecast agent --node"),
    EnvVar("STATECAST_LISTEN", "statecast agent", "0.0.0.0:7420",
           "address the agent listens on", "statecast agent --listen"),
    EnvVar("STATECAST_ADVERTISE_URL", "statecast agent", "http://$HOST_IP:<port>",
           "URL other agents and the operator reach this agent at (its Lease's "
           "statecast.io/endpoint annotation)", "statecast agent --advertise"),
    EnvVar("HOST_IP", "statecast agent, client library", "127.0.0.1 (agent); none (client)",
           "the node's IP: the agent advertises it; the client library finds the node's "
           "agent there (the chart and your pods set it from status.hostIP)"),
    EnvVar("STATECAST_ZONE", "statecast agent", "(empty)",
           "the agent's topology zone", "statecast agent --zone"),
    EnvVar("STATECAST_DATA_DIR", "statecast agent", "/var/lib/statecast",
           "where the agent keeps its write-ahead log and snapshots",
           "statecast agent --data-dir"),
    EnvVar("STATECAST_MIN_FREE_BYTES", "statecast agent", "4194304",
           "bytes the data directory's file system keeps free beyond a copy's next snapshot"
           " (a copy with less says so and is moved; 0: off)",
           "statecast agent --min-free-bytes"),
    EnvVar("POD_NAMESPACE", "statecast agent", "statecast-system",
           "namespace of the agent's Lease (the chart sets it to the pod's namespace)",
           "statecast agent --lease-namespace"),
    EnvVar("STATECAST_AUTH", "statecast agent", "false",
           "1 or true: application requests need a ServiceAccount token of audience "
           "statecast (TokenReview) and RBAC on sharedresources/data (SubjectAccessReview); "
           "the chart's agent.auth sets it", "statecast agent --auth"),
    EnvVar("STATECAST_TLS", "statecast agent, statecast operator", "false",
           "1 or true: agents and the operator speak mutual TLS (the agent serves its peers "
           "on STATECAST_PEER_LISTEN only; the operator issues and renews the certificates); "
           "the chart's tls.enabled sets it", "statecast agent --tls, statecast operator --tls"),
    EnvVar("STATECAST_PEER_LISTEN", "statecast agent", "0.0.0.0:7421",
           "address of the agent's mutual-TLS listener (with --tls)",
           "statecast agent --peer-listen"),
    EnvVar("STATECAST_PEER_ADVERTISE_URL", "statecast agent", "https://$HOST_IP:<peer port>",
           "URL the other agents and the operator reach the mutual-TLS listener at (its "
           "Lease's statecast.io/peer-endpoint annotation)", "statecast agent --peer-advertise"),
    EnvVar("STATECAST_TLS_DIR", "statecast agent", "(unset: a certificate request)",
           "a directory with tls.crt, tls.key and ca.crt (e.g. a cert-manager Secret "
           "mounted) used instead of asking the operator for a certificate; reloaded on "
           "change",
           "statecast agent --tls-dir"),
    EnvVar("STATECAST_TLS_CERTIFICATE_LIFETIME", "statecast operator", "24h",
           "how long the agents' and the operator's certificates are valid (renewed after "
           "2/3 of it)", "statecast operator --tls-certificate-lifetime"),
    EnvVar("STATECAST_TLS_AUTHORITY_LIFETIME", "statecast operator", "8760h",
           "how long a CA is valid (a new one is published beside it after 2/3 of it)",
           "statecast operator --tls-authority-lifetime"),
    EnvVar("STATECAST_TLS_PROPAGATION", "statecast operator", "60s",
           "how long every agent takes to load a changed Secret: a new CA signs, and an old "
           "one leaves the trust bundle, only that long after",
           "statecast operator --tls-propagation"),
    EnvVar("STATECAST_TEST_CLOCK_SKEW_SECONDS", "statecast agent (tests only)", "0",
           "moves every wall-clock reading of the agent by this many seconds, Leases "
           "included (statecast chaos's clock-skew fault); never set it in production"),
    # Applications.
    EnvVar("STATECAST_AGENT", "client library", "(unset: http://$HOST_IP:$STATECAST_AGENT_PORT)",
           "the agent(s) to use, a URL or HOST:PORT, several separated by commas"),
    EnvVar("STATECAST_AGENT_PORT", "client library", "7420",
           "port of the node's agent when it is found from HOST_IP"),
    EnvVar("STATECAST_TOKEN_FILE", "client library",
           "/var/run/secrets/statecast.io/serviceaccount/token, if it exists",
           "file of the projected ServiceAccount token (audience statecast) the client sends "
           "to agents running with --auth; re-read every minute"),
    # The built-in cluster, the demo and the tests.
    EnvVar("STATECAST_HOME", "statecast dev-cluster, statecast demo", "~/.statecast",
           "where dev clusters keep their state and logs (<home>/dev-cluster/<name>)"),
    EnvVar("STATECAST_CACHE_DIR", "statecast dev-cluster, statecast manifests",
           "$XDG_CACHE_HOME/statecast",
           "where the control plane and Helm binaries built from Go modules are cached"),
    EnvVar("XDG_CACHE_HOME", "statecast dev-cluster, statecast manifests", "~/.cache",
           "the base of the default STATECAST_CACHE_DIR"),
    EnvVar("STATECAST_TEST_KUBECONFIG", "tests (make test-integration)", "(unset)",
           "run the integration tests against this cluster instead of a dev cluster"),
    EnvVar("STATECAST_TEST_CLUSTER", "tests (make test-integration)", "(unset)",
           "reuse (and keep) the dev cluster of this name between test runs"),
    EnvVar("STATECAST_E2E_KUBECONFIG", "tests (make e2e-kind)", "(unset: e2e tests skip)",
           "the cluster where the chart is deployed, for the end-to-end tests"),
    EnvVar("STATECAST_E2E_IMAGE", "tests (make e2e-kind)", "statecast:0.1.0",
           "the image the end-to-end tests run their consumer pod from"),
)  # fmt: skip
