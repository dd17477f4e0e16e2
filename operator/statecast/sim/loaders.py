"""Read the simulator's CSV inputs into a :class:`Trace` and a :class:`LatencyModel`.

Formats (a header row is required; extra columns are ignored):

- TRACE ``timestamp,resource,node,accesses`` with an optional ``pods`` column: one
  row per resource, node and step; timestamps are ISO 8601 or Unix seconds on a
  regular grid (missing rows count 0, duplicate rows add up). ``pods`` is the number
  of pods using the resource that ran on the node during the step (what the
  operator's pod watch sees); when the column is there the planner-based policies
  pre-replicate to those nodes and forecast with pods as a leading signal.
- NODES ``node,zone``: every node of the cluster, including nodes without accesses.
- LAT ``from_zone,to_zone,ms``: latency of a remote access between zones (either
  direction); a row ``local,local,ms`` sets the latency of a node-local access.
- RES ``resource,bytes,writes_per_min`` with optional ``min_replicas,max_replicas``;
  bytes may be a quantity such as ``64Mi``. Resources it omits get the defaults.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from statecast.api.units import parse_quantity
from statecast.core.placement import LatencyModel
from statecast.sim.errors import TraceError
from statecast.sim.trace import (
    DEFAULT_MIN_REPLICAS,
    DEFAULT_STATE_BYTES,
    DEFAULT_WRITES_PER_MIN,
    Trace,
)


def _read(path: Path, columns: tuple[str, ...], what: str) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path, dtype=str, skipinitialspace=True)
    except FileNotFoundError:
        raise TraceError(f"{what} file not found: {path}") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise TraceError(f"{what} file {path} is not a CSV: {str(err).splitlines()[0]}") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise TraceError(f"{what} file {path} lacks column(s) {', '.join(missing)}")
    if frame.empty:
        raise TraceError(f"{what} file {path} has no rows")
    if frame[list(columns)].isna().any().any():
        row = int(frame[list(columns)].isna().any(axis=1).to_numpy().argmax()) + 2
        raise TraceError(f"{what} file {path} has an empty field on line {row}")
    return frame


def _numbers(frame: pd.DataFrame, column: str, path: Path, what: str) -> np.ndarray:
    values = pd.to_numeric(frame[column], errors="coerce")
    bad = values.isna() | ~np.isfinite(values) | (values < 0)
    if bad.any():
        row = int(bad.to_numpy().argmax())
        raise TraceError(
            f"{what} file {path} line {row + 2}: {column} {frame[column].iloc[row]!r}"
            " is not a number >= 0"
        )
    return np.asarray(values, dtype=np.float64)


def load_nodes(path: Path) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Read NODES: returns node names and their zones, in file order."""
    frame = _read(path, ("node", "zone"), "nodes")
    nodes = tuple(frame["node"].str.strip())
    if len(set(nodes)) != len(nodes):
        dup = next(n for n in nodes if nodes.count(n) > 1)
        raise TraceError(f"nodes file {path} lists node {dup!r} twice")
    return nodes, tuple(frame["zone"].str.strip())


def load_latency(path: Path | None) -> LatencyModel:
    """Read LAT into a latency model (the documented defaults when ``path`` is None)."""
    if path is None:
        return LatencyModel()
    frame = _read(path, ("from_zone", "to_zone", "ms"), "latency")
    ms = _numbers(frame, "ms", path, "latency")
    local = LatencyModel().local_ms
    entries: list[tuple[str, str, float]] = []
    for a, b, value in zip(
        frame["from_zone"].str.strip(), frame["to_zone"].str.strip(), ms, strict=True
    ):
        if a == "local" and b == "local":
            local = float(value)
        else:
            entries.append((a, b, float(value)))
    return LatencyModel(local_ms=local, zone_ms=tuple(entries))


#: Most steps a trace may span (a year of one-minute steps is 525,600).
MAX_STEPS = 2_000_000
#: Most memory the trace's demand (and pods) matrices may take.
MAX_TRACE_BYTES = 2 << 30


def _timestamps(raw: pd.Series, path: Path) -> np.ndarray:
    numeric = pd.to_numeric(raw, errors="coerce")
    if numeric.notna().all():
        return np.asarray(numeric, dtype=np.float64)
    if numeric.notna().any():  # Unix seconds with some rows that are not: blame the first
        row = int(numeric.isna().to_numpy().argmax())
        raise TraceError(
            f"trace file {path} line {row + 2}: bad timestamp {raw.iloc[row]!r}"
            " (the other rows are Unix seconds)"
        )
    parsed = pd.to_datetime(raw, errors="coerce", utc=True, format="mixed")
    if parsed.isna().any():
        row = int(parsed.isna().to_numpy().argmax())
        raise TraceError(f"trace file {path} line {row + 2}: bad timestamp {raw.iloc[row]!r}")
    return np.asarray(parsed.astype("int64"), dtype=np.float64) / 1e9


