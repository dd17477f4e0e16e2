"""Field types and the base model shared by the custom resources.

Every model uses camelCase aliases (the Kubernetes convention) and takes its field
descriptions from attribute docstrings, which end up in the generated CRDs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, JsonValue, WithJsonSchema
from pydantic.alias_generators import to_camel

from statecast.api.units import (
    CEL_DURATION_OR_DAYS_PATTERN,
    DURATION_PATTERN,
    QUANTITY_PATTERN,
    parse_duration,
    parse_quantity,
)

GROUP = "statecast.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
#: A SharedResource by (namespace, name).
Ref = tuple[str, str]


def _check_quantity(value: int | str) -> int | str:
    parse_quantity(value)
    return value


Duration = Annotated[str, Field(pattern=DURATION_PATTERN, max_length=32)]
"""A duration such as ``30s``, ``5m`` or ``1h30m``."""


def _check_positive(value: str) -> str:
    if parse_duration(value).total_seconds() <= 0:
        raise ValueError("must be more than 0, e.g. 30s, 5m or 1h")
    return value


PositiveDuration = Annotated[
    str,
    Field(
        pattern=DURATION_PATTERN,
        max_length=32,
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    # more than 0 exactly when one of its numbers has a digit other than
                    # 0 ("0s", "0m0s" and "0.0h" have none); a malformed value is left to
                    # the pattern's message
                    "rule": f"!self.matches('{CEL_DURATION_OR_DAYS_PATTERN}')"
                    " || self.matches('[1-9]')",
                    "message": "must be more than 0, e.g. 30s, 5m or 1h",
                }
            ]
        },
    ),
    AfterValidator(_check_positive),
]
"""A duration more than 0, such as ``30s``, ``5m`` or ``1h30m`` (``0s`` is refused)."""

Quantity = Annotated[
    int | str,
    AfterValidator(_check_quantity),
    WithJsonSchema(
        {
            # The one anyOf a structural schema allows; the value validations beside it
            # apply to the branch of their type (pattern to strings, minimum to integers).
            "x-kubernetes-int-or-string": True,
            "anyOf": [{"type": "integer"}, {"type": "string"}],
            "pattern": QUANTITY_PATTERN,
            "maxLength": 32,
            "minimum": 0,
        }
    ),
]
"""A byte size such as ``512Mi``, ``1Gi`` or a plain number of bytes."""

ConditionStatus = Literal["True", "False", "Unknown"]

#: Marks a list of conditions as a map keyed by ``type`` (for server-side apply).
CONDITIONS_LIST: dict[str, JsonValue] = {
    "x-kubernetes-list-type": "map",
    "x-kubernetes-list-map-keys": ["type"],
}


def cel(*rules: dict[str, str]) -> dict[str, Any]:
    """JSON schema extra carrying CEL validation rules into the generated CRD.

    Each rule is a dict with ``rule`` (a CEL expression over ``self``) and ``message``.
    """
    return {"x-kubernetes-validations": [dict(rule) for rule in rules]}


class Model(BaseModel):
    """Base of the spec models: camelCase aliases, docstrings as descriptions, no extras."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        use_attribute_docstrings=True,
        extra="forbid",
        frozen=True,
    )

    def to_k8s(self) -> dict[str, Any]:
        """Dump as the Kubernetes JSON shape (aliases, no unset optional fields)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class ResourceModel(Model):
    """Base of a custom resource: its names and printer columns as class variables."""

    model_config = ConfigDict(extra="ignore")

    kind: ClassVar[str]
    plural: ClassVar[str]
    singular: ClassVar[str]
    short_names: ClassVar[list[str]]
    printer_columns: ClassVar[list[dict[str, Any]]]


class StatusModel(Model):
    """Base of the status models: unknown fields are ignored, not rejected."""

    model_config = ConfigDict(extra="ignore")


def transition_time(
    previous: Iterable[Mapping[str, Any]] | None, type_: str, status: str, now: datetime
) -> datetime:
    """When condition ``type_`` took ``status``: kept while it holds, else ``now``.

    Kubernetes' convention: ``lastTransitionTime`` moves only when the condition's
    status changes. ``previous`` are the conditions as last written (camelCase).
    """
    for old in previous or ():
        if old.get("type") != type_ or old.get("status") != status:
            continue
        raw = old.get("lastTransitionTime")
        if isinstance(raw, datetime):
            return raw
        if isinstance(raw, str):
            try:
                return datetime.fromisoformat(raw.replace("Z", "+00:00"))
            except ValueError:
                return now
    return now


class Condition(StatusModel):
    """A status condition, as the Kubernetes API conventions define it."""

    type: Annotated[str, Field(max_length=64)]
    """Kind of condition, e.g. Ready."""
    status: ConditionStatus
    """Whether the condition holds: True, False or Unknown."""
    reason: Annotated[str, Field(max_length=128)] = ""
    """A CamelCase word saying why the condition has this status."""
    message: Annotated[str, Field(max_length=1024)] = ""
    """A human-readable explanation."""
    observed_generation: Annotated[int, Field(ge=0)] | None = None
    """The spec generation the condition was computed from."""
    last_transition_time: datetime | None = None
    """When the status last changed."""
