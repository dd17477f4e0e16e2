"""A new resource's initial state from its ``source``: inline, a ConfigMap or a Secret.

A replica seeds itself only while the resource is being created: its map is empty, its
version vector has never held the seed (:data:`~statecast.core.crdt.seed.SEED_REPLICA`)
and no replica of the resource has been Ready yet. Every replica seeding at that moment
builds identical entries (see :mod:`statecast.core.crdt.seed`), so they agree without
talking; replicas made later copy the state, with whatever was written since, from
their peers. The source is read once: later edits of the ConfigMap do not reach the map.

Values: an inline map's values are JSON of any type; ConfigMap and Secret values become
JSON strings (a Secret's decoded bytes must be UTF-8). A source that does not fit the
agent's limits, or that cannot be read, seeds nothing and is reported (log and Event);
the agent tries again on each pass until it can, or until the resource has state.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

from statecast.agent.config import Limits

__all__ = ["SourceError", "SourceRef", "from_data", "from_inline", "source_ref"]

SourceKind = Literal["ConfigMap", "Secret"]


class SourceError(Exception):
    """The source cannot seed the map; the message says why."""


class SourceRef:
    """A ConfigMap or Secret in the resource's namespace."""

    __slots__ = ("kind", "name")

    def __init__(self, kind: SourceKind, name: str) -> None:
        self.kind, self.name = kind, name

    def __repr__(self) -> str:
        return f"{self.kind}/{self.name}"


def source_ref(source: Mapping[str, Any]) -> SourceRef | None:
    """The ConfigMap or Secret a source names (None for inline or no source)."""
    for field, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
        ref = source.get(field)
        if isinstance(ref, Mapping) and isinstance(ref.get("name"), str):
            return SourceRef(kind, ref["name"])  # type: ignore[arg-type]
    return None


def _check(values: dict[str, bytes], limits: Limits, origin: str) -> dict[str, bytes]:
    for key, value in values.items():
        if not key or len(key.encode()) > limits.max_key_bytes:
            raise SourceError(
                f"{origin}: key {key[:64]!r} is empty or longer than {limits.max_key_bytes} bytes"
            )
        if len(value) > limits.max_value_bytes:
            raise SourceError(
                f"{origin}: value of {key!r} is larger than {limits.max_value_bytes} bytes"
            )
    return values


def from_inline(inline: Mapping[str, Any], limits: Limits) -> dict[str, bytes]:
    """JSON-encoded values of an inline source.

    Raises:
        SourceError: A key or value is over the limits, or a value is not JSON.
    """
    try:
        values = {
            str(k): json.dumps(v, separators=(",", ":"), allow_nan=False).encode()
            for k, v in inline.items()
        }
    except (TypeError, ValueError) as err:
        raise SourceError(f"inline source: {err}") from err
    return _check(values, limits, "inline source")


def from_data(ref: SourceRef, data: Mapping[str, bytes], limits: Limits) -> dict[str, bytes]:
    """JSON strings from a ConfigMap's or Secret's data.

    Raises:
        SourceError: A value is not UTF-8, or a key or value is over the limits.
    """
    values = {}
    for key, raw in data.items():
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            raise SourceError(f"{ref!r}: value of {key!r} is not UTF-8 text") from err
        values[key] = json.dumps(text, separators=(",", ":")).encode()
    return _check(values, limits, repr(ref))
