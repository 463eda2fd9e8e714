"""SQL pieces shared by the reports, for PostgreSQL and SQLite.

The reports aggregate in the database with GROUP BY and integer sums, so that a
report over a million contracts moves one row per group and currency into
Python. Statements are written by hand because the amount in force at a past
date, the billing periods of a term and the risk flags need expressions that the
ORM cannot build.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tortoise.exceptions import OperationalError
from tortoise.transactions import in_transaction

from contractgql.db import Statement
from contractgql.domain.money import PaymentFrequency
from contractgql.errors import OutOfRange
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


# Billing periods per year, as an SQL expression on the contract's frequency: 12
# divided by the months per period, a whole number for every frequency. One-off
# contracts get 0, because they bring no recurring revenue.
PERIODS_PER_YEAR = (
    "CASE c.payment_frequency "
    + " ".join(
        f"WHEN '{frequency.value}' THEN {12 // frequency.months}"
        for frequency in PaymentFrequency
        if frequency.months is not None
    )
    + " ELSE 0 END"
)


def yearly_sql(amount: str) -> str:
    """Return the ARR of one contract in minor units: an exact integer.

    MRR is the amount over the months per period, so ARR, twelve times that, is
    the amount times the periods per year. Summing ARR as integers keeps the sum
    exact without grouping by frequency, and MRR is the sum over 12.
    """
    return f"{amount} * {PERIODS_PER_YEAR}"


def sum_sql(statement: Statement, expression: str) -> str:
    """Return the SQL sum of an integer expression, a 64-bit integer on both
    databases.

    SQLite's SUM of integers is one already. On PostgreSQL, SUM(bigint) returns
    NUMERIC through a 128-bit state per group, which made grouping by client
    slow, so the sum is sum_bigint(), an aggregate that the migrations create.
    Both raise an error when the sum passes the 64-bit range, which fetch()
    turns into OutOfRange.
    """
    if statement.postgres:
        return f"sum_bigint({expression})"
    return f"SUM({expression})"


# PostgreSQL's work_mem for a report statement: the memory of each sort or hash
# table, in each parallel worker.
REPORT_WORK_MEM = "32MB"


def new_statement() -> Statement:
    return Statement(Contract._meta.db)


async def fetch(statement: Statement, sql: str) -> list[dict[str, Any]]:
    """Run a report statement and return its rows.

    On PostgreSQL the statement runs with JIT compilation off and more memory for
    grouping. With a million contracts (bench/reports.py, PostgreSQL 15) the
    planner's cost estimate passed jit_above_cost, and EXPLAIN ANALYZE reported
    2.3 s of JIT compilation, summed over the leader and two workers, for a
    statement that ran 1.5 s. Grouping by client sorted 40,000 groups on disk
    with the default work_mem of 4 MB instead of hashing them in memory.

    It is also planned for its parameter values every time. asyncpg prepares
    each statement, and after five runs with custom plans PostgreSQL may switch
    to a generic plan that cannot see the dates (PREPARE in the PostgreSQL
    documentation). For the renewal forecast's 400,000 contracts
    ending in a year, that plan expected 1,652 rows and took an index scan and
    a sort: 1.45 s instead of 0.41 s. Planning costs about a millisecond.
    """
    try:
        if not statement.postgres:
            rows: list[dict[str, Any]] = await Contract._meta.db.execute_query_dict(
                sql, statement.parameters
            )
            return rows
        async with in_transaction() as connection:
            await connection.execute_query("SET LOCAL jit = off")
            await connection.execute_query(f"SET LOCAL work_mem = '{REPORT_WORK_MEM}'")
            await connection.execute_query(
                "SET LOCAL plan_cache_mode = force_custom_plan"
            )
            rows = await connection.execute_query_dict(sql, statement.parameters)
        return rows
    except OperationalError as error:
        # SQLite reports "integer overflow" and PostgreSQL "bigint out of range".
        text = str(error).lower()
        if "overflow" not in text and "out of range" not in text:
            raise
        raise _out_of_range() from error


def _out_of_range() -> OutOfRange:
    return OutOfRange(
        "A sum in this report passes the 64-bit integer range of the database "
        "(92,233,720,368,547,758.07 in cents): a contract's amount is far larger than "
        "any real contract. Find it with contracts(orderBy: {field: AMOUNT, "
        "direction: DESC}) and correct the amount."
    )


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


def sum_of(value: Any) -> int:
    """Return an SQL sum as an int, with NULL as 0.

    The products that the reports sum (an amount times its periods) are 64-bit
    integers, and so are their sums (see sum_sql()). PostgreSQL rejects a product
    out of the 64-bit range with an error. SQLite turns such a product into a
    floating point number, so a float here raises OutOfRange instead of
    returning an inexact figure. A Decimal, which PostgreSQL returns for a
    NUMERIC sum, is converted exactly.
    """
    if value is None:
        return 0
    if isinstance(value, float):
        raise _out_of_range()
    if isinstance(value, Decimal):
        return int(value)
    return int(value)
