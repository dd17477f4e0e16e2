"""Agent configuration: parsed once at the edge into frozen pydantic models.

The standalone YAML file looks like::

    node: node-a
    listen: 127.0.0.2:7420
    dataDir: /var/lib/statecast/node-a
    peers:
      - {node: node-b, url: http://127.0.0.3:7420}
    resources:
      - {namespace: default, name: flags, merge: lww, consistency: eventual}
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from statecast.agent.errors import ConfigError
from statecast.agent.persistence import FsyncPolicy, SnapshotWriter
from statecast.core.storage import MIN_FREE_BYTES

__all__ = ["AgentConfig", "Limits", "PeerSpec", "ResourceSpec", "load_config"]

MergeMode = Literal["lww", "multi-value"]
Consistency = Literal["eventual", "strong"]


class _Model(BaseModel):
    model_config = ConfigDict(
        frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True
    )


class Limits(_Model):
    """Input limits; requests over them get a JSON error and change nothing."""

    max_key_bytes: int = Field(default=512, gt=0)
    max_value_bytes: int = Field(default=1 << 20, gt=0)
    max_peer_body_bytes: int = Field(default=256 << 20, gt=0)
    #: Deepest nesting of arrays and objects in a JSON value (400 ``too_deep`` beyond).
    max_json_depth: int = Field(default=64, gt=0, le=500)
    #: Connections served at once; one more is answered 503 and closed.
    max_connections: int = Field(default=2048, gt=0)
    #: Request body bytes held in memory over all connections; beyond it, 503.
    max_buffered_bytes: int = Field(default=512 << 20, gt=0)
    #: Seconds a request head may take to arrive, however slowly it trickles (408).
    header_timeout_seconds: float = Field(default=10.0, gt=0)
    #: Seconds a request body may take to arrive from the end of its head (408).
    body_timeout_seconds: float = Field(default=60.0, gt=0)


class PeerSpec(_Model):
    """Another agent: its node name and base URL."""

    node: str = Field(min_length=1)
    url: str = Field(pattern=r"^https?://")


class ResourceSpec(_Model):
    """A replicated map this agent knows about.

    Attributes:
        namespace: Namespace of the SharedResource.
        name: Name of the SharedResource.
        merge: How concurrent writes merge.
        consistency: ``strong``: one leader, writes acknowledged by a majority.
        replicas: Nodes holding a replica (None: every agent listed).
        leader: Standalone strong resources: the node that leads (epoch 1, every replica
            a voter; without an operator there is no failover). In a cluster the
            operator chooses leaders and this is not used.
    """

    namespace: str = Field(min_length=1)
    name: str = Field(min_length=1)
    merge: MergeMode = "lww"
    consistency: Consistency = "eventual"
    replicas: tuple[str, ...] | None = None
    leader: str | None = None

    @property
    def ref(self) -> tuple[str, str]:
        """``(namespace, name)``."""
        return self.namespace, self.name


class AgentConfig(_Model):
    """Everything an agent needs to run."""

    node: str = Field(min_length=1)
    listen: str = "127.0.0.1:7420"
    data_dir: Path = Path("/var/lib/statecast")
    zone: str = ""
    peers: tuple[PeerSpec, ...] = ()
    resources: tuple[ResourceSpec, ...] = ()
    fsync: FsyncPolicy = "interval"
    fsync_interval: float = Field(default=1.0, gt=0)
    snapshot_interval: float = Field(default=1.0, gt=0)
    snapshot_wal_bytes: int = Field(default=64 << 20, gt=0)
    min_free_bytes: int = Field(default=MIN_FREE_BYTES, ge=0)
    """Bytes the data directory's file system keeps free beyond a copy's next snapshot: a
    copy with less room says its files cannot be written (before a write fails), so the
    operator moves it; 0 turns the look off (``core.storage.space_shortfall``)."""
    snapshot_writer: SnapshotWriter = "process"
    """Who writes snapshots: a forked child process (no work of it holds the event loop's
    interpreter lock), or a thread of the agent (where ``fork`` is missing, always)."""
    sync_interval: float = Field(default=1.0, gt=0)
    rtt_interval: float = Field(default=5.0, gt=0)
    index_limit: int = Field(default=1 << 16, gt=0)
    limits: Limits = Limits()
    auth: bool = False
    """Application requests need a ServiceAccount token and RBAC (docs/security.md)."""
    peer_routes: dict[str, str] = Field(default_factory=dict)
    """Peer node -> URL to reach it at instead of the URL it advertises."""
    tls: bool = False
    """Agents and the operator speak mutual TLS on ``peerListen`` (docs/security.md): the
    peer routes are served there only, to clients with a certificate of the trust bundle."""
    peer_listen: str | None = None
    """HOST:PORT of the mutual-TLS listener (with ``tls``)."""
    tls_dir: Path | None = None
    """Standalone: a directory with ``tls.crt``, ``tls.key`` and ``ca.crt``, reloaded when
    they change. In a cluster the agent reads its Secret from the API server instead."""
    tls_reload_seconds: float = Field(default=5.0, gt=0)
    """Seconds between two looks for new TLS material (files or Secret)."""

    @field_validator("listen", "peer_listen")
    @classmethod
    def _host_port(cls, value: str | None) -> str | None:
        if value is None:
            return value
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise ValueError("listen must be HOST:PORT")
        return value

    @model_validator(mode="after")
    def _tls_listener(self) -> AgentConfig:
        if self.tls and self.peer_listen is None:
            raise ValueError("tls needs peerListen (HOST:PORT of the mutual-TLS listener)")
        return self

    @property
    def host(self) -> str:
        """Listen host."""
        return self.listen.rpartition(":")[0]

    @property
    def port(self) -> int:
        """Listen port."""
        return int(self.listen.rpartition(":")[2])

    @property
    def peer_address(self) -> tuple[str, int] | None:
        """Host and port of the mutual-TLS listener (None without TLS)."""
        if not self.tls or self.peer_listen is None:
            return None
        host, _, port = self.peer_listen.rpartition(":")
        return host, int(port)


def load_config(path: Path) -> AgentConfig:
    """Read and validate a standalone YAML configuration.

    Raises:
        ConfigError: The file is missing, not YAML, or not a valid configuration.
    """
    try:
        raw = yaml.safe_load(path.read_text())
    except OSError as err:
        raise ConfigError(f"cannot read {path}: {err}") from err
    except yaml.YAMLError as err:
        where = ""
        if isinstance(err, yaml.MarkedYAMLError) and err.problem_mark is not None:
            where = f" line {err.problem_mark.line + 1}"
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError(f"cannot read {path}: not YAML{where}: {problem}") from err
    try:
        config = AgentConfig.model_validate(raw)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "top level"
        raise ConfigError(f"{path}: {where}: {first['msg']}") from err
    nodes = [p.node for p in config.peers]
    if config.node in nodes or len(set(nodes)) != len(nodes):
        raise ConfigError(f"{path}: peers must be distinct and not include this node")
    return config
