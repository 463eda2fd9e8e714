"""SQL pieces shared by the reports, for PostgreSQL and SQLite.

The reports aggregate in the database with GROUP BY and integer sums, so that a
report over a million contracts moves a few hundred rows into Python. Statements
are written by hand because the amount in force at a past date, the billing periods
of a term and the risk flags need expressions that the ORM cannot build.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from contractgql.db import Statement
from contractgql.domain.money import PaymentFrequency
from contractgql.models import Contract, ContractStage
from contractgql.security.records import visible_contracts_condition
from contractgql.security.viewer import Viewer

# Months per billing period, as an SQL expression on the contract's frequency.
# One-off contracts get NULL.
MONTHS_PER_PERIOD = (
    "CASE c.payment_frequency "
    + " ".join(
        f"WHEN '{frequency.value}' THEN {frequency.months}"
        for frequency in PaymentFrequency
        if frequency.months is not None
    )
    + " END"
)


def new_statement() -> Statement:
    return Statement(Contract._meta.db)


async def fetch(statement: Statement, sql: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = await Contract._meta.db.execute_query_dict(
        sql, statement.parameters
    )
    return rows


def reported_contracts(viewer: Viewer, statement: Statement, alias: str = "c") -> str:
    """Return the condition that every report applies to contracts.

    Reports count signed contracts that are not archived, of the viewer's
    organization, that the viewer may see. Drafts and cancelled contracts bring no
    revenue, and archived ones have left the contract list.
    """
    organization = statement.parameter(viewer.organization_id)
    signed = statement.parameter(ContractStage.SIGNED.value)
    visible = visible_contracts_condition(viewer, statement, alias)
    return (
        f"{alias}.organization_id = {organization} AND {alias}.stage = {signed} "
        f"AND {alias}.archived_at IS NULL AND {visible}"
    )


def billing_periods_sql(statement: Statement, start: str, end: str) -> str:
    """Return an expression for the billing periods of a recurring contract's term.

    It computes what domain.money.billing_periods() computes, which a test checks
    over many terms. The months covered by the inclusive term `start`..`end` are the
    calendar months from `start` to the day after `end`, plus one when that day's
    day of the month is later than the start's: a started month counts in full.
    Month-end clamping needs no special case, because a clamped day is never
    later than the start's day. The result is NULL for one-off contracts.
    """
    if statement.postgres:
        stop = f"({end} + 1)"
        covered = (
            f"((CAST(date_part('year', {stop}) AS integer) "
            f"- CAST(date_part('year', {start}) AS integer)) * 12 "
            f"+ CAST(date_part('month', {stop}) AS integer) "
            f"- CAST(date_part('month', {start}) AS integer) "
            f"+ CASE WHEN date_part('day', {start}) < date_part('day', {stop}) "
            "THEN 1 ELSE 0 END)"
        )
        return (
            f"GREATEST(1, ({covered} + {MONTHS_PER_PERIOD} - 1) / {MONTHS_PER_PERIOD})"
        )
    stop = f"date({end}, '+1 day')"
    covered = (
        f"((CAST(strftime('%Y', {stop}) AS INTEGER) "
        f"- CAST(strftime('%Y', {start}) AS INTEGER)) * 12 "
        f"+ CAST(strftime('%m', {stop}) AS INTEGER) "
        f"- CAST(strftime('%m', {start}) AS INTEGER) "
        f"+ CASE WHEN CAST(strftime('%d', {start}) AS INTEGER) "
        f"< CAST(strftime('%d', {stop}) AS INTEGER) THEN 1 ELSE 0 END)"
    )
    return f"MAX(1, ({covered} + {MONTHS_PER_PERIOD} - 1) / {MONTHS_PER_PERIOD})"


def exact_product(statement: Statement, amount: str, factor: str) -> str:
    """Return `amount` × `factor` as an exact SQL product.

    PostgreSQL multiplies as NUMERIC, so the sum of the products cannot overflow.
    SQLite has no exact type wider than 64 bits: sum_of() rejects the floating
    point number that an overflowing product turns into.
    """
    if statement.postgres:
        return f"CAST({amount} AS NUMERIC) * {factor}"
    return f"{amount} * {factor}"


def sum_of(value: Any) -> int:
    """Return an SQL SUM as an int: NULL is 0, and PostgreSQL's NUMERIC is exact.

    Raises OverflowError for a floating point sum, which SQLite returns when a
    product passed the 64-bit range.
    """
    if value is None:
        return 0
    if isinstance(value, float):
        raise OverflowError(
            "A report sum passed the 64-bit range of SQLite: run the reports on "
            "PostgreSQL for amounts this large."
        )
    if isinstance(value, Decimal):
        return int(value)
    return int(value)


def as_date(value: Any) -> date | None:
    """Return a date column's value, which SQLite returns as ISO text."""
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])
