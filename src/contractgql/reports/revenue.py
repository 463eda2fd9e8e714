"""Contracts ending in a period, revenue at risk, the renewal forecast and churn.

A contract ends in a period when the end date of its current term falls in it.
Its revenue is at risk when it will not renew on that date, for one of three
reasons:

- it does not renew automatically;
- it renews automatically, but notice was recorded on or before the term's notice
  deadline (later notice ends a later term, so this term still renews);
- it carries a risk tag: an unarchived tag whose name is in
  `CONTRACTGQL_RISK_TAGS` ("cancellation risk" by default), compared without
  regard to case.

Open-ended contracts end in no period until notice gives them an end date, so they
are never at risk, tagged or not.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction

from contractgql.models import ContractEventKind, Tag
from contractgql.reports.figures import ByCurrency, add_row
from contractgql.reports.periods import DateRange
from contractgql.reports.portfolio import in_force_totals
from contractgql.reports.sql import (
    fetch,
    new_statement,
    reported_contracts,
    sum_of,
    sum_sql,
    yearly_sql,
)
from contractgql.security.records import visible_contracts_condition
from contractgql.security.viewer import Viewer


@dataclass(frozen=True)
class EndingGroup:
    """Contracts ending in one period that share a contract type and risk flags,
    per currency. `period` is the index of the period in the list asked for."""

    period: int
    contract_type_id: int | None
    no_auto_renewal: bool
    notice_given: bool
    risk_tagged: bool
    figures: ByCurrency

    @property
    def at_risk(self) -> bool:
        return self.no_auto_renewal or self.notice_given or self.risk_tagged


async def risk_tag_ids(organization_id: int, names: Sequence[str]) -> list[int]:
    """Return the ids of the organization's unarchived tags named in `names`."""
    wanted = {name.casefold() for name in names}
    if not wanted:
        return []
    tags = await Tag.filter(
        organization_id=organization_id, archived_at=None
    ).values_list("id", "name")
    return sorted(tag_id for tag_id, name in tags if str(name).casefold() in wanted)


async def ending_groups(
    viewer: Viewer, periods: Sequence[DateRange], risk_tags: Sequence[int]
) -> list[EndingGroup]:
    """Return the contracts whose current term ends in one of `periods`, grouped
    by period, currency, contract type and risk flags, in one statement.

    The periods must follow each other without gaps, as forecast quarters do.
    """
    statement = new_statement()
    # Parameters are added in the order of the text, which SQLite needs.
    buckets = " ".join(
        f"WHEN c.end_date <= {statement.parameter(period.end)} THEN {index}"
        for index, period in enumerate(periods)
    )
    if risk_tags:
        tag_list = ", ".join(statement.parameter(tag_id) for tag_id in risk_tags)
        tagged = (
            "EXISTS (SELECT 1 FROM contract_tags ct WHERE ct.contracts_id = c.id "
            f"AND ct.tag_id IN ({tag_list}))"
        )
    else:
        tagged = "1 = 0"
    scope = reported_contracts(viewer, statement)
    start = statement.parameter(periods[0].start)
    end = statement.parameter(periods[-1].end)
    yearly = sum_sql(statement, yearly_sql("c.amount_minor"))
    flags = (
        "CASE WHEN c.auto_renewal THEN 0 ELSE 1 END AS no_auto_renewal, "
        "CASE WHEN c.auto_renewal AND c.notice_date IS NOT NULL AND "
        "(c.notice_deadline IS NULL OR c.notice_date <= c.notice_deadline) "
        "THEN 1 ELSE 0 END AS notice_given, "
        f"CASE WHEN {tagged} THEN 1 ELSE 0 END AS risk_tagged"
    )
    sql = (
        f"SELECT CASE {buckets} END AS period_index, "
        "c.contract_type_id AS contract_type_id, c.currency AS currency, "
        f"{flags}, COUNT(*) AS contracts, "
        f"{yearly} AS yearly FROM contracts c "
        f"WHERE {scope} AND c.end_date >= {start} AND c.end_date <= {end} "
        "GROUP BY period_index, c.contract_type_id, c.currency, "
        "no_auto_renewal, notice_given, risk_tagged"
    )
    merged: dict[tuple[int, int | None, bool, bool, bool], ByCurrency] = defaultdict(
        ByCurrency
    )
    for row in await fetch(statement, sql):
        key = (
            int(row["period_index"]),
            row["contract_type_id"],
            bool(row["no_auto_renewal"]),
            bool(row["notice_given"]),
            bool(row["risk_tagged"]),
        )
        add_row(merged[key], row)
    return [
        EndingGroup(
            period=period,
            contract_type_id=type_id,
            no_auto_renewal=no_auto_renewal,
            notice_given=notice_given,
            risk_tagged=risk_tagged,
            figures=figures,
        )
        for (period, type_id, no_auto_renewal, notice_given, risk_tagged), figures in (
            merged.items()
        )
    ]


