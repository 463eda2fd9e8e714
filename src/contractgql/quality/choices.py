"""Fields with a fixed set of values that the column types do not enforce."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from contractgql.models import Organization
from contractgql.services.validation import Validator

BASIS_POINTS = Decimal(100)


async def check_vat_rate(
    validator: Validator, organization_id: int, columns: dict[str, Any]
) -> None:
    """Reject a VAT rate that is not one of the organization's rates."""
    rate = columns.get("vat_rate_bp")
    if rate is None or validator.has_error("vat_rate"):
        return
    rates = await Organization.filter(id=organization_id).values_list(
        "vat_rates", flat=True
    )
    allowed: list[int] = rates[0] if rates else []  # type: ignore[assignment]
    if rate not in allowed:
        listed = ", ".join(format_rate(r) for r in sorted(allowed)) or "none"
        validator.add(
            "vat_rate",
            "unknown_vat_rate",
            f"VAT rate {format_rate(rate)}% is not one of your organization's "
            f"rates ({listed}): pick one of them.",
        )


def format_rate(basis_points: int) -> str:
    """Return a rate in basis points as a percentage without trailing zeros."""
    text = f"{Decimal(basis_points) / BASIS_POINTS:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text
