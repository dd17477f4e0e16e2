"""What an error answer says of a write, for the checker (Jepsen's ok / fail / info).

A 503 ``outcome_unknown`` was counted as ``fail`` (nothing applied) like every 503, so
an increment that did apply behind it put its counter above the attempted sum: a
false "check failed" once forwards answer it (issue 13, agent-kill).
"""

from __future__ import annotations

import pytest

from statecast.chaos import workload
from statecast.chaos.history import outcome_of
from statecast.client import RequestError


@pytest.mark.parametrize(
    ("status", "code", "outcome"),
    [
        (404, "unknown_resource", "fail"),
        (409, "conflict", "fail"),
        (503, "not_ready", "fail"),  # refused before anything was applied
        (503, "replica_syncing", "fail"),
        (503, "outcome_unknown", "info"),  # appended or received: it may apply
        (0, "outcome_unknown", "info"),  # no agent answered after one may have had it
        (0, "no_agent", "info"),
        (500, "persistence", "info"),  # applied in memory, its log write failed
    ],
)
def test_what_an_error_answer_says_of_a_write(status: int, code: str, outcome: str) -> None:
    assert outcome_of(status, code) == outcome
    assert workload._outcome(RequestError(status, code, "")) == outcome
