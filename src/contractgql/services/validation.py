"""Collects per-field validation errors so a caller sees every problem at once."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any

from contractgql.errors import FieldError, ValidationError

_HEX_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


# Control characters other than tab, line feed and carriage return, and unpaired
# UTF-16 surrogates, which PostgreSQL cannot store in a text column.
_UNSTORABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")
# A plain decimal number: ASCII digits with an optional sign and fraction.
PLAIN_DECIMAL = re.compile(r"^[+-]?[0-9]+(\.[0-9]+)?$")


# Dates outside this range are typing errors, and date arithmetic near year 9999
# would overflow.
EARLIEST_DATE = date(1900, 1, 1)
LATEST_DATE = date(2199, 12, 31)
# Maximum notice period or renewal term per unit: ten years.
MAX_PERIOD = {"days": 3660, "weeks": 520, "months": 120}


def is_storable_text(text: str) -> bool:
    return _UNSTORABLE.search(text) is None


class Validator:
    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def add(self, field: str, code: str, message: str) -> None:
        self.errors.append(FieldError(field=field, code=code, message=message))

    def has_error(self, field: str) -> bool:
        return any(error.field == field for error in self.errors)

    def raise_if_any(self) -> None:
        if self.errors:
            raise ValidationError(self.errors)

    def text(
        self,
        values: dict[str, Any],
        field: str,
        *,
        max_length: int,
        required: bool = False,
        label: str | None = None,
    ) -> None:
        """Strip a text value in place; check that it is present and short enough."""
        if field not in values:
            if required:
                self.add(field, "required", f"{_label(field, label)} is required.")
            return

        value = values[field]
        if value is not None:
            value = value.strip()
            values[field] = value or None
        if value and not is_storable_text(value):
            self.add(
                field,
                "invalid_characters",
                f"{_label(field, label)} contains a NUL character, another control "
                "character or an unpaired surrogate: remove it.",
            )
        elif required and not value:
            self.add(
                field, "required", f"{_label(field, label)} is required: enter a value."
            )
        elif value and len(value) > max_length:
            self.add(
                field,
                "too_long",
                f"{_label(field, label)} is {len(value)} characters long: "
                f"shorten it to at most {max_length}.",
            )

    def calendar_date(self, values: dict[str, Any], field: str) -> None:
        value = values.get(field)
        if value is not None and not EARLIEST_DATE <= value <= LATEST_DATE:
            self.add(
                field,
                "out_of_range",
                f"{_label(field, None)} {value.isoformat()} is out of range: use a "
                f"date from {EARLIEST_DATE.isoformat()} to {LATEST_DATE.isoformat()}.",
            )

    def period(self, values: dict[str, Any], field: str, *, minimum: int) -> None:
        """Check that a period's count is from `minimum` to a plausible maximum."""
        value = values.get(field)
        if value is None:
            return
        maximum = MAX_PERIOD[value.unit.value]
        if not minimum <= value.count <= maximum:
            self.add(
                field,
                "out_of_range",
                f"{_label(field, None)} of {value.count} {value.unit.value} is out of "
                f"range: use from {minimum} to {maximum} {value.unit.value}.",
            )

    def color(self, values: dict[str, Any], field: str) -> None:
        value = values.get(field)
        if value is not None and not _HEX_COLOR.match(value):
            self.add(
                field,
                "invalid_color",
                f"Colour {value!r} is not a hex colour: write it as '#rrggbb', "
                "such as '#d97706'.",
            )

    def email(self, values: dict[str, Any], field: str) -> None:
        value = values.get(field)
        if value and not _EMAIL.match(value):
            self.add(
                field,
                "invalid_email",
                f"E-mail address {value!r} is invalid: write it as name@example.com.",
            )

    def date_order(
        self, start: date | None, end: date | None, field: str = "end_date"
    ) -> None:
        if start is not None and end is not None and end < start:
            self.add(
                field,
                "end_before_start",
                f"End date {end.isoformat()} is before start date "
                f"{start.isoformat()}: make the end date the same as or later than "
                "the start date, or leave it empty for an open-ended contract.",
            )

    def percentage(
        self, values: dict[str, Any], field: str, *, low: Decimal, high: Decimal
    ) -> Decimal | None:
        """Return the percentage in `values[field]` as a Decimal if it is valid."""
        raw = values.get(field)
        if raw is None:
            return None
        text = str(raw).strip()
        if isinstance(raw, Decimal):
            value = raw
        elif PLAIN_DECIMAL.match(text):
            value = Decimal(text)
        else:
            value = Decimal("NaN")
        if not value.is_finite():
            self.add(
                field,
                "invalid_percentage",
                f"{_label(field, None)} {raw!r} is not a number: write a percentage "
                "such as '21' or '2.5'.",
            )
            return None
        if not low <= value <= high:
            self.add(
                field,
                "out_of_range",
                f"{_label(field, None)} {value} is out of range: "
                f"use a percentage from {low} to {high}.",
            )
        elif value != value.quantize(Decimal("0.01")):
            self.add(
                field,
                "too_many_decimals",
                f"{_label(field, None)} {value} has more than 2 decimal places: "
                "round it to 2.",
            )
        else:
            return value
        return None


def _label(field: str, label: str | None) -> str:
    if label:
        return label
    spaced = field.removesuffix("_id").replace("_", " ")
    return spaced[:1].upper() + spaced[1:]
