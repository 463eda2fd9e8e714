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
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from tortoise.models import Model

from contractgql.db import Statement
from contractgql.models import (
    Client,
    ContractEvent,
    ContractEventKind,
    ContractType,
    Tag,
    User,
)
from contractgql.reports.figures import ByCurrency, add_row
from contractgql.reports.sql import (
    billing_periods_sql,
    fetch,
    new_statement,
    reported_contracts,
    sum_sql,
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
    Grouping.TAG: "g.tag_ids",
}
# The model whose `name` column the grouped statement joins to name the groups.
# Tag groups are named by a separate statement, because their key is a list.
_NAME_MODELS: dict[Grouping, type[Model]] = {
    Grouping.CLIENT: Client,
    Grouping.CONTRACT_TYPE: ContractType,
    Grouping.OWNER: User,
}


@dataclass
class Portfolio:
    """The contracts in force on `reference_date`, in total and per group.

    `groups` maps the id of a client, contract type, owner or tag to its figures,
    with None for contracts without a type, owner or tag. A contract with several
    tags is in the group of each, so tag groups add up to more than the total.
    `names` maps each id in `groups` to the record's name.
    """

    reference_date: date
    grouping: Grouping
    totals: ByCurrency = field(default_factory=ByCurrency)
    groups: defaultdict[int | None, ByCurrency] = field(
        default_factory=lambda: defaultdict(ByCurrency)
    )
    names: dict[int | None, str] = field(default_factory=dict)


async def portfolio(
    viewer: Viewer, reference_date: date, grouping: Grouping, whole_term: bool
) -> Portfolio:
    """Compute the portfolio in force on `reference_date` from one grouped statement.

    Without `whole_term` the total contract value is left at 0 and not computed,
    which saves most of the statement's time: pass False when the caller did not
    ask for it or may not read it.
    """
    report = Portfolio(reference_date, grouping)
    renewed = await renewed_since(viewer.organization_id, reference_date)
    rows = await in_force_rows(viewer, reference_date, grouping, renewed, whole_term)
    if grouping is Grouping.NONE:
        for row in rows:
            add_row(report.totals, row)
    elif grouping is Grouping.TAG:
        _add_tag_rows(report, rows)
        report.names = await _tag_names(viewer.organization_id)
    else:
        for row in rows:
            key = row["group_key"]
            add_row(report.groups[key], row)
            if key is not None:
                report.names[key] = row["group_name"]
        for figures in report.groups.values():
            report.totals.add_all(figures)
    return report


def _add_tag_rows(report: Portfolio, rows: list[dict[str, Any]]) -> None:
    """Add rows grouped by each contract's list of tag ids to the totals and to
    the group of every tag in the list.

    Each contract is in exactly one row, so the rows sum to the totals. The ids
    come in no fixed order, so one set of tags may arrive in several rows. That
    is harmless, because every row adds its figures to each of its tags.
    """
    for row in rows:
        add_row(report.totals, row)
        tag_ids = row["group_key"]
        if tag_ids is None:
            add_row(report.groups[None], row)
            continue
        for tag_id in str(tag_ids).split(","):
            add_row(report.groups[int(tag_id)], row)


async def _tag_names(organization_id: int) -> dict[int | None, str]:
    # Every tag of the organization is read rather than a list of ids, which
    # SQLite limits in length. Only tags that no contract in force carries are
    # read in vain.
    tags = await Tag.filter(organization_id=organization_id).values_list("id", "name")
    return {tag_id: str(name) for tag_id, name in tags}


async def in_force_totals(viewer: Viewer, day: date) -> ByCurrency:
    """Return the contracts in force on `day` and their MRR per currency."""
    totals = ByCurrency()
    renewed = await renewed_since(viewer.organization_id, day)
    rows = await in_force_rows(viewer, day, Grouping.NONE, renewed, whole_term=False)
    for row in rows:
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
    grouping: Grouping,
    renewed: bool,
    whole_term: bool,
) -> list[dict[str, Any]]:
    """Return the contracts in force on `day` grouped by currency and `grouping`,
    with their ARR and, with `whole_term`, their total contract value in minor
    units. `renewed` is what renewed_since() returned for `day`.

    Each row's `group_key` is the id of the client, contract type or owner, with
    its name in `group_name`. For tags it is the contract's unarchived tag ids,
    comma-separated, so that a contract with several tags is counted once.
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
        tag_lists = _tag_lists(statement, viewer.organization_id)
        joins += f"LEFT JOIN ({tag_lists}) g ON g.contracts_id = c.id "
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
    yearly = sum_sql(statement, yearly_sql(amount))
    key = _GROUP_KEYS.get(grouping, "NULL")
    # PostgreSQL rejects a constant in GROUP BY.
    group_by = "" if grouping is Grouping.NONE else f"{key}, "
    sql = (
        f"SELECT {key} AS group_key, c.currency AS currency, "
        f"COUNT(*) AS contracts, {yearly} AS yearly, "
        f"{sum_sql(statement, total)} AS whole_term FROM contracts c {joins}"
        f"WHERE {scope} AND c.start_date <= {started} "
        f"AND (c.end_date IS NULL OR c.end_date >= {running}) "
        f"GROUP BY {group_by}c.currency"
    )
    if grouping in _NAME_MODELS:
        # Naming the groups here saves a second statement that read every
        # client's name. Over 40,000 client groups the join added no measurable
        # time (bench/reports.py).
        table = _NAME_MODELS[grouping]._meta.db_table
        organization = statement.parameter(viewer.organization_id)
        sql = (
            f"SELECT s.*, n.name AS group_name FROM ({sql}) s "
            f"LEFT JOIN {table} n ON n.id = s.group_key "
            f"AND n.organization_id = {organization}"
        )
    return await fetch(statement, sql)


def _tag_lists(statement: Statement, organization_id: int) -> str:
    """Return a subquery of each tagged contract's unarchived tag ids, as a
    comma-separated text in no fixed order.

    Grouping by this list, rather than joining one row per tag, keeps each
    contract in one row, so the same statement also gives the totals.
    """
    organization = statement.parameter(organization_id)
    tag_id = "CAST(ct.tag_id AS text)" if statement.postgres else "ct.tag_id"
    concatenate = "string_agg" if statement.postgres else "group_concat"
    return (
        f"SELECT ct.contracts_id, {concatenate}({tag_id}, ',') AS tag_ids "
        "FROM contract_tags ct JOIN tags t ON t.id = ct.tag_id "
        f"WHERE t.organization_id = {organization} AND t.archived_at IS NULL "
        "GROUP BY ct.contracts_id"
    )


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
