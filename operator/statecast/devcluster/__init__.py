"""A real local Kubernetes control plane for the demo and the tests.

etcd, kube-apiserver, kube-controller-manager and kube-scheduler are built from their
Go modules at a pinned version (see :mod:`statecast.devcluster.build`), KWOK simulates
nodes and pods, and :class:`DevCluster` runs them all on loopback.
"""

from statecast.devcluster.cluster import ClusterStatus, DevCluster, NodeStatus
from statecast.devcluster.errors import BuildError, ClusterError, DevClusterError

__all__ = [
    "BuildError",
    "ClusterError",
    "ClusterStatus",
    "DevCluster",
    "DevClusterError",
    "NodeStatus",
]