async def notice_deadlines(viewer: Viewer, period: DateRange) -> ByCurrency:
    """Return the contracts whose notice deadline falls in `period`, per currency."""
    statement = new_statement()
    scope = reported_contracts(viewer, statement)
    start = statement.parameter(period.start)
    end = statement.parameter(period.end)
    yearly = sum_sql(statement, yearly_sql("c.amount_minor"))
    sql = (
        "SELECT c.currency AS currency, COUNT(*) AS contracts, "
        f"{yearly} AS yearly FROM contracts c "
        f"WHERE {scope} AND c.notice_deadline >= {start} "
        f"AND c.notice_deadline <= {end} "
        "GROUP BY c.currency"
    )
    figures = ByCurrency()
    for row in await fetch(statement, sql):
        add_row(figures, row)
    return figures


@dataclass
class RiskReport:
    """Contracts ending in a period, and those of them whose revenue is at risk.

    A contract at risk for several reasons is in the figures of each reason once,
    and in `at_risk` once.
    """

    period: DateRange
    ending: ByCurrency = field(default_factory=ByCurrency)
    at_risk: ByCurrency = field(default_factory=ByCurrency)
    no_auto_renewal: ByCurrency = field(default_factory=ByCurrency)
    notice_given: ByCurrency = field(default_factory=ByCurrency)
    risk_tagged: ByCurrency = field(default_factory=ByCurrency)


def summarize_risk(period: DateRange, groups: Sequence[EndingGroup]) -> RiskReport:
    report = RiskReport(period)
    for group in groups:
        report.ending.add_all(group.figures)
        if group.at_risk:
            report.at_risk.add_all(group.figures)
        if group.no_auto_renewal:
            report.no_auto_renewal.add_all(group.figures)
        if group.notice_given:
            report.notice_given.add_all(group.figures)
        if group.risk_tagged:
            report.risk_tagged.add_all(group.figures)
    return report


@dataclass(frozen=True)
class RenewalRate:
    """How often the terms of one contract type renewed, from recorded events.

    `renewed` counts terms with a `renewed` event, `ended` those with an `expired`
    event and no `renewed` one (a contract renewed by hand after it expired
    renewed that term).
    """

    contract_type_id: int | None
    renewed: int
    ended: int

    @property
    def rate(self) -> Fraction | None:
        """The share of terms that renewed, or None without any ended term."""
        terms = self.renewed + self.ended
        return Fraction(self.renewed, terms) if terms else None


async def renewal_rates(viewer: Viewer) -> dict[int | None, RenewalRate]:
    """Return the renewal rate of each contract type over the visible contracts.

    The history counts every recorded term, including those of contracts that
    were archived or cancelled since, because their terms did end or renew.
    """
    statement = new_statement()
    renewed = statement.parameter(ContractEventKind.RENEWED.value)
    expired = statement.parameter(ContractEventKind.EXPIRED.value)
    renewed_again = statement.parameter(ContractEventKind.RENEWED.value)
    organization = statement.parameter(viewer.organization_id)
    kinds = (
        statement.parameter(ContractEventKind.RENEWED.value),
        statement.parameter(ContractEventKind.EXPIRED.value),
    )
    same_organization = statement.parameter(viewer.organization_id)
    visible = visible_contracts_condition(viewer, statement, "c")
    sql = (
        "SELECT c.contract_type_id AS contract_type_id, "
        f"SUM(CASE WHEN e.kind = {renewed} THEN 1 ELSE 0 END) AS renewed, "
        f"SUM(CASE WHEN e.kind = {expired} AND NOT EXISTS (SELECT 1 FROM "
        "contract_events r WHERE r.contract_id = e.contract_id AND "
        f"r.kind = {renewed_again} AND r.term_end = e.term_end) "
        "THEN 1 ELSE 0 END) AS ended "
        "FROM contract_events e JOIN contracts c ON c.id = e.contract_id "
        f"WHERE e.organization_id = {organization} "
        f"AND e.kind IN ({kinds[0]}, {kinds[1]}) "
        f"AND c.organization_id = {same_organization} AND {visible} "
        "GROUP BY c.contract_type_id"
    )
    rates = {}
    for row in await fetch(statement, sql):
        type_id = row["contract_type_id"]
        rates[type_id] = RenewalRate(
            type_id, sum_of(row["renewed"]), sum_of(row["ended"])
        )
    return rates


