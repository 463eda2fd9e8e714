"""Root query fields of the portfolio reports.

The figures come from contractgql.reports, which aggregates in SQL over the
contracts the caller may see. This module resolves the arguments, names the
groups and hides the amounts that the caller may not read.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from fractions import Fraction
from typing import Annotated, Any

import strawberry
from tortoise.models import Model

from contractgql.graphql.context import Info
from contractgql.graphql.types.reports import (
    ChurnCurrency,
    ChurnReport,
    ContractsEndingReport,
    ForecastCurrency,
    ForecastQuarter,
    GroupRows,
    MoneyAccess,
    PortfolioGroupingEnum,
    PortfolioReport,
    RenewalForecast,
    RenewalRate,
    ReportPeriod,
    ReportPeriodInput,
    RevenueAtRiskReport,
    money,
    portfolio_figures,
    rate,
    revenue_figures,
)
from contractgql.ids import encode_id
from contractgql.models import ContractType
from contractgql.reports import periods, revenue
from contractgql.reports.portfolio import Grouping, Portfolio, portfolio
from contractgql.security.viewer import Viewer

# The global id type of each grouping's keys.
_GROUP_TYPE_NAMES = {
    Grouping.CLIENT: "Client",
    Grouping.CONTRACT_TYPE: "ContractType",
    Grouping.OWNER: "User",
    Grouping.TAG: "Tag",
}
# The maximum number of ids whose names are looked up by id, below SQLite's
# limit on parameters.
_NAME_BATCH = 500


@strawberry.type
class ReportQuery:
    @strawberry.field(
        description="The contracts in force on a date, with their MRR, ARR and "
        "total contract value per currency, in total and per client, contract "
        "type, owner or tag."
    )
    async def portfolio(
        self,
        info: Info,
        reference_date: Annotated[
            date | None,
            strawberry.argument(
                description="The day to report on; today when left out."
            ),
        ] = None,
        group_by: Annotated[
            PortfolioGroupingEnum,  # type: ignore[valid-type]
            strawberry.argument(description="What to group the contracts by."),
        ] = Grouping.NONE,
    ) -> PortfolioReport:
        viewer = info.context.viewer
        day = reference_date or viewer.today
        whole_term = viewer.fields.may_read(
            "Contract", "totalContractValue"
        ) and _selects(info.selected_fields, "totalContractValue")
        report = await portfolio(viewer, day, Grouping(group_by), whole_term)
        return _portfolio_report(viewer, report)

    @strawberry.field(
        description="Contracts whose current term ends, or whose notice deadline "
        "falls, in a period."
    )
    async def contracts_ending(
        self, info: Info, period: ReportPeriodInput
    ) -> ContractsEndingReport:
        viewer = info.context.viewer
        dates = _resolve(period, viewer)
        groups = await revenue.ending_groups(viewer, [dates], [])
        report = revenue.summarize_risk(dates, groups)
        deadlines = await revenue.notice_deadlines(viewer, dates)
        access = MoneyAccess.of(viewer)
        return ContractsEndingReport(
            period=ReportPeriod.of(dates),
            ending=revenue_figures(report.ending, access),
            notice_deadlines=revenue_figures(deadlines, access),
        )

    @strawberry.field(
        description="Recurring revenue of the contracts ending in a period without "
        "renewal, or tagged as a cancellation risk."
    )
    async def revenue_at_risk(
        self, info: Info, period: ReportPeriodInput
    ) -> RevenueAtRiskReport:
        viewer = info.context.viewer
        dates = _resolve(period, viewer)
        names = info.context.services.settings.risk_tags
        tags = await revenue.risk_tag_ids(viewer.organization_id, names)
        report = revenue.summarize_risk(
            dates, await revenue.ending_groups(viewer, [dates], tags)
        )
        access = MoneyAccess.of(viewer)
        return RevenueAtRiskReport(
            period=ReportPeriod.of(dates),
            risk_tags=list(names),
            ending=revenue_figures(report.ending, access),
            at_risk=revenue_figures(report.at_risk, access),
            no_auto_renewal=revenue_figures(report.no_auto_renewal, access),
            notice_given=revenue_figures(report.notice_given, access),
            risk_tagged=revenue_figures(report.risk_tagged, access),
        )

    @strawberry.field(
        description="Recurring revenue ending per quarter and the part expected to "
        "renew, weighting revenue at risk by its contract type's renewal rate."
    )
    async def renewal_forecast(
        self,
        info: Info,
        from_: Annotated[
            date | None,
            strawberry.argument(
                name="from",
                description="First day of the forecast; today when left out.",
            ),
        ] = None,
        quarters: Annotated[
            int,
            strawberry.argument(
                description="Quarters to forecast, from 1 to 12. The first runs "
                "from 'from' to the end of its quarter."
            ),
        ] = 4,
    ) -> RenewalForecast:
        viewer = info.context.viewer
        ranges = periods.forecast_quarters(from_ or viewer.today, quarters)
        names = info.context.services.settings.risk_tags
        tags = await revenue.risk_tag_ids(viewer.organization_id, names)
        rates = await revenue.renewal_rates(viewer)
        forecast = await revenue.renewal_forecast(viewer, ranges, tags, rates)
        rates = revenue.forecast_rates(rates, forecast)
        access = MoneyAccess.of(viewer)
        type_names = await _names(ContractType, rates.keys(), viewer.organization_id)
        return RenewalForecast(
            quarters=[_forecast_quarter(quarter, access) for quarter in forecast],
            renewal_rates=[
                RenewalRate(
                    contract_type_id=_global_id("ContractType", found.contract_type_id),
                    contract_type_name=type_names.get(found.contract_type_id),
                    renewed_terms=found.renewed,
                    ended_terms=found.ended,
                    rate=rate(found.rate),
                )
                for found in _by_name(rates.values(), type_names)
            ],
        )

    @strawberry.field(
        description="Contracts and recurring revenue lost in a period, and the "
        "churn rates."
    )
    async def churn(self, info: Info, period: ReportPeriodInput) -> ChurnReport:
        viewer = info.context.viewer
        dates = _resolve(period, viewer)
        found = await revenue.churn(viewer, dates)
        access = MoneyAccess.of(viewer)
        currencies = []
        for currency in sorted(set(found.starting) | set(found.lost)):
            starting = found.starting.get(currency)
            lost = found.lost.get(currency)
            starting_mrr = starting.monthly if starting else Fraction(0)
            lost_mrr = lost.monthly if lost else Fraction(0)
            currencies.append(
                ChurnCurrency(
                    currency=currency,
                    starting_count=starting.contracts if starting else 0,
                    lost_count=lost.contracts if lost else 0,
                    starting_mrr=money(starting_mrr, currency, access.mrr),
                    lost_mrr=money(lost_mrr, currency, access.mrr),
                    revenue_churn_rate=(
                        rate(revenue.churn_rate(lost_mrr, starting_mrr))
                        if access.mrr
                        else None
                    ),
                )
            )
        starting_count = found.starting.contracts
        lost_count = found.lost.contracts
        return ChurnReport(
            period=ReportPeriod.of(dates),
            starting_count=starting_count,
            lost_count=lost_count,
            churn_rate=rate(revenue.churn_rate(lost_count, starting_count)),
            currencies=currencies,
        )


def _resolve(period: ReportPeriodInput, viewer: Viewer) -> periods.DateRange:
    preset = periods.PeriodPreset(period.preset) if period.preset else None
    return periods.resolve_period(preset, period.from_, period.to, viewer.today)


def _portfolio_report(viewer: Viewer, report: Portfolio) -> PortfolioReport:
    access = MoneyAccess.of(viewer)
    rows = None
    if report.grouping is not Grouping.NONE:
        rows = GroupRows(
            keys=_sorted_keys(report.groups.keys(), report.names),
            type_name=_GROUP_TYPE_NAMES[report.grouping],
            names=report.names,
            figures=report.groups,
            access=access,
        )
    return PortfolioReport(
        reference_date=report.reference_date,
        group_by=report.grouping,
        totals=portfolio_figures(report.totals, access),
        group_count=len(report.groups),
        rows=rows,
    )


def _forecast_quarter(
    quarter: revenue.ForecastQuarter, access: MoneyAccess
) -> ForecastQuarter:
    currencies = []
    for currency in sorted(quarter.ending):
        ending = quarter.ending[currency]
        committed = quarter.committed.get(currency)
        at_risk = quarter.at_risk.get(currency)
        expected = quarter.expected_monthly.get(currency, Fraction(0))
        currencies.append(
            ForecastCurrency(
                currency=currency,
                ending_count=ending.contracts,
                committed_count=committed.contracts if committed else 0,
                at_risk_count=at_risk.contracts if at_risk else 0,
                ending_mrr=money(ending.monthly, currency, access.mrr),
                committed_mrr=money(
                    committed.monthly if committed else 0, currency, access.mrr
                ),
                at_risk_mrr=money(
                    at_risk.monthly if at_risk else 0, currency, access.mrr
                ),
                expected_renewed_mrr=money(expected, currency, access.mrr),
                expected_lost_mrr=money(
                    ending.monthly - expected, currency, access.mrr
                ),
            )
        )
    start = quarter.period.start
    return ForecastQuarter(
        label=f"{start.year}-Q{(start.month - 1) // 3 + 1}",
        period=ReportPeriod.of(quarter.period),
        ending_count=quarter.ending.contracts,
        committed_count=quarter.committed.contracts,
        at_risk_count=quarter.at_risk.contracts,
        currencies=currencies,
    )


async def _names(
    model: type[Model], keys: Iterable[int | None], organization_id: int
) -> dict[int | None, str]:
    """Return the name of each record in `keys`.

    Up to _NAME_BATCH ids are looked up by id. More are read with every name of
    the organization's table in one statement, which costs less than many
    batches of ids.
    """
    ids = sorted(key for key in keys if key is not None)
    query = model.filter(organization_id=organization_id)
    if len(ids) <= _NAME_BATCH:
        query = query.filter(id__in=ids)
    names: dict[int | None, str] = {}
    if ids:
        for pk, name in await query.values_list("id", "name"):
            names[pk] = name
    return names


def _sorted_keys(
    keys: Iterable[int | None], names: dict[int | None, str]
) -> list[int | None]:
    """Sort group keys by name, then id, with the group without a key last.

    The order depends on names and ids only, never on an amount.
    """
    listed = list(keys)
    named: list[int | None] = sorted(
        (key for key in listed if key is not None),
        key=lambda key: (names.get(key, "").casefold(), key),
    )
    if None in listed:
        named.append(None)
    return named


def _by_name(
    rates: Iterable[revenue.RenewalRate], names: dict[int | None, str]
) -> list[revenue.RenewalRate]:
    found = {found.contract_type_id: found for found in rates}
    return [found[key] for key in _sorted_keys(found.keys(), names)]


def _selects(selections: Iterable[Any], name: str) -> bool:
    """Return whether a field called `name` is selected anywhere below
    `selections`, fragments included."""
    for selection in selections:
        if getattr(selection, "name", None) == name:
            return True
        if _selects(getattr(selection, "selections", ()), name):
            return True
    return False


def _global_id(type_name: str, pk: int | None) -> strawberry.ID | None:
    return strawberry.ID(encode_id(type_name, pk)) if pk is not None else None
