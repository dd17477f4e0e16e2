"""bench.sim_operator_default's verdict: the learner's run against the default's and reactive's."""

from __future__ import annotations

import pytest
from bench.sim_operator_default import LEARNED, report, verdict


def run(rh: float, local: float, ms: float, moved: float) -> dict[str, float]:
    return {"replica_hours": rh, "local_hit_ratio": local, "mean_latency_ms": ms,
            "bytes_moved": moved}  # fmt: skip


DEFAULT = run(100.0, 0.50, 0.400, 1e9)
REACTIVE = run(100.0, 0.52, 0.450, 2e9)


@pytest.mark.parametrize(
    ("learned", "said"),
    [
        (run(100.0, 0.50, 0.400, 1e9), "within; bytes x1.000; rh <= reactive"),
        (run(100.0, 0.481, 0.411, 9e8), "within; bytes x0.900; rh <= reactive"),  # inside both
        (run(100.0, 0.479, 0.400, 1e9), "OUTSIDE; bytes x1.000; rh <= reactive"),  # 2.1 points
        (run(100.0, 0.50, 0.413, 1e9), "OUTSIDE; bytes x1.000; rh <= reactive"),  # 3.25 %
        (run(100.005, 0.50, 0.400, 1e9), "within; bytes x1.000; rh <= reactive"),  # hand-off
        (run(100.1, 0.50, 0.400, 1e9), "within; bytes x1.000; rh > reactive"),
    ],
)
def test_the_verdict_uses_the_tables_margins(learned: dict[str, float], said: str) -> None:
    assert verdict(DEFAULT, learned, REACTIVE) == said


def test_the_report_counts_rows_with_all_three_runs() -> None:
    lines = [
        {"trace": "a", "label": "predictive", **DEFAULT},
        {"trace": "a", "label": LEARNED, **run(100.0, 0.40, 0.4, 1e9)},
        {"trace": "a", "label": "reactive", **REACTIVE},
        {"trace": "b", "label": "predictive", **DEFAULT},  # incomplete: left out
    ]
    text = report(lines)
    assert "1 rows" in text and "margins of the default's on 0," in text
    assert "| a |" in text and "| b |" not in text
