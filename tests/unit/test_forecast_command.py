"""``statecast forecast``: the output format on real traces and one-line errors on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from statecast.cli import main

TRACES = Path("/work/shared/data/traces/nab")


def write_wide(path: Path, columns: dict[str, list[str]], rows: int | None = None) -> Path:
    names = list(columns)
    length = rows if rows is not None else len(next(iter(columns.values())))
    lines = ["timestamp," + ",".join(names)]
    for i in range(length):
        lines.append(f"t{i}," + ",".join(columns[n][i] for n in names))
    path.write_text("\n".join(lines) + "\n")
    return path


def diurnal_column(n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return [str(v) for v in rng.poisson(30 * np.exp(np.sin(2 * np.pi * t / 24)))]


def run_forecast(tmp_path: Path, source: Path, *extra: str) -> tuple[int, Path]:
    out = tmp_path / "out.json"
    code = main(
        [
            "forecast",
            "--input",
            str(source),
            "--period",
            "24",
            "--horizon",
            "6",
            "--level",
            "0.9",
            "--output",
            str(out),
            *extra,
        ]
    )
    return code, out


@pytest.mark.parametrize("fast", [False, True])
def test_writes_the_specified_document(tmp_path: Path, fast: bool) -> None:
    source = write_wide(
        tmp_path / "wide.csv", {"svc-a": diurnal_column(240, 1), "svc-b": diurnal_column(240, 2)}
    )
    code, out = run_forecast(tmp_path, source, *(["--fast"] if fast else []))
    assert code == 0
    document = json.loads(out.read_text())
    assert document["horizon"] == 6
    assert document["level"] == 0.9
    assert set(document["series"]) == {"svc-a", "svc-b"}
    for entry in document["series"].values():
        assert set(entry) == {"model", "mean", "lower", "upper"}
        assert isinstance(entry["model"], str)
        for key in ("mean", "lower", "upper"):
            assert len(entry[key]) == 6
        assert all(
            lo <= m <= up
            for lo, m, up in zip(entry["lower"], entry["mean"], entry["upper"], strict=True)
        )
        assert min(entry["lower"]) >= 0


def test_empty_cells_are_missing_samples(tmp_path: Path) -> None:
    column = diurnal_column(240, 3)
    column[100] = ""
    column[-1] = ""
    source = write_wide(tmp_path / "wide.csv", {"a": column})
    code, out = run_forecast(tmp_path, source)
    assert code == 0
    assert np.all(np.isfinite(json.loads(out.read_text())["series"]["a"]["mean"]))


@pytest.mark.skipif(not TRACES.exists(), reason="shared traces not mounted")
def test_forecasts_a_shared_trace(tmp_path: Path) -> None:
    lines = (TRACES / "elb_request_count_8c0756.csv").read_text().splitlines()
    wide = ["timestamp,elb", *lines[1 : 1 + 7 * 288]]
    source = tmp_path / "elb.csv"
    source.write_text("\n".join(wide) + "\n")
    out = tmp_path / "out.json"
    args = ["forecast", "--input", str(source), "--period", "288", "--horizon", "12"]
    assert main([*args, "--level", "0.95", "--output", str(out)]) == 0
    entry = json.loads(out.read_text())["series"]["elb"]
    assert len(entry["mean"]) == 12
    assert all(lo <= up for lo, up in zip(entry["lower"], entry["upper"], strict=True))


def bad_input_cases(tmp: Path) -> list[tuple[Path, str]]:
    good = diurnal_column(60, 4)
    ragged = tmp / "ragged.csv"
    ragged.write_text("timestamp,a,b\nt0,1,2\nt1,3\nt2,4,5\n")
    text = tmp / "text.csv"
    text.write_text("timestamp,a\nt0,1\nt1,abc\nt2,3\nt3,4\n")
    negative = tmp / "negative.csv"
    negative.write_text("timestamp,a\nt0,1\nt1,2\nt2,-3\nt3,4\n")
    short = write_wide(tmp / "short.csv", {"a": good}, rows=2)
    header = tmp / "header.csv"
    header.write_text("time,a\nt0,1\nt1,2\nt2,3\n")
    no_series = tmp / "noseries.csv"
    no_series.write_text("timestamp\nt0\nt1\nt2\n")
    duplicate = tmp / "dup.csv"
    duplicate.write_text("timestamp,a,a\nt0,1,1\nt1,2,2\nt2,3,3\n")
    empty = tmp / "empty.csv"
    empty.write_text("")
    all_missing = tmp / "missing.csv"
    all_missing.write_text("timestamp,a,b\nt0,1,\nt1,2,\nt2,3,\n")
    infinite = tmp / "inf.csv"
    infinite.write_text("timestamp,a\nt0,1\nt1,inf\nt2,3\n")
    return [
        (tmp / "absent.csv", "absent.csv: no such file"),
        (ragged, "ragged.csv: row 3 has 2 fields, expected 3"),
        (text, "text.csv: row 3, column 'a': 'abc' is not a number"),
        (negative, "negative.csv: row 4, column 'a': negative count -3"),
        (short, "short.csv: 2 data rows, need at least 3"),
        (header, "header.csv: row 1: first column must be 'timestamp'"),
        (no_series, "noseries.csv: row 1: no series columns"),
        (duplicate, "dup.csv: row 1: duplicate series name 'a'"),
        (empty, "empty.csv: empty file"),
        (all_missing, "missing.csv: column 'b' has no values"),
        (infinite, "inf.csv: row 3, column 'a': 'inf' is not a finite count"),
    ]


def test_bad_input_exits_with_one_line_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for source, reason in bad_input_cases(tmp_path):
        code, out = run_forecast(tmp_path, source)
        captured = capsys.readouterr()
        assert code == 2, source
        assert reason in captured.err, (reason, captured.err)
        assert captured.err.count("\n") == 1, captured.err
        assert "Traceback" not in captured.err
        assert not out.exists()


@pytest.mark.parametrize(
    ("flag", "value", "reason"),
    [
        ("--level", "1.5", "--level must be between 0 and 1"),
        ("--horizon", "0", "--horizon must be at least 1"),
        ("--period", "0", "--period must be at least 1"),
        ("--period", "24,0", "--period must be at least 1"),
        ("--period", "24,week", "--period must be whole numbers of steps"),
        ("--horizon", "100000000", "--horizon must be at most 1000000 steps"),
    ],
)
def test_bad_parameters_exit_with_one_line_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str, value: str, reason: str
) -> None:
    source = write_wide(tmp_path / "wide.csv", {"a": diurnal_column(60, 5)})
    args = {"--period": "24", "--horizon": "6", "--level": "0.9"} | {flag: value}
    argv = ["forecast", "--input", str(source), "--output", str(tmp_path / "o.json")]
    for key, val in args.items():
        argv += [key, val]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert reason in err
    assert err.count("\n") == 1


def test_unwritable_output_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = write_wide(tmp_path / "wide.csv", {"a": diurnal_column(60, 6)})
    out = tmp_path / "missing-dir" / "out.json"
    argv = ["forecast", "--input", str(source), "--period", "24", "--horizon", "3"]
    assert main([*argv, "--output", str(out)]) == 2
    err = capsys.readouterr().err
    assert "cannot write" in err
    assert err.count("\n") == 1


def test_a_forecast_too_large_for_memory_is_refused_before_it_is_made(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    columns = {f"s{i}": diurnal_column(60, i) for i in range(20)}
    source = write_wide(tmp_path / "wide.csv", columns)
    argv = ["forecast", "--input", str(source), "--output", str(tmp_path / "o.json")]
    assert main([*argv, "--period", "24", "--horizon", "1000000"]) == 2
    err = capsys.readouterr().err
    assert "20 series x --horizon 1000000 would need ~1.8 GiB" in err
    assert err.count("\n") == 1
