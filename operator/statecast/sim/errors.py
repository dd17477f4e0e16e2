"""The simulator's exceptions (the tree is drawn in :mod:`statecast.sim`)."""

from __future__ import annotations


class SimError(Exception):
    """Base of every simulator error."""


class TraceError(SimError, ValueError):
    """Bad trace, nodes, latency or resources input (the message is one line)."""


class PolicyError(SimError, ValueError):
    """Unknown policy name or a bad policy option."""
