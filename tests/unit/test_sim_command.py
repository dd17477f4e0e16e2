"""The ``statecast simulate`` command and its CSV loaders, end to end on small files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from statecast.cli import main
from statecast.sim import TraceError
from statecast.sim.loaders import load_latency, load_trace

NODES = "node,zone\nn0,a\nn1,a\nn2,b\n"
TRACE_ROWS = [
    "timestamp,resource,node,accesses",
    *[
        f"2026-01-01T00:{m:02d}:00Z,flags,{n},{(5 if n == 'n2' else 1) * (m + 1)}"
        for m in range(0, 30)
        for n in ("n0", "n1", "n2")
    ],
]


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    paths = {
        "trace": tmp_path / "trace.csv",
        "nodes": tmp_path / "nodes.csv",
        "lat": tmp_path / "lat.csv",
        "res": tmp_path / "res.csv",
    }
    paths["trace"].write_text("\n".join(TRACE_ROWS) + "\n")
    paths["nodes"].write_text(NODES)
    paths["lat"].write_text("from_zone,to_zone,ms\nlocal,local,0.05\na,a,0.4\na,b,3\n")
    paths["res"].write_text("resource,bytes,writes_per_min,min_replicas\nflags,1Mi,5,1\n")
    return paths


def test_loader_builds_the_trace(files: dict[str, Path]) -> None:
    trace = load_trace(files["trace"], files["nodes"], files["res"])
    assert trace.demand.shape == (1, 3, 30)
    assert trace.step_s == 60.0
    assert trace.demand[0, 2, 3] == 20.0
    assert trace.state_bytes[0] == 2**20
    assert trace.min_replicas[0] == 1


def test_latency_file_overrides_the_defaults(files: dict[str, Path]) -> None:
    latency = load_latency(files["lat"])
    assert latency.local_ms == 0.05
    assert latency.between("b", "a") == 3.0
    assert latency.between("a", "a") == 0.4
    assert latency.between("b", "b") == 0.5


def test_simulate_writes_json_for_every_policy(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.json"
    code = main(
        [
            "simulate",
            "--trace", str(files["trace"]),
            "--nodes", str(files["nodes"]),
            "--latency", str(files["lat"]),
            "--resources", str(files["res"]),
            "--policies", "static,full,reactive,predictive,perfect-forecast",
            "--json", str(out),
        ]
    )  # fmt: skip
    assert code == 0
    document = json.loads(out.read_text())
    assert set(document["policies"]) == {
        "static", "full", "reactive", "predictive", "perfect-forecast"
    }  # fmt: skip
    for metrics in document["policies"].values():
        for key in (
            "local_hit_ratio",
            "mean_latency_ms",
            "p99_latency_ms",
            "replica_hours",
            "bytes_moved",
            "actions",
        ):
            assert key in metrics
        # No placement at a policy's replica-hours does better than the bounds say.
        assert metrics["local_hit_ratio"] <= metrics["bound_local_hit_ratio"] + 1e-4
        assert metrics["mean_latency_ms"] >= metrics["bound_mean_latency_ms"] - 1e-4
    assert document["policies"]["full"]["local_hit_ratio"] == pytest.approx(1.0, abs=1e-3)
    assert "| static |" in capsys.readouterr().out


def test_warm_retention_0s_charges_every_copy_in_full(
    files: dict[str, Path], tmp_path: Path
) -> None:
    moved = {}
    for retention in ("0s", "1h"):
        out = tmp_path / f"{retention}.json"
        code = main(
            ["simulate", "--scenario", "drift", "--policies", "reactive,static",
             "--warm-retention", retention, "--json", str(out)]
        )  # fmt: skip
        assert code == 0
        policies = json.loads(out.read_text())["policies"]
        moved[retention] = {name: m["bytes_moved"] for name, m in policies.items()}
    assert moved["1h"]["static"] == moved["0s"]["static"]  # never copies back
    assert moved["1h"]["reactive"] < moved["0s"]["reactive"]  # drops a copy, takes it back


def test_oracle_is_an_accepted_alias_for_one_release(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.json"
    code = main(
        ["simulate", "--trace", str(files["trace"]), "--nodes", str(files["nodes"]),
         "--policies", "static,oracle", "--json", str(out)]
    )  # fmt: skip
    assert code == 0
    assert set(json.loads(out.read_text())["policies"]) == {"static", "perfect-forecast"}
    assert "'oracle' is deprecated" in capsys.readouterr().err


BAD = [
    ("missing column", "timestamp,resource,node\n1,r,n0\n", "lacks column(s) accesses"),
    ("unknown node", "timestamp,resource,node,accesses\n0,r,zz,1\n", "'zz' is not in the nodes"),
    ("negative count", "timestamp,resource,node,accesses\n0,r,n0,-1\n", "not a number >= 0"),
    ("bad timestamp", "timestamp,resource,node,accesses\nnoon,r,n0,1\n", "bad timestamp"),
    (
        "irregular grid",
        "timestamp,resource,node,accesses\n0,r,n0,1\n60,r,n0,1\n150,r,n0,1\n",
        "regular",
    ),
    ("empty", "timestamp,resource,node,accesses\n", "no rows"),
    (
        "one timestamp a millisecond off",
        "timestamp,resource,node,accesses\n0,r,n0,1\n86400,r,n0,1\n86400.001,r,n0,1\n",
        "timestamps span 86400002 steps of 0.001s (limit 2000000)",
    ),
    (
        "a non-numeric timestamp among Unix seconds",
        "timestamp,resource,node,accesses\n0,r,n0,1\n60,r,n0,1\nlater,r,n0,1\n",
        "line 4: bad timestamp 'later'",
    ),
]


@pytest.mark.parametrize(("what", "text", "reason"), BAD, ids=[b[0] for b in BAD])
def test_bad_trace_exits_nonzero_with_one_line(
    files: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    what: str,
    text: str,
    reason: str,
) -> None:
    files["trace"].write_text(text)
    code = main(
        ["simulate", "--trace", str(files["trace"]), "--nodes", str(files["nodes"]),
         "--json", str(tmp_path / "o.json")]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2, what
    assert reason in err
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["--policies", "static,psychic"], "unknown policy 'psychic'"),
        (["--policies", "predictive@cheap"], "bad cost weight"),
        (["--horizon", "soon"], "invalid duration"),
        (["--warm-retention", "soon"], "invalid duration"),
        (["--warmup", "1d"], "--warmup covers the whole trace"),
    ],
)
def test_bad_options_exit_nonzero_with_one_line(
    files: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    reason: str,
) -> None:
    code = main(
        ["simulate", "--trace", str(files["trace"]), "--nodes", str(files["nodes"]),
         "--json", str(tmp_path / "o.json"), *args]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert reason in err
    assert err.count("\n") == 1


def test_unknown_scenario_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["simulate", "--scenario", "tsunami", "--json", str(tmp_path / "o.json")])
    err = capsys.readouterr().err
    assert code == 2
    assert "unknown scenario 'tsunami'" in err
    assert err.count("\n") == 1


def test_trace_without_nodes_is_refused(files: dict[str, Path], tmp_path: Path) -> None:
    code = main(["simulate", "--trace", str(files["trace"]), "--json", str(tmp_path / "o.json")])
    assert code == 2


def test_missing_file_is_a_trace_error(tmp_path: Path) -> None:
    with pytest.raises(TraceError, match="not found"):
        load_trace(tmp_path / "nope.csv", tmp_path / "nodes.csv")


def test_duplicate_rows_add_up(files: dict[str, Path]) -> None:
    files["trace"].write_text("timestamp,resource,node,accesses\n0,r,n0,1\n0,r,n0,2\n60,r,n1,1\n")
    trace = load_trace(files["trace"], files["nodes"])
    assert np.array_equal(trace.demand[0, :, 0], [3.0, 0.0, 0.0])


def test_a_cost_weight_variant_is_named_after_it() -> None:
    from statecast.sim.planned import PerfectForecast
    from statecast.sim.registry import make_policy

    policy = make_policy("perfect-forecast@2.5")
    assert isinstance(policy, PerfectForecast)
    assert policy.name == "perfect-forecast@2.5"
    assert policy.cost_weight == 2.5
    assert make_policy("oracle@2.5").name == "perfect-forecast@2.5"


def test_scenario_with_plot(tmp_path: Path) -> None:
    out, png = tmp_path / "o.json", tmp_path / "p.png"
    code = main(
        ["simulate", "--scenario", "node-loss", "--policies", "static,full,reactive",
         "--json", str(out), "--plot", str(png)]
    )  # fmt: skip
    assert code == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    document = json.loads(out.read_text())
    assert document["warmup_steps"] == 288
    static, full = document["policies"]["static"], document["policies"]["full"]
    assert static["replica_hours"] < full["replica_hours"]


def test_pods_column_is_read_as_whole_counts(files: dict[str, Path]) -> None:
    rows = ["timestamp,resource,node,accesses,pods"]
    rows += [f"{60 * m},flags,n1,{m},{1 if m >= 5 else ''}" for m in range(10)]
    rows += [f"{60 * m},flags,n1,0,1" for m in (7,)]  # a duplicate row adds its pod
    files["trace"].write_text("\n".join(rows) + "\n")
    trace = load_trace(files["trace"], files["nodes"])
    assert trace.pods is not None
    assert trace.pods[0, 1].tolist() == [0, 0, 0, 0, 0, 1, 1, 2, 1, 1]
    assert trace.pods[0, [0, 2]].sum() == 0


def test_a_trace_without_pods_has_none(files: dict[str, Path]) -> None:
    assert load_trace(files["trace"], files["nodes"]).pods is None


@pytest.mark.parametrize(
    ("value", "reason"), [("1.5", "is not a whole number"), ("-1", "is not a number >= 0")]
)
def test_bad_pod_counts_are_refused_with_the_line(
    files: dict[str, Path], value: str, reason: str
) -> None:
    files["trace"].write_text(
        f"timestamp,resource,node,accesses,pods\n0,f,n0,1,1\n60,f,n0,1,{value}\n"
    )
    with pytest.raises(TraceError, match=f"line 3: pods '{value}' {reason}"):
        load_trace(files["trace"], files["nodes"])
