"""Multi-row INSERT ... ON CONFLICT DO NOTHING RETURNING on SQLite and PostgreSQL.

Both backends return only the rows that the statement inserted, so a scan learns
which reminders and tasks it created itself, and not the ones that already existed or
that a concurrent scan inserted first. SQLite has supported RETURNING since 3.35.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

# Maximum rows per statement. With the widest table here (11 columns) a statement
# binds at most 5,500 values, well below SQLite's limit of 32,766 bound values
# (since 3.32) and asyncpg's 32,767.
ROWS_PER_STATEMENT = 500


async def insert_ignoring_conflicts(
    connection: BaseDBAsyncClient,
    table: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    returning: Sequence[str],
) -> list[dict[str, Any]]:
    """Insert `rows`, skip those that break a unique key, and return the inserted.

    `table`, `columns` and `returning` are identifiers from the code, never input.
    """
    inserted: list[dict[str, Any]] = []
    postgres = connection.capabilities.dialect == "postgres"
    for start in range(0, len(rows), ROWS_PER_STATEMENT):
        chunk = rows[start : start + ROWS_PER_STATEMENT]
        values: list[Any] = []
        groups = []
        for row in chunk:
            marks = []
            for value in row:
                values.append(value)
                marks.append(f"${len(values)}" if postgres else "?")
            groups.append(f"({', '.join(marks)})")
        statement = (
            f'INSERT INTO "{table}" ({", ".join(columns)}) VALUES '
            f"{', '.join(groups)} ON CONFLICT DO NOTHING "
            f"RETURNING {', '.join(returning)}"
        )
        # execute_query_dict fetches the rows on both backends. Tortoise's asyncpg
        # execute_query returns no rows for an INSERT, RETURNING or not.
        inserted.extend(await connection.execute_query_dict(statement, values))
    return inserted
