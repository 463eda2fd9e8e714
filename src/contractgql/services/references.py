"""Checks that ids in an input point at records of the caller's organization.

A record of another organization is reported exactly like a missing one, so that ids
never reveal what exists outside the caller's tenant.
"""

from __future__ import annotations

from typing import Any

from tortoise.models import Model

from contractgql.ids import encode_id
from contractgql.services.validation import Validator


async def check_reference(
    validator: Validator,
    model: type[Model],
    organization_id: int,
    field: str,
    record_id: int | None,
    label: str,
    *,
    extra: dict[str, Any] | None = None,
) -> None:
    if record_id is None:
        return
    query = model.filter(id=record_id, organization_id=organization_id)
    if extra:
        query = query.filter(**extra)
    if not await query.exists():
        validator.add(
            field,
            "not_found",
            f"{label} {encode_id(model.__name__, record_id)!r} was not found in your "
            "organization: pick an "
            f"existing {label.lower()}.",
        )


async def check_references(
    validator: Validator,
    model: type[Model],
    organization_id: int,
    field: str,
    record_ids: list[int] | None,
    label: str,
) -> None:
    if not record_ids:
        return
    wanted = set(record_ids)
    found = set(
        await model.filter(id__in=wanted, organization_id=organization_id)
        .filter(archived_at=None)
        .values_list("id", flat=True)
    )
    for missing in sorted(wanted - found):
        validator.add(
            field,
            "not_found",
            f"{label} {encode_id(model.__name__, missing)!r} was not found in your "
            "organization: pick an "
            f"existing {label.lower()}.",
        )