def _check_size(
    path: Path, resources: int, nodes: int, steps: int, step: float, frame: pd.DataFrame
) -> None:
    """Refuse a trace whose matrices would not fit, before they are allocated."""
    matrices = 2 if "pods" in frame.columns else 1
    estimate = resources * nodes * steps * 8 * matrices
    span = f"{steps} steps of {step:g}s"
    if steps > MAX_STEPS:
        raise TraceError(
            f"trace file {path}: timestamps span {span} (limit {MAX_STEPS}):"
            " is one timestamp off the grid or in the wrong unit?"
        )
    if estimate > MAX_TRACE_BYTES:
        raise TraceError(
            f"trace file {path}: {resources} resources x {nodes} nodes x {span} would need"
            f" ~{estimate / 2**30:.1f} GiB (limit {MAX_TRACE_BYTES / 2**30:.0f} GiB)"
        )


def load_trace(
    trace_path: Path,
    nodes_path: Path,
    resources_path: Path | None = None,
    name: str | None = None,
) -> Trace:
    """Read TRACE, NODES and (optionally) RES into a :class:`Trace`.

    Raises:
        TraceError: with a one-line reason when any input is malformed.
    """
    nodes, zones = load_nodes(nodes_path)
    frame = _read(trace_path, ("timestamp", "resource", "node", "accesses"), "trace")
    accesses = _numbers(frame, "accesses", trace_path, "trace")
    seconds = _timestamps(frame["timestamp"].str.strip(), trace_path)
    node_index = {n: i for i, n in enumerate(nodes)}
    node_names = frame["node"].str.strip()
    unknown = ~node_names.isin(node_index)
    if unknown.any():
        row = int(unknown.to_numpy().argmax())
        raise TraceError(
            f"trace file {trace_path} line {row + 2}: node {node_names.iloc[row]!r}"
            " is not in the nodes file"
        )
    instants = np.unique(seconds)
    step = float(np.min(np.diff(instants))) if len(instants) > 1 else 60.0
    resource_names = frame["resource"].str.strip()
    resources = tuple(sorted(set(resource_names)))
    span_steps = round((instants[-1] - instants[0]) / step) + 1
    _check_size(trace_path, len(resources), len(nodes), span_steps, step, frame)
    position = (seconds - instants[0]) / step
    steps = np.rint(position).astype(np.int64)
    if np.abs(position - steps).max() > 0.01:
        raise TraceError(f"trace file {trace_path}: timestamps are not on a regular {step:g}s grid")
    res_index = {r: i for i, r in enumerate(resources)}
    demand = np.zeros((len(resources), len(nodes), int(steps.max()) + 1))
    where = (
        resource_names.map(res_index).to_numpy(),
        node_names.map(node_index).to_numpy(),
        steps,
    )
    np.add.at(demand, where, accesses)
    pods = None
    if "pods" in frame.columns:
        counts = _numbers(frame.fillna({"pods": "0"}), "pods", trace_path, "trace")
        fractional = counts != np.rint(counts)
        if fractional.any():
            row = int(fractional.argmax())
            raise TraceError(
                f"trace file {trace_path} line {row + 2}: pods {frame['pods'].iloc[row]!r}"
                " is not a whole number"
            )
        pods = np.zeros(demand.shape, dtype=np.int64)
        np.add.at(pods, where, counts.astype(np.int64))
    sizes, writes, low, high = _resources(resources_path, resources)
    return Trace(
        name=name or trace_path.stem,
        demand=demand,
        resources=resources,
        nodes=nodes,
        zones=zones,
        step_s=step,
        available=np.ones((len(nodes), demand.shape[2]), dtype=np.bool_),
        state_bytes=sizes,
        writes_per_min=writes,
        min_replicas=low,
        max_replicas=high,
        start_s=float(instants[0]),
        pods=pods,
    )


def _resources(
    path: Path | None, resources: tuple[str, ...]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    n = len(resources)
    sizes = np.full(n, float(DEFAULT_STATE_BYTES))
    writes = np.full(n, DEFAULT_WRITES_PER_MIN)
    low = np.full(n, DEFAULT_MIN_REPLICAS, dtype=np.int64)
    high = np.zeros(n, dtype=np.int64)
    if path is None:
        return sizes, writes, low, high
    frame = _read(path, ("resource", "bytes", "writes_per_min"), "resources")
    rates = _numbers(frame, "writes_per_min", path, "resources")
    index = {r: i for i, r in enumerate(resources)}
    for row, (name, size) in enumerate(
        zip(frame["resource"].str.strip(), frame["bytes"].str.strip(), strict=True)
    ):
        i = index.get(name)
        if i is None:
            continue
        try:
            sizes[i] = float(parse_quantity(size))
        except ValueError:
            raise TraceError(f"resources file {path} line {row + 2}: bad bytes {size!r}") from None
        writes[i] = rates[row]
        for column, target in (("min_replicas", low), ("max_replicas", high)):
            if column in frame.columns and isinstance(frame[column].iloc[row], str):
                text = frame[column].iloc[row].strip()
                if not text.isdigit() or (column == "min_replicas" and int(text) < 1):
                    raise TraceError(f"resources file {path} line {row + 2}: bad {column} {text!r}")
                target[i] = int(text)
    bad = (high > 0) & (high < low)
    if bad.any():
        name = resources[int(bad.argmax())]
        raise TraceError(f"resources file {path}: max_replicas below min_replicas for {name!r}")
    return sizes, writes, low, high
