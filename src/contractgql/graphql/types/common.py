"""Enums, scalars and small types shared by several object types."""

from __future__ import annotations

from typing import Any

import strawberry

from contractgql.domain.dates import Period, PeriodUnit
from contractgql.domain.money import PaymentFrequency
from contractgql.domain.status import ContractStatus
from contractgql.errors import FieldError
from contractgql.models import (
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
CustomFieldEntityEnum = strawberry.enum(CustomFieldEntity, name="CustomFieldEntity")

JSON = strawberry.scalars.JSON


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
