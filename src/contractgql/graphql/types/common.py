"""Enums, scalars and small types shared by several object types."""

from __future__ import annotations

import functools
from collections.abc import Set as AbstractSet
from typing import Any

import strawberry
from strawberry.types.base import get_object_definition

from contractgql.domain.dates import Period, PeriodUnit
from contractgql.domain.money import PaymentFrequency
from contractgql.domain.status import ContractStatus
from contractgql.errors import FieldError
from contractgql.models import (
    ContractField,
    ContractStage,
    CustomFieldEntity,
    CustomFieldKind,
    Sensitivity,
)

PeriodUnitEnum = strawberry.enum(PeriodUnit, name="PeriodUnit")
PaymentFrequencyEnum = strawberry.enum(
    PaymentFrequency,
    name="PaymentFrequency",
    description="How often the contract amount is billed.",
)
ContractStageEnum = strawberry.enum(
    ContractStage,
    name="ContractStage",
    description="The recorded stage of a contract: draft, signed or cancelled.",
)
SensitivityEnum = strawberry.enum(
    Sensitivity,
    name="Sensitivity",
    description="Confidential contracts are visible only to their owner, watchers and "
    "roles allowed to see confidential contracts.",
)
ContractStatusEnum = strawberry.enum(
    ContractStatus,
    name="ContractStatus",
    description="Where a contract stands today, in its organization's timezone: "
    "DRAFT and CANCELLED follow the stage; otherwise UPCOMING before the start date, "
    "EXPIRED after the end date and ACTIVE in between.",
)
CustomFieldKindEnum = strawberry.enum(CustomFieldKind, name="CustomFieldKind")
ContractFieldEnum = strawberry.enum(
    ContractField,
    name="ContractField",
    description="A contract field that required-field rules can require and the "
    "completeness report checks. SIGNED_DOCUMENT is a document of kind "
    "SIGNED_CONTRACT with at least one version.",
)
CustomFieldEntityEnum = strawberry.enum(CustomFieldEntity, name="CustomFieldEntity")

JSON = strawberry.scalars.JSON

# Descriptions of the fields that name the users behind an editable record.
CREATED_BY_DESCRIPTION = (
    "The user who created this record through the API, or null when unknown, such "
    "as for imported records."
)
UPDATED_BY_DESCRIPTION = (
    "The user who last created, changed or archived this record through the API, "
    "or null when unknown, such as for imported records. Imports and scans leave "
    "it unchanged."
)


@strawberry.type(name="Period", description="A length of time such as '3 months'.")
class PeriodType:
    count: int
    unit: PeriodUnitEnum  # type: ignore[valid-type]


@strawberry.input(
    name="PeriodInput", description="A length of time such as '3 months'."
)
class PeriodInput:
    count: int
    unit: PeriodUnitEnum  # type: ignore[valid-type]

    def to_period(self) -> Period:
        return Period(self.count, PeriodUnit(self.unit))


def period_type(count: int | None, unit: Any) -> PeriodType | None:
    if count is None or unit is None:
        return None
    return PeriodType(count=count, unit=PeriodUnit(unit))


@strawberry.type(
    name="FieldError",
    description="An invalid input field: its path in the input (camelCase), a "
    "machine-readable code and a sentence that names the value and the fix.",
)
class FieldErrorType:
    field: str
    code: str
    message: str


def field_errors(errors: list[FieldError]) -> list[FieldErrorType]:
    return [
        FieldErrorType(
            field=_camel_path(e.field), code=e.code.upper(), message=e.message
        )
        for e in errors
    ]


def _camel_path(path: str) -> str:
    """Turn a service field path into the input's name; custom field keys stay as-is."""
    first, dot, rest = path.partition(".")
    head, *words = first.split("_")
    camel = head + "".join(word.capitalize() for word in words)
    if first == "custom_fields":
        return camel + dot + rest
    return camel + dot + (_camel_path(rest) if rest else "")


class PartialRow(dict[str, Any]):
    """A row of some of a table's columns, which reads None for the others.

    Node builders take rows of every column. With one of `node_columns`, wrapped
    in this, they fill the fields that the query selects and leave the rest None.
    """

    def __missing__(self, key: str) -> None:
        return None


def node_columns(
    node_type: type, columns: tuple[str, ...], fields: AbstractSet[str]
) -> tuple[str, ...]:
    """Return the columns of `columns` that a node needs to serve `fields`.

    `fields` are snake_case field names of `node_type`, whose plain fields read the
    column of the same name. Fields with a resolver, such as relations, need only
    the keys: `id` and the `*_id` columns. A name that is neither, such as a field
    computed from several columns, selects every column.
    """
    known = set(columns) | _resolver_fields(node_type) | {"__typename"}
    if not fields <= known:
        return columns
    return tuple(
        column
        for column in columns
        if column in fields or column == "id" or column.endswith("_id")
    )


@functools.cache
def _resolver_fields(node_type: type) -> frozenset[str]:
    definition = get_object_definition(node_type, strict=True)
    return frozenset(
        field.python_name
        for field in definition.fields
        if field.base_resolver is not None
    )
