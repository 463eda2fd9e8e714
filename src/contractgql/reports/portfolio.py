"""The portfolio in force at a reference date: contracts, MRR, ARR and total value.

A contract is in force on a day when it is signed, not archived, started on or
before that day and ends on or after it (the end date is inclusive), or is
open-ended. Renewals keep the start date and move the end date, so a renewed
contract was in force through all its earlier terms too. For a day in an earlier
term, the amount and the term's end come from the `renewed` event of that term:
its old amount is what the contract cost before the renewal indexed it. Renewals
that have not happened yet are not projected, so for a future date a contract that
ends before it is not in force even when it renews automatically.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from contractgql.db import Statement
from contractgql.models import ContractEvent, ContractEventKind
from contractgql.reports.figures import ByCurrency, add_row
from contractgql.reports.sql import (
    billing_periods_sql,
    fetch,
    new_statement,
    reported_contracts,
    yearly_sql,
)
from contractgql.security.viewer import Viewer


class Grouping(enum.StrEnum):
    """The dimension that a portfolio report groups contracts by."""

    NONE = "none"
    CLIENT = "client"
    CONTRACT_TYPE = "contract_type"
    TAG = "tag"
    OWNER = "owner"


_GROUP_KEYS = {
    Grouping.CLIENT: "c.client_id",
    Grouping.CONTRACT_TYPE: "c.contract_type_id",
    Grouping.OWNER: "c.owner_id",
    Grouping.TAG: "g.tag_id",
}


@dataclass
class Portfolio:
    """The contracts in force on `reference_date`, in total and per group.

    `groups` maps the id of a client, contract type, owner or tag to its figures,
    with None for contracts without a type, owner or tag. A contract with several
    tags is in the group of each, so tag groups add up to more than the total.
    """

    reference_date: date
    grouping: Grouping
    totals: ByCurrency = field(default_factory=ByCurrency)
    groups: dict[int | None, ByCurrency] = field(default_factory=dict)


async def portfolio(
    viewer: Viewer, reference_date: date, grouping: Grouping, whole_term: bool
) -> Portfolio:
    """Compute the portfolio in force on `reference_date`.

    Without `whole_term` the total contract value is left at 0 and not computed,
    which saves most of the statement's time: pass False when the caller did not
    ask for it or may not read it.
    """
    report = Portfolio(reference_date, grouping)
    renewed = await renewed_since(viewer.organization_id, reference_date)
    if grouping is Grouping.NONE:
        rows = await in_force_rows(viewer, reference_date, None, renewed, whole_term)
        for row in rows:
            add_row(report.totals, row)
        return report

    rows = await in_force_rows(viewer, reference_date, grouping, renewed, whole_term)
    for row in rows:
        key = row["group_key"]
        add_row(report.groups.setdefault(key, ByCurrency()), row)
    if grouping is Grouping.TAG:
        rows = await in_force_rows(viewer, reference_date, None, renewed, whole_term)
        for row in rows:
            add_row(report.totals, row)
    else:
        for figures in report.groups.values():
            report.totals.add_all(figures)
    return report


async def in_force_totals(viewer: Viewer, day: date) -> ByCurrency:
    """Return the contracts in force on `day` and their MRR per currency."""
    totals = ByCurrency()
    renewed = await renewed_since(viewer.organization_id, day)
    for row in await in_force_rows(viewer, day, None, renewed, whole_term=False):
        add_row(totals, row)
    return totals


async def renewed_since(organization_id: int, day: date) -> bool:
    """Return whether a term that ended on or after `day` was renewed.

    Only then can a contract in force on `day` have had another amount or end
    date on that day, so the statements skip the history when this is False, as
    it usually is for today.
    """
    return await ContractEvent.filter(
        organization_id=organization_id,
        kind=ContractEventKind.RENEWED,
        term_end__gte=day,
    ).exists()


async def in_force_rows(
    viewer: Viewer,
    day: date,
    grouping: Grouping | None,
    renewed: bool,
    whole_term: bool,
) -> list[dict[str, Any]]:
    """Return the contracts in force on `day` grouped by currency and `grouping`,
    with their ARR and, with `whole_term`, their total contract value in minor
    units. `renewed` is what renewed_since() returned for `day`.
    """
    statement = new_statement()
    # Parameters are added in the order of the text, which SQLite needs.
    joins = ""
    amount = "c.amount_minor"
    term_end = "c.end_date"
    if renewed:
        history = _term_history(statement, viewer.organization_id, day)
        joins = f"LEFT JOIN ({history}) h ON h.contract_id = c.id "
        amount = (
            "(CASE WHEN h.contract_id IS NULL THEN c.amount_minor "
            "ELSE h.old_amount_minor END)"
        )
        term_end = "COALESCE(h.term_end, c.end_date)"
    if grouping is Grouping.TAG:
        organization = statement.parameter(viewer.organization_id)
        joins += (
            "LEFT JOIN (SELECT ct.contracts_id, ct.tag_id FROM contract_tags ct "
            "JOIN tags t ON t.id = ct.tag_id "
            f"WHERE t.organization_id = {organization} AND t.archived_at IS NULL) g "
            "ON g.contracts_id = c.id "
        )
    scope = reported_contracts(viewer, statement)
    started = statement.parameter(day)
    running = statement.parameter(day)

    total = "0"
    if whole_term:
        periods = billing_periods_sql(statement, "c.start_date", term_end)
        total = (
            f"CASE WHEN c.payment_frequency = 'one_off' THEN {amount} "
            f"WHEN {term_end} IS NULL THEN NULL "
            f"ELSE {amount} * {periods} END"
        )
    key = _GROUP_KEYS[grouping] if grouping is not None else "NULL"
    # PostgreSQL rejects a constant in GROUP BY.
    group_by = f"{key}, " if grouping is not None else ""
    sql = (
        f"SELECT {key} AS group_key, c.currency AS currency, "
        f"COUNT(*) AS contracts, SUM({yearly_sql(amount)}) AS yearly, "
        f"SUM({total}) AS whole_term FROM contracts c {joins}"
        f"WHERE {scope} AND c.start_date <= {started} "
        f"AND (c.end_date IS NULL OR c.end_date >= {running}) "
        f"GROUP BY {group_by}c.currency"
    )
    return await fetch(statement, sql)


def _term_history(statement: Statement, organization_id: int, day: date) -> str:
    """Return a subquery of the term that ran on `day`, for contracts renewed since.

    That term is the earliest renewed one that ended on or after `day`. The
    subquery returns its end and the amount before its renewal, one row per
    contract, and no row for contracts whose current term ran on `day`.
    """
    organization = statement.parameter(organization_id)
    renewed = statement.parameter(ContractEventKind.RENEWED.value)
    since = statement.parameter(day)
    renewed_again = statement.parameter(ContractEventKind.RENEWED.value)
    return (
        "SELECT e.contract_id, e.term_end, e.old_amount_minor "
        "FROM contract_events e JOIN ("
        "SELECT contract_id, MIN(term_end) AS term_end FROM contract_events "
        f"WHERE organization_id = {organization} AND kind = {renewed} "
        f"AND term_end >= {since} GROUP BY contract_id) f "
        "ON f.contract_id = e.contract_id AND f.term_end = e.term_end "
        f"WHERE e.kind = {renewed_again}"
    )
