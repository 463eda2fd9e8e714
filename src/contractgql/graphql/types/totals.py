"""The contract connection with totals over every contract that matches."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from decimal import Decimal
from fractions import Fraction

import strawberry

from contractgql.domain.money import (
    PaymentFrequency,
    monthly_recurring,
    present,
    total_contract_value,
)
from contractgql.graphql.relay import Connection
from contractgql.graphql.types.contracts import ContractNode
from contractgql.security.viewer import Viewer

_TOTAL_COLUMNS = (
    "amount_minor",
    "currency",
    "payment_frequency",
    "start_date",
    "end_date",
)


@strawberry.type(description="A sum of amounts in one currency.")
class MoneyTotal:
    currency: str = strawberry.field(description="ISO 4217 currency code.")
    amount: Decimal


@strawberry.type(
    description="Totals over all contracts that match the filter, on all pages, "
    "one entry per currency. Contracts without an amount add nothing. A total is "
    "null for callers who may not read the contract field it sums."
)
class ContractTotals:
    count: int = strawberry.field(description="Number of matching contracts.")
    mrr: list[MoneyTotal] | None = strawberry.field(
        description="Sum of the contracts' monthly recurring revenue."
    )
    arr: list[MoneyTotal] | None = strawberry.field(
        description="Sum of the contracts' annual recurring revenue."
    )
    total_contract_value: list[MoneyTotal] | None = strawberry.field(
        description="Sum of the contracts' total value; open-ended recurring "
        "contracts, which have no total, are left out."
    )


@strawberry.type(name="ContractConnection", description="A page of contracts.")
class ContractConnection(Connection[ContractNode]):
    viewer: strawberry.Private[Viewer]

    @strawberry.field(description="Totals over every matching contract.")
    async def totals(self) -> ContractTotals:
        viewer = self.viewer
        shown = {
            name: viewer.fields.may_read("Contract", name)
            for name in ("mrr", "arr", "totalContractValue")
        }
        count = await self.count_query.count()
        if not any(shown.values()):
            return ContractTotals(
                count=count, mrr=None, arr=None, total_contract_value=None
            )

        rows = await self.count_query.filter(amount_minor__isnull=False).values_list(
            *_TOTAL_COLUMNS
        )
        monthly: dict[str, Fraction] = defaultdict(Fraction)
        whole_term: dict[str, int] = defaultdict(int)
        for amount_minor, currency, frequency_value, start, end in rows:
            frequency = PaymentFrequency(frequency_value)
            monthly[currency] += monthly_recurring(amount_minor, frequency)
            value = total_contract_value(amount_minor, frequency, start, end)
            if value is not None:
                whole_term[currency] += value
        return ContractTotals(
            count=count,
            mrr=_totals(monthly, 1) if shown["mrr"] else None,
            arr=_totals(monthly, 12) if shown["arr"] else None,
            total_contract_value=(
                _totals(whole_term, 1) if shown["totalContractValue"] else None
            ),
        )


def _totals(sums: Mapping[str, Fraction | int], factor: int) -> list[MoneyTotal]:
    return [
        MoneyTotal(
            currency=currency, amount=present(Fraction(total) * factor, currency)
        )
        for currency, total in sorted(sums.items())
    ]
