"""Filter and sort inputs for contract connections."""

from __future__ import annotations

import enum
from datetime import date

import strawberry

from contractgql.graphql.types.common import ContractFieldEnum, ContractStatusEnum


@strawberry.enum(description="Sort direction.")
class SortDirection(enum.Enum):
    ASC = "asc"
    DESC = "desc"


@strawberry.enum(description="Orders for contracts. Records without a value come last.")
class ContractSortField(enum.Enum):
    CREATED_AT = "created_at"
    NAME = "name"
    NUMBER = "number"
    CLIENT_NAME = "client_name"
    START_DATE = "start_date"
    END_DATE = "end_date"
    NOTICE_DEADLINE = "notice_deadline"
    UPDATED_AT = "updated_at"
    AMOUNT = "amount"


@strawberry.input(description="A sort order for contracts.")
class ContractOrder:
    field: ContractSortField
    direction: SortDirection = SortDirection.ASC


@strawberry.input(
    description="An inclusive range of dates; either end may be left out."
)
class DateRange:
    from_: date | None = strawberry.field(name="from", default=None)
    to: date | None = None


@strawberry.input(
    description="Contracts in one currency whose amount per billing period lies in an "
    "inclusive range; either end may be left out."
)
class AmountRange:
    currency: str = strawberry.field(description="ISO 4217 currency code.")
    min: str | None = strawberry.field(
        default=None, description="Lowest amount, as a decimal string such as '100'."
    )
    max: str | None = strawberry.field(
        default=None, description="Highest amount, as a decimal string."
    )


@strawberry.input(description="Conditions a contract must meet; all given ones apply.")
class ContractFilter:
    client_ids: list[strawberry.ID] | None = None
    contract_type_ids: list[strawberry.ID] | None = None
    statuses: list[ContractStatusEnum] | None = None  # type: ignore[valid-type]
    tag_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Contracts that carry any of these tags."
    )
    owner_ids: list[strawberry.ID] | None = None
    start_date: DateRange | None = None
    end_date: DateRange | None = None
    notice_deadline: DateRange | None = None
    auto_renewal: bool | None = None
    amount: AmountRange | None = strawberry.field(
        default=None,
        description="Amount range in one currency. Needs read access to "
        "Contract.amount.",
    )
    search: str | None = strawberry.field(
        default=None,
        description="Text that the name, the number or the client's name contains "
        "(case-insensitive).",
    )
    missing: list[ContractFieldEnum] | None = strawberry.field(  # type: ignore[valid-type]
        default=None,
        description="Contracts that lack every one of these fields. AMOUNT and "
        "VAT_RATE need read access to Contract.amount and Contract.vatRate.",
    )
    include_archived: bool = False
