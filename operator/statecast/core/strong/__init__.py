"""Strong consistency per resource: one leader, majority acknowledgement, epochs.

The pure half of the protocol (no I/O; the agent and the operator are its edges):

- :mod:`~statecast.core.strong.log`: log entries, operations and log positions.
- :mod:`~statecast.core.strong.machine`: the key/value state machine the log drives.
- :mod:`~statecast.core.strong.replica`: one replica's protocol state (promise, log,
  commit, the leader's view of its followers), message in, reply and records out.
- :mod:`~statecast.core.strong.election`: the configuration master's decisions (which
  replica leads the next epoch, which voters it has, one membership step at a time).
- :mod:`~statecast.core.strong.linearizability`: a checker of recorded histories.

See docs/consistency.md for the protocol and the argument for its safety.
"""

from statecast.core.strong.log import LogEntry, LogPosition, Operation
from statecast.core.strong.machine import KeyValueMachine, Outcome

__all__ = ["KeyValueMachine", "LogEntry", "LogPosition", "Operation", "Outcome"]
