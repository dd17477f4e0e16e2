"""Reading the objects ``kubectl statecast`` shows (the I/O edge).

Credentials are found the way kubectl finds them: ``--kubeconfig``, else
``$KUBECONFIG`` (a list of files, merged), else ``~/.kube/config``, else the pod's
service account when it runs in a cluster; ``--context`` picks a context, and the
namespace defaults to the context's. Objects come back as plain dicts, as the API
server sends them. What the user may not list (Nodes, Pods, Leases, the history
ConfigMap) is left out of the view rather than failing it.

Exceptions::

    Exception
    └── ClusterError    no credentials, the resource does not exist, the API refused
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from statecast.api.types import GROUP, VERSION
from statecast.core.demand_codec import HistoryFormatError, decode
from statecast.core.demand_series import DemandSnapshot
from statecast.kubectl.render import age
from statecast.kubectl.view import parse_time

__all__ = ["Cluster", "ClusterError", "connect"]

Obj = dict[str, Any]
_SA_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
#: Where the agents keep their Leases (the install's namespace).
AGENT_NAMESPACE = os.environ.get("STATECAST_AGENT_NAMESPACE", "statecast-system")
HISTORY_LABEL = f"{GROUP}/history=demand"
HISTORY_KEY = "demand"


class ClusterError(Exception):
    """The cluster could not be read; the message is what to print after ``error:``."""


def connect(kubeconfig: str | None, context: str | None) -> tuple[Any, str]:
    """An API client and the context's namespace (``default`` when it names none)."""
    from kubernetes import config
    from kubernetes.config.config_exception import ConfigException

    # Named explicitly: the client reads $KUBECONFIG only once, when it is imported.
    files = kubeconfig or os.environ.get("KUBECONFIG") or str(Path("~/.kube/config").expanduser())
    present = any(Path(p).expanduser().exists() for p in files.split(os.pathsep) if p)
    if present or kubeconfig:
        try:
            client = config.new_client_from_config(config_file=files, context=context)
            contexts, active = config.list_kube_config_contexts(config_file=files)
        except (ConfigException, OSError) as err:
            raise ClusterError(f"cannot load kubeconfig: {err}") from None
        chosen = next((c for c in contexts if c["name"] == context), active) if context else active
        namespace = ((chosen or {}).get("context") or {}).get("namespace") or "default"
        return client, namespace
    try:
        config.load_incluster_config()
    except ConfigException:
        raise ClusterError(
            "no kubeconfig: pass --kubeconfig, set KUBECONFIG, or create ~/.kube/config"
        ) from None
    from kubernetes import client as k8s

    namespace = _SA_NAMESPACE.read_text().strip() if _SA_NAMESPACE.exists() else "default"
    return k8s.ApiClient(), namespace


@dataclass(frozen=True)
class History:
    """A resource's saved demand history (or why there is none)."""

    snapshot: DemandSnapshot | None
    note: str


