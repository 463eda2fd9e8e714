"""Fields with a fixed set of values that the column types do not enforce."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tortoise.transactions import in_transaction

from contractgql.audit import record_change
from contractgql.models import Organization
from contractgql.security.viewer import Viewer
from contractgql.services.validation import PLAIN_DECIMAL, Validator

BASIS_POINTS = Decimal(100)


async def check_vat_rate(
    validator: Validator,
    organization_id: int,
    columns: dict[str, Any],
    allowed: list[int] | None = None,
) -> None:
    """Reject a VAT rate that is not one of the organization's rates.

    `allowed` are the rates as vat_rates_of() returns them, for a caller that
    checks many contracts; by default they are read here.
    """
    rate = columns.get("vat_rate_bp")
    if rate is None or validator.has_error("vat_rate"):
        return
    if allowed is None:
        allowed = await vat_rates_of(organization_id)
    if rate not in allowed:
        listed = ", ".join(format_rate(r) for r in sorted(allowed)) or "none"
        validator.add(
            "vat_rate",
            "unknown_vat_rate",
            f"VAT rate {format_rate(rate)}% is not one of your organization's "
            f"rates ({listed}): pick one of them.",
        )


async def vat_rates_of(organization_id: int) -> list[int]:
    """Return the organization's VAT rates in basis points."""
    rates = await Organization.filter(id=organization_id).values_list(
        "vat_rates", flat=True
    )
    return rates[0] if rates else []  # type: ignore[return-value]


def format_rate(basis_points: int) -> str:
    """Return a rate in basis points as a percentage without trailing zeros."""
    text = f"{Decimal(basis_points) / BASIS_POINTS:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


# Rates one organization may offer at most.
MAX_VAT_RATES = 20


async def set_vat_rates(viewer: Viewer, rates: list[Any]) -> list[int]:
    """Replace the organization's VAT rates and return them in basis points.

    Contracts keep the rate they store, also when it is no longer offered. Their
    next change of the VAT rate must pick one of the new rates.
    """
    viewer.require("contract_type:write", "change the VAT rates")
    validator = Validator()
    if not rates:
        validator.add("rates", "required", "Give at least one VAT rate, such as '21'.")
    if len(rates) > MAX_VAT_RATES:
        validator.add(
            "rates",
            "too_many",
            f"{len(rates)} VAT rates were given: use at most {MAX_VAT_RATES}.",
        )
    basis_points = []
    for index, rate in enumerate(rates):
        value = _rate_value(validator, f"rates.{index}", str(rate).strip())
        if value is not None:
            basis_points.append(value)
    validator.raise_if_any()

    new_rates = sorted(set(basis_points), reverse=True)
    async with in_transaction():
        organization = await Organization.get(id=viewer.organization_id)
        before = {"vatRates": [format_rate(r) for r in organization.vat_rates]}
        organization.vat_rates = new_rates
        await organization.save(update_fields=["vat_rates"])
        after = {"vatRates": [format_rate(r) for r in new_rates]}
        await record_change(
            viewer, "organization.vat_rates", organization, before, after
        )
    return new_rates


def _rate_value(validator: Validator, field: str, text: str) -> int | None:
    """Return a percentage such as '21' or '5.5' in basis points, or add an error."""
    if not PLAIN_DECIMAL.match(text):
        validator.add(
            field,
            "invalid_percentage",
            f"VAT rate {text!r} is not a number: write a percentage such as '21'.",
        )
        return None
    value = Decimal(text)
    if not 0 <= value <= 100:
        validator.add(
            field,
            "out_of_range",
            f"VAT rate {text} is out of range: use a percentage from 0 to 100.",
        )
        return None
    if value != value.quantize(Decimal("0.01")):
        validator.add(
            field,
            "too_many_decimals",
            f"VAT rate {text} has more than 2 decimal places: round it to 2.",
        )
        return None
    return int(value * BASIS_POINTS)
