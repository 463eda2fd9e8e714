"""Validation of custom field values against the organization's definitions."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from contractgql.models import CustomFieldDefinition, CustomFieldEntity, CustomFieldKind
from contractgql.services.validation import PLAIN_DECIMAL, Validator, is_storable_text

MAX_TEXT_LENGTH = 2_000


async def validate_custom_fields(
    validator: Validator,
    organization_id: int,
    entity: CustomFieldEntity,
    values: dict[str, Any],
    *,
    creating: bool,
) -> dict[str, Any]:
    """Return `values` normalised for storage; add an error for each invalid one.

    Values are stored as JSON: numbers as decimal strings, dates as ISO strings. A null
    value removes the field. On create, every required field must have a value.
    """
    definitions = {
        definition.key: definition
        for definition in await CustomFieldDefinition.filter(
            organization_id=organization_id, entity=entity, archived_at=None
        )
    }
    normalised: dict[str, Any] = {}
    for key, raw in values.items():
        definition = definitions.get(key)
        field = f"custom_fields.{key}"
        if definition is None:
            known = ", ".join(sorted(definitions)) or "none are defined"
            validator.add(
                field,
                "unknown_custom_field",
                f"Custom field {key!r} is not defined for {entity.value}s: use one "
                f"of the defined keys ({known}) or define it first.",
            )
            continue
        if raw is None:
            _check_required(validator, definition, field)
            normalised[key] = None
            continue
        value = _coerce(validator, definition, field, raw)
        if value is not None:
            normalised[key] = value

    if creating:
        for key, definition in definitions.items():
            if definition.required and key not in values:
                _check_required(validator, definition, f"custom_fields.{key}")
    return normalised


def _check_required(
    validator: Validator, definition: CustomFieldDefinition, field: str
) -> None:
    if definition.required:
        validator.add(
            field,
            "required",
            f"Custom field {definition.key!r} ({definition.label}) is required: "
            "give it a value.",
        )


def _coerce(
    validator: Validator, definition: CustomFieldDefinition, field: str, raw: Any
) -> Any:
    kind = definition.kind
    try:
        if (
            kind is CustomFieldKind.TEXT
            and isinstance(raw, str)
            and len(raw) <= MAX_TEXT_LENGTH
            and is_storable_text(raw)
        ):
            return raw
        if kind is CustomFieldKind.NUMBER and not isinstance(raw, bool):
            text = str(raw).strip()
            if PLAIN_DECIMAL.match(text):
                # Stored as a string so that no digit is lost to a float.
                return format(Decimal(text), "f")
        if kind is CustomFieldKind.DATE and isinstance(raw, str):
            return date.fromisoformat(raw).isoformat()
        if kind is CustomFieldKind.BOOLEAN and isinstance(raw, bool):
            return raw
        if kind is CustomFieldKind.CHOICE and raw in definition.choices:
            return raw
    except (InvalidOperation, ValueError):
        pass

    validator.add(
        field,
        "invalid_custom_field_value",
        f"Value {raw!r} is not valid for custom field {definition.key!r}: "
        f"{_expected(definition)}.",
    )
    return None


def _expected(definition: CustomFieldDefinition) -> str:
    kind = definition.kind
    if kind is CustomFieldKind.CHOICE:
        return "use one of " + ", ".join(repr(c) for c in definition.choices)
    return {
        CustomFieldKind.TEXT: f"use a text of at most {MAX_TEXT_LENGTH} characters",
        CustomFieldKind.NUMBER: "use a number such as 12.5, with digits and a dot",
        CustomFieldKind.DATE: "use a date as YYYY-MM-DD",
        CustomFieldKind.BOOLEAN: "use true or false",
    }[kind]
