"""Exact report figures per currency.

Amounts stay integers in minor units, and MRR an exact Fraction of a minor unit
derived from the integer ARR, until the GraphQL layer rounds them half up for
presentation. Figures in different
currencies are never added: every figure is a mapping from currency to its sums.
All amounts exclude VAT, because contracts store them without it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from contractgql.reports.sql import sum_of


@dataclass(slots=True)
class Revenue:
    """Contracts and their revenue in one currency, exact, in minor units.

    Recurring revenue is kept as the integer sum of the contracts' ARR, as SQL
    returns it, and MRR is derived from that sum when it is read. Adding integers
    instead of Fractions keeps a report with tens of thousands of groups cheap.
    """

    contracts: int = 0
    # Annual recurring revenue. One-off contracts add nothing.
    yearly: int = 0
    # Total contract value. Open-ended recurring contracts add nothing.
    whole_term: int = 0

    def add(self, other: Revenue) -> None:
        self.contracts += other.contracts
        self.yearly += other.yearly
        self.whole_term += other.whole_term

    @property
    def monthly(self) -> Fraction:
        """Monthly recurring revenue: the ARR over 12, an exact fraction."""
        return Fraction(self.yearly, 12)


class ByCurrency(defaultdict[str, Revenue]):
    """Revenue per ISO 4217 currency code."""

    def __init__(self) -> None:
        super().__init__(Revenue)

    @property
    def contracts(self) -> int:
        """Contracts in every currency."""
        return sum(revenue.contracts for revenue in self.values())

    def add_all(self, other: ByCurrency) -> None:
        for currency, revenue in other.items():
            self[currency].add(revenue)


def add_row(figures: ByCurrency, row: dict[str, Any]) -> None:
    """Add a grouped SQL row with currency, contracts, yearly (the sum of ARR in
    minor units, see reports.sql.yearly_sql) and, when selected, whole_term."""
    revenue = figures[row["currency"]]
    revenue.contracts += int(row["contracts"])
    revenue.yearly += sum_of(row["yearly"])
    revenue.whole_term += sum_of(row.get("whole_term"))