class Cluster:
    """The reads the plugin makes, on one API client."""

    def __init__(self, api_client: Any) -> None:
        from kubernetes import client

        self._custom = client.CustomObjectsApi(api_client)
        self._core = client.CoreV1Api(api_client)
        self._coordination = client.CoordinationV1Api(api_client)

    def _call(self, method: Any, *args: Any, **kwargs: Any) -> Obj:
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        try:
            response = method(*args, _preload_content=False, **kwargs)
        except ApiException as err:
            raise ClusterError(_api_message(err)) from None
        except HTTPError as err:
            raise ClusterError(f"cannot reach the API server: {err}") from None
        data: Obj = json.loads(response.data)
        return data

    def _optional(self, method: Any, *args: Any, **kwargs: Any) -> list[Obj] | None:
        """A list the user may not be allowed to read: None when refused."""
        try:
            items: list[Obj] = self._call(method, *args, **kwargs).get("items") or []
        except ClusterError as err:
            if "Forbidden" in str(err) or "NotFound" in str(err):
                return None
            raise
        return items

    def resource(self, namespace: str, name: str) -> Obj:
        """The SharedResource ``namespace/name``."""
        return self._call(
            self._custom.get_namespaced_custom_object,
            GROUP, VERSION, namespace, "sharedresources", name,
        )  # fmt: skip

    def resources(self, namespace: str | None) -> list[Obj]:
        """Every SharedResource of ``namespace`` (None: of every namespace)."""
        if namespace is None:
            found = self._call(
                self._custom.list_cluster_custom_object, GROUP, VERSION, "sharedresources"
            )
        else:
            found = self._call(
                self._custom.list_namespaced_custom_object,
                GROUP, VERSION, namespace, "sharedresources",
            )  # fmt: skip
        items: list[Obj] = found.get("items") or []
        return items

    def replicas(self, namespace: str, resource: str) -> list[Obj]:
        """The Replicas of ``resource``."""
        found = self._call(
            self._custom.list_namespaced_custom_object, GROUP, VERSION, namespace, "replicas"
        )
        return [
            r for r in found.get("items") or [] if (r.get("spec") or {}).get("resource") == resource
        ]

    def events(self, namespace: str, resource: Obj) -> list[Obj]:
        """The Events whose involved object is ``resource`` (empty when refused)."""
        meta = resource.get("metadata") or {}
        selector = f"involvedObject.kind=SharedResource,involvedObject.name={meta.get('name')}"
        found = self._optional(self._core.list_namespaced_event, namespace, field_selector=selector)
        uid = meta.get("uid")
        return [
            e
            for e in found or []
            if not uid or (e.get("involvedObject") or {}).get("uid") in (uid, None)
        ]

    def nodes(self) -> list[Obj] | None:
        """Every Node, or None when the user may not list them."""
        return self._optional(self._core.list_node)

    def pods(self, namespace: str) -> list[Obj] | None:
        """The Pods of ``namespace``, or None when the user may not list them."""
        return self._optional(self._core.list_namespaced_pod, namespace)

    def agent_leases(self) -> list[Obj] | None:
        """The agents' Leases, or None when the user may not list them."""
        return self._optional(self._coordination.list_namespaced_lease, AGENT_NAMESPACE)

    def history(self, namespace: str, resource: Obj, now: dt.datetime) -> History:
        """The demand history the operator saved for ``resource``."""
        meta = resource.get("metadata") or {}
        maps = self._optional(
            self._core.list_namespaced_config_map, namespace, label_selector=HISTORY_LABEL
        )
        if maps is None:
            return History(None, "not readable (no permission to list ConfigMaps)")
        uid = meta.get("uid")
        owned = [m for m in maps if uid in _owner_uids(m)]
        if not owned:
            return History(None, "not saved yet (the operator saves it every 5 minutes)")
        found = owned[0]
        encoded = (found.get("binaryData") or {}).get(HISTORY_KEY)
        if encoded is None:
            return History(None, "the history ConfigMap holds no demand")
        try:
            snapshot = decode(base64.b64decode(encoded))
        except (HistoryFormatError, ValueError) as err:
            return History(None, f"unreadable: {err}")
        saved = max(
            (
                parse_time(f.get("time"))
                for f in (found.get("metadata") or {}).get("managedFields") or []
            ),
            key=lambda t: t or dt.datetime.min.replace(tzinfo=dt.UTC),
            default=None,
        )
        name = (found.get("metadata") or {}).get("name")
        when = f"saved {age(saved, now)} ago" if saved else "saved"
        return History(snapshot, f"ConfigMap {name}, {when}")


def _owner_uids(obj: Obj) -> set[str]:
    return {str(o.get("uid")) for o in (obj.get("metadata") or {}).get("ownerReferences") or []}


def _api_message(err: Any) -> str:
    """Kubectl's wording of an API error: ``Error from server (Reason): message``."""
    try:
        body = json.loads(err.body)
        return f"Error from server ({body.get('reason', err.reason)}): {body.get('message', '')}"
    except (TypeError, ValueError):
        return f"Error from server ({err.reason}): status {err.status}"
