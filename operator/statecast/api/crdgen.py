"""Generate structural CustomResourceDefinitions from the pydantic models.

pydantic emits JSON Schema (``$defs``/``$ref``, ``anyOf`` with ``null``, numeric
``exclusiveMaximum``, ``const``); the Kubernetes API server wants a *structural*
OpenAPI v3 schema: everything inlined, ``nullable`` instead of a null branch,
boolean exclusive bounds, no ``additionalProperties`` beside ``properties``. This
module converts one into the other and wraps it into a CRD object.
"""

from __future__ import annotations

import copy
from typing import Any

import yaml

from statecast.api.replica import Replica
from statecast.api.shared_resource import SharedResource
from statecast.api.types import GROUP, VERSION, ResourceModel

#: The resources, in the order their CRDs are written.
RESOURCES: tuple[type[ResourceModel], ...] = (SharedResource, Replica)

#: Replica fields that the API server lets clients filter on (field selectors).
_SELECTABLE_FIELDS: dict[str, list[str]] = {
    "Replica": [".spec.nodeName", ".spec.resource"],
}

_DROP_KEYS = {"title", "$defs"}
_SUBSCHEMA_KEYS = {"items", "anyOf", "allOf", "oneOf", "not"}


def _resolve(node: Any, defs: dict[str, Any]) -> Any:
    """Return ``node`` with every ``$ref`` inlined and converted to structural form."""
    if isinstance(node, list):
        return [_resolve(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    node = dict(node)
    if "$ref" in node:
        target = defs[node.pop("$ref").rsplit("/", 1)[-1]]
        merged = {**copy.deepcopy(target), **node}
        return _resolve(merged, defs)
    any_of = node.get("anyOf")
    if isinstance(any_of, list) and not node.get("x-kubernetes-int-or-string"):
        branches = [b for b in any_of if b != {"type": "null"}]
        if len(branches) < len(any_of):
            node.pop("anyOf")
            if len(branches) != 1:
                raise ValueError(f"cannot make a structural schema of anyOf {any_of!r}")
            node = {**branches[0], **node, "nullable": True}
            if node.get("default", ...) is None:
                node.pop("default")
            return _resolve(node, defs)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROP_KEYS:
            continue
        if key == "properties":
            out[key] = {name: _resolve(prop, defs) for name, prop in value.items()}
        elif key == "additionalProperties":
            if value is False or "properties" in node:
                continue
            resolved = _any_value() if value is True else _resolve(value, defs)
            if resolved == _any_value():
                # A map of arbitrary JSON values: CEL cannot type ``additionalProperties``
                # without a type, so the object itself keeps unknown fields instead.
                out.update(resolved)
            else:
                out[key] = resolved
        elif key in _SUBSCHEMA_KEYS:
            out[key] = _resolve(value, defs)
        elif key == "const":
            out["enum"] = [value]
        elif key in ("exclusiveMaximum", "exclusiveMinimum") and not isinstance(value, bool):
            out[key.replace("exclusiveM", "m")] = value
            out[key] = True
        else:
            out[key] = copy.deepcopy(value)
    if not out.get("type") and not _is_special(out):
        return {**out, **_any_value()}
    if out.get("type") == "number":
        _check_fractional_bounds(out)
    if (
        out.get("type") == "object"
        and "properties" not in out
        and "additionalProperties" not in out
    ):
        out["x-kubernetes-preserve-unknown-fields"] = True
    return out


def _check_fractional_bounds(schema: dict[str, Any]) -> None:
    """Repeat a number's fractional bounds as CEL rules, which an integer cannot pass.

    The API server checks an integer value (``0``, not ``0.0``) against ``minimum`` and
    ``maximum`` cut to integers, so ``minimum: 1.0e-06`` let ``0`` in (found by
    test_crds_api in session 25). A rule compares the value as the double it is.
    """
    for key, strict, loose in (("minimum", ">", ">="), ("maximum", "<", "<=")):
        bound = schema.get(key)
        if not isinstance(bound, float) or bound.is_integer():
            continue
        op = strict if schema.get("exclusive" + key[0].upper() + key[1:]) else loose
        schema.setdefault("x-kubernetes-validations", []).append(
            {"rule": f"self {op} {bound!r}", "message": f"must be {op} {bound!r}"}
        )


def _any_value() -> dict[str, Any]:
    return {"x-kubernetes-preserve-unknown-fields": True}


def _is_special(schema: dict[str, Any]) -> bool:
    return bool(
        schema.get("x-kubernetes-int-or-string")
        or schema.get("x-kubernetes-preserve-unknown-fields")
    )


def _default_nested_objects(schema: dict[str, Any]) -> None:
    """Give optional object fields of a spec ``default: {}`` so their own defaults apply."""
    required = set(schema.get("required", []))
    for name, prop in schema.get("properties", {}).items():
        if prop.get("type") == "object" and "properties" in prop:
            _default_nested_objects(prop)
            if name not in required and "default" not in prop and not prop.get("nullable"):
                prop["default"] = {}


def openapi_schema(model: type[ResourceModel]) -> dict[str, Any]:
    """The structural OpenAPI v3 schema of a resource model (spec and status)."""
    raw = model.model_json_schema(by_alias=True, mode="validation")
    defs = raw.get("$defs", {})
    schema = _resolve(raw, defs)
    schema.pop("description", None)
    properties = schema["properties"]
    _default_nested_objects(properties["spec"])
    properties["status"].pop("default", None)
    return {
        "type": "object",
        "description": (model.__doc__ or "").strip(),
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string", "description": "Versioned schema of this object."},
            "kind": {"type": "string", "description": "Kind of this object."},
            "metadata": {"type": "object"},
            "spec": properties["spec"],
            "status": properties["status"],
        },
    }


def crd(model: type[ResourceModel]) -> dict[str, Any]:
    """The CustomResourceDefinition object of a resource model."""
    kind: str = model.kind
    plural: str = model.plural
    version: dict[str, Any] = {
        "name": VERSION,
        "served": True,
        "storage": True,
        "subresources": {"status": {}},
        "additionalPrinterColumns": model.printer_columns,
        "schema": {"openAPIV3Schema": openapi_schema(model)},
    }
    if kind in _SELECTABLE_FIELDS:
        version["selectableFields"] = [{"jsonPath": path} for path in _SELECTABLE_FIELDS[kind]]
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{plural}.{GROUP}",
            "labels": {"app.kubernetes.io/part-of": "statecast"},
        },
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": kind,
                "listKind": f"{kind}List",
                "plural": plural,
                "singular": model.singular,
                "shortNames": model.short_names,
                "categories": ["statecast"],
            },
            "versions": [version],
        },
    }


def render(model: type[ResourceModel]) -> str:
    """The CRD of ``model`` as the YAML text checked into ``crds/``."""
    # The explicit document start keeps files that are concatenated (`helm show crds`)
    # separate documents.
    header = "# Generated by `statecast crds` from statecast.api; do not edit.\n---\n"
    return header + yaml.safe_dump(crd(model), sort_keys=False, width=100)


def file_name(model: type[ResourceModel]) -> str:
    """File name of the CRD of ``model`` under ``crds/``."""
    return f"{GROUP}_{model.plural}.yaml"
