"""When an operator builds what it would otherwise build on first use (its warm-up).

Some of what the operator needs is costly to build and not needed to start: the core
API client (Events outside kopf, the demand history's ConfigMaps, Secrets) loads some
250 model modules, half a second of CPU and 20 MiB. Built on first use, it kept the
start-up short, but its memory arrived with the first history save five minutes in
(session 8's soak: one +18 MiB step at 300 s, a steady state hidden for the first
minutes). The warm-up builds such things right after start, once building them does
not delay the work of a start: :func:`warm_up_due`.
"""

from __future__ import annotations

__all__ = ["LONGEST_WAIT_S", "QUIET_S", "warm_up_due"]

#: Seconds the operator must have been ready with nothing to reconcile: kopf delivers
#: the first Node event and the first resources' events in no set order, so a first
#: look at an empty queue may come before the first pass was queued.
QUIET_S = 2.0
#: Seconds after the start when the warm-up runs even if the operator never looked
#: ready and idle (a queue that never drains must not hide the memory for ever).
LONGEST_WAIT_S = 120.0


def warm_up_due(
    *,
    idle_s: float | None,
    since_start: float,
    quiet: float = QUIET_S,
    longest: float = LONGEST_WAIT_S,
) -> bool:
    """Whether to run the warm-up now.

    Args:
        idle_s: seconds, without a break, the operator has been ready - kopf has listed
            its inputs (it acts) or a peer of higher priority acts (it stands by) - and
            idle: its first pass over (:meth:`Wakeups.busy
            <statecast.controller.wakeups.Wakeups.busy>`); None when it is not now.
        since_start: seconds since the operator started.
        quiet: how long it must have been ready and idle.
        longest: run at the latest this long after the start, ready or not.
    """
    return since_start >= longest or (idle_s is not None and idle_s >= quiet)
