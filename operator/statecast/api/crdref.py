"""The CRD reference (``docs/reference/crds.md``), generated from the same schema as the CRDs.

Each field is a row: its path, type, default, what the API server checks (enums,
bounds, patterns, sizes) and its description, all read from the structural schema
that :func:`statecast.api.crdgen.crd` builds from the pydantic models. Rules that span
fields (CEL) are listed under the table. ``statecast crds`` writes the file and
``statecast crds --check`` (``make lint``) fails when it drifts.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from statecast.api.crdgen import RESOURCES, crd
from statecast.api.types import API_VERSION, ResourceModel

__all__ = ["PATH", "render_reference"]

#: Where the reference is written, relative to the repository root.
PATH = "docs/reference/crds.md"


def _type(schema: dict[str, Any]) -> str:
    if schema.get("x-kubernetes-int-or-string"):
        return "integer or string"
    kind = str(schema.get("type", "any"))
    if kind == "array":
        return f"[]{_type(schema.get('items', {}))}"
    if kind == "object" and "additionalProperties" in schema:
        return f"map[string]{_type(schema['additionalProperties'])}"
    if kind == "object" and "properties" not in schema:
        return "object (any keys)"
    if schema.get("format") == "date-time":
        return "time (RFC 3339)"
    return kind


def _checks(schema: dict[str, Any]) -> str:
    parts = []
    if "enum" in schema:
        parts.append("one of " + ", ".join(f"`{v}`" if v != "" else '`""`' for v in schema["enum"]))
    low, high = schema.get("minimum"), schema.get("maximum")
    if low is not None:
        parts.append(f"{'>' if schema.get('exclusiveMinimum') else '>='} {low}")
    if high is not None:
        parts.append(f"{'<' if schema.get('exclusiveMaximum') else '<='} {high}")
    if "pattern" in schema:
        parts.append(f"pattern `{schema['pattern']}`")
    for key, word in (("minLength", "length >="), ("maxLength", "length <="),
                      ("maxItems", "items <=")):  # fmt: skip
        if key in schema:
            parts.append(f"{word} {schema[key]}")
    return "; ".join(parts)


def _default(schema: dict[str, Any]) -> str:
    if "default" not in schema or schema["default"] == {}:
        return ""
    value = schema["default"]
    if value in ("", []):
        return f"`{value!r}`".replace("'", '"')
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _rows(
    schema: dict[str, Any], path: str, required: bool, rules: list[tuple[str, str]]
) -> Iterator[str]:
    for rule in schema.get("x-kubernetes-validations", []):
        rules.append((path, str(rule["message"])))
    flags = " (required)" if required else ""
    yield (
        f"| `{path}`{flags} | {_type(schema)} | {_default(schema)} | {_cell(_checks(schema))} "
        f"| {_cell(str(schema.get('description', '')))} |"
    )
    target = schema.get("items", schema) if schema.get("type") == "array" else schema
    inner = set(target.get("required", []))
    suffix = "[]" if target is not schema else ""
    for name, prop in target.get("properties", {}).items():
        yield from _rows(prop, f"{path}{suffix}.{name}", name in inner, rules)


def _section(model: type[ResourceModel], part: str) -> list[str]:
    schema = crd(model)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"][part]
    rules: list[tuple[str, str]] = []
    lines = [
        "| field | type | default | checked by the API server | description |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, prop in schema.get("properties", {}).items():
        lines.extend(_rows(prop, f"{part}.{name}", name in schema.get("required", []), rules))
    if rules:
        lines += ["", "Rules across fields (CEL, checked by the API server):", ""]
        lines += [f"- `{path}`: {message}" for path, message in rules]
    return lines


def _resource(model: type[ResourceModel]) -> list[str]:
    definition = crd(model)
    names = definition["spec"]["names"]
    columns = ", ".join(
        c["name"] + (" (wide)" if c.get("priority") else "") for c in model.printer_columns
    )
    lines = [
        f"## {model.kind}",
        "",
        f"`apiVersion: {API_VERSION}`, `kind: {model.kind}`, namespaced; "
        f"`kubectl get {names['plural']}` or `{', '.join(names['shortNames'])}`; "
        f"category `statecast`. {(model.__doc__ or '').strip()}",
        "",
        f"Columns of `kubectl get`: {columns}.",
        "",
        "### spec",
        "",
        *_section(model, "spec"),
        "",
        "### status",
        "",
        "Written by statecast, not by users.",
        "",
        *_section(model, "status"),
        "",
    ]
    return lines


def render_reference() -> str:
    """The whole reference as Markdown."""
    lines = [
        "<!-- Generated by `statecast crds` from statecast.api; do not edit. -->",
        "# Custom resource reference",
        "",
        "Every field of statecast's custom resources, as the API server validates them. "
        "Durations are strings such as `30s`, `5m`, `1h30m` or `1d`; sizes are quantities "
        "such as `512Mi` or a number of bytes. Concepts: [../concepts.md](../concepts.md).",
        "",
    ]
    for model in RESOURCES:
        lines.extend(_resource(model))
    return "\n".join(lines).rstrip() + "\n"
