"""The published tables rebuilt as ``bench.sim --partial`` studies, and extended from the repo.

Sessions 13-20 spliced the tables with scripts kept only in /tmp, lost at a reboot: a
report must turn back into the studies and note that regenerate it (``rebuild``), and
runs may only be added - labels today's sweep makes on the row and the study lacks,
never one already there, never a refinement run from outside (``missing``, ``splice``,
``fill``), replayed bit-equal to what was published (``verify``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import pytest
from bench.sim import Study, _checks, _save, run_all, trace_of
from bench.sim_published import (
    NOTE,
    fill_row,
    lack_of,
    load,
    note_of,
    rebuild,
    same,
    splice,
    spread,
    summary,
    verdict_changes,
    verify_row,
)
from bench.sim_report import report

from statecast.sim.frontier import Point
from statecast.sim.planned import ForecastCache
from statecast.sim.sweeps import BYTES_DEAR, copies_at_count, variants

ROW = "generated-109"  # 4 nodes, 72 steps: its runs replay in milliseconds
NOTE_TEXT = "**Session 99** (test): where the runs come from.\n\nA second paragraph."


def _point(family: str, label: str, rh: float, hits: float) -> Point:
    return Point(family, label, rh, hits, 1.0 - hits, 1e6 * rh, 1e6 * rh)


def _study(name: str, shift: float) -> Study:
    points = [_point("predictive", f"p{i}", 10.0 + i, 0.5 + shift + 0.01 * i) for i in range(4)]
    points += [_point("reactive", f"r{i}", 10.0 + i, 0.52 + 0.02 * i) for i in range(3)]
    points += [_point("static", "static", 12.0, 0.3)]
    bounds = {"static": {"bound_local_hit_ratio": 0.9}}
    return Study(name, "shape", points, bounds, _checks(points), seconds=12.3)


def test_a_report_rebuilt_regenerates_itself(tmp_path: Path) -> None:
    studies = [_study("weekly", 0.0), _study("generated-00", 0.05)]
    for name in ("pub", "re"):
        (tmp_path / name).mkdir()
    report(studies, [], 24.6, tmp_path / "pub", note=NOTE_TEXT, stem="pub")
    rows = rebuild(tmp_path / "pub" / "pub.json", tmp_path / "dir", 0.0)
    assert rows == ["weekly", "generated-00"]
    assert (tmp_path / "dir" / NOTE).read_text().strip() == NOTE_TEXT
    jobs: list[tuple[str, int | None, bool]] = [("weekly", None, False), ("gen-0", 0, False)]
    again = run_all(jobs, 1, tmp_path / "dir", run=False)
    assert [s.warm_retention_s for s in again] == [0.0, 0.0]
    for s in again:  # as bench.sim --report-only does
        s.checks = _checks(s.points) if s.checks else {}
    note = (tmp_path / "dir" / NOTE).read_text()
    report(again, [], sum(s.seconds for s in again), tmp_path / "re", note=note, stem="pub")
    for suffix in (".md", ".json"):
        published = (tmp_path / "pub" / f"pub{suffix}").read_text()
        assert (tmp_path / "re" / f"pub{suffix}").read_text() == published


def test_the_note_is_what_lies_between_the_head_and_the_first_section(tmp_path: Path) -> None:
    report([_study("weekly", 0.0)], [], 1.0, tmp_path, note=NOTE_TEXT)
    assert note_of((tmp_path / "sim.md").read_text()).strip() == NOTE_TEXT


def test_the_note_leaves_out_what_a_partial_report_writes_itself(tmp_path: Path) -> None:
    studies = [_study("weekly", 0.0)]
    report(studies, [], 1.0, tmp_path, ["generated-00"], note=NOTE_TEXT)
    first = (tmp_path / "sim.md").read_text()
    assert first.count("**Partial run**") == 1
    note = note_of(first)
    assert note.strip() == NOTE_TEXT
    report(studies, [], 1.0, tmp_path, ["generated-00"], note=note)
    assert (tmp_path / "sim.md").read_text() == first


def test_a_report_not_charged_in_full_is_refused_at_retention_zero(tmp_path: Path) -> None:
    study = _study("weekly", 0.0)
    study.points[0] = replace(study.points[0], bytes_full_copies=2 * study.points[0].bytes_moved)
    report([study], [], 1.0, tmp_path)
    with pytest.raises(SystemExit, match="not retention 0"):
        rebuild(tmp_path / "sim.json", tmp_path / "dir", 0.0)
    assert rebuild(tmp_path / "sim.json", tmp_path / "dir", 3600.0) == ["weekly"]


def _row_study(tmp_path: Path, drop: int) -> tuple[Study, list[str]]:
    """ROW's study with every run of today's sweep but its last ``drop`` predictive ones
    (fake values), plus a refinement run; the labels dropped."""
    chosen = variants(trace_of(ROW), cache=ForecastCache())
    ours = [v.label for v in chosen if v.family == "predictive"]
    kept = [v for v in chosen if v.label not in ours[-drop:]]
    points = [_point(v.family, v.label, 10.0 + i, 0.5) for i, v in enumerate(kept)]
    points.append(_point("predictive", "predictive hold x0.77 copy x1", 10.0, 0.5))
    study = Study(ROW, "shape", points, checks={"reactive": {}})
    _save(study, tmp_path)
    return study, ours[-drop:]


def test_missing_names_the_labels_the_study_lacks_by_family(tmp_path: Path) -> None:
    _, dropped = _row_study(tmp_path, 3)
    lack = lack_of(tmp_path, ROW)
    assert lack.by_family == {"predictive": dropped}
    assert lack.count == 3
    assert lack.unnamed == 1


def _line(row: str, point: Point, **extra: object) -> str:
    return json.dumps({"trace": row, **asdict(point), **extra})


def test_splice_adds_only_new_sweep_labels_and_says_why_it_skips(tmp_path: Path) -> None:
    study, dropped = _row_study(tmp_path, 3)
    new = _point("predictive", dropped[1], 11.0, 0.6)
    runs = tmp_path / "runs.jsonl"
    lines = [
        _line(ROW, new, cpu_s=2.0),
        _line(ROW, new),  # the same label again
        _line(ROW, replace(study.points[0], local_hit_ratio=0.99)),  # already there
        _line(ROW, _point("predictive", "predictive hold x0.123 copy x1", 11.0, 0.6)),  # refined
        _line(ROW, _point("reactive", dropped[0], 11.0, 0.6)),  # wrong family
        _line(ROW, replace(_point("predictive", dropped[2], 11.0, 0.6), bytes_full_copies=1.0)),
        _line("generated-99", new),  # no study
    ]
    runs.write_text("\n".join(lines) + "\n")
    done = splice(tmp_path, [runs])
    assert dict(done.added) == {ROW: 1}
    assert done.cpu_s == 2.0
    reasons = [reason for _, _, reason in done.skipped]
    assert reasons[0] == "already in the study (equal)"
    assert reasons[1] == "already in the study (DIFFERENT values)"
    assert reasons[2].startswith("not a label today's sweep makes")
    assert reasons[3].startswith("family 'reactive'")
    assert reasons[4].startswith("bytes not its full copies'")
    assert reasons[5] == "no study of this row"
    after = load(tmp_path, ROW)
    assert after.points == [*study.points, new]
    assert after.checks == _checks(after.points)


def test_fill_replays_only_the_lacking_labels_resumably_and_verify_agrees(
    tmp_path: Path,
) -> None:
    _, dropped = _row_study(tmp_path, 2)
    out = tmp_path / "runs.jsonl"
    assert fill_row(tmp_path, ROW, out) == 2
    assert fill_row(tmp_path, ROW, out) == 0  # resumed: nothing left
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["label"] for line in lines] == dropped
    assert all(line["bytes_full_copies"] == line["bytes_moved"] for line in lines)
    assert dict(splice(tmp_path, [out]).added) == {ROW: 2}
    assert lack_of(tmp_path, ROW).count == 0
    assert verify_row(tmp_path, ROW, 1) != []  # the fake runs are not what replays
    study = load(tmp_path, ROW)
    study.points = study.points[-2:]
    _save(study, tmp_path)
    assert verify_row(tmp_path, ROW, 2) == []  # the filled runs replay bit-equal


def test_families_narrow_missing_and_fill_to_their_labels(tmp_path: Path) -> None:
    trace = trace_of(ROW)
    dear = [s.label for s in copies_at_count(trace)][:2]
    _, grid = _row_study(tmp_path, 2)
    study = load(tmp_path, ROW)
    study.points = [p for p in study.points if p.label not in dear]
    _save(study, tmp_path)
    for name in ("copies_at_count", "copies-at-count"):  # its function, its name in FAMILIES
        assert lack_of(tmp_path, ROW, families=[name]).by_family == {"predictive": dear}
    for none in (["reactive"], ["BYTES_DEAR", "static"], ["DEFAULT"]):
        assert lack_of(tmp_path, ROW, families=none).count == 0
    assert lack_of(tmp_path, ROW, families=["predictive"]).count == 4
    assert lack_of(tmp_path, ROW).count == 4  # default: every family
    out = tmp_path / "runs.jsonl"
    assert fill_row(tmp_path, ROW, out, families=["reactive", "copies_at_count"]) == 2
    assert [json.loads(line)["label"] for line in out.read_text().splitlines()] == dear
    assert fill_row(tmp_path, ROW, out) == 2
    assert [json.loads(line)["label"] for line in out.read_text().splitlines()][2:] == grid
    assert BYTES_DEAR[0].label in {v.label for v in variants(trace)}
    for wrong in ("copy_weight", "_reactive", "variants", "COPY_WEIGHTS", "shaped-ish"):
        with pytest.raises(SystemExit, match="neither a family"):
            lack_of(tmp_path, ROW, families=[wrong])


def test_fill_starts_no_run_past_its_clock(tmp_path: Path) -> None:
    _row_study(tmp_path, 2)
    assert fill_row(tmp_path, ROW, tmp_path / "runs.jsonl", until=0.0) == 0


def test_a_published_run_without_full_copies_is_equal_to_its_replay() -> None:
    run = _point("static", "static", 1.0, 0.5)
    assert same(run, replace(run, bytes_full_copies=None))
    assert not same(replace(run, bytes_full_copies=None), replace(run, bytes_full_copies=1.0))
    assert not same(run, replace(run, bytes_moved=run.bytes_moved + 1))


def test_spread_takes_each_family_s_first_and_last() -> None:
    chosen = variants(trace_of(ROW), cache=ForecastCache())
    picked = spread(chosen, 2)
    families = sorted({v.family for v in chosen})
    assert sorted({v.family for v in picked}) == families
    ours = [v for v in chosen if v.family == "predictive"]
    assert [v for v in picked if v.family == "predictive"] == [ours[0], ours[-1]]


def test_verdicts_count_the_rows_held_and_name_each_that_moved() -> None:
    held: dict[str, list[Any]] = {"strict": [], "within_margin": []}
    lost: dict[str, list[Any]] = {"strict": [{"budget": 1.0}], "within_margin": [{"budget": 1.0}]}
    metrics = ("local_hit_ratio", "mean_latency_ms", "bytes_moved")

    def row(bytes_check: dict[str, list[Any]]) -> dict[str, Any]:
        check = {m: held for m in metrics[:2]} | {"bytes_moved": bytes_check}
        return {"checks": {"reactive": check}}

    before = {"generated-00": row(lost), "generated-01": row(held)}
    after = {"generated-00": row(held), "generated-01": row(lost)}
    lines = verdict_changes(before, after)
    counts = [line for line in lines if line.startswith("vs reactive bytes_moved/within")]
    assert counts[0].endswith(" 1 -> 1 of 2")
    assert counts[1].endswith(" 0 -> 0 of 0")  # no equal-count check in these rows
    assert "  generated-00: vs reactive bytes_moved/within_margin: lost -> held" in lines
    assert "  generated-01: vs reactive bytes_moved/within_margin: held -> LOST" in lines
    assert not any("vs static" in line for line in lines if line.startswith("  "))
    then, now = row(held), row(held)
    then["checks"]["reactive"]["equal_count"] = {"runs": 1, **row(lost)["checks"]["reactive"]}
    now["checks"]["reactive"]["equal_count"] = {"runs": 1, **row(held)["checks"]["reactive"]}
    lines = verdict_changes({"generated-00": then}, {"generated-00": now})
    what = "vs reactive bytes_moved/within_margin at equal count"
    assert [line for line in lines if line.startswith("  ")] == [
        "  generated-00: vs reactive bytes_moved/strict at equal count: lost -> held",
        f"  generated-00: {what}: lost -> held",
    ]


def test_summary_counts_the_table_of_record_per_rival() -> None:
    held: dict[str, list[Any]] = {"strict": [], "within_margin": []}
    near: dict[str, list[Any]] = {"strict": [{"budget": 1.0}], "within_margin": []}
    metrics = ("local_hit_ratio", "mean_latency_ms", "bytes_moved")

    def row(latency: dict[str, list[Any]], moved: dict[str, list[Any]]) -> dict[str, Any]:
        check = {metrics[0]: held, metrics[1]: latency, metrics[2]: moved}
        return {"checks": {"reactive": check | {"equal_count": {"runs": 3, **check}}}}

    report = {"a": row(held, held), "b": row(near, held), "c": row(held, near), "d": {"checks": {}}}
    lines = summary(report)
    assert lines[0].startswith("reactive             2/3/3/2 of 3 (both strict /")
    assert lines[0].endswith("; equal count both within 3")
    assert lines[1].startswith("follow-the-workload  0/0/0/0 of 0")