@dataclass
class ForecastQuarter:
    """The recurring revenue ending in one quarter and how much of it should renew.

    `committed` renews automatically and nothing puts it at risk. `at_risk` is
    weighted by its contract type's renewal rate: `expected_monthly` is the
    committed MRR plus the at-risk MRR times that rate, per currency. A type
    without history has no rate and is weighted 0, so the forecast expects none
    of its at-risk revenue to renew.
    """

    period: DateRange
    ending: ByCurrency = field(default_factory=ByCurrency)
    committed: ByCurrency = field(default_factory=ByCurrency)
    at_risk: ByCurrency = field(default_factory=ByCurrency)
    expected_monthly: dict[str, Fraction] = field(
        default_factory=lambda: defaultdict(Fraction)
    )
    # Contract types of the ending contracts, None for contracts without a type.
    contract_type_ids: set[int | None] = field(default_factory=set)


async def renewal_forecast(
    viewer: Viewer,
    quarters: Sequence[DateRange],
    risk_tags: Sequence[int],
    rates: dict[int | None, RenewalRate],
) -> list[ForecastQuarter]:
    """Forecast each quarter's renewals from one statement over all quarters."""
    forecast = [ForecastQuarter(quarter) for quarter in quarters]
    for group in await ending_groups(viewer, quarters, risk_tags):
        result = forecast[group.period]
        result.ending.add_all(group.figures)
        result.contract_type_ids.add(group.contract_type_id)
        if not group.at_risk:
            result.committed.add_all(group.figures)
            for currency, revenue in group.figures.items():
                result.expected_monthly[currency] += revenue.monthly
            continue
        result.at_risk.add_all(group.figures)
        found = rates.get(group.contract_type_id)
        weight = found.rate if found is not None else None
        for currency, revenue in group.figures.items():
            # Adding 0 still lists the currency for a type without a rate.
            result.expected_monthly[currency] += revenue.monthly * (weight or 0)
    return forecast


def forecast_rates(
    rates: dict[int | None, RenewalRate], forecast: Sequence[ForecastQuarter]
) -> dict[int | None, RenewalRate]:
    """Return `rates` with an entry for each contract type that `forecast` has
    ending contracts of.

    A type without recorded history gets 0 renewed and 0 ended terms, so its rate
    is None, which the forecast weights as 0.
    """
    listed = dict(rates)
    for quarter in forecast:
        for type_id in quarter.contract_type_ids:
            listed.setdefault(type_id, RenewalRate(type_id, 0, 0))
    return listed


@dataclass
class Churn:
    """Contracts in force on the first day of a period, and those lost in it.

    A contract is lost when its last term ended within the period without
    renewal, which the renewal scan records as an `expired` event for that term,
    and it has not been renewed by hand since. Contracts that started after the
    first day are left out of both, so the rates are shares of the portfolio the
    period started with.
    """

    period: DateRange
    starting: ByCurrency
    lost: ByCurrency


async def churn(viewer: Viewer, period: DateRange) -> Churn:
    starting = await in_force_totals(viewer, period.start)
    statement = new_statement()
    expired = statement.parameter(ContractEventKind.EXPIRED.value)
    scope = reported_contracts(viewer, statement)
    start = statement.parameter(period.start)
    end = statement.parameter(period.end)
    started = statement.parameter(period.start)
    yearly = sum_sql(statement, yearly_sql("c.amount_minor"))
    sql = (
        "SELECT c.currency AS currency, COUNT(*) AS contracts, "
        f"{yearly} AS yearly "
        "FROM contracts c JOIN contract_events e ON e.contract_id = c.id "
        f"AND e.kind = {expired} AND e.term_end = c.end_date "
        f"WHERE {scope} AND c.end_date >= {start} AND c.end_date <= {end} "
        f"AND c.start_date <= {started} "
        "GROUP BY c.currency"
    )
    lost = ByCurrency()
    for row in await fetch(statement, sql):
        add_row(lost, row)
    return Churn(period, starting, lost)


def churn_rate(lost: int | Fraction, starting: int | Fraction) -> Fraction | None:
    """Return lost / starting, or None when nothing was in force at the start."""
    if not starting:
        return None
    return Fraction(lost) / Fraction(starting)
