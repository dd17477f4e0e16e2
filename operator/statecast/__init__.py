"""statecast: a Kubernetes operator for predictive state replication.

Applications declare ``SharedResource`` objects; a node agent on every node keeps
replicas of that state and serves it locally; the operator forecasts per-node access
and places ``Replica`` objects where demand is coming.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
