"""bench.sim_warm_rows: the 61 rows' verdicts under both accountings."""

from __future__ import annotations

import json

from bench.sim_warm_rows import ROWS, verdicts


def test_a_mix_is_weighed_and_compared_with_the_rival_run_under_each_accounting() -> None:
    row = {
        "rival_run": "reactive",
        "mix": [[0.25, "p1"], [0.75, "p2"]],
        "result": {
            "runs": {
                "reactive": {"warm": 90.0, "full": 100.0},
                "p1": {"warm": 40.0, "full": 200.0},
                "p2": {"warm": 100.0, "full": 100.0},
            }
        },
    }
    found = verdicts(row)
    assert found["full"] == {"ours": 125.0, "rival": 100.0, "lost": True}
    assert found["warm"] == {"ours": 85.0, "rival": 90.0, "lost": False}


def test_the_published_rows_have_both_counts_and_warm_never_costs_more() -> None:
    rows = json.loads(ROWS.read_text())["rows"]
    assert len(rows) == 61
    for row in rows:
        for run in row["result"]["runs"].values():
            assert run["warm"] <= run["full"]
