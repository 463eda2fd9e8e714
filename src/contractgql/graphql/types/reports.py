"""GraphQL types of the portfolio reports.

Amounts are exact sums until this module rounds them half up to the currency's
minor unit for presentation. Each amount is null for callers who may not read the
contract field it sums (Contract.mrr, Contract.arr or Contract.totalContractValue),
the way ContractConnection.totals hides its totals. Every caller gets the counts,
which cover only the contracts the caller may see.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Annotated

import strawberry

from contractgql.domain.money import present
from contractgql.errors import InvalidArgument
from contractgql.ids import encode_id
from contractgql.reports.figures import ByCurrency, Revenue
from contractgql.reports.periods import DateRange, PeriodPreset
from contractgql.reports.portfolio import Grouping
from contractgql.security.viewer import Viewer

ReportPeriodPresetEnum = strawberry.enum(
    PeriodPreset,
    name="ReportPeriodPreset",
    description="A period relative to today in the organization's timezone. "
    "NEXT_30_DAYS is the 30 days starting today (today through today + 29), and "
    "likewise for 60 and 90. THIS_QUARTER and NEXT_QUARTER are whole calendar "
    "quarters.",
)
PortfolioGroupingEnum = strawberry.enum(
    Grouping,
    name="PortfolioGrouping",
    description="What the portfolio report groups contracts by. NONE gives only "
    "the totals. A contract with several tags is in the group of each tag.",
)

_MRR_NOTE = " Null for callers who may not read Contract.mrr."
_ARR_NOTE = " Null for callers who may not read Contract.arr."
_TCV_NOTE = " Null for callers who may not read Contract.totalContractValue."
# The most groups of a portfolio report that one request returns.
MAX_GROUPS_PAGE = 1000
# Decimal places of the renewal and churn rates that the API shows.
RATE_PLACES = Decimal("0.0001")


@strawberry.input(
    description="A report period: either a preset, or both 'from' and 'to' "
    "(inclusive dates, at most 100 years apart)."
)
class ReportPeriodInput:
    preset: ReportPeriodPresetEnum | None = strawberry.field(  # type: ignore[valid-type]
        default=None,
        description="A period relative to today. Leave out 'from' and 'to' with it.",
    )
    from_: date | None = strawberry.field(
        name="from", default=None, description="First day of a custom range."
    )
    to: date | None = strawberry.field(
        default=None, description="Last day of a custom range, inclusive."
    )


@strawberry.type(description="The inclusive dates a report covers.")
class ReportPeriod:
    from_: date = strawberry.field(name="from", description="First day.")
    to: date = strawberry.field(description="Last day, inclusive.")

    @classmethod
    def of(cls, period: DateRange) -> ReportPeriod:
        return cls(from_=period.start, to=period.end)


@dataclass(frozen=True)
class MoneyAccess:
    """Which kinds of amounts the caller may read."""

    mrr: bool
    arr: bool
    total_contract_value: bool

    @classmethod
    def of(cls, viewer: Viewer) -> MoneyAccess:
        return cls(
            mrr=viewer.fields.may_read("Contract", "mrr"),
            arr=viewer.fields.may_read("Contract", "arr"),
            total_contract_value=viewer.fields.may_read(
                "Contract", "totalContractValue"
            ),
        )


def money(value: Fraction | int, currency: str, readable: bool) -> Decimal | None:
    """Round an exact figure for presentation, or return None when not readable."""
    return present(value, currency) if readable else None


def rate(value: Fraction | None) -> Decimal | None:
    """Round a rate half up to four decimal places for presentation."""
    if value is None:
        return None
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    return exact.quantize(RATE_PLACES, rounding=ROUND_HALF_UP)


@strawberry.type(
    description="Contracts in one currency and their recurring revenue, excluding VAT."
)
class CurrencyRevenue:
    currency: str = strawberry.field(description="ISO 4217 currency code.")
    contract_count: int = strawberry.field(
        description="Contracts in this currency, one-off and open-ended ones included."
    )
    mrr: Decimal | None = strawberry.field(
        description="Sum of the monthly recurring revenue, rounded half up to the "
        "currency's minor unit after summing. One-off contracts add nothing."
        + _MRR_NOTE
    )
    arr: Decimal | None = strawberry.field(
        description="Annual recurring revenue: 12 times the exact MRR, rounded "
        "half up." + _ARR_NOTE
    )


@strawberry.type(
    description="Contracts, with their recurring revenue per currency. Amounts in "
    "different currencies are never added together."
)
class RevenueFigures:
    contract_count: int = strawberry.field(description="Contracts in every currency.")
    currencies: list[CurrencyRevenue] = strawberry.field(
        description="One entry per currency, by currency code."
    )


@strawberry.type(
    description="Contracts in force in one currency, with their recurring revenue "
    "and total contract value, excluding VAT."
)
class CurrencyPortfolio(CurrencyRevenue):
    total_contract_value: Decimal | None = strawberry.field(
        description="Sum of each contract's amount times the billing periods from "
        "its start to the end of the term in force, where a started period counts "
        "in full. One-off contracts add their amount, and open-ended recurring "
        "contracts add nothing." + _TCV_NOTE
    )


@strawberry.type(description="Contracts in force, with their revenue per currency.")
class PortfolioFigures:
    contract_count: int = strawberry.field(description="Contracts in every currency.")
    currencies: list[CurrencyPortfolio] = strawberry.field(
        description="One entry per currency, by currency code."
    )


@strawberry.type(
    description="The contracts in force of one client, contract type, owner or tag."
)
class PortfolioGroup:
    id: strawberry.ID | None = strawberry.field(
        description="Global id of the client, contract type, owner (a User) or tag; "
        "null for the group of contracts without one."
    )
    name: str | None = strawberry.field(
        description="Name of the client, contract type, owner or tag; null for the "
        "group of contracts without one."
    )
    figures: PortfolioFigures = strawberry.field(description="The group's figures.")


@dataclass
class GroupRows:
    """Every group of a portfolio report, sorted, and what the caller may read."""

    keys: list[int | None]
    type_name: str
    names: dict[int | None, str]
    figures: dict[int | None, ByCurrency]
    access: MoneyAccess


@strawberry.type(
    description="The signed, unarchived contracts in force on a reference date: "
    "started on or before it and ending on or after it, or open-ended. For a date "
    "in an earlier term of a renewed contract, the amount and the term's end are "
    "those of that term. Future renewals are not projected."
)
class PortfolioReport:
    reference_date: date = strawberry.field(description="The day reported on.")
    group_by: PortfolioGroupingEnum = strawberry.field(  # type: ignore[valid-type]
        description="What the groups are."
    )
    totals: PortfolioFigures = strawberry.field(
        description="Figures over every contract in force, each counted once."
    )
    group_count: int = strawberry.field(
        description="Number of groups; 0 when grouping by NONE."
    )
    rows: strawberry.Private[GroupRows | None]

    @strawberry.field(
        description="A page of the groups, by name and then id, the group of "
        "contracts without a client, type, owner or tag last. The order never "
        "depends on an amount."
    )
    def groups(
        self,
        first: Annotated[
            int,
            strawberry.argument(
                description=f"Groups to return, from 1 to {MAX_GROUPS_PAGE}."
            ),
        ] = 100,
        offset: Annotated[
            int, strawberry.argument(description="Groups to skip, 0 or more.")
        ] = 0,
    ) -> list[PortfolioGroup]:
        if not 1 <= first <= MAX_GROUPS_PAGE:
            raise InvalidArgument(
                f"'first' is {first}: ask for 1 to {MAX_GROUPS_PAGE} groups a page."
            )
        if offset < 0:
            raise InvalidArgument(
                f"'offset' is {offset}: pass 0 or more groups to skip."
            )
        rows = self.rows
        if rows is None:
            return []
        return [
            PortfolioGroup(
                id=(
                    strawberry.ID(encode_id(rows.type_name, key))
                    if key is not None
                    else None
                ),
                name=rows.names.get(key) if key is not None else None,
                figures=portfolio_figures(rows.figures[key], rows.access),
            )
            for key in rows.keys[offset : offset + first]
        ]


@strawberry.type(
    description="Contracts whose current term ends in a period, and contracts whose "
    "notice deadline falls in it."
)
class ContractsEndingReport:
    period: ReportPeriod = strawberry.field(description="The dates covered.")
    ending: RevenueFigures = strawberry.field(
        description="Contracts whose end date falls in the period, whether or not "
        "they renew."
    )
    notice_deadlines: RevenueFigures = strawberry.field(
        description="Contracts whose notice deadline falls in the period."
    )


@strawberry.type(
    description="Recurring revenue of the contracts ending in a period that will "
    "not renew or may not: those without auto-renewal, those on which notice was "
    "recorded on or before the notice deadline, and those with a risk tag. "
    "Open-ended contracts end in no period, so they are never at risk. A "
    "contract at risk for several reasons is in each reason's figures once."
)
class RevenueAtRiskReport:
    period: ReportPeriod = strawberry.field(description="The dates covered.")
    risk_tags: list[str] = strawberry.field(
        description="Tag names that mark a contract as a cancellation risk, set "
        "with CONTRACTGQL_RISK_TAGS and compared without regard to case."
    )
    ending: RevenueFigures = strawberry.field(
        description="Every contract whose end date falls in the period."
    )
    at_risk: RevenueFigures = strawberry.field(
        description="The ending contracts at risk for any reason, each counted once."
    )
    no_auto_renewal: RevenueFigures = strawberry.field(
        description="Ending contracts that do not renew automatically."
    )
    notice_given: RevenueFigures = strawberry.field(
        description="Auto-renewing contracts that notice recorded on or before the "
        "notice deadline ends on their end date."
    )
    risk_tagged: RevenueFigures = strawberry.field(
        description="Ending contracts with a risk tag."
    )


@strawberry.type(
    description="How often the terms of one contract type renewed, counted from "
    "the renewals and expiries that the scans and manual renewals recorded on the "
    "contracts the caller may see."
)
class RenewalRate:
    contract_type_id: strawberry.ID | None = strawberry.field(
        description="Global id of the contract type; null for contracts without one."
    )
    contract_type_name: str | None = strawberry.field(
        description="Name of the contract type; null for contracts without one."
    )
    renewed_terms: int = strawberry.field(description="Terms that renewed.")
    ended_terms: int = strawberry.field(
        description="Terms that expired without renewal."
    )
    rate: Decimal | None = strawberry.field(
        description="renewedTerms / (renewedTerms + endedTerms), rounded half up "
        "to 4 decimal places; null without any term. The forecast uses the exact "
        "fraction."
    )


@strawberry.type(
    description="One currency of a forecast quarter. MRR figures exclude VAT."
)
class ForecastCurrency:
    currency: str = strawberry.field(description="ISO 4217 currency code.")
    ending_count: int = strawberry.field(description="Contracts ending.")
    committed_count: int = strawberry.field(
        description="Ending contracts that renew automatically with nothing "
        "putting them at risk."
    )
    at_risk_count: int = strawberry.field(description="Ending contracts at risk.")
    ending_mrr: Decimal | None = strawberry.field(
        description="MRR of the ending contracts." + _MRR_NOTE
    )
    committed_mrr: Decimal | None = strawberry.field(
        description="MRR of the committed contracts." + _MRR_NOTE
    )
    at_risk_mrr: Decimal | None = strawberry.field(
        description="MRR of the contracts at risk." + _MRR_NOTE
    )
    expected_renewed_mrr: Decimal | None = strawberry.field(
        description="Committed MRR plus each contract type's at-risk MRR times its "
        "renewal rate (0 for a type without history), summed exactly and then "
        "rounded half up." + _MRR_NOTE
    )
    expected_lost_mrr: Decimal | None = strawberry.field(
        description="Ending MRR minus the expected renewed MRR." + _MRR_NOTE
    )


@strawberry.type(description="The renewals expected in one quarter.")
class ForecastQuarter:
    label: str = strawberry.field(description="The quarter, such as '2027-Q1'.")
    period: ReportPeriod = strawberry.field(
        description="The dates covered: the first quarter starts on the forecast's "
        "first day, the others are whole quarters."
    )
    ending_count: int = strawberry.field(description="Contracts ending.")
    committed_count: int = strawberry.field(
        description="Ending contracts that renew automatically with nothing "
        "putting them at risk."
    )
    at_risk_count: int = strawberry.field(description="Ending contracts at risk.")
    currencies: list[ForecastCurrency] = strawberry.field(
        description="One entry per currency, by currency code."
    )


@strawberry.type(
    description="Recurring revenue ending per quarter, and how much of it is "
    "expected to renew. Revenue at risk (see RevenueAtRiskReport) is weighted by "
    "the renewal rate of its contract type."
)
class RenewalForecast:
    quarters: list[ForecastQuarter] = strawberry.field(
        description="The quarters, in order."
    )
    renewal_rates: list[RenewalRate] = strawberry.field(
        description="The rate of every contract type with recorded history or "
        "with contracts ending in the forecast's quarters, by name, the contracts "
        "without a type last. A type without history has rate null and is weighted "
        "0."
    )


@strawberry.type(description="Churn in one currency.")
class ChurnCurrency:
    currency: str = strawberry.field(description="ISO 4217 currency code.")
    starting_count: int = strawberry.field(
        description="Contracts in force on the first day."
    )
    lost_count: int = strawberry.field(description="Of those, contracts lost.")
    starting_mrr: Decimal | None = strawberry.field(
        description="MRR in force on the first day." + _MRR_NOTE
    )
    lost_mrr: Decimal | None = strawberry.field(
        description="MRR of the lost contracts, at the amount of their last term."
        + _MRR_NOTE
    )
    revenue_churn_rate: Decimal | None = strawberry.field(
        description="lostMrr / startingMrr from the exact sums, rounded half up to "
        "4 decimal places; null without starting MRR." + _MRR_NOTE
    )


@strawberry.type(
    description="Contracts lost in a period: those in force on its first day whose "
    "last term ended within it without renewal (an expiry that the renewal scan "
    "recorded), and that were not renewed by hand since. Contracts that started "
    "later are left out, so the rates are shares of the starting portfolio."
)
class ChurnReport:
    period: ReportPeriod = strawberry.field(description="The dates covered.")
    starting_count: int = strawberry.field(
        description="Contracts in force on the first day."
    )
    lost_count: int = strawberry.field(description="Of those, contracts lost.")
    churn_rate: Decimal | None = strawberry.field(
        description="lostCount / startingCount, rounded half up to 4 decimal "
        "places; null when nothing was in force."
    )
    currencies: list[ChurnCurrency] = strawberry.field(
        description="One entry per currency, by currency code."
    )


def revenue_figures(figures: ByCurrency, access: MoneyAccess) -> RevenueFigures:
    return RevenueFigures(
        contract_count=figures.contracts,
        currencies=[
            _currency_revenue(currency, revenue, access)
            for currency, revenue in sorted(figures.items())
        ],
    )


def _currency_revenue(
    currency: str, revenue: Revenue, access: MoneyAccess
) -> CurrencyRevenue:
    return CurrencyRevenue(
        currency=currency,
        contract_count=revenue.contracts,
        mrr=money(revenue.monthly, currency, access.mrr),
        arr=money(revenue.yearly, currency, access.arr),
    )


def portfolio_figures(figures: ByCurrency, access: MoneyAccess) -> PortfolioFigures:
    return PortfolioFigures(
        contract_count=figures.contracts,
        currencies=[
            CurrencyPortfolio(
                currency=currency,
                contract_count=revenue.contracts,
                mrr=money(revenue.monthly, currency, access.mrr),
                arr=money(revenue.yearly, currency, access.arr),
                total_contract_value=money(
                    revenue.whole_term, currency, access.total_contract_value
                ),
            )
            for currency, revenue in sorted(figures.items())
        ],
    )
