"""GraphQL types of time and material entries, contract caps and their consumption.

The policy protects TimeEntry.amount, ContractCap.limitAmount and the amounts of
CapUsage, so callers without 'contract.financial:read' see hours but no amounts.
The percentage and the warning flag of an amount cap are computed from amounts,
so their resolvers hide them from those callers too.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import strawberry

from contractgql.domain.money import from_minor_units
from contractgql.graphql.context import Info
from contractgql.graphql.relay import Node
from contractgql.ids import encode_id
from contractgql.models import (
    CapPeriod,
    CapUnit,
    ContractCap,
    EntryKind,
    EntryStatus,
    TimeEntry,
)
from contractgql.services.caps import CapUsage, hours_value

EntryKindEnum = strawberry.enum(EntryKind, name="TimeEntryKind")
EntryStatusEnum = strawberry.enum(EntryStatus, name="TimeEntryStatus")
CapUnitEnum = strawberry.enum(CapUnit, name="CapUnit")
CapPeriodEnum = strawberry.enum(
    CapPeriod,
    name="CapPeriod",
    description="Calendar month, calendar quarter, calendar year, or the "
    "contract's whole term from its start date through its end date.",
)


@strawberry.type(
    name="TimeEntry",
    description="Hours worked or material used on a project, under a contract.",
)
class TimeEntryNode(Node):
    project_id: strawberry.ID
    contract_id: strawberry.ID
    person_id: strawberry.ID
    date: date
    kind: EntryKindEnum  # type: ignore[valid-type]
    hours: Decimal | None = strawberry.field(
        description="Hours with two decimals; null for material entries."
    )
    amount: Decimal | None = strawberry.field(
        description="Amount of a material entry, excluding VAT; null for hours."
    )
    currency: str | None
    description: str
    billable: bool
    status: EntryStatusEnum  # type: ignore[valid-type]
    approved_by_id: strawberry.ID | None = strawberry.field(
        description="The user who approved the entry beyond a cap, if anyone did."
    )
    approved_at: datetime | None
    version: int
    created_at: datetime
    updated_at: datetime


def time_entry_node(entry: TimeEntry) -> TimeEntryNode:
    amount = None
    if entry.amount_minor is not None and entry.currency is not None:
        amount = from_minor_units(entry.amount_minor, entry.currency)
    approved_by = entry.approved_by_id
    return TimeEntryNode(
        id=strawberry.ID(encode_id("TimeEntry", entry.id)),
        project_id=strawberry.ID(encode_id("Project", entry.project_id)),
        contract_id=strawberry.ID(encode_id("Contract", entry.contract_id)),
        person_id=strawberry.ID(encode_id("User", entry.person_id)),
        date=entry.entry_date,
        kind=entry.kind,
        hours=(
            None
            if entry.hours_hundredths is None
            else hours_value(entry.hours_hundredths)
        ),
        amount=amount,
        currency=entry.currency,
        description=entry.description,
        billable=entry.billable,
        status=entry.status,
        approved_by_id=(
            None
            if approved_by is None
            else strawberry.ID(encode_id("User", approved_by))
        ),
        approved_at=entry.approved_at,
        version=entry.version,
        created_at=entry.created_at,
        updated_at=entry.updated_at,
    )


@strawberry.type(
    name="CapUsage",
    description="Consumption of a cap in one period. Only approved, billable "
    "entries count. Hours are in hours, amounts in the cap's currency.",
)
class CapUsageNode:
    cap: ContractCapNode
    unit: CapUnitEnum  # type: ignore[valid-type]
    period_start: date
    period_end: date | None = strawberry.field(
        description="Last day of the period; null for the term of an open-ended "
        "contract."
    )
    label: str = strawberry.field(
        description="The period, such as 2028-02, 2028-Q1, 2028 or term."
    )
    limit_hours: Decimal | None
    used_hours: Decimal | None
    remaining_hours: Decimal | None
    pending_hours: Decimal | None = strawberry.field(
        description="Hours of entries that wait for approval and do not count yet."
    )
    limit_amount: Decimal | None
    used_amount: Decimal | None
    remaining_amount: Decimal | None
    pending_amount: Decimal | None
    currency: str | None
    warning_percent: int = strawberry.field(
        description="Percentage of the limit from which entries warn."
    )
    warning_value: strawberry.Private[bool]
    percentage_value: strawberry.Private[Decimal]

    @strawberry.field(
        description="Whether the used part has reached the warning percentage. "
        "Null for amount caps when you may not read amounts."
    )
    def warning(self, info: Info) -> bool | None:
        if self._hides_amounts(info):
            return None
        return self.warning_value

    @strawberry.field(
        description="Used part of the limit in percent, rounded half up to two "
        "decimals. Null for amount caps when you may not read amounts."
    )
    def percentage(self, info: Info) -> Decimal | None:
        if self._hides_amounts(info):
            return None
        return self.percentage_value

    def _hides_amounts(self, info: Info) -> bool:
        return self.unit is CapUnit.AMOUNT and not info.context.viewer.fields.may_read(
            "CapUsage", "usedAmount"
        )


def cap_usage_node(usage: CapUsage) -> CapUsageNode:
    cap = usage.cap
    hours = cap.unit is CapUnit.HOURS

    def figure(units: int, of_unit: bool) -> Decimal | None:
        return usage.quantity(units) if of_unit else None

    return CapUsageNode(
        cap=contract_cap_node(cap),
        unit=cap.unit,
        period_start=usage.window.start,
        period_end=usage.window.end,
        label=usage.window.label,
        limit_hours=figure(usage.limit, hours),
        used_hours=figure(usage.used, hours),
        remaining_hours=figure(usage.remaining, hours),
        pending_hours=figure(usage.pending, hours),
        limit_amount=figure(usage.limit, not hours),
        used_amount=figure(usage.used, not hours),
        remaining_amount=figure(usage.remaining, not hours),
        pending_amount=figure(usage.pending, not hours),
        currency=cap.currency,
        warning_percent=usage.warning_percent,
        warning_value=usage.warning,
        percentage_value=usage.percentage,
    )


@strawberry.type(
    name="ContractCap",
    description="A limit on a contract's hours or material amount per period.",
)
class ContractCapNode(Node):
    contract_id: strawberry.ID
    unit: CapUnitEnum  # type: ignore[valid-type]
    period: CapPeriodEnum  # type: ignore[valid-type]
    limit_hours: Decimal | None
    limit_amount: Decimal | None
    currency: str | None
    warning_percent: int | None = strawberry.field(
        description="The cap's own warning percentage; null uses the "
        "organization's default."
    )
    version: int
    updated_at: datetime


def contract_cap_node(cap: ContractCap) -> ContractCapNode:
    limit_amount = None
    if cap.limit_minor is not None and cap.currency is not None:
        limit_amount = from_minor_units(cap.limit_minor, cap.currency)
    return ContractCapNode(
        id=strawberry.ID(encode_id("ContractCap", cap.id)),
        contract_id=strawberry.ID(encode_id("Contract", cap.contract_id)),
        unit=cap.unit,
        period=cap.period,
        limit_hours=(
            None if cap.limit_hundredths is None else hours_value(cap.limit_hundredths)
        ),
        limit_amount=limit_amount,
        currency=cap.currency,
        warning_percent=cap.warning_percent,
        version=cap.version,
        updated_at=cap.updated_at,
    )
