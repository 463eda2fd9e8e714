"""Migrations upgrade a database that already holds rows, on both backends.

A fresh test database hides migrations that only fail on existing rows, such as a
NOT NULL column without a default on SQLite. Each test runs in a subprocess because
the test session keeps its own ORM connection.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import scratch_database

UPGRADE = """
import asyncio
import sys
from pathlib import Path

from tortoise import Tortoise, connections
from tortoise.migrations.api.migrate import migrate

from contractgql import db
from contractgql.config import Settings
from contractgql.db import tortoise_config

NOW = "2026-01-01 00:00:00"
ROWS = [
    "INSERT INTO organizations (id, name, default_currency, timezone, vat_rates, "
    "created_at) VALUES (1, 'Old', 'EUR', 'Europe/Amsterdam', '[]', '{now}')",
    "INSERT INTO users (id, organization_id, email, name, roles, is_active, "
    "is_service_account, created_at, updated_at) VALUES (1, 1, 'a@old.example', "
    "'A', '[\\"admin\\"]', {true}, {false}, '{now}', '{now}')",
    "INSERT INTO clients (id, organization_id, name, addresses, custom_fields, "
    "created_at, updated_at, version) VALUES (1, 1, 'Client', '[]', '{{}}', '{now}', "
    "'{now}', 1)",
    "INSERT INTO contract_types (id, organization_id, name, reminder_offsets, "
    "created_at, updated_at, version) VALUES (1, 1, 'Type', '[]', '{now}', '{now}', 1)",
    "INSERT INTO contracts (id, organization_id, client_id, contract_type_id, name, "
    "stage, sensitivity, start_date, payment_frequency, currency, auto_renewal, "
    "notice_to_month_end, custom_fields, created_at, updated_at, version) VALUES "
    "(1, 1, 1, 1, 'Old contract', 'signed', 'normal', '2026-01-01', 'monthly', "
    "'EUR', {false}, {false}, '{{}}', '{now}', '{now}', 1)",
]


async def main() -> None:
    settings = Settings(data_dir=Path(sys.argv[1]), database_url=sys.argv[2] or None)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        await migrate(config=tortoise_config(settings), target="models.0001_initial")
    finally:
        await Tortoise.close_connections()

    await db.connect(settings)
    client = connections.get("default")
    postgres = not settings.is_sqlite
    true, false = ("TRUE", "FALSE") if postgres else ("1", "0")
    for statement in ROWS:
        await client.execute_script(statement.format(now=NOW, true=true, false=false))
    await db.disconnect()

    await db.migrate(settings)
    await db.connect(settings)
    from contractgql.models import Contract, ContractType, User

    contract = await Contract.get(id=1)
    contract_type = await ContractType.get(id=1)
    user = await User.get(id=1)
    print(
        contract.name,
        contract.notice_date,
        contract_type.renewal_workflow,
        contract_type.updated_by_id,
        user.version,
        user.updated_by_id,
    )
    await db.disconnect()


asyncio.run(main())
"""


def test_upgrade_with_existing_rows(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTRACTGQL_")}
    with scratch_database() as database_url:
        result = subprocess.run(
            [sys.executable, "-c", UPGRADE, str(tmp_path / "data"), database_url or ""],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "Old contract None None None 1 None"
