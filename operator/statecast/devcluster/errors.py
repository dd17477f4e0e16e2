"""Errors of the dev cluster.

Exception tree::

    DevClusterError
    ├── BuildError      a control plane binary could not be built
    └── ClusterError    a process did not come up, or the cluster is not running
"""

from __future__ import annotations


class DevClusterError(RuntimeError):
    """Base of the dev cluster's errors."""


class ClusterError(DevClusterError):
    """A process did not come up, or the cluster is not running."""


class BuildError(DevClusterError):
    """A control plane binary could not be built (Go missing, or `go build` failed)."""
