"""bench.sim_default_judge's verdicts: a candidate default against the current one."""

from __future__ import annotations

from bench.sim_default_judge import CANDIDATE_LABEL, judged, report, verdicts

from statecast.sim.sweeps import DEFAULT


def run(rh: float, local: float, ms: float, moved: float) -> dict[str, float]:
    return {"replica_hours": rh, "local_hit_ratio": local, "mean_latency_ms": ms,
            "bytes_moved": moved}  # fmt: skip


REACTIVE = run(100.0, 0.50, 0.500, 2e9)


def test_the_tests_use_the_tables_margins() -> None:
    said = verdicts(run(100.005, 0.481, 0.514, 2.05e9), REACTIVE)
    assert said == {"budget": True, "within": True, "hits": False, "latency": False,
                    "bytes": False, "bytes within": True}  # fmt: skip
    said = verdicts(run(100.1, 0.479, 0.40, 1e9), REACTIVE)
    assert not said["budget"] and not said["within"] and said["latency"] and said["bytes"]


def rows(
    *pairs: tuple[dict[str, float], dict[str, float]],
) -> dict[str, dict[str, dict[str, float]]]:
    return {
        f"generated-{1800 + i}": {DEFAULT.label: d, CANDIDATE_LABEL: c, "reactive": REACTIVE}
        for i, (d, c) in enumerate(pairs)
    }


OUTSIDE = run(100.0, 0.45, 0.45, 1e9)  # 5 points of local hits under reactive's
INSIDE = run(100.0, 0.50, 0.50, 1e9)


def test_a_candidate_passes_only_when_better_and_nowhere_worse() -> None:
    assert judged(rows((OUTSIDE, INSIDE), (INSIDE, INSIDE)))[1]
    assert not judged(rows((INSIDE, INSIDE)))[1]  # better nowhere
    said, passed = judged(rows((OUTSIDE, INSIDE), (INSIDE, OUTSIDE)))
    assert not passed and "new rows outside (generated-1801)" in said[-1]
    said, passed = judged(rows((OUTSIDE, INSIDE), (INSIDE, run(100.0, 0.5, 0.5, 3e9))))
    assert not passed and "bytes" in said[-1] and "GiB moved" in said[-1]


def test_the_report_takes_the_seed_sets_with_all_three_runs() -> None:
    lines = [
        {"trace": "generated-1800", "label": DEFAULT.label, **OUTSIDE},
        {"trace": "generated-1800", "label": CANDIDATE_LABEL, **INSIDE},
        {"trace": "generated-1800", "label": "reactive", **REACTIVE},
        {"trace": "generated-3100", "label": "reactive", **REACTIVE},  # incomplete: left out
    ]
    text = report(lines)
    assert "## 1800-1829 (1 rows)" in text and "## all (1 rows)" in text
    assert "## 3100-3129" not in text and text.endswith("Verdict: pass\n")
    assert report(lines[3:]).endswith("no row has all three runs)\n")
