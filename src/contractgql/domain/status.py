"""A contract's status, derived from its recorded stage and today's date."""

from __future__ import annotations

import enum
from datetime import date


class ContractStatus(enum.Enum):
    DRAFT = "draft"
    CANCELLED = "cancelled"
    UPCOMING = "upcoming"
    ACTIVE = "active"
    EXPIRED = "expired"


def contract_status(
    stage: str, start: date, end: date | None, today: date
) -> ContractStatus:
    """Derive the status from the stage and the dates; the end date is inclusive."""
    if stage == "draft":
        return ContractStatus.DRAFT
    if stage == "cancelled":
        return ContractStatus.CANCELLED
    if start > today:
        return ContractStatus.UPCOMING
    if end is not None and end < today:
        return ContractStatus.EXPIRED
    return ContractStatus.ACTIVE
